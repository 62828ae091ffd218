//! `spark-sim`: the Spark ImpEx simulator as a process, for the flow tests and the demo.
//!
//! `spark-sim --port N [--seed FILE.json] [--exit-on-stdin-eof]` listens on 127.0.0.1:N (0 picks a
//! free port), seeds the tenants of FILE (`{"tenants": [TenantSeed, ...]}`), prints one line
//! `spark-sim listening on http://127.0.0.1:PORT` and serves until killed, or until standard input
//! ends when `--exit-on-stdin-eof` is given.

use std::process::ExitCode;

use ferry_tests::spark_sim::{Simulator, TenantSeed};
use serde::Deserialize;

#[derive(Default, Deserialize)]
struct SeedFile {
    #[serde(default)]
    tenants: Vec<TenantSeed>,
}

fn start(port: u16, seed: SeedFile) -> Result<String, String> {
    let simulator = Simulator::start(port);
    seed.tenants
        .into_iter()
        .for_each(|t| simulator.add_tenant(t));
    Ok(simulator.origin())
}

fn main() -> ExitCode {
    ferry_tests::serve::run_simulator("spark-sim", std::env::args().skip(1), start)
}
