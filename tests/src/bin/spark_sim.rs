//! `spark-sim`: the Spark ImpEx simulator as a process, for the flow tests and the demo.
//!
//! `spark-sim --port N [--seed FILE.json] [--exit-on-stdin-eof]` listens on 127.0.0.1:N (0 picks a
//! free port), seeds the tenants of FILE (`{"tenants": [TenantSeed, ...]}`), prints one line
//! `spark-sim listening on http://127.0.0.1:PORT` and serves until killed, or until standard input
//! ends when `--exit-on-stdin-eof` is given.

use std::path::PathBuf;
use std::process::ExitCode;

use ferry_tests::serve::{flag_value, seed_file};

use ferry_tests::spark_sim::{Simulator, TenantSeed};
use serde::Deserialize;

const USAGE: &str = "usage: spark-sim --port N [--seed FILE.json] [--exit-on-stdin-eof]";

struct Options {
    port: u16,
    seed: Option<PathBuf>,
    exit_on_stdin_eof: bool,
}

#[derive(Deserialize)]
struct SeedFile {
    #[serde(default)]
    tenants: Vec<TenantSeed>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        port: 0,
        seed: None,
        exit_on_stdin_eof: false,
    };
    let mut port = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = Some(flag_value(&mut args, "--port")?),
            "--seed" => options.seed = Some(PathBuf::from(flag_value(&mut args, "--seed")?)),
            "--exit-on-stdin-eof" => options.exit_on_stdin_eof = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let port = port.ok_or("--port is required")?;
    options.port = ferry_tests::serve::port(&port)?;
    Ok(options)
}

fn seeds(path: &std::path::Path) -> Result<Vec<TenantSeed>, String> {
    seed_file::<SeedFile>(path).map(|file| file.tenants)
}

fn run(options: &Options) -> Result<(), String> {
    let tenants = match &options.seed {
        Some(path) => seeds(path)?,
        None => Vec::new(),
    };
    let simulator = Simulator::start(options.port);
    for tenant in tenants {
        simulator.add_tenant(tenant);
    }
    ferry_tests::serve::announce_and_serve(
        "spark-sim",
        &simulator.origin(),
        options.exit_on_stdin_eof,
    )
}

fn main() -> ExitCode {
    let result = parse(std::env::args().skip(1)).and_then(|options| run(&options));
    ferry_tests::serve::exit("spark-sim", USAGE, result)
}
