//! `git-server`: the test git server as a process, for the flow tests and the demo.
//!
//! `git-server --root DIR --token T --port N [--exit-on-stdin-eof]` serves the bare repositories
//! under DIR (`DIR/<name>.git` at `http://127.0.0.1:PORT/<name>.git`) with git's `http-backend`,
//! accepting requests whose basic-auth password is T, on 127.0.0.1:N (0 picks a free port). It
//! prints one line `git-server listening on http://127.0.0.1:PORT` and serves until killed, or
//! until standard input ends when `--exit-on-stdin-eof` is given.

use std::path::PathBuf;
use std::process::ExitCode;

use ferry_tests::serve::flag_value;

use ferry_tests::git_server::GitServer;

const USAGE: &str = "usage: git-server --root DIR --token T --port N [--exit-on-stdin-eof]";

struct Options {
    root: PathBuf,
    token: String,
    port: u16,
    exit_on_stdin_eof: bool,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let (mut root, mut token, mut port) = (None, None, None);
    let mut exit_on_stdin_eof = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--root" => root = Some(PathBuf::from(flag_value(&mut args, "--root")?)),
            "--token" => token = Some(flag_value(&mut args, "--token")?),
            "--port" => port = Some(flag_value(&mut args, "--port")?),
            "--exit-on-stdin-eof" => exit_on_stdin_eof = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let root = root.ok_or("--root is required")?;
    if !root.is_dir() {
        return Err(format!("--root {} is not a directory", root.display()));
    }
    let token = token.ok_or("--token is required")?;
    let port = port.ok_or("--port is required")?;
    let port = ferry_tests::serve::port(&port)?;
    Ok(Options {
        root,
        token,
        port,
        exit_on_stdin_eof,
    })
}

fn run(options: &Options) -> Result<(), String> {
    let server = GitServer::start_in(&options.root, &options.token, options.port);
    ferry_tests::serve::announce_and_serve("git-server", server.origin(), options.exit_on_stdin_eof)
}

fn main() -> ExitCode {
    let result = parse(std::env::args().skip(1)).and_then(|options| run(&options));
    ferry_tests::serve::exit("git-server", USAGE, result)
}
