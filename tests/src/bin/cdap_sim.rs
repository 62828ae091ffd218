//! `cdap-sim`: the Data Fusion simulator as a process, for the flow tests and the demo.
//!
//! `cdap-sim --port N [--seed FILE.json] [--exit-on-stdin-eof]` listens on 127.0.0.1:N (0 picks
//! a free port), seeds FILE (`{"service_accounts": [...], "pools": [...], "instances": [...]}`;
//! a service account may name its key by `public_key_file`), prints one line
//! `cdap-sim listening on http://127.0.0.1:PORT` and serves until killed, or until standard
//! input ends when `--exit-on-stdin-eof` is given. The token endpoint is then
//! `http://127.0.0.1:PORT/token`, the control API `http://127.0.0.1:PORT/control`.

use std::process::ExitCode;

use ferry_tests::cdap_sim::{InstanceSeed, PoolSeed, ServiceAccountSeed, Simulator};
use serde::Deserialize;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    #[serde(default)]
    service_accounts: Vec<ServiceAccountSeed>,
    #[serde(default)]
    pools: Vec<PoolSeed>,
    #[serde(default)]
    instances: Vec<InstanceSeed>,
}

fn start(port: u16, seed: SeedFile) -> Result<String, String> {
    let simulator = Simulator::start(port);
    let store = simulator.store();
    for account in seed.service_accounts {
        store.add_service_account(account)?;
    }
    for pool in seed.pools {
        store.add_pool(pool)?;
    }
    for instance in seed.instances {
        store.add_instance(instance)?;
    }
    Ok(simulator.origin())
}

fn main() -> ExitCode {
    ferry_tests::serve::run_simulator("cdap-sim", std::env::args().skip(1), start)
}
