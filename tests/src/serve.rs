//! What the simulator and git server binaries share: say where they listen, serve until killed (or
//! until standard input ends), and turn a failure into a usage message and exit code 2.

use std::io::{Read, Write};
use std::process::ExitCode;

/// Prints `<name> listening on <origin>` and blocks: until standard input ends when
/// `exit_on_stdin_eof` (so a parent that dies takes the server with it), else forever.
pub fn announce_and_serve(name: &str, origin: &str, exit_on_stdin_eof: bool) -> Result<(), String> {
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{name} listening on {origin}")
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))?;
    if exit_on_stdin_eof {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        return Ok(());
    }
    loop {
        std::thread::park();
    }
}

/// Success, or the message and the usage on standard error with exit code 2.
pub fn exit(name: &str, usage: &str, result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{name}: {message}\n{usage}");
            ExitCode::from(2)
        }
    }
}

/// The value after `flag` on the command line.
pub fn flag_value(args: &mut impl Iterator<Item = String>, flag: &str) -> Result<String, String> {
    args.next().ok_or_else(|| format!("{flag} needs a value"))
}

/// A `--port` value.
pub fn port(text: &str) -> Result<u16, String> {
    text.parse()
        .map_err(|_| format!("--port must be a port number, not {text}"))
}

/// A JSON seed file.
pub fn seed_file<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not a seed file: {e}", path.display()))
}

/// Binds 127.0.0.1:`port` (0 picks a free port) for the server `name`; returns the listener and
/// its origin, `http://127.0.0.1:PORT`.
pub fn bind(name: &str, port: u16) -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("{name} cannot bind 127.0.0.1:{port}: {e}"));
    listener
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    let address = listener.local_addr().expect("a bound address");
    (listener, format!("http://{address}"))
}

/// Serves `router` on `listener` from a background thread with its own tokio runtime, so the
/// server outlives any test's runtime. Connections are accepted once this returns.
pub fn spawn(name: &str, listener: std::net::TcpListener, router: axum::Router) {
    let thread_name = name.to_string();
    std::thread::Builder::new()
        .name(thread_name.clone())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                axum::serve(listener, router)
                    .await
                    .unwrap_or_else(|e| panic!("{thread_name} stopped serving: {e}"));
            });
        })
        .unwrap_or_else(|e| panic!("the {name} thread does not start: {e}"));
}
