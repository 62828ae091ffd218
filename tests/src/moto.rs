//! Starts the local AWS endpoint (`infra/local/moto_server.py`) once per test process.
//!
//! The server listens on 127.0.0.1 only, on a port picked by the OS, and exits with the test process.
//! Set `FERRY_TEST_AWS_ENDPOINT` to use a server that is already running instead.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

struct Server {
    endpoint: String,
    _child: Option<Child>,
}

/// The endpoint URL of the local AWS server, starting it on first use.
pub fn endpoint() -> String {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(start).endpoint.clone()
}

/// The project root (the workspace holding `infra/`).
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the project root")
        .to_path_buf()
}

/// The Python of the project's tools: `FERRY_PYTHON`, else `.venv/bin/python` (made by `make setup`).
pub fn python() -> PathBuf {
    std::env::var("FERRY_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| project_root().join(".venv/bin/python"))
}

fn start() -> Server {
    if let Ok(endpoint) = std::env::var("FERRY_TEST_AWS_ENDPOINT") {
        return Server {
            endpoint,
            _child: None,
        };
    }
    let root = project_root();
    let python = python();
    let port = free_port();
    let child = Command::new(&python)
        .arg(root.join("infra/local/moto_server.py"))
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--exit-with-parent",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start the local AWS server with {} ({e}); run `make setup` first",
                python.display()
            )
        });
    let endpoint = format!("http://127.0.0.1:{port}");
    wait_ready(port);
    Server {
        endpoint,
        _child: Some(child),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("an ephemeral port on 127.0.0.1")
}

/// Waits until `GET /moto-api/` answers 200.
fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if probe(port) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the local AWS server on port {port} did not become ready within 60 s");
}

fn probe(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let request =
        format!("GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok()
        && (head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"))
}

/// Sends a JSON POST to the server's control API (`/moto-api/...`).
pub fn control(path: &str, body: &str) {
    let endpoint = endpoint();
    let authority = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(authority).expect("connect to the local AWS server");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .expect("send control request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read control response");
    assert!(
        response.starts_with("HTTP/1.1 2") || response.starts_with("HTTP/1.0 2"),
        "control {path} failed: {response}"
    );
}
