//! `sesam-sim`: the Sesam node simulator as a process, for the flow tests and the demo.
//!
//! `sesam-sim --port N [--seed FILE.json] [--exit-on-stdin-eof]` listens on 127.0.0.1:N (0 picks a
//! free port), seeds the nodes of FILE (`{"nodes": [NodeSeed, ...]}`), prints one line
//! `sesam-sim listening on http://127.0.0.1:PORT` and serves until killed, or until standard input
//! ends when `--exit-on-stdin-eof` is given. Node `X` is then at `http://127.0.0.1:PORT/X/api`.

use std::process::ExitCode;

use ferry_tests::sesam_sim::{NodeSeed, Simulator};
use serde::Deserialize;

#[derive(Default, Deserialize)]
struct SeedFile {
    #[serde(default)]
    nodes: Vec<NodeSeed>,
}

fn start(port: u16, seed: SeedFile) -> Result<String, String> {
    let simulator = Simulator::start(port);
    for node in seed.nodes {
        simulator.store().add_node(node)?;
    }
    Ok(simulator.origin())
}

fn main() -> ExitCode {
    ferry_tests::serve::run_simulator("sesam-sim", std::env::args().skip(1), start)
}
