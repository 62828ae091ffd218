//! A real git server for tests: git's own CGI program `git http-backend` behind a small HTTP
//! server on 127.0.0.1, serving the bare repositories under a root directory over smart HTTP, with
//! token authentication (`Authorization: Basic base64(user:token)`, any user name).
//!
//! [`TestRepo`] writes a repository with the `git` command line and pushes it (through the file
//! system) to the server's bare repository, so tests read back exactly what `git` committed.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

/// The largest request body accepted (fetch negotiations are small; pushes go through the disk).
const BODY_LIMIT: usize = 64 << 20;
/// Size of the chunks the CGI's output is streamed back in.
const CHUNK: usize = 64 << 10;

/// A running git server on 127.0.0.1, served by a background thread with its own runtime; it
/// stops (and removes its temporary root, if it made one) when dropped.
pub struct GitServer {
    root: PathBuf,
    origin: String,
    log: Arc<Mutex<Vec<String>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// Declared last: removed after the server is told to stop.
    _temporary_root: Option<tempfile::TempDir>,
}

impl GitServer {
    /// Starts a server on a free port whose repositories live in a new temporary directory, and
    /// which accepts requests carrying `token` as the basic-auth password.
    pub fn start(token: &str) -> GitServer {
        let root = tempfile::Builder::new()
            .prefix("ferry-git-server-")
            .tempdir()
            .expect("a temporary root for the git server");
        let mut server = GitServer::start_in(root.path(), token, 0);
        server._temporary_root = Some(root);
        server
    }

    /// Starts a server on 127.0.0.1:`port` (0 picks a free port) serving the bare repositories
    /// under `root` (which must exist). Connections are accepted once this returns.
    pub fn start_in(root: &Path, token: &str, port: u16) -> GitServer {
        let root = root
            .canonicalize()
            .unwrap_or_else(|e| panic!("git-server root {}: {e}", root.display()));
        let (listener, origin) = crate::serve::bind("git-server", port);
        let log = Arc::new(Mutex::new(Vec::new()));
        let served = Arc::new(Served {
            root: root.clone(),
            token: token.to_string(),
            backend: http_backend(),
            log: log.clone(),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("git-server".into())
            .spawn(move || run(listener, served, stopped))
            .expect("the git-server thread starts");
        GitServer {
            root,
            origin,
            log,
            stop: Some(stop),
            _temporary_root: None,
        }
    }

    /// Where the bare repositories live (`<name>.git`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// `http://127.0.0.1:PORT/<repo>.git`.
    pub fn url(&self, repo: &str) -> String {
        format!("{}/{repo}.git", self.origin)
    }

    /// Every request answered so far, oldest first, as `METHOD path status` (never credentials).
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().expect("the request log").clone()
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// What the request handler needs.
struct Served {
    root: PathBuf,
    token: String,
    backend: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

/// `$(git --exec-path)/git-http-backend`.
fn http_backend() -> PathBuf {
    let output = git_command()
        .arg("--exec-path")
        .output()
        .expect("git is installed");
    assert!(output.status.success(), "git --exec-path failed");
    let exec_path = String::from_utf8(output.stdout).expect("a UTF-8 exec path");
    let backend = Path::new(exec_path.trim()).join("git-http-backend");
    assert!(
        backend.exists(),
        "git-http-backend not found at {}",
        backend.display()
    );
    backend
}

fn run(
    listener: std::net::TcpListener,
    served: Arc<Served>,
    stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
        let app = Router::new().fallback(handle).with_state(served);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .expect("git-server serves");
    });
}

/// Authenticates, runs the CGI and logs the request.
async fn handle(State(served): State<Arc<Served>>, request: Request) -> Response {
    let line = match request.uri().query() {
        Some(query) => format!("{} {}?{query}", request.method(), request.uri().path()),
        None => format!("{} {}", request.method(), request.uri().path()),
    };
    let response = match user(&served.token, request.headers()) {
        Some(user) => cgi(&served, user, request)
            .await
            .unwrap_or_else(|message| (StatusCode::INTERNAL_SERVER_ERROR, message).into_response()),
        None => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"git\"")],
            "authentication required\n",
        )
            .into_response(),
    };
    served
        .log
        .lock()
        .expect("the request log")
        .push(format!("{line} {}", response.status().as_u16()));
    response
}

/// The user name of a request whose basic-auth password is the token.
fn user(token: &str, headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    (password == token).then(|| user.to_string())
}

/// The CGI's status line and headers.
type Head = (StatusCode, Vec<(HeaderName, HeaderValue)>);

/// Runs `git http-backend` for one request and streams its output back.
async fn cgi(served: &Served, user: String, request: Request) -> Result<Response, String> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|e| format!("cannot read the request body: {e}\n"))?;
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let mut env = vec![
        ("GIT_PROJECT_ROOT", served.root.display().to_string()),
        ("GIT_HTTP_EXPORT_ALL", "1".to_string()),
        ("PATH_INFO", parts.uri.path().to_string()),
        (
            "QUERY_STRING",
            parts.uri.query().unwrap_or_default().to_string(),
        ),
        ("REQUEST_METHOD", parts.method.to_string()),
        ("CONTENT_LENGTH", body.len().to_string()),
        ("REMOTE_USER", user),
        ("REMOTE_ADDR", "127.0.0.1".to_string()),
        ("GATEWAY_INTERFACE", "CGI/1.1".to_string()),
        ("SERVER_PROTOCOL", "HTTP/1.1".to_string()),
    ];
    for (variable, name) in [
        ("CONTENT_TYPE", "content-type"),
        ("GIT_PROTOCOL", "git-protocol"),
        ("HTTP_CONTENT_ENCODING", "content-encoding"),
    ] {
        if let Some(value) = header(name) {
            env.push((variable, value));
        }
    }
    let (head_tx, head_rx) = tokio::sync::oneshot::channel::<Result<Head, String>>();
    let (chunks_tx, chunks_rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let backend = served.backend.clone();
    std::thread::Builder::new()
        .name("git-http-backend".into())
        .spawn(move || run_backend(&backend, &env, body, head_tx, &chunks_tx))
        .map_err(|e| format!("cannot start a thread: {e}\n"))?;
    let (status, headers) = head_rx
        .await
        .map_err(|_| "git http-backend stopped before answering\n".to_string())??;
    let stream = futures::stream::unfold(chunks_rx, |mut chunks| async move {
        chunks.recv().await.map(|chunk| (chunk, chunks))
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    response.headers_mut().extend(headers);
    Ok(response)
}

/// Runs the CGI program (blocking): feeds it the body, sends its head, then its output in chunks.
fn run_backend(
    backend: &Path,
    env: &[(&str, String)],
    body: Bytes,
    head_tx: tokio::sync::oneshot::Sender<Result<Head, String>>,
    chunks_tx: &tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
) {
    let mut command = Command::new(backend);
    isolate(&mut command);
    command
        .envs(env.iter().map(|(name, value)| (*name, value)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let _ = head_tx.send(Err(format!("cannot run git http-backend: {e}\n")));
            return;
        }
    };
    let mut stdin = child.stdin.take().expect("a piped stdin");
    let feeder = std::thread::spawn(move || {
        // The CGI may answer without reading everything (an error); that is not ours to report.
        let _ = stdin.write_all(&body);
    });
    let mut stdout = BufReader::new(child.stdout.take().expect("a piped stdout"));
    match read_head(&mut stdout) {
        Ok(head) => {
            if head_tx.send(Ok(head)).is_ok() {
                let mut buffer = vec![0; CHUNK];
                loop {
                    match stdout.read(&mut buffer) {
                        Ok(0) => break,
                        Ok(n) => {
                            let chunk = Bytes::copy_from_slice(&buffer[..n]);
                            if chunks_tx.blocking_send(Ok(chunk)).is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            let _ = chunks_tx.blocking_send(Err(e));
                            break;
                        }
                    }
                }
            }
        }
        Err(message) => {
            let _ = head_tx.send(Err(message));
        }
    }
    drop(stdout);
    let _ = feeder.join();
    let _ = child.wait();
}

/// Parses the CGI header block: `Status: 404 Not Found` and ordinary headers, up to a blank line.
fn read_head(stdout: &mut impl BufRead) -> Result<Head, String> {
    let mut status = StatusCode::OK;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        let read = stdout
            .read_line(&mut line)
            .map_err(|e| format!("cannot read git http-backend's output: {e}\n"))?;
        let line = line.trim_end_matches(['\r', '\n']);
        if read == 0 || line.is_empty() {
            return Ok((status, headers));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!(
                "git http-backend wrote a malformed header: {line}\n"
            ));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or_default();
            status = code
                .parse::<u16>()
                .ok()
                .and_then(|code| StatusCode::from_u16(code).ok())
                .ok_or_else(|| format!("git http-backend wrote a malformed status: {value}\n"))?;
        } else if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.push((name, value));
        }
    }
}

/// `git` with no system or user configuration and a fixed identity, so that every machine
/// writes the same kind of repository.
fn git_command() -> Command {
    let mut command = Command::new("git");
    isolate(&mut command);
    command
}

fn isolate(command: &mut Command) {
    command
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "Ferry Tests")
        .env("GIT_AUTHOR_EMAIL", "tests@ferry.invalid")
        .env("GIT_COMMITTER_NAME", "Ferry Tests")
        .env("GIT_COMMITTER_EMAIL", "tests@ferry.invalid")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
}

/// Runs `git args…` in `dir` and returns its trimmed standard output.
///
/// # Panics
/// When git fails (with its error output).
fn git(dir: &Path, args: &[&str]) -> String {
    let output = git_command()
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run git: {e}"));
    assert!(
        output.status.success(),
        "git {} failed in {}: {}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A working repository written with the `git` command line, pushed to the server's bare repo.
pub struct TestRepo {
    work: tempfile::TempDir,
    bare: PathBuf,
}

impl TestRepo {
    /// `git init --bare <root>/<name>.git` on the server and a working repository (branch `main`)
    /// in a temporary directory that pushes to it.
    ///
    /// # Panics
    /// When git fails, or the repository already exists.
    pub fn create(server: &GitServer, name: &str) -> TestRepo {
        let bare = server.root().join(format!("{name}.git"));
        assert!(!bare.exists(), "repository {name} already exists");
        let bare_text = bare.to_str().expect("a UTF-8 path");
        git(
            server.root(),
            &[
                "init",
                "--quiet",
                "--bare",
                "--initial-branch=main",
                bare_text,
            ],
        );
        let work = tempfile::Builder::new()
            .prefix("ferry-git-work-")
            .tempdir()
            .expect("a temporary work directory");
        git(work.path(), &["init", "--quiet", "--initial-branch=main"]);
        TestRepo { work, bare }
    }

    /// The working directory.
    pub fn work_dir(&self) -> &Path {
        self.work.path()
    }

    /// Writes a file in the work dir (creating its folders).
    pub fn write(&self, path: &str, contents: &str) {
        let file = self.work.path().join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).expect("folders of a test file");
        }
        std::fs::write(&file, contents).expect("a test file");
    }

    /// Removes a file (or a folder, recursively) from the work dir.
    pub fn remove(&self, path: &str) {
        let file = self.work.path().join(path);
        if file.is_dir() {
            std::fs::remove_dir_all(&file).expect("a test folder removed");
        } else {
            std::fs::remove_file(&file).expect("a test file removed");
        }
    }

    /// `git add -A`, commit (even when nothing changed) and push the current branch to the bare
    /// repository through the file system; returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        let dir = self.work.path();
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "--quiet", "--allow-empty", "-m", message]);
        let branch = git(dir, &["symbolic-ref", "--short", "HEAD"]);
        self.push(&format!("HEAD:refs/heads/{branch}"));
        git(dir, &["rev-parse", "HEAD"])
    }

    /// Creates an annotated tag at HEAD and pushes it.
    pub fn tag(&self, name: &str) {
        git(
            self.work.path(),
            &["tag", "-a", name, "-m", &format!("tag {name}")],
        );
        self.push(&format!("refs/tags/{name}"));
    }

    /// Creates a lightweight tag at HEAD and pushes it.
    pub fn lightweight_tag(&self, name: &str) {
        git(self.work.path(), &["tag", name]);
        self.push(&format!("refs/tags/{name}"));
    }

    /// Creates a branch at HEAD (staying on the current one) and pushes it.
    pub fn branch(&self, name: &str) {
        git(self.work.path(), &["branch", name]);
        self.push(&format!("refs/heads/{name}"));
    }

    /// Switches the work dir to an existing branch.
    pub fn switch(&self, name: &str) {
        git(self.work.path(), &["switch", "--quiet", name]);
    }

    /// `git rev-parse <revision>` in the work dir.
    pub fn rev_parse(&self, revision: &str) -> String {
        git(self.work.path(), &["rev-parse", revision])
    }

    fn push(&self, refspec: &str) {
        let bare = self.bare.to_str().expect("a UTF-8 path");
        git(
            self.work.path(),
            &["push", "--quiet", "--force", bare, refspec],
        );
    }
}
