//! `sesam-sim`: the Sesam node simulator as a process, for the flow tests and the demo.
//!
//! `sesam-sim --port N [--seed FILE.json] [--exit-on-stdin-eof]` listens on 127.0.0.1:N (0 picks a
//! free port), seeds the nodes of FILE (`{"nodes": [NodeSeed, ...]}`), prints one line
//! `sesam-sim listening on http://127.0.0.1:PORT` and serves until killed, or until standard input
//! ends when `--exit-on-stdin-eof` is given. Node `X` is then at `http://127.0.0.1:PORT/X/api`.

use std::path::PathBuf;
use std::process::ExitCode;

use ferry_tests::serve::{flag_value, seed_file};

use ferry_tests::sesam_sim::{NodeSeed, Simulator};
use serde::Deserialize;

const USAGE: &str = "usage: sesam-sim --port N [--seed FILE.json] [--exit-on-stdin-eof]";

struct Options {
    port: u16,
    seed: Option<PathBuf>,
    exit_on_stdin_eof: bool,
}

#[derive(Deserialize)]
struct SeedFile {
    #[serde(default)]
    nodes: Vec<NodeSeed>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let (mut port, mut seed, mut exit_on_stdin_eof) = (None, None, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = Some(flag_value(&mut args, "--port")?),
            "--seed" => seed = Some(PathBuf::from(flag_value(&mut args, "--seed")?)),
            "--exit-on-stdin-eof" => exit_on_stdin_eof = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let port = port.ok_or("--port is required")?;
    let port = ferry_tests::serve::port(&port)?;
    Ok(Options {
        port,
        seed,
        exit_on_stdin_eof,
    })
}

fn seeds(path: &std::path::Path) -> Result<Vec<NodeSeed>, String> {
    seed_file::<SeedFile>(path).map(|file| file.nodes)
}

fn run(options: &Options) -> Result<(), String> {
    let nodes = match &options.seed {
        Some(path) => seeds(path)?,
        None => Vec::new(),
    };
    let simulator = Simulator::start(options.port);
    for node in nodes {
        simulator.store().add_node(node)?;
    }
    ferry_tests::serve::announce_and_serve(
        "sesam-sim",
        &simulator.origin(),
        options.exit_on_stdin_eof,
    )
}

fn main() -> ExitCode {
    let result = parse(std::env::args().skip(1)).and_then(|options| run(&options));
    ferry_tests::serve::exit("sesam-sim", USAGE, result)
}
