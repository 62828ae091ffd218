//! Reading one folder of a git repository at a branch, tag or commit, over smart HTTP(S).
//!
//! [`read_tree`] fetches from the remote with `gix` (a git implementation in Rust) into a scratch
//! bare repository under the system temporary directory, reads the files of the resolved commit's
//! tree straight from the object database (nothing is checked out), and removes the scratch
//! repository before returning. Branches and tags are fetched shallow (depth 1); a full commit id is
//! asked for directly, also shallow, and an abbreviated one (or a server that refuses direct
//! requests for commits) needs the whole history of the remote's branches and tags.
//!
//! Credentials go in an `Authorization: Basic` header of every request (username and token as
//! password, as GitHub, GitLab and CodeCommit accept tokens); the header is marked sensitive, redirects
//! are never followed (the header would go wherever they point), and the token never appears in a URL, an error,
//! a log line or a `Debug` output.

use std::any::Any;
use std::collections::HashSet;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use gix::protocol::transport::client::blocking_io::http;
use gix::remote::Direction;
use gix::remote::fetch::refmap::SpecIndex;
use gix::remote::fetch::{Shallow, Tags};
use gix::{ObjectId, objs::tree::EntryKind};
use serde::Deserialize;

use crate::error::{Failure, TaskError};

/// The field a missing or malformed reference is reported on.
const REF_FIELD: &str = "source.git.ref";
/// The field a missing or malformed folder is reported on.
const PATH_FIELD: &str = "source.git.path";
/// The field a malformed remote URL is reported on.
const URL_FIELD: &str = "source.git.url";
/// The `service` of [`TaskError::Api`] errors raised here.
const SERVICE: &str = "git";
/// Name prefix of the scratch directories under the system temporary directory.
const SCRATCH_PREFIX: &str = "ferry-git-";
/// The longest connection set-up allowed, whatever the overall budget.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a timed-out read is given to notice it was interrupted and remove its scratch directory.
const CLEANUP_GRACE: Duration = Duration::from_secs(2);

/// Credentials for a git remote (from a Secrets Manager secret `{"token": …, "username"?: …}`);
/// `Debug` never prints the token.
#[derive(Clone, Deserialize)]
pub struct GitAuth {
    /// The user name sent with the token; `x-access-token` when the secret names none (GitHub
    /// accepts it for app and personal tokens, GitLab and CodeCommit ignore or require their own).
    #[serde(default = "default_username")]
    pub username: String,
    /// The token (or password), sent as the password of HTTP basic authentication.
    pub token: String,
}

fn default_username() -> String {
    "x-access-token".to_string()
}

impl std::fmt::Debug for GitAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitAuth")
            .field("username", &self.username)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// One file read from the tree: path relative to the requested folder (forward slashes), bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitFile {
    /// Path relative to the requested folder, with forward slashes (`sub/app.json`).
    pub path: String,
    /// The file's contents as committed.
    pub bytes: Vec<u8>,
}

/// What was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitTree {
    /// Full hexadecimal id of the commit the reference resolved to.
    pub commit: String,
    /// Every regular (or executable) file under the folder, recursively, sorted by path. Symbolic
    /// links and submodules are skipped.
    pub files: Vec<GitFile>,
}

/// Fetches `reference` (a branch name, a tag name, or a full/abbreviated ≥7-hex commit id) of the
/// remote `url` (https, or http only for 127.0.0.1/localhost) and returns the files under `folder`
/// ("" or "." = repository root), recursively.
///
/// A name that is both a branch and a tag resolves to the branch; a fully qualified name
/// (`refs/heads/main`, `refs/tags/v1`) or `HEAD` is also accepted. `timeout` bounds the whole read
/// (and each HTTP request); a read that runs out of time is interrupted and given up to two more
/// seconds to remove its scratch directory before the timeout error is returned.
///
/// # Errors
/// - [`TaskError::InvalidInput`] on `source.git.url` for a URL that is not https (or local http)
///   or that carries credentials, on `source.git.ref` for a reference that is malformed, ambiguous
///   or not on the remote, on `source.git.path` for a folder that is malformed, missing or a file.
/// - [`TaskError::Api`] (service `git`) classified [`Failure::Unauthorized`] when the remote
///   refuses the credentials (or wants some), [`Failure::NotFound`] when there is no repository at
///   the URL, [`Failure::Retryable`] for network failures, server errors and timeouts,
///   [`Failure::Rejected`] otherwise.
pub async fn read_tree(
    url: &str,
    reference: &str,
    folder: &str,
    auth: Option<&GitAuth>,
    timeout: std::time::Duration,
) -> Result<GitTree, crate::error::TaskError> {
    let read = Read::new(url, reference, folder, auth, timeout)?;
    tracing::info!(url = %read.url, reference = %read.reference, folder = %read.folder, "reading git tree");
    let interrupt = Arc::new(AtomicBool::new(false));
    let task = tokio::task::spawn_blocking({
        let interrupt = interrupt.clone();
        let read = read.clone();
        move || read.run(&interrupt)
    });
    tokio::pin!(task);
    let outcome = match tokio::time::timeout(timeout, &mut task).await {
        Ok(joined) => joined,
        Err(_) => {
            interrupt.store(true, Ordering::Relaxed);
            // Give the fetch a moment to stop and remove its scratch directory.
            let _ = tokio::time::timeout(CLEANUP_GRACE, &mut task).await;
            return Err(read.api_error(
                "fetch",
                Failure::Retryable,
                format!("timed out after {timeout:?}"),
            ));
        }
    };
    let tree = outcome.map_err(|e| {
        read.api_error(
            "fetch",
            Failure::Rejected,
            format!("the read stopped unexpectedly: {e}"),
        )
    })??;
    tracing::info!(url = %read.url, reference = %read.reference, folder = %read.folder,
        commit = %tree.commit, files = tree.files.len(), "read git tree");
    Ok(tree)
}

/// A validated request to read one folder at one reference.
#[derive(Clone)]
struct Read {
    /// The remote, as given (checked to carry no credentials, query or fragment).
    url: String,
    /// The reference as given.
    reference: String,
    /// The fully qualified names the reference may stand for, most preferred first.
    names: Vec<String>,
    /// The lowercase hex digits when the reference may be a (possibly abbreviated) commit id.
    commit_hex: Option<String>,
    /// The folder, normalized: no leading `./` or `/`, no trailing `/`, "" for the root.
    folder: String,
    auth: Option<GitAuth>,
    timeout: Duration,
}

impl Read {
    fn new(
        url: &str,
        reference: &str,
        folder: &str,
        auth: Option<&GitAuth>,
        timeout: Duration,
    ) -> Result<Read, TaskError> {
        check_url(url)?;
        let (names, commit_hex) = reference_candidates(reference)?;
        Ok(Read {
            url: url.to_string(),
            reference: reference.to_string(),
            names,
            commit_hex,
            folder: normalize_folder(folder)?,
            auth: auth.cloned(),
            timeout,
        })
    }

    /// Fetches into a scratch directory, reads the tree and removes the directory.
    fn run(&self, interrupt: &AtomicBool) -> Result<GitTree, TaskError> {
        let scratch = tempfile::Builder::new()
            .prefix(SCRATCH_PREFIX)
            .tempdir()
            .map_err(|e| {
                self.api_error(
                    "create a scratch directory",
                    Failure::Retryable,
                    e.to_string(),
                )
            })?;
        let result = self.fetch_and_read(scratch.path(), interrupt);
        let place = scratch.path().display().to_string();
        if let Err(e) = scratch.close() {
            tracing::warn!(directory = %place, error = %e, "could not remove a scratch git repository");
        }
        result
    }

    fn fetch_and_read(&self, scratch: &Path, interrupt: &AtomicBool) -> Result<GitTree, TaskError> {
        let repo = self.init(&scratch.join("named"))?;
        if let Some(id) = self.fetch_named(&repo, interrupt)? {
            return self.read_commit(&repo, id);
        }
        let Some(hex) = &self.commit_hex else {
            return Err(self.missing_reference());
        };
        if hex.len() == repo.object_hash().len_in_hex() {
            let repo = self.init(&scratch.join("by-id"))?;
            if let Some(id) = self.fetch_by_id(&repo, hex, interrupt)? {
                return self.read_commit(&repo, id);
            }
        }
        let repo = self.init(&scratch.join("full"))?;
        let id = self.fetch_everything_and_find(&repo, hex, interrupt)?;
        self.read_commit(&repo, id)
    }

    /// A scratch bare repository that reads no configuration of the machine or the environment.
    fn init(&self, path: &Path) -> Result<gix::Repository, TaskError> {
        let open = gix::open::Options::isolated().config_overrides(["core.logAllRefUpdates=false"]);
        gix::ThreadSafeRepository::init_opts(
            path,
            gix::create::Kind::Bare,
            gix::create::Options::default(),
            open,
        )
        .map(gix::Repository::from)
        .map_err(|e| self.local_error("create a scratch repository", &e))
    }

    /// Fetches the branch or tag the reference names (depth 1) and returns the id it points at,
    /// or `None` when the remote has no such branch or tag.
    fn fetch_named(
        &self,
        repo: &gix::Repository,
        interrupt: &AtomicBool,
    ) -> Result<Option<ObjectId>, TaskError> {
        if self.names.is_empty() {
            return Ok(None);
        }
        let remote = self.remote(repo, &self.names)?;
        let prepare = self.prepare(&remote)?;
        // The mapping of the most preferred name (a branch before a tag).
        let chosen = prepare
            .ref_map()
            .mappings
            .iter()
            .filter_map(|mapping| match mapping.spec_index {
                SpecIndex::ExplicitInRemote(index) => {
                    mapping.remote.as_id().map(|id| (index, id.to_owned()))
                }
                SpecIndex::Implicit(_) => None,
            })
            .min_by_key(|(index, _)| *index)
            .map(|(_, id)| id);
        let Some(id) = chosen else {
            return Ok(None);
        };
        prepare
            .with_shallow(Shallow::DepthAtRemote(NonZeroU32::MIN))
            .receive(gix::progress::Discard, interrupt)
            .map_err(|e| self.remote_error("fetch", &e))?;
        Ok(Some(id))
    }

    /// Asks the remote for one commit by its full id (depth 1). `None` when the remote will not
    /// serve it that way (or has no such object), so the caller falls back to a full fetch.
    fn fetch_by_id(
        &self,
        repo: &gix::Repository,
        hex: &str,
        interrupt: &AtomicBool,
    ) -> Result<Option<ObjectId>, TaskError> {
        let Ok(id) = ObjectId::from_hex(hex.as_bytes()) else {
            return Ok(None);
        };
        let remote = self.remote(repo, &[hex.to_string()])?;
        let prepare = self.prepare(&remote)?;
        match prepare
            .with_shallow(Shallow::DepthAtRemote(NonZeroU32::MIN))
            .receive(gix::progress::Discard, interrupt)
        {
            Ok(_) => Ok(repo.has_object(id).then_some(id)),
            Err(e) => {
                // A server that will not serve unadvertised objects, or has no such object,
                // answers with an error line (`not our ref`) that gix reports as a malformed reply.
                let network = is_io(&e) || interrupted(interrupt);
                if classify(&e) != Failure::Unauthorized && !network {
                    tracing::debug!(url = %self.url, error = %self.describe(&e),
                        "the remote did not serve the commit by id; fetching every branch and tag");
                    Ok(None)
                } else {
                    Err(self.remote_error("fetch", &e))
                }
            }
        }
    }

    /// Fetches every branch and tag with their whole history and finds the one commit whose id
    /// starts with `hex`.
    fn fetch_everything_and_find(
        &self,
        repo: &gix::Repository,
        hex: &str,
        interrupt: &AtomicBool,
    ) -> Result<ObjectId, TaskError> {
        let specs = [
            "+refs/heads/*:refs/remotes/origin/*".to_string(),
            "+refs/tags/*:refs/tags/*".to_string(),
        ];
        let remote = self.remote(repo, &specs)?;
        let prepare = self.prepare(&remote)?;
        if prepare.ref_map().mappings.is_empty() {
            return Err(self.missing_reference());
        }
        prepare
            .receive(gix::progress::Discard, interrupt)
            .map_err(|e| self.remote_error("fetch", &e))?;
        let prefix = gix::hash::Prefix::from_hex(hex).map_err(|_| self.missing_reference())?;
        let mut candidates = HashSet::new();
        repo.objects
            .lookup_prefix(prefix, Some(&mut candidates))
            .map_err(|e| self.local_error("look up the commit id", &e))?;
        let commits: HashSet<ObjectId> = candidates
            .into_iter()
            .filter_map(|id| repo.find_object(id).ok()?.peel_to_commit().ok())
            .map(|commit| commit.id)
            .collect();
        let mut commits = commits.into_iter();
        match (commits.next(), commits.next()) {
            (Some(id), None) => Ok(id),
            (None, _) => Err(self.missing_reference()),
            (Some(_), Some(_)) => Err(TaskError::invalid(
                REF_FIELD,
                format!(
                    "'{}' is an ambiguous commit id in {}: give more hex digits",
                    self.reference, self.url
                ),
            )),
        }
    }

    /// A remote at the URL fetching exactly `specs` (no destinations: nothing but objects is
    /// written) and no tags beyond them.
    fn remote<'repo>(
        &self,
        repo: &'repo gix::Repository,
        specs: &[String],
    ) -> Result<gix::Remote<'repo>, TaskError> {
        repo.remote_at_without_url_rewrite(self.url.as_str())
            .and_then(|remote| {
                remote
                    .with_fetch_tags(Tags::None)
                    .with_refspecs(specs.iter().map(String::as_str), Direction::Fetch)
            })
            .map_err(|e| self.local_error("configure the remote", &e))
    }

    /// Connects, authenticates and lists the remote's references that `remote`'s specs select.
    fn prepare<'remote, 'repo>(
        &self,
        remote: &'remote gix::Remote<'repo>,
    ) -> Result<
        gix::remote::fetch::Prepare<
            'remote,
            'repo,
            Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>,
        >,
        TaskError,
    > {
        let connection = remote
            .connect(Direction::Fetch)
            .map_err(|e| self.remote_error("connect", &e))?
            // Credentials travel in a header set up front; never ask helpers or a terminal.
            .with_credentials(|_| Ok(None))
            .with_transport_options(self.transport_options());
        connection
            .prepare_fetch(gix::progress::Discard, Default::default())
            .map_err(|e| self.remote_error("list references", &e))
    }

    /// HTTP options: the credentials as a sensitive default header, the timeouts, a user agent.
    fn transport_options(&self) -> Box<dyn Any> {
        let authorization = self.auth.as_ref().and_then(|auth| {
            let pair = format!("{}:{}", auth.username, auth.token);
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            let mut value =
                reqwest::header::HeaderValue::from_str(&format!("Basic {encoded}")).ok()?;
            value.set_sensitive(true);
            Some(value)
        });
        let timeout = self.timeout;
        let configure_client: Box<http::reqwest::ConfigureClientFn> =
            Box::new(move |builder: reqwest::blocking::ClientBuilder| {
                let mut headers = reqwest::header::HeaderMap::new();
                if let Some(value) = &authorization {
                    headers.insert(reqwest::header::AUTHORIZATION, value.clone());
                }
                // Never follow a redirect: the credentials would go to wherever it points.
                Ok(builder
                    .redirect(reqwest::redirect::Policy::none())
                    .default_headers(headers)
                    .timeout(timeout)
                    .connect_timeout(timeout.min(CONNECT_TIMEOUT)))
            });
        let backend = http::reqwest::Options {
            configure_client: Some(configure_client),
            configure_request: None,
        };
        Box::new(http::Options {
            user_agent: Some(concat!("ferry/", env!("CARGO_PKG_VERSION")).to_string()),
            connect_timeout: Some(timeout.min(CONNECT_TIMEOUT)),
            follow_redirects: http::options::FollowRedirects::None,
            backend: Some(Arc::new(Mutex::new(backend))),
            ..Default::default()
        })
    }

    /// Reads every file under the folder of commit `id`.
    fn read_commit(&self, repo: &gix::Repository, id: ObjectId) -> Result<GitTree, TaskError> {
        let commit = repo
            .find_object(id)
            .and_then(|object| object.peel_to_commit())
            .map_err(|_| {
                TaskError::invalid(
                    REF_FIELD,
                    format!(
                        "'{}' of {} does not point at a commit",
                        self.reference, self.url
                    ),
                )
            })?;
        let commit_hex = commit.id.to_string();
        let root = commit
            .tree()
            .map_err(|e| self.local_error("read the commit's tree", &e))?;
        let folder_tree = if self.folder.is_empty() {
            root.id
        } else {
            let entry = root
                .lookup_entry_by_path(&self.folder)
                .map_err(|e| self.local_error("look up the folder", &e))?
                .ok_or_else(|| {
                    TaskError::invalid(
                        PATH_FIELD,
                        format!(
                            "folder '{}' does not exist at '{}' (commit {commit_hex}) of {}",
                            self.folder, self.reference, self.url
                        ),
                    )
                })?;
            if !entry.mode().is_tree() {
                return Err(TaskError::invalid(
                    PATH_FIELD,
                    format!(
                        "'{}' is a file, not a folder, at '{}' (commit {commit_hex}) of {}",
                        self.folder, self.reference, self.url
                    ),
                ));
            }
            entry.object_id()
        };
        let mut files = Vec::new();
        let mut pending = vec![(folder_tree, String::new())];
        while let Some((tree_id, prefix)) = pending.pop() {
            let tree = repo
                .find_tree(tree_id)
                .map_err(|e| self.local_error("read a tree", &e))?;
            let decoded = tree
                .decode()
                .map_err(|e| self.local_error("decode a tree", &e))?;
            for entry in &decoded.entries {
                let name = std::str::from_utf8(entry.filename).map_err(|_| {
                    TaskError::invalid(
                        PATH_FIELD,
                        format!(
                            "a file name under '{prefix}' at commit {commit_hex} of {} is not UTF-8",
                            self.url
                        ),
                    )
                })?;
                let path = format!("{prefix}{name}");
                match entry.mode.kind() {
                    EntryKind::Tree => pending.push((entry.oid.to_owned(), format!("{path}/"))),
                    EntryKind::Blob | EntryKind::BlobExecutable => {
                        let mut blob = repo
                            .find_blob(entry.oid)
                            .map_err(|e| self.local_error("read a file", &e))?;
                        files.push(GitFile {
                            path,
                            bytes: blob.take_data(),
                        });
                    }
                    EntryKind::Link | EntryKind::Commit => {
                        tracing::debug!(path = %path, "skipping a symbolic link or submodule");
                    }
                }
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(GitTree {
            commit: commit_hex,
            files,
        })
    }

    fn missing_reference(&self) -> TaskError {
        TaskError::invalid(
            REF_FIELD,
            format!(
                "'{}' is not a branch, tag or commit of {}",
                self.reference, self.url
            ),
        )
    }

    fn api_error(&self, operation: &'static str, failure: Failure, detail: String) -> TaskError {
        TaskError::Api {
            service: SERVICE,
            operation,
            resource: self.url.clone(),
            failure,
            detail: self.scrub(detail),
            retry_after_seconds: None,
        }
    }

    /// A failure talking to the remote, classified for retries.
    fn remote_error(&self, operation: &'static str, err: &gix::Error) -> TaskError {
        let failure = classify(err);
        let detail = match failure {
            Failure::Unauthorized => match &self.auth {
                Some(auth) => format!(
                    "the remote refused the credentials of user '{}' (check the token and its access to the repository)",
                    auth.username
                ),
                None => "the remote requires credentials and none were configured".to_string(),
            },
            Failure::NotFound => "no repository at this URL (HTTP 404)".to_string(),
            _ => self.describe(err),
        };
        self.api_error(operation, failure, detail)
    }

    /// A failure of the scratch repository itself (disk, corrupt data received).
    fn local_error(&self, operation: &'static str, err: &dyn std::error::Error) -> TaskError {
        self.api_error(operation, Failure::Retryable, err.to_string())
    }

    /// The error and its causes on one line.
    fn describe(&self, err: &gix::Error) -> String {
        let mut parts: Vec<String> = Vec::new();
        for cause in err.iter_errors() {
            let text = cause.to_string().replace('\n', " ");
            if !text.is_empty() && !parts.contains(&text) {
                parts.push(text);
            }
        }
        parts.join(": ")
    }

    /// Removes the token (plain or inside a basic-auth header value) from a text, whatever put it there.
    fn scrub(&self, text: String) -> String {
        let Some(auth) = &self.auth else {
            return text;
        };
        if auth.token.is_empty() {
            return text;
        }
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", auth.username, auth.token));
        text.replace(&encoded, "<redacted>")
            .replace(&auth.token, "<redacted>")
    }
}

fn interrupted(interrupt: &AtomicBool) -> bool {
    interrupt.load(Ordering::Relaxed)
}

/// How a failed exchange with the remote should be retried.
fn classify(err: &gix::Error) -> Failure {
    if err.is_unauthenticated() || err.is_permission_denied() {
        Failure::Unauthorized
    } else if http_status(err) == Some(404) {
        Failure::NotFound
    } else if err.is_retryable() || err.is_cancelled() || err.is_corrupted() || is_io(err) {
        Failure::Retryable
    } else {
        Failure::Rejected
    }
}

/// The HTTP status of the response that failed, when the failure was one.
fn http_status(err: &gix::Error) -> Option<u16> {
    err.iter_errors()
        .find_map(|e| e.downcast_ref::<reqwest::Error>())
        .and_then(reqwest::Error::status)
        .map(|status| status.as_u16())
}

/// Whether the failure was the network's (a reset connection, a truncated body): worth retrying.
fn is_io(err: &gix::Error) -> bool {
    err.iter_errors().any(|e| {
        e.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::UnexpectedEof
            )
        }) || e.downcast_ref::<reqwest::Error>().is_some()
    })
}

/// Accepts https URLs, and http ones only for this machine; never credentials in the URL.
fn check_url(url: &str) -> Result<(), TaskError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| TaskError::invalid(URL_FIELD, format!("is not a URL ({e})")))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // The URL itself is not repeated: it holds a secret.
        return Err(TaskError::invalid(
            URL_FIELD,
            "must not carry credentials: put the token in the git credentials secret",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(TaskError::invalid(
            URL_FIELD,
            "must not have a query or a fragment",
        ));
    }
    let local = matches!(
        parsed.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" if local => Ok(()),
        _ => Err(TaskError::invalid(
            URL_FIELD,
            format!(
                "'{url}' must be an https URL (http is accepted for 127.0.0.1 and localhost only)"
            ),
        )),
    }
}

/// The fully qualified names a reference may stand for (a branch first, then a tag), and its hex
/// digits when it may be a commit id.
fn reference_candidates(reference: &str) -> Result<(Vec<String>, Option<String>), TaskError> {
    let malformed = |why: &str| TaskError::invalid(REF_FIELD, format!("'{reference}' {why}"));
    if reference.is_empty() {
        return Err(TaskError::invalid(
            REF_FIELD,
            "is empty: give a branch, a tag or a commit id",
        ));
    }
    let names: Vec<String> = if reference == "HEAD" || reference.starts_with("refs/") {
        vec![reference.to_string()]
    } else {
        vec![
            format!("refs/heads/{reference}"),
            format!("refs/tags/{reference}"),
        ]
    };
    let valid = names
        .iter()
        .all(|name| gix::validate::reference::name(name.as_bytes().into()).is_ok());
    let commit_hex = (reference.len() >= 7
        && reference.len() <= 64
        && reference.bytes().all(|b| b.is_ascii_hexdigit()))
    .then(|| reference.to_ascii_lowercase());
    match (valid, &commit_hex) {
        (true, _) => Ok((names, commit_hex)),
        (false, Some(_)) => Ok((Vec::new(), commit_hex)),
        (false, None) => Err(malformed("is not a valid branch, tag or commit id")),
    }
}

/// "" or "." is the root; otherwise a relative path without `..`, leading `./`/`/` and trailing `/`
/// removed.
fn normalize_folder(folder: &str) -> Result<String, TaskError> {
    let mut parts = Vec::new();
    for part in folder.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(TaskError::invalid(
                    PATH_FIELD,
                    format!("'{folder}' must not contain '..'"),
                ));
            }
            other if other.contains('\\') || other.chars().any(char::is_control) => {
                return Err(TaskError::invalid(
                    PATH_FIELD,
                    format!("'{folder}' must be a path with forward slashes"),
                ));
            }
            other => parts.push(other),
        }
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let auth = GitAuth {
            username: "bot".into(),
            token: "s3cr3t-token".into(),
        };
        let shown = format!("{auth:?}");
        assert!(shown.contains("bot"));
        assert!(!shown.contains("s3cr3t-token"));
    }

    #[test]
    fn the_username_defaults_for_github_tokens() {
        let auth: GitAuth = serde_json::from_str(r#"{"token": "t"}"#).unwrap();
        assert_eq!(auth.username, "x-access-token");
        let auth: GitAuth = serde_json::from_str(r#"{"token": "t", "username": "u"}"#).unwrap();
        assert_eq!(auth.username, "u");
    }

    #[test]
    fn only_https_or_local_http_urls_without_credentials_are_accepted() {
        assert!(check_url("https://github.com/org/repo.git").is_ok());
        assert!(check_url("http://127.0.0.1:8080/repo.git").is_ok());
        assert!(check_url("http://localhost/repo.git").is_ok());
        assert!(check_url("http://[::1]:9/repo.git").is_ok());
        for bad in [
            "http://github.com/org/repo.git",
            "ssh://git@github.com/org/repo.git",
            "file:///tmp/repo.git",
            "https://github.com/org/repo.git?x=1",
            "not a url",
        ] {
            let err = check_url(bad).unwrap_err();
            assert!(err.to_string().contains("source.git.url"), "{bad}: {err}");
        }
        let err = check_url("https://user:hunter2@github.com/org/repo.git").unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn references_map_to_branches_then_tags_and_maybe_a_commit() {
        let (names, hex) = reference_candidates("main").unwrap();
        assert_eq!(names, ["refs/heads/main", "refs/tags/main"]);
        assert_eq!(hex, None);
        let (names, hex) = reference_candidates("refs/tags/v1").unwrap();
        assert_eq!(names, ["refs/tags/v1"]);
        assert_eq!(hex, None);
        let (_, hex) = reference_candidates("DEADBEEF").unwrap();
        assert_eq!(hex.as_deref(), Some("deadbeef"));
        let (_, hex) = reference_candidates("abc12").unwrap();
        assert_eq!(hex, None);
        for bad in ["", "a:b", "a b", "x..y", "*"] {
            let err = reference_candidates(bad).unwrap_err();
            assert!(err.to_string().contains("source.git.ref"), "{bad}: {err}");
        }
    }

    #[test]
    fn folders_are_normalized() {
        assert_eq!(normalize_folder("").unwrap(), "");
        assert_eq!(normalize_folder(".").unwrap(), "");
        assert_eq!(normalize_folder("./config/").unwrap(), "config");
        assert_eq!(normalize_folder("/a//b/").unwrap(), "a/b");
        assert!(normalize_folder("a/../b").is_err());
        assert!(normalize_folder("a\\b").is_err());
    }

    #[test]
    fn scrub_removes_the_token_in_any_form() {
        let read = Read::new(
            "https://example.com/r.git",
            "main",
            "",
            Some(&GitAuth {
                username: "u".into(),
                token: "tok-123".into(),
            }),
            Duration::from_secs(1),
        )
        .unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode("u:tok-123");
        let text = read.scrub(format!("a tok-123 b Basic {encoded}"));
        assert!(
            !text.contains("tok-123") && !text.contains(&encoded),
            "{text}"
        );
    }
}
