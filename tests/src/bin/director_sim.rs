//! `director-sim`: the Compass Director simulator as a process, for the flow tests and the demo.
//!
//! `director-sim --port N [--seed FILE.json] [--exit-on-stdin-eof]` listens on 127.0.0.1:N (0
//! picks a free port), loads the seed FILE (`{"tenants": [{"id", "applications": [...]}],
//! "clients": [{"id", "secret", "scopes"}], "token_lifetime_seconds": N}`), prints one line
//! `director-sim listening on http://127.0.0.1:PORT` and serves until killed, or until standard
//! input ends when `--exit-on-stdin-eof` is given. GraphQL is at `/graphql`, tokens at
//! `/oauth2/token`, the control API under `/control`.

use std::process::ExitCode;

use ferry_tests::director_sim::{SeedFile, Simulator};

fn start(port: u16, seed: SeedFile) -> Result<String, String> {
    let simulator = Simulator::start(port);
    simulator.store().load(seed)?;
    Ok(simulator.origin())
}

fn main() -> ExitCode {
    ferry_tests::serve::run_simulator("director-sim", std::env::args().skip(1), start)
}
