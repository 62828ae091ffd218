//! What the simulators' integration tests share: an answer read as status and JSON, a check that
//! a `slow` fault delays exactly one request, and a simulator binary run on a seed file until its
//! standard input closes.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The status and the JSON body of `response` (a body that is not JSON as a string).
pub async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("a response body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// Calls `call` twice after a one-request `slow` fault of `millis` was armed: the first answer
/// must take at least `millis`, the second less. Returns both answers.
pub async fn slow_once<T, F: Future<Output = T>>(
    millis: u64,
    mut call: impl FnMut() -> F,
) -> (T, T) {
    let delay = Duration::from_millis(millis);
    let started = Instant::now();
    let slow = call().await;
    assert!(
        started.elapsed() >= delay,
        "the first answer is not delayed"
    );
    let started = Instant::now();
    let fast = call().await;
    assert!(
        started.elapsed() < delay,
        "the second answer is delayed too"
    );
    (slow, fast)
}

/// A simulator binary serving a seed file on a free 127.0.0.1 port until its standard input
/// closes (`--port 0 --exit-on-stdin-eof --seed FILE`). Dropping it kills the process and
/// removes the file.
pub struct SeededBinary {
    child: Child,
    seed_path: PathBuf,
    origin: String,
}

impl SeededBinary {
    /// Writes `seed` to a fresh file, starts the binary at `exe` and reads its
    /// `<name> listening on <origin>` line.
    ///
    /// # Panics
    /// When the binary does not start or does not announce a 127.0.0.1 origin.
    pub fn start(exe: &str, name: &str, seed: &Value) -> SeededBinary {
        let file = format!("{}.json", crate::unique(&format!("{name}-seed")));
        let seed_path = std::env::temp_dir().join(file);
        std::fs::write(&seed_path, seed.to_string()).expect("the seed file is written");
        let child = Command::new(exe)
            .args(["--port", "0", "--exit-on-stdin-eof", "--seed"])
            .arg(&seed_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{exe} does not start: {e}"));
        let mut binary = SeededBinary {
            child,
            seed_path,
            origin: String::new(),
        };
        binary.origin = binary.announced(name);
        binary
    }

    fn announced(&mut self, name: &str) -> String {
        let stdout = self.child.stdout.take().expect("a piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("an announcement line");
        let prefix = format!("{name} listening on ");
        let origin = line.trim().strip_prefix(&prefix).unwrap_or_default();
        assert!(origin.starts_with("http://127.0.0.1:"), "{line}");
        origin.to_string()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Closes the binary's standard input and asserts it then exits successfully.
    pub fn stop(mut self) {
        drop(self.child.stdin.take());
        let status = self.child.wait().expect("the binary is waited for");
        assert!(status.success(), "{status}");
    }
}

impl Drop for SeededBinary {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.seed_path);
    }
}

/// A simulator's control API below `base` (such as `http://127.0.0.1:PORT/_sim`), spoken JSON.
pub struct Control {
    http: reqwest::Client,
    base: String,
}

impl Control {
    /// The control API below `base`.
    pub fn new(base: String) -> Control {
        let http = reqwest::Client::new();
        Control { http, base }
    }

    /// `GET {base}{path}`: status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let request = self.http.get(format!("{}{path}", self.base));
        read(request.send().await.expect("a control answer")).await
    }

    /// `POST {base}{path}` with `body`: status and JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let request = self.http.post(format!("{}{path}", self.base)).json(body);
        read(request.send().await.expect("a control answer")).await
    }
}
