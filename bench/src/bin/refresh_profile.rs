//! Profile: where the wall clock of a local refresh goes, against the sum of its parts.
//!
//! Each run is `make run-local` itself, without make: `infra/local/run_local.sh refresh
//! infra/examples/refresh-local.json` with a fresh local AWS endpoint seeded with the demo world, the
//! functions built in debug and served by `infra/local/sfn/functions.mjs`, the local Step Functions
//! API and the `ferry` command. What each run leaves tells where the time went:
//!
//! - the script's output lines, timed as they arrive: the functions start, the API serves, `ferry`
//!   has printed the outcome;
//! - every execution's history (the refresh and each child: table, segment phase, bucket), which
//!   the API writes to `FERRY_SFN_HISTORY_FILE` when it stops: states, Wait states, Map iterations
//!   and each function invocation, `LambdaFunctionStarted` → `LambdaFunctionSucceeded`;
//! - the API's log (how long checking the definitions and warming up every function took) and the
//!   functions' log (each instance started: a cold start).
//!
//! After the runs, each binary the refresh invoked is started on its own against a stub of Lambda's
//! runtime API: its cold start is the time from spawning it to its first request for an event.
//!
//! The wall clock is from the functions starting to `ferry` having printed the outcome (the endpoint,
//! the seed and the build check before are not the refresh's). The sum of its parts is the work that
//! must happen: a cold start for each instance the run needs of each function it invoked (as many as
//! ran at once), plus every `copy-table` and every `sync-bucket` invocation. Medians over the runs.
//!
//! Usage: `refresh_profile [RUNS] [--bin-dir DIR] [--root DIR]` (default 3 runs; `--bin-dir`, where
//! the debug builds are, defaults to `target/debug` of the root; `--root`, the checkout whose
//! scripts run, defaults to this workspace). Needs what `make run-local` needs: `make setup` and the
//! npm packages of `infra/local/sfn`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// The state machine and the input `make run-local` runs by default.
const MACHINE: &str = "refresh";
const INPUT: &str = "infra/examples/refresh-local.json";

/// Lines of `run_local.sh` (and of `ferry`) that mark the phases.
const FUNCTIONS_STARTING: &str = "starting the functions and the local Step Functions API";
const API_SERVING: &str = "functions served at ";

/// Cold starts measured per binary (the median is kept).
const COLD_START_SAMPLES: usize = 5;

/// The functions whose invocations are parts of a refresh.
const COPY: &str = "copy-table";
const SYNC: &str = "sync-bucket";

// ---------------------------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------------------------

/// A line of output and when it arrived (seconds since the epoch, as the histories' timestamps).
struct Stamped {
    at: f64,
    line: String,
}

/// One execution as the local API kept it.
struct Execution {
    machine: String,
    /// What it works on: `efcms-test-alpha segment 0 clear`, `test-documents count`, ….
    subject: String,
    start: f64,
    stop: f64,
    events: Vec<Value>,
}

/// One function invocation: `LambdaFunctionStarted` → its end.
struct Invocation {
    /// `subject · State`, numbered when a state invokes more than once.
    key: String,
    function: String,
    start: f64,
    end: f64,
}

impl Invocation {
    fn seconds(&self) -> f64 {
        self.end - self.start
    }
}

/// What one run measured, in seconds.
struct Run {
    wall: f64,
    startup: f64,
    check: f64,
    warm: f64,
    ferry_start: f64,
    execution: f64,
    busy: f64,
    waiting: f64,
    ferry_end: f64,
    /// The refresh's own states, entered → exited, in order.
    states: Vec<(String, f64)>,
    invocations: Vec<Invocation>,
    /// `Wait NAME` → (times entered, seconds in it); `Map NAME` → (iterations, seconds in it).
    waits_and_maps: BTreeMap<String, (usize, f64)>,
    /// Instances started per function (cold starts).
    instances: BTreeMap<String, usize>,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs_f64()
}

/// Reads `stream` line by line into `sink`, each line stamped as it arrives.
fn stamp_lines(stream: impl Read + Send + 'static, sink: mpsc::Sender<Stamped>) {
    thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let _ = sink.send(Stamped { at: now(), line });
        }
    });
}

/// Runs `run_local.sh` once; returns its output lines, or why it failed.
fn run_local(root: &Path, name: &str, history: &Path) -> Result<Vec<Stamped>, String> {
    let mut child = Command::new("bash")
        .arg(root.join("infra/local/run_local.sh"))
        .args([MACHINE, INPUT])
        .current_dir(root)
        .env_remove("AWS_ENDPOINT_URL")
        .env("FERRY_RUN_ID", name)
        .env("FERRY_SFN_HISTORY_FILE", history)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start run_local.sh: {e}"))?;
    let (sink, lines) = mpsc::channel();
    stamp_lines(child.stdout.take().expect("piped"), sink.clone());
    stamp_lines(child.stderr.take().expect("piped"), sink);
    let status = child.wait().map_err(|e| e.to_string())?;
    let mut lines: Vec<Stamped> = lines.iter().collect();
    lines.sort_by(|a, b| a.at.total_cmp(&b.at));
    if !status.success() {
        let tail: Vec<&str> = lines
            .iter()
            .rev()
            .take(30)
            .map(|l| l.line.as_str())
            .collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!("run_local.sh {status}:\n{}", tail.join("\n")));
    }
    Ok(lines)
}

/// When the first line starting with `prefix` arrived.
fn line_at(lines: &[Stamped], prefix: &str) -> Result<f64, String> {
    lines
        .iter()
        .find(|l| l.line.starts_with(prefix))
        .map(|l| l.at)
        .ok_or_else(|| format!("run_local.sh printed no line starting with {prefix:?}"))
}

/// The seconds a log line such as `checked 5 state machine definitions in 0.4s` names after `in`
/// (0 when no line starts with `prefix`: that step did not run before serving).
fn logged_seconds(log: &str, prefix: &str) -> f64 {
    log.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(" in ").next())
        .and_then(|took| took.trim_end_matches('s').parse().ok())
        .unwrap_or(0.0)
}

/// Instances started per function, from the functions' log: `started instance N of FUNCTION`
/// (functions.mjs), or `spawning function instance function="FUNCTION"` (`cargo lambda watch`
/// starting instances itself, each with its own `cargo run`).
fn instances(log: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in log.lines() {
        let function = match line.strip_prefix("started instance ") {
            Some(rest) => rest.split_once(" of ").map(|(_, f)| f),
            None => line
                .split_once("spawning function instance function=\"")
                .and_then(|(_, rest)| rest.split('"').next()),
        };
        if let Some(function) = function {
            *counts.entry(function.to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

fn text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A history event's details member (`…EventDetails`), if it has one.
fn details(event: &Value) -> Option<&Value> {
    event
        .as_object()?
        .iter()
        .find(|(key, _)| key.ends_with("EventDetails"))
        .map(|(_, value)| value)
}

fn event_type(event: &Value) -> &str {
    event["type"].as_str().unwrap_or_default()
}

fn timestamp(event: &Value) -> f64 {
    event["timestamp"].as_f64().unwrap_or(f64::NAN)
}

/// The state an event names (`StateEntered`/`Exited`, `MapIteration*`), or "".
fn state_name(event: &Value) -> &str {
    details(event)
        .and_then(|d| d["name"].as_str())
        .unwrap_or_default()
}

/// What a child execution works on, from its input.
fn subject(input: &Value) -> String {
    if let Some(bucket) = input["bucket"]["target"].as_str() {
        let pass = if input["dry_run"] == Value::Bool(true) {
            "count"
        } else {
            "apply"
        };
        return format!("{bucket} {pass}");
    }
    if let (Some(table), Some(segment)) =
        (input["table"]["target"].as_str(), input["segment"].as_u64())
    {
        let phase = input["phase"].as_str().unwrap_or_default();
        return format!("{table} segment {segment} {phase}");
    }
    input["entry"]["target"]
        .as_str()
        .unwrap_or(MACHINE)
        .to_owned()
}

/// The executions of the run `name` (the refresh and every child), from the API's history file.
fn executions(history: &str, name: &str) -> Result<Vec<Execution>, String> {
    let document: Value = serde_json::from_str(history).map_err(|e| format!("history: {e}"))?;
    let records = document["executions"]
        .as_array()
        .ok_or("history: no executions")?;
    let child_prefix = format!("{name}.");
    let mut found = Vec::new();
    for record in records {
        let execution = record["name"].as_str().unwrap_or_default();
        if execution != name && !execution.starts_with(&child_prefix) {
            continue;
        }
        let events = record["events"].as_array().cloned().unwrap_or_default();
        let input = events
            .first()
            .and_then(details)
            .and_then(|d| d["input"].as_str())
            .and_then(|i| serde_json::from_str(i).ok())
            .unwrap_or(Value::Null);
        let arn = record["executionArn"].as_str().unwrap_or_default();
        found.push(Execution {
            machine: arn.split(':').nth(6).unwrap_or_default().to_owned(),
            subject: subject(&input),
            start: record["startDate"].as_f64().unwrap_or(f64::NAN),
            stop: record["stopDate"].as_f64().unwrap_or(f64::NAN),
            events,
        });
    }
    if !found.iter().any(|e| e.machine == MACHINE) {
        return Err(format!("history: no execution {name}"));
    }
    Ok(found)
}

/// `Entered` → `Exited` spans of the states of `kind` (`Wait`, `Map`, `Task`, …) in one execution,
/// as (state, start, end), in the order they were entered.
fn spans(execution: &Execution, kind: &str) -> Vec<(String, f64, f64)> {
    let entered = format!("{kind}StateEntered");
    let exited = format!("{kind}StateExited");
    let mut open: Vec<(String, f64)> = Vec::new();
    let mut done = Vec::new();
    for event in &execution.events {
        let kind = event_type(event);
        if kind == entered {
            open.push((state_name(event).to_owned(), timestamp(event)));
        } else if kind == exited
            && let Some(at) = open.iter().position(|(name, _)| name == state_name(event))
        {
            let (name, start) = open.remove(at);
            done.push((name, start, timestamp(event)));
        }
    }
    done.sort_by(|a, b| a.1.total_cmp(&b.1));
    done
}

/// Every function invocation of one execution. Within one of ferry's executions a function runs
/// only in its Task state, one at a time, so an invocation is the Task state entered last before
/// `LambdaFunctionScheduled`, from `LambdaFunctionStarted` to its end.
fn invocations_of(execution: &Execution) -> Vec<Invocation> {
    let mut found = Vec::new();
    let mut state = String::new();
    let mut function = String::new();
    let mut started = f64::NAN;
    let mut times: BTreeMap<String, usize> = BTreeMap::new();
    for event in &execution.events {
        match event_type(event) {
            "TaskStateEntered" => state = state_name(event).to_owned(),
            "LambdaFunctionScheduled" => {
                let resource = details(event)
                    .and_then(|d| d["resource"].as_str())
                    .unwrap_or_default();
                function = resource.rsplit(':').next().unwrap_or_default().to_owned();
            }
            "LambdaFunctionStarted" => started = timestamp(event),
            "LambdaFunctionSucceeded" | "LambdaFunctionFailed" | "LambdaFunctionTimedOut" => {
                let label = format!("{} · {state}", execution.subject);
                let time = times.entry(label.clone()).or_insert(0);
                *time += 1;
                let key = if *time == 1 {
                    label
                } else {
                    format!("{label} #{time}")
                };
                let end = timestamp(event);
                found.push(Invocation {
                    key,
                    function: function.clone(),
                    start: started,
                    end,
                });
            }
            _ => {}
        }
    }
    found
}

/// The length of the union of `intervals`.
fn union_length(mut intervals: Vec<(f64, f64)>) -> f64 {
    intervals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut total = 0.0;
    let mut current: Option<(f64, f64)> = None;
    for (start, end) in intervals {
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                total += e - s;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    total + current.map_or(0.0, |(s, e)| e - s)
}

/// Adds each span's count and seconds to `into`, by state.
fn tally(into: &mut BTreeMap<String, (usize, f64)>, spans: Vec<(String, f64, f64)>) {
    for (name, start, end) in spans {
        let entry = into.entry(name).or_insert((0, 0.0));
        entry.0 += 1;
        entry.1 += end - start;
    }
}

/// Map iterations per Map state, over every execution.
fn map_iterations(executions: &[Execution]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for event in executions.iter().flat_map(|e| &e.events) {
        if event_type(event) == "MapIterationStarted" {
            *counts.entry(state_name(event).to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

/// The states of the refresh itself (`top_level`, the names its definition's `States` holds; not
/// the states of its branches, Map iterations or children), entered → exited, in order.
fn own_states(refresh: &Execution, top_level: &[String]) -> Vec<(String, f64)> {
    let kinds = ["Task", "Map", "Parallel", "Wait"];
    let mut spans: Vec<(String, f64, f64)> = kinds.iter().flat_map(|k| spans(refresh, k)).collect();
    spans.retain(|(name, _, _)| top_level.contains(name));
    spans.sort_by(|a, b| a.1.total_cmp(&b.1));
    spans
        .into_iter()
        .map(|(name, start, end)| (name, end - start))
        .collect()
}

/// The names of the top-level states of the state machine `machine` under `root`.
fn top_level_states(root: &Path, machine: &str) -> Result<Vec<String>, String> {
    let path = root.join(format!("infra/statemachines/{machine}.asl.json"));
    let definition: Value =
        serde_json::from_str(&text(&path)?).map_err(|e| format!("{}: {e}", path.display()))?;
    let states = definition["States"]
        .as_object()
        .ok_or_else(|| format!("{}: no States", path.display()))?;
    Ok(states.keys().cloned().collect())
}

/// `spans` with each state's name prefixed by `kind`.
fn named(kind: &str, spans: Vec<(String, f64, f64)>) -> Vec<(String, f64, f64)> {
    spans
        .into_iter()
        .map(|(name, start, end)| (format!("{kind} {name}"), start, end))
        .collect()
}

/// Every Wait and Map state over all executions: `Wait NAME` → (times entered, seconds in it),
/// `Map NAME` → (iterations, seconds in it); and the Wait states' spans.
type WaitsAndMaps = (BTreeMap<String, (usize, f64)>, Vec<(f64, f64)>);

fn waits_and_maps(executions: &[Execution]) -> WaitsAndMaps {
    let mut found = BTreeMap::new();
    let mut wait_spans = Vec::new();
    for execution in executions {
        let waits = spans(execution, "Wait");
        wait_spans.extend(waits.iter().map(|(_, start, end)| (*start, *end)));
        tally(&mut found, named("Wait", waits));
        tally(&mut found, named("Map", spans(execution, "Map")));
    }
    for (map, iterations) in map_iterations(executions) {
        found.entry(format!("Map {map}")).or_insert((0, 0.0)).0 = iterations;
    }
    (found, wait_spans)
}

/// What one run's output, history and logs say.
struct Evidence {
    name: String,
    lines: Vec<Stamped>,
    executions: Vec<Execution>,
    api_log: String,
    functions_log: String,
    top_level: Vec<String>,
}

/// Runs the refresh once (`run_local.sh`) and gathers what it left.
fn run_once(root: &Path, scratch: &Path, number: usize) -> Result<Evidence, String> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = format!("profile-{stamp}-{number}");
    let history = scratch.join(format!("{name}.history.json"));
    let lines = run_local(root, &name, &history)?;
    let logs = root.join(".local/run-local");
    Ok(Evidence {
        executions: executions(&text(&history)?, &name)?,
        api_log: text(&logs.join("sfn-api.log"))?,
        functions_log: text(&logs.join("functions.log"))?,
        top_level: top_level_states(root, MACHINE)?,
        name,
        lines,
    })
}

/// Where one run's time went.
fn measure(evidence: &Evidence) -> Result<Run, String> {
    let Evidence {
        name,
        lines,
        executions,
        ..
    } = evidence;
    let refresh = executions
        .iter()
        .find(|e| e.machine == MACHINE)
        .expect("checked");
    let functions_starting = line_at(lines, FUNCTIONS_STARTING)?;
    let serving = line_at(lines, API_SERVING)?;
    let done = line_at(lines, &format!("run {name} SUCCEEDED"))?;
    let invocations: Vec<Invocation> = executions.iter().flat_map(invocations_of).collect();
    let running: Vec<(f64, f64)> = invocations.iter().map(|i| (i.start, i.end)).collect();
    let (waits_and_maps, wait_spans) = waits_and_maps(executions);
    let busy = union_length(running.clone());
    let busy_or_waiting = union_length(running.into_iter().chain(wait_spans).collect());
    Ok(Run {
        wall: done - functions_starting,
        startup: serving - functions_starting,
        check: logged_seconds(&evidence.api_log, "checked "),
        warm: logged_seconds(&evidence.api_log, "started "),
        ferry_start: refresh.start - serving,
        execution: refresh.stop - refresh.start,
        busy,
        waiting: busy_or_waiting - busy,
        ferry_end: done - refresh.stop,
        states: own_states(refresh, &evidence.top_level),
        invocations,
        waits_and_maps,
        instances: instances(&evidence.functions_log),
    })
}

// ---------------------------------------------------------------------------------------------
// Cold starts
// ---------------------------------------------------------------------------------------------

/// Seconds from spawning `binary` to its first request to the runtime API (a stub here).
fn cold_start(binary: &Path, function: &str) -> Result<f64, String> {
    let stub = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let address = stub.local_addr().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "4096")
        .env("FERRY_PROTECTED_ACCOUNT_IDS", "111111111111")
        .env("FERRY_ARTIFACT_BUCKET", "ferry-artifacts")
        .env("AWS_ENDPOINT_URL", format!("http://{address}"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let (sink, asked) = mpsc::channel();
    thread::spawn(move || {
        if let Ok((connection, _)) = stub.accept() {
            let mut request_line = String::new();
            let _ = BufReader::new(connection).read_line(&mut request_line);
            let _ = sink.send(started.elapsed().as_secs_f64());
        }
    });
    let took = asked.recv_timeout(Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
    took.map_err(|_| format!("{function} asked for no event within 30 s"))
}

/// The median cold start of each function (seconds).
fn cold_starts(bin_dir: &Path, functions: &[String]) -> Result<BTreeMap<String, f64>, String> {
    let mut medians = BTreeMap::new();
    for function in functions {
        let binary = bin_dir.join(function);
        let mut samples = (0..COLD_START_SAMPLES)
            .map(|_| cold_start(&binary, function))
            .collect::<Result<Vec<_>, _>>()?;
        medians.insert(function.clone(), median(&mut samples));
    }
    Ok(medians)
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The median over the runs of `measure`.
fn median_of(runs: &[Run], measure: impl Fn(&Run) -> f64) -> f64 {
    median(&mut runs.iter().map(measure).collect::<Vec<_>>())
}

/// Seconds of `function`'s invocations in one run.
fn invoked(run: &Run, function: &str) -> f64 {
    run.invocations
        .iter()
        .filter(|i| i.function == function)
        .map(Invocation::seconds)
        .sum()
}

/// The functions a run invoked, each once, sorted.
fn invoked_functions(run: &Run) -> Vec<String> {
    let mut functions: Vec<String> = run.invocations.iter().map(|i| i.function.clone()).collect();
    functions.sort();
    functions.dedup();
    functions
}

/// The most invocations of `function` that ran at once in one run: the instances it needs.
fn peak_concurrency(run: &Run, function: &str) -> usize {
    let mut edges: Vec<(f64, i32)> = run
        .invocations
        .iter()
        .filter(|i| i.function == function)
        .flat_map(|i| [(i.start, 1), (i.end, -1)])
        .collect();
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut running = 0;
    let mut peak = 0;
    for (_, step) in edges {
        running += step;
        peak = peak.max(running);
    }
    usize::try_from(peak).unwrap_or(0)
}

/// One run's start-up part: a cold start for each instance the run needs, of each function it
/// invoked (as many as ran at once), whatever the server started beyond them.
fn startup_part(run: &Run, cold: &BTreeMap<String, f64>) -> f64 {
    invoked_functions(run)
        .iter()
        .map(|f| peak_concurrency(run, f) as f64 * cold.get(f).copied().unwrap_or(0.0))
        .sum()
}

/// One run's sum of parts: start-up, copy-table and sync-bucket.
fn parts(run: &Run, cold: &BTreeMap<String, f64>) -> f64 {
    startup_part(run, cold) + invoked(run, COPY) + invoked(run, SYNC)
}

/// Seconds one run measured.
type Measure<'a> = dyn Fn(&Run) -> f64 + 'a;

fn print_phases(runs: &[Run]) {
    let wall = median_of(runs, |r| r.wall);
    let rows: [(&str, &Measure); 10] = [
        (
            "**wall clock**: the functions start → `ferry` has printed the outcome",
            &|r| r.wall,
        ),
        (
            "start-up: functions server, definitions checked, every function warmed up, API serving",
            &|r| r.startup,
        ),
        (
            "… of which checking the state machine definitions (sfn-api.log)",
            &|r| r.check,
        ),
        (
            "… of which the warm-up: first instance of every function (sfn-api.log)",
            &|r| r.warm,
        ),
        (
            "`ferry run` starts the execution (process, input check, StartExecution)",
            &|r| r.ferry_start,
        ),
        (
            "the execution: StartExecution → ExecutionSucceeded",
            &|r| r.execution,
        ),
        (
            "… function invocations running (union over all executions)",
            &|r| r.busy,
        ),
        ("… Wait states with no invocation running", &|r| r.waiting),
        (
            "… state transitions, child executions, runner overhead (the rest)",
            &|r| r.execution - r.busy - r.waiting,
        ),
        (
            "`ferry` sees the end (history polled every 0.5 s) and prints the summary",
            &|r| r.ferry_end,
        ),
    ];
    println!("| phase | seconds | of wall clock |");
    println!("|---|---:|---:|");
    for (label, measure) in rows {
        let seconds = median_of(runs, measure);
        println!(
            "| {label} | {seconds:.2} | {:.0}% |",
            100.0 * seconds / wall
        );
    }
}

/// Median seconds per key over the runs (a key missing from a run counts as absent there).
fn medians_by_key<'a>(
    runs: &'a [Run],
    items: impl Fn(&'a Run) -> Vec<(String, f64)>,
) -> Vec<(String, f64)> {
    let mut by_key: BTreeMap<String, (usize, Vec<f64>)> = BTreeMap::new();
    for run in runs {
        for (position, (key, seconds)) in items(run).into_iter().enumerate() {
            let entry = by_key.entry(key).or_insert((position, Vec::new()));
            entry.1.push(seconds);
        }
    }
    let mut rows: Vec<(usize, String, f64)> = by_key
        .into_iter()
        .map(|(key, (position, mut values))| (position, key, median(&mut values)))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    rows.into_iter()
        .map(|(_, key, seconds)| (key, seconds))
        .collect()
}

fn print_states(runs: &[Run]) {
    println!("| the refresh's own state | seconds |");
    println!("|---|---:|");
    for (state, seconds) in medians_by_key(runs, |r| r.states.clone()) {
        println!("| {state} | {seconds:.2} |");
    }
    let between = median_of(runs, |r| {
        r.execution - r.states.iter().map(|s| s.1).sum::<f64>()
    });
    println!("| between them (Choice and Pass states, transitions) | {between:.2} |");
}

fn print_invocations(runs: &[Run]) {
    let functions: BTreeMap<String, String> = runs
        .iter()
        .flat_map(|r| {
            r.invocations
                .iter()
                .map(|i| (i.key.clone(), i.function.clone()))
        })
        .collect();
    println!("| execution · state | function | seconds |");
    println!("|---|---|---:|");
    let items = |r: &Run| {
        r.invocations
            .iter()
            .map(|i| (i.key.clone(), i.seconds()))
            .collect()
    };
    for (key, seconds) in medians_by_key(runs, items) {
        println!("| {key} | {} | {seconds:.2} |", functions[&key]);
    }
}

fn print_waits_and_maps(runs: &[Run]) {
    println!("| Wait or Map state | times entered / iterations | seconds in it (sum) |");
    println!("|---|---:|---:|");
    let counts = medians_by_key(runs, |r| {
        r.waits_and_maps
            .iter()
            .map(|(k, v)| (k.clone(), v.0 as f64))
            .collect()
    });
    let seconds = medians_by_key(runs, |r| {
        r.waits_and_maps
            .iter()
            .map(|(k, v)| (k.clone(), v.1))
            .collect()
    });
    for ((key, count), (_, seconds)) in counts.into_iter().zip(seconds) {
        println!("| {key} | {count:.0} | {seconds:.2} |");
    }
}

fn print_startup(runs: &[Run], cold: &BTreeMap<String, f64>) {
    println!(
        "| function | cold start ms (median of {COLD_START_SAMPLES}) | instances needed (most at once) | start-up s | instances the server started |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (function, seconds) in cold {
        let needed = median_of(runs, |r| peak_concurrency(r, function) as f64);
        let started = median_of(runs, |r| {
            r.instances.get(function).copied().unwrap_or(0) as f64
        });
        println!(
            "| {function} | {:.0} | {needed:.0} | {:.2} | {started:.0} |",
            seconds * 1000.0,
            needed * seconds
        );
    }
    let all = median_of(runs, |r| r.instances.values().sum::<usize>() as f64);
    println!("| every function of every state machine | | | | {all:.0} |");
}

fn print_parts(runs: &[Run], cold: &BTreeMap<String, f64>) {
    let other = |r: &Run| {
        r.invocations
            .iter()
            .filter(|i| i.function != COPY && i.function != SYNC)
            .map(Invocation::seconds)
            .sum()
    };
    let rows: [(&str, &Measure); 6] = [
        (
            "function start-up (a cold start per instance needed)",
            &|r| startup_part(r, cold),
        ),
        ("copy-table invocations (sum)", &|r| invoked(r, COPY)),
        ("sync-bucket invocations (sum)", &|r| invoked(r, SYNC)),
        ("**sum of parts**", &|r| parts(r, cold)),
        ("(not parts: the other functions' invocations, sum)", &other),
        ("**wall clock**", &|r| r.wall),
    ];
    println!("| part | seconds |");
    println!("|---|---:|");
    for (label, measure) in rows {
        println!("| {label} | {:.2} |", median_of(runs, measure));
    }
    let ratio = median_of(runs, |r| r.wall / parts(r, cold));
    println!("| **wall clock ÷ sum of parts** | {ratio:.2}× |");
    let movers = median_of(runs, data_movers_running);
    let strict = median_of(runs, |r| {
        r.wall / (startup_part(r, cold) + data_movers_running(r))
    });
    println!(
        "| (copy-table or sync-bucket running: the union of their invocations) | {movers:.2} |"
    );
    println!(
        "| (stricter: wall clock ÷ (start-up + that union), parallel work counted once) | {strict:.2}× |"
    );
}

/// Seconds during which a copy-table or sync-bucket invocation was running.
fn data_movers_running(run: &Run) -> f64 {
    union_length(
        run.invocations
            .iter()
            .filter(|i| i.function == COPY || i.function == SYNC)
            .map(|i| (i.start, i.end))
            .collect(),
    )
}

fn report(runs: &[Run], cold: &BTreeMap<String, f64>) {
    println!(
        "\n## Local refresh: `make run-local` ({INPUT}, demo world), median of {} runs\n",
        runs.len()
    );
    print_phases(runs);
    println!();
    print_states(runs);
    println!();
    print_invocations(runs);
    println!();
    print_waits_and_maps(runs);
    println!();
    print_startup(runs, cold);
    println!();
    print_parts(runs, cold);
    println!("\nEach run: wall clock, sum of parts, ratio");
    for (number, run) in runs.iter().enumerate() {
        let parts = parts(run, cold);
        println!(
            "- run {}: {:.2} s, {parts:.2} s, {:.2}×",
            number + 1,
            run.wall,
            run.wall / parts
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

const USAGE: &str = "usage: refresh_profile [RUNS] [--bin-dir DIR] [--root DIR]";

/// What the command line asks for.
struct Options {
    runs: usize,
    bin_dir: PathBuf,
    root: PathBuf,
}

/// `[RUNS] [--bin-dir DIR] [--root DIR]`.
fn arguments() -> Result<Options, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent");
    let mut runs = 3;
    let mut bin_dir = None;
    let mut root = workspace.to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bin-dir" => bin_dir = Some(PathBuf::from(args.next().ok_or(USAGE)?)),
            "--root" => root = PathBuf::from(args.next().ok_or(USAGE)?),
            _ => runs = arg.parse().map_err(|_| format!("{USAGE}, not {arg:?}"))?,
        }
    }
    let bin_dir = bin_dir.unwrap_or_else(|| root.join("target/debug"));
    Ok(Options {
        runs: runs.max(1),
        bin_dir,
        root,
    })
}

fn profile() -> Result<(), String> {
    let Options {
        runs: count,
        bin_dir,
        root,
    } = arguments()?;
    let scratch = root.join(".local/refresh-profile");
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let mut runs = Vec::new();
    for number in 1..=count {
        let run = measure(&run_once(&root, &scratch, number)?)?;
        eprintln!(
            "run {number}: wall clock {:.2} s, execution {:.2} s",
            run.wall, run.execution
        );
        runs.push(run);
    }
    let functions: Vec<String> = runs
        .iter()
        .flat_map(invoked_functions)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let cold = cold_starts(&bin_dir, &functions)?;
    report(&runs, &cold);
    Ok(())
}

fn main() -> ExitCode {
    match profile() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("refresh_profile: {message}");
            ExitCode::FAILURE
        }
    }
}
