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
