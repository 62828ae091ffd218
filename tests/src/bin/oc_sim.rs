//! `oc-sim`: the SAP Open Connectors simulator as a process, for the flow tests and the demo.
//!
//! `oc-sim --port N [--seed FILE.json] [--exit-on-stdin-eof]` listens on 127.0.0.1:N (0 picks a
//! free port), seeds the organizations of FILE (`{"orgs": [OrgSeed, ...]}`), prints one line
//! `oc-sim listening on http://127.0.0.1:PORT` and serves until killed, or until standard input
//! ends when `--exit-on-stdin-eof` is given. The platform API is then at
//! `http://127.0.0.1:PORT/elements/api-v2`, the control API at `http://127.0.0.1:PORT/control`.

use std::process::ExitCode;

use ferry_tests::oc_sim::{OrgSeed, Simulator};
use serde::Deserialize;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    #[serde(default)]
    orgs: Vec<OrgSeed>,
}

fn start(port: u16, seed: SeedFile) -> Result<String, String> {
    let simulator = Simulator::start(port);
    for org in seed.orgs {
        simulator.store().add_org(org)?;
    }
    Ok(simulator.origin())
}

fn main() -> ExitCode {
    ferry_tests::serve::run_simulator("oc-sim", std::env::args().skip(1), start)
}
