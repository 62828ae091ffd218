//! git_source: `shared::git::read_tree` against a real git server (git's own `http-backend` on
//! 127.0.0.1 with token auth) — folders at a branch, a tag and a commit id, the repository root,
//! refused credentials, missing references and folders, and no scratch repository left behind.

use std::collections::BTreeSet;
use std::time::Duration;

use ferry_tests::git_server::{GitServer, TestRepo};
use shared::TaskError;
use shared::git::{GitAuth, GitTree, read_tree};
use tokio::sync::RwLock;

const TOKEN: &str = "tok-5e1f0c9a-git-source";
const TIMEOUT: Duration = Duration::from_secs(60);

/// Reads take it shared; the test that counts scratch directories takes it alone.
static SCRATCH: RwLock<()> = RwLock::const_new(());

fn auth() -> GitAuth {
    GitAuth {
        username: "x-access-token".into(),
        token: TOKEN.into(),
    }
}

async fn read(url: &str, reference: &str, folder: &str) -> Result<GitTree, TaskError> {
    read_tree(url, reference, folder, Some(&auth()), TIMEOUT).await
}

/// `(path, text)` of every file read.
fn contents(tree: &GitTree) -> Vec<(String, String)> {
    tree.files
        .iter()
        .map(|file| {
            (
                file.path.clone(),
                String::from_utf8(file.bytes.clone()).expect("UTF-8 test files"),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(path, text)| (path.to_string(), text.to_string()))
        .collect()
}

/// A repository whose `main` has a config folder with nested folders, and another folder.
fn config_repo(server: &GitServer, name: &str) -> TestRepo {
    let repo = TestRepo::create(server, name);
    repo.write("config/app.json", "{\"v\": 1}\n");
    repo.write("config/nested/deep/rules.yaml", "rules: [a]\n");
    repo.write("config/nested/b.txt", "b\n");
    repo.write("other/ignored.txt", "not in config\n");
    repo.write("README.md", "# test\n");
    repo.commit("first");
    repo
}

#[tokio::test]
async fn reads_a_folder_recursively_at_a_branch() {
    let _reading = SCRATCH.read().await;
    let server = GitServer::start(TOKEN);
    let repo = config_repo(&server, "branch-read");
    repo.branch("release");
    repo.write("config/app.json", "{\"v\": 2}\n");
    let head = repo.commit("second on main");
    let url = server.url("branch-read");

    let tree = read(&url, "main", "config").await.unwrap();
    assert_eq!(tree.commit, head);
    assert_eq!(tree.commit, repo.rev_parse("main"));
    assert_eq!(
        contents(&tree),
        pairs(&[
            ("app.json", "{\"v\": 2}\n"),
            ("nested/b.txt", "b\n"),
            ("nested/deep/rules.yaml", "rules: [a]\n"),
        ])
    );

    let release = read(&url, "release", "config/").await.unwrap();
    assert_eq!(release.commit, repo.rev_parse("release"));
    assert_ne!(release.commit, head);
    assert_eq!(release.files[0].path, "app.json");
    assert_eq!(release.files[0].bytes, b"{\"v\": 1}\n");

    let nested = read(&url, "refs/heads/main", "./config/nested")
        .await
        .unwrap();
    assert_eq!(
        contents(&nested),
        pairs(&[("b.txt", "b\n"), ("deep/rules.yaml", "rules: [a]\n")])
    );

    let requests = server.requests();
    assert!(
        requests
            .iter()
            .any(|line| line
                .starts_with("GET /branch-read.git/info/refs?service=git-upload-pack 200")),
        "{requests:?}"
    );
    assert!(requests.iter().all(|line| !line.contains(TOKEN)));
}

#[tokio::test]
async fn reads_at_annotated_and_lightweight_tags() {
    let _reading = SCRATCH.read().await;
    let server = GitServer::start(TOKEN);
    let repo = config_repo(&server, "tag-read");
    repo.tag("v1");
    repo.write("config/app.json", "{\"v\": 2}\n");
    repo.commit("second");
    repo.lightweight_tag("v2-light");
    repo.write("config/app.json", "{\"v\": 3}\n");
    repo.commit("third");
    let url = server.url("tag-read");

    let v1 = read(&url, "v1", "config").await.unwrap();
    assert_eq!(v1.commit, repo.rev_parse("v1^{commit}"));
    assert_ne!(v1.commit, repo.rev_parse("v1"), "the tag object is peeled");
    assert_eq!(v1.files[0].bytes, b"{\"v\": 1}\n");

    let v2 = read(&url, "v2-light", "config").await.unwrap();
    assert_eq!(v2.commit, repo.rev_parse("v2-light"));
    assert_eq!(v2.files[0].bytes, b"{\"v\": 2}\n");

    let qualified = read(&url, "refs/tags/v1", "config").await.unwrap();
    assert_eq!(qualified.commit, v1.commit);

    let main = read(&url, "main", "config").await.unwrap();
    assert_eq!(main.files[0].bytes, b"{\"v\": 3}\n");
}

#[tokio::test]
async fn reads_at_full_and_abbreviated_commit_ids() {
    let _reading = SCRATCH.read().await;
    let server = GitServer::start(TOKEN);
    let repo = config_repo(&server, "commit-read");
    let first = repo.rev_parse("HEAD");
    repo.write("config/app.json", "{\"v\": 2}\n");
    repo.remove("config/nested/b.txt");
    let second = repo.commit("second");
    repo.write("config/app.json", "{\"v\": 3}\n");
    repo.commit("third");
    let url = server.url("commit-read");

    let older = read(&url, &first, "config").await.unwrap();
    assert_eq!(older.commit, first);
    assert_eq!(
        contents(&older),
        pairs(&[
            ("app.json", "{\"v\": 1}\n"),
            ("nested/b.txt", "b\n"),
            ("nested/deep/rules.yaml", "rules: [a]\n"),
        ])
    );

    let abbreviated = read(&url, &second[..10], "config").await.unwrap();
    assert_eq!(abbreviated.commit, second);
    assert_eq!(
        contents(&abbreviated),
        pairs(&[
            ("app.json", "{\"v\": 2}\n"),
            ("nested/deep/rules.yaml", "rules: [a]\n"),
        ])
    );

    let upper = read(&url, &first[..7].to_ascii_uppercase(), "config")
        .await
        .unwrap();
    assert_eq!(upper.commit, first);
}

#[tokio::test]
async fn reads_the_whole_repository_at_its_root() {
    let _reading = SCRATCH.read().await;
    let server = GitServer::start(TOKEN);
    let repo = config_repo(&server, "root-read");
    let url = server.url("root-read");

    let root = read(&url, "main", "").await.unwrap();
    let paths: Vec<&str> = root.files.iter().map(|file| file.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "README.md",
            "config/app.json",
            "config/nested/b.txt",
            "config/nested/deep/rules.yaml",
            "other/ignored.txt",
        ]
    );
    assert_eq!(root.commit, repo.rev_parse("HEAD"));
    let dot = read(&url, "main", ".").await.unwrap();
    assert_eq!(dot, root);
    let head = read(&url, "HEAD", "/").await.unwrap();
    assert_eq!(head, root);
}

#[tokio::test]
async fn refused_credentials_are_unauthorized_and_never_shown() {
    let _reading = SCRATCH.read().await;
    let server = GitServer::start(TOKEN);
    config_repo(&server, "auth-read");
    let url = server.url("auth-read");

    let wrong = GitAuth {
        username: "bot".into(),
        token: "wrong-token-0d9c2b".into(),
    };
    let err = read_tree(&url, "main", "config", Some(&wrong), TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Unauthorized", "{err}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("wrong-token-0d9c2b"), "{shown}");
    assert!(shown.contains("bot"), "{shown}");

    let err = read_tree(&url, "main", "config", None, TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Unauthorized", "{err}");

    let requests = server.requests();
    assert!(
        requests.iter().any(|line| line.ends_with(" 401")),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .all(|line| !line.contains("wrong-token") && !line.contains(TOKEN))
    );
}

#[tokio::test]
async fn a_missing_reference_names_source_git_ref() {
    let _reading = SCRATCH.read().await;
    let server = GitServer::start(TOKEN);
    let repo = config_repo(&server, "ref-missing");
    let url = server.url("ref-missing");

    for reference in [
        "no-such-branch",
        "deadbeefdead",
        "0123456789abcdef0123456789abcdef01234567",
    ] {
        let err = read(&url, reference, "config").await.unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput", "{reference}: {err}");
        let message = err.to_string();
        assert!(message.contains("source.git.ref"), "{message}");
        assert!(
            message.contains(&format!(
                "'{reference}' is not a branch, tag or commit of {url}"
            )),
            "{message}"
        );
    }
    let err = read(&url, "bad:ref", "config").await.unwrap_err();
    assert!(err.to_string().contains("source.git.ref"), "{err}");
    drop(repo);
}

#[tokio::test]
async fn a_missing_folder_names_source_git_path() {
    let _reading = SCRATCH.read().await;
    let server = GitServer::start(TOKEN);
    config_repo(&server, "path-missing");
    let url = server.url("path-missing");

    for folder in ["no/such/folder", "config/app.json", "../config"] {
        let err = read(&url, "main", folder).await.unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput", "{folder}: {err}");
        assert!(err.to_string().contains("source.git.path"), "{err}");
    }
}

#[tokio::test]
async fn unreachable_or_missing_remotes_are_classified() {
    let _reading = SCRATCH.read().await;
    let server = GitServer::start(TOKEN);

    let err = read(&server.url("never-created"), "main", "")
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NotFound", "{err}");

    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let err = read(&format!("http://127.0.0.1:{port}/gone.git"), "main", "")
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Retryable", "{err}");
    assert!(!err.to_string().contains(TOKEN));

    let url = server.url("never-created");
    let err = read_tree(&url, "main", "", Some(&auth()), Duration::from_millis(1))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Retryable", "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");

    let err = read("http://example.com/repo.git", "main", "")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("source.git.url"), "{err}");
}

/// Scratch repositories of `read_tree` in the system temporary directory.
fn scratch_dirs() -> BTreeSet<String> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| {
            name.starts_with("ferry-git-")
                && !name.starts_with("ferry-git-server-")
                && !name.starts_with("ferry-git-work-")
        })
        .collect()
}

#[tokio::test]
async fn no_scratch_repository_is_left_behind() {
    let _alone = SCRATCH.write().await;
    let server = GitServer::start(TOKEN);
    let repo = config_repo(&server, "scratch-left");
    let first = repo.rev_parse("HEAD");
    repo.commit("second");
    let url = server.url("scratch-left");
    let before = scratch_dirs();

    read(&url, "main", "config").await.unwrap();
    read(&url, &first[..8], "config").await.unwrap();
    read(&url, "missing", "config").await.unwrap_err();
    read(&url, "main", "missing").await.unwrap_err();
    let wrong = GitAuth {
        username: "bot".into(),
        token: "nope".into(),
    };
    read_tree(&url, "main", "", Some(&wrong), TIMEOUT)
        .await
        .unwrap_err();

    // Other processes on this machine may be reading too: theirs go away, a leak of ours stays.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left: Vec<String> = scratch_dirs().difference(&before).cloned().collect();
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "scratch directories left behind: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
