//! The local S3 servers the sync benchmark runs against, each over a data directory of its own.
//!
//! - `rclone serve s3` (rclone 1.75.2 from `.venv`): a bucket is a directory, an object the file
//!   `DIR/<bucket>/<key>`; ETags are the MD5 of the file, computed by the server.
//! - s3rver 3.7.1 (Node, installed by `npm ci` in `bench/s3rver`): an object is the file
//!   `DIR/<bucket>/<key>._S3rver_object`, its metadata beside it in `._S3rver_metadata.json`
//!   (CopyObject fails without it) and its MD5 in `._S3rver_object.md5` (written by the server on
//!   the first read when missing). It accepts only the access key `S3RVER`. Its
//!   ListObjectsV2 continuation tokens are DES-encrypted, which Node 17+ (OpenSSL 3) refuses unless
//!   started with `--openssl-legacy-provider`.
//!
//! Either listens on 127.0.0.1 on a free port and runs under a shell that stops it when its stdin
//! (a pipe from this process) closes: when the [`Server`] is dropped, and also when this process
//! dies. The server's own process id is known, so its CPU time can be read from `/proc`.

use std::io::{self, BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Failure;

/// What s3rver stores for an object PUT without a content type.
const S3RVER_METADATA: &str = "{\n  \"content-type\": \"binary/octet-stream\"\n}";

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rclone,
    S3rver,
}

impl Kind {
    /// From the name used on the command line: `rclone` or `s3rver`.
    pub fn parse(name: &str) -> Result<Kind, Failure> {
        match name {
            "rclone" => Ok(Kind::Rclone),
            "s3rver" => Ok(Kind::S3rver),
            _ => Err(format!("unknown server '{name}' (rclone, s3rver)").into()),
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Rclone => "rclone",
            Kind::S3rver => "s3rver",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Rclone => "rclone serve s3 1.75.2",
            Kind::S3rver => "s3rver 3.7.1 (Node)",
        }
    }

    /// The access key id and secret the server accepts.
    pub fn credentials(self) -> (&'static str, &'static str) {
        match self {
            Kind::Rclone => ("testing", "testing"),
            Kind::S3rver => ("S3RVER", "S3RVER"),
        }
    }

    /// The file that holds the content of `key` in `bucket`, under the data directory `data`.
    pub fn object_file(self, data: &Path, bucket: &str, key: &str) -> PathBuf {
        let path = data.join(bucket).join(key);
        match self {
            Kind::Rclone => path,
            Kind::S3rver => PathBuf::from(format!("{}._S3rver_object", path.display())),
        }
    }

    /// Writes the files the server keeps for an object that was PUT with `content` (its folder
    /// must exist). s3rver also keeps the object's metadata, which CopyObject requires; the MD5
    /// file it writes itself on the first listing.
    pub fn write_object(
        self,
        data: &Path,
        bucket: &str,
        key: &str,
        content: &[u8],
    ) -> io::Result<()> {
        let file = self.object_file(data, bucket, key);
        std::fs::write(&file, content)?;
        if self == Kind::S3rver {
            let metadata = format!(
                "{}._S3rver_metadata.json",
                data.join(bucket).join(key).display()
            );
            std::fs::write(metadata, S3RVER_METADATA)?;
        }
        Ok(())
    }

    /// The server's command line, serving `data` on 127.0.0.1:`port`.
    fn command(self, root: &Path, data: &Path, port: u16) -> Result<Vec<String>, Failure> {
        let data = data.display().to_string();
        match self {
            Kind::Rclone => {
                let (key_id, secret) = self.credentials();
                let rclone = root.join(".venv/bin/rclone");
                Ok(vec![
                    rclone.display().to_string(),
                    "serve".into(),
                    "s3".into(),
                    "--addr".into(),
                    format!("127.0.0.1:{port}"),
                    "--auth-key".into(),
                    format!("{key_id},{secret}"),
                    data,
                ])
            }
            Kind::S3rver => {
                let script = root.join("bench/s3rver/node_modules/s3rver/bin/s3rver.js");
                if !script.exists() {
                    return Err(format!(
                        "{} is missing; run `npm ci` in bench/s3rver first",
                        script.display()
                    )
                    .into());
                }
                Ok(vec![
                    "node".into(),
                    "--openssl-legacy-provider".into(),
                    script.display().to_string(),
                    "--directory".into(),
                    data,
                    "--address".into(),
                    "127.0.0.1".into(),
                    "--port".into(),
                    port.to_string(),
                    "--silent".into(),
                ])
            }
        }
    }
}

/// A running server, stopped when dropped.
pub struct Server {
    pub kind: Kind,
    pub endpoint: String,
    /// The server process itself (not the shell guarding it).
    pid: u32,
    guard: Child,
    stdin: Option<ChildStdin>,
}

/// Runs the command given as `$@`, output to the file `$0`; prints its process id, waits for
/// stdin to close, then stops it.
const GUARD: &str = r#"log=$0
"$@" >"$log" 2>&1 &
pid=$!
echo "$pid"
cat >/dev/null
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null"#;

impl Server {
    /// Starts the server over `data` (project root `root`, output to `log`) and waits until it
    /// accepts connections.
    pub fn start(kind: Kind, root: &Path, data: &Path, log: &Path) -> Result<Server, Failure> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = format!("127.0.0.1:{port}");
        let mut guard = Command::new("sh")
            .arg("-c")
            .arg(GUARD)
            .arg(log)
            .args(kind.command(root, data, port)?)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = guard.stdin.take();
        let mut line = String::new();
        BufReader::new(guard.stdout.take().ok_or("no stdout pipe")?).read_line(&mut line)?;
        let server = Server {
            kind,
            endpoint: format!("http://{addr}"),
            pid: line.trim().parse()?,
            guard,
            stdin,
        };
        server.wait_listening(&addr, log)?;
        Ok(server)
    }

    fn wait_listening(&self, addr: &str, log: &Path) -> Result<(), Failure> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(addr).is_err() {
            if Instant::now() > deadline || !Path::new(&format!("/proc/{}", self.pid)).exists() {
                return Err(format!(
                    "{} did not listen on {addr}; see {}",
                    self.kind.label(),
                    log.display()
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// CPU seconds (user + system) the server process has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        ferry_bench::procfs::cpu_seconds(&self.pid.to_string())
    }

    /// The server's peak RSS so far, in KiB.
    pub fn peak_kib(&self) -> u64 {
        crate::measure::vm_hwm(self.pid).unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.guard.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.guard.kill();
        let _ = self.guard.wait();
    }
}
