//! What the simulator and git server binaries share: say where they listen, serve until killed (or
//! until standard input ends), and turn a failure into a usage message and exit code 2; and the
//! whole life of a simulator binary, `<name> --port N [--seed FILE.json] [--exit-on-stdin-eof]`.

use std::io::{Read, Write};
use std::path::PathBuf;
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

/// The command line of a simulator binary.
#[derive(Debug, PartialEq, Eq)]
pub struct SimOptions {
    /// `--port N` (0 picks a free port).
    pub port: u16,
    /// `--seed FILE.json`, when given.
    pub seed: Option<PathBuf>,
    /// `--exit-on-stdin-eof`.
    pub exit_on_stdin_eof: bool,
}

/// Parses `--port N [--seed FILE.json] [--exit-on-stdin-eof]`.
pub fn sim_options(mut args: impl Iterator<Item = String>) -> Result<SimOptions, String> {
    let (mut port, mut seed, mut exit_on_stdin_eof) = (None, None, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = Some(flag_value(&mut args, "--port")?),
            "--seed" => seed = Some(PathBuf::from(flag_value(&mut args, "--seed")?)),
            "--exit-on-stdin-eof" => exit_on_stdin_eof = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let port = self::port(&port.ok_or("--port is required")?)?;
    Ok(SimOptions {
        port,
        seed,
        exit_on_stdin_eof,
    })
}

/// The whole life of the simulator binary `name`: parses `args`, reads the seed file (`T`'s
/// default without `--seed`), lets `start` start the simulator on the port with the seed and
/// return its origin, announces it and serves; a failure is a usage message and exit code 2.
pub fn run_simulator<T: serde::de::DeserializeOwned + Default>(
    name: &str,
    args: impl Iterator<Item = String>,
    start: impl FnOnce(u16, T) -> Result<String, String>,
) -> ExitCode {
    let usage = format!("usage: {name} --port N [--seed FILE.json] [--exit-on-stdin-eof]");
    let result = sim_options(args).and_then(|options| {
        let seed = match &options.seed {
            Some(path) => seed_file::<T>(path)?,
            None => T::default(),
        };
        let origin = start(options.port, seed)?;
        announce_and_serve(name, &origin, options.exit_on_stdin_eof)
    });
    exit(name, &usage, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(args: &[&str]) -> Result<SimOptions, String> {
        sim_options(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn simulator_options_need_a_port_and_take_a_seed_and_the_stdin_flag() {
        let all = options(&["--seed", "s.json", "--port", "0", "--exit-on-stdin-eof"]);
        let expected = SimOptions {
            port: 0,
            seed: Some(PathBuf::from("s.json")),
            exit_on_stdin_eof: true,
        };
        assert_eq!(all, Ok(expected));
        assert_eq!(
            options(&["--seed", "s.json"]).unwrap_err(),
            "--port is required"
        );
        assert!(
            options(&["--port", "x"])
                .unwrap_err()
                .contains("port number")
        );
        assert!(options(&["--port"]).unwrap_err().contains("needs a value"));
        assert!(options(&["--verbose"]).unwrap_err().contains("--verbose"));
    }
}
