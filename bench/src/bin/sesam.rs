//! Benchmark: a Sesam promotion from git onto a node, phase by phase, and the declarative engine's
//! own cost as the number of entities grows.
//!
//! The world is in-process except for the AWS endpoint: a git server (git's `http-backend` behind
//! [`GitServer`]) holding a node folder, the Sesam simulator as the target node, and the local AWS
//! endpoint (moto, a separate process) for the two secrets and the artifact bucket. The node holds
//! `ENTITIES` systems and pipes (one system per four pipes, a few KB each, shaped like real ones:
//! REST operations, SQL and microservice systems, DTL transforms, merges); git holds the same set
//! with every fifth entity changed, one system and its four pipes added and another system and
//! its four pipes removed (pruned, `max_delete` 5).
//!
//! Measured, each on a fresh node (median of `REPEATS`): export (git read, canonicalise, bundle
//! stored in S3), plan (bundle and node read, plan, `plan.json` stored), apply (the same reads,
//! `before/` snapshot stored, the writes), verify; per phase the wall time, the CPU time of moto, of the simulator's
//! thread, of the git server and of the rest of this process (ferry), the peak RSS (VmHWM, reset
//! before each phase through `/proc/self/clear_refs`), and the requests made to S3, the node and
//! git. Then the parts alone (git read, parsing, S3 store and load, node read and writes, the
//! engine), which say what bounds each phase; and the engine alone (`State::from_entities` for
//! both sides and `plan()` on in-memory entities, no I/O) at 1,000, 10,000 and 100,000 entities.
//!
//! Usage: `sesam [ENTITIES] [REPEATS]` (defaults 1000 and 3).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::aws::Session;
use shared::config::FunctionConfig;
use shared::connectors::sesam::layout;
use shared::connectors::sesam::node::NodeClient;
use shared::contract::{
    Bundle, DeclarativeApplied, DeclarativePlanOutput, ExportServiceInput, ExportStarted,
    ImportServiceInput, SesamNode,
};
use shared::declarative::{Entity, Guards, State, plan, store};
use shared::git::{GitAuth, read_tree};
use shared::tasks::export_service::export_service;
use shared::tasks::import_service::import_service;

use ferry_bench::numbers::thousands;
use ferry_bench::procfs::child_running;
use ferry_tests::fixtures::accounts;
use ferry_tests::git_server::{GitServer, TestRepo};
use ferry_tests::sesam_sim::{NodeSeed, Simulator};
use ferry_tests::{aws, unique};

const GIT_TOKEN: &str = "bench-git-token";
const JWT: &str = "bench-node-jwt";
/// Entities the engine alone is measured at.
const ENGINE_SIZES: [usize; 3] = [1_000, 10_000, 100_000];
/// Runs of the engine at each size (the median is reported).
const ENGINE_REPEATS: [usize; 3] = [21, 9, 3];
/// Target of the issue: the plan step at 1,000 entities.
const PLAN_TARGET_SECONDS: f64 = 1.0;

// ---------------------------------------------------------------------------------------------
// The configuration: systems and pipes shaped like a real node's
// ---------------------------------------------------------------------------------------------

const ENTITY_TYPES: [&str; 8] = [
    "customer", "order", "invoice", "product", "employee", "contract", "shipment", "payment",
];

/// Which entities each side holds: `systems` systems, four pipes per system reading it.
#[derive(Clone, Copy)]
struct Shape {
    systems: usize,
}

impl Shape {
    /// `entities` on the node: a fifth systems, the rest pipes.
    fn new(entities: usize) -> Shape {
        Shape {
            systems: (entities / 5).max(2),
        }
    }

    fn pipes(self) -> usize {
        self.systems * 4
    }

    fn entities(self) -> usize {
        self.systems + self.pipes()
    }

    /// The global index of system `i` / pipe `j` (systems first).
    fn pipe_index(self, j: usize) -> usize {
        self.systems + j
    }

    /// Git changes every fifth entity (index ≡ 4 mod 5); the removed system 0 and pipes 0–3 are
    /// never among them when the system count is a multiple of 5.
    fn changed(index: usize) -> bool {
        index % 5 == 4
    }

    /// The node's side: every system and pipe, as the node holds them.
    fn node(self) -> impl Iterator<Item = Value> {
        let systems = (0..self.systems).map(|i| system(i, false));
        let pipes = (0..self.pipes()).map(|j| pipe(j, false));
        systems.chain(pipes)
    }

    /// Git's side: system 0 and its pipes removed, system `systems` and its four pipes added,
    /// every fifth entity changed.
    fn git(self) -> impl Iterator<Item = Value> {
        let systems =
            (1..=self.systems).map(move |i| system(i, i < self.systems && Shape::changed(i)));
        let pipes = (4..self.pipes() + 4).map(move |j| {
            let existing = j < self.pipes();
            pipe(j, existing && Shape::changed(self.pipe_index(j)))
        });
        systems.chain(pipes)
    }

    /// Entities git changes (on both sides).
    fn updates(self) -> usize {
        (0..self.entities())
            .filter(|&g| {
                Shape::changed(g) && g != 0 && !(self.systems..self.systems + 4).contains(&g)
            })
            .count()
    }
}

fn system_id(i: usize) -> String {
    format!("sys-{i:06}-{}", ENTITY_TYPES[i % ENTITY_TYPES.len()])
}

fn pipe_id(j: usize) -> String {
    format!("pipe-{j:06}-{}", ENTITY_TYPES[(j / 4) % ENTITY_TYPES.len()])
}

/// System `i`: REST (with operations), SQL Server, a microservice or a plain URL system, 1–2 KB.
fn system(i: usize, changed: bool) -> Value {
    let name = ENTITY_TYPES[i % ENTITY_TYPES.len()];
    let timeout = if changed { 60 } else { 30 };
    let metadata = json!({
        "owner": format!("team-{}", i % 12),
        "description": format!("The {name} source of business unit {}, read by four pipes.", i % 40),
        "tags": ["integration", name, format!("bu-{}", i % 40)],
    });
    match i % 4 {
        0 => {
            let operation = |method: &str, path: &str| {
                json!({
                    "method": method,
                    "url": format!("{path}{{{{ _id }}}}"),
                    "headers": {"Accept": "application/json", "X-Client": "sesam"},
                    "payload-type": "json",
                    "response-property": "result",
                })
            };
            json!({
                "_id": system_id(i), "type": "system:rest",
                "url_pattern": format!("https://{name}-{i}.api.example.org/v2/%s"),
                "verify_ssl": true,
                "headers": {"Authorization": format!("Bearer $SECRET({name}-{i}-token)")},
                "connect_timeout": timeout,
                "read_timeout": timeout * 4,
                "rate_limiting_delay": 5,
                "rate_limiting_retries": 3,
                "operations": {
                    "get": operation("GET", &format!("{name}s/")),
                    "insert": operation("POST", &format!("{name}s/")),
                    "update": operation("PUT", &format!("{name}s/")),
                    "delete": operation("DELETE", &format!("{name}s/")),
                },
                "metadata": metadata,
            })
        }
        1 => json!({
            "_id": system_id(i), "type": "system:sqlserver",
            "host": format!("$ENV({name}-db-host)"),
            "port": 1433,
            "database": format!("{name}_{i}"),
            "username": format!("$ENV({name}-db-user)"),
            "password": if changed { format!("$SECRET({name}-db-password-v2)") } else { format!("$SECRET({name}-db-password)") },
            "timezone": "UTC",
            "connection_timeout": timeout,
            "pool_size": 10,
            "metadata": metadata,
        }),
        2 => json!({
            "_id": system_id(i), "type": "system:microservice",
            "docker": {
                "image": format!("registry.example.org/{name}-connector:{}", if changed { "2.4.1" } else { "2.4.0" }),
                "port": 5000,
                "memory": 512,
                "environment": {
                    "BASE_URL": format!("https://{name}.internal.example.org"),
                    "PAGE_SIZE": 500,
                    "LOG_LEVEL": "INFO",
                    "TOKEN": format!("$SECRET({name}-{i}-service-token)"),
                },
            },
            "connect_timeout": timeout,
            "use_https": false,
            "verify_ssl": false,
            "metadata": metadata,
        }),
        _ => json!({
            "_id": system_id(i), "type": "system:url",
            "base_url": format!("https://{name}-{i}.files.example.org/exports/"),
            "authentication": "basic",
            "username": format!("$ENV({name}-user)"),
            "password": format!("$SECRET({name}-password)"),
            "connect_timeout": timeout,
            "read_timeout": 7200,
            "metadata": metadata,
        }),
    }
}

/// Pipe `j`, reading system `j / 4`: inbound SQL, a DTL transform, a merge or outbound REST;
/// 2–4 KB.
fn pipe(j: usize, changed: bool) -> Value {
    let system = system_id(j / 4);
    let name = ENTITY_TYPES[(j / 4) % ENTITY_TYPES.len()];
    let id = pipe_id(j);
    let upstream = pipe_id(j.saturating_sub(1));
    let source = match j % 4 {
        0 => json!({
            "type": "sql", "system": system, "table": format!("dbo.{name}_{j}"),
            "primary_key": ["id"], "updated_column": "modified_at", "batch_size": 1000,
        }),
        2 => json!({
            "type": "merge",
            "datasets": [format!("{upstream} a"), format!("{name}-master b"), format!("{name}-crm c")],
            "equality": [["eq", "a.id", "b.source_id"], ["eq", "b.email", "c.email"]],
            "identity": "first",
            "version": 2,
        }),
        _ => json!({"type": "dataset", "dataset": upstream}),
    };
    let sink = if j % 4 == 3 {
        json!({"type": "rest", "system": system, "operation": "update", "batch_size": 100})
    } else {
        json!({"type": "dataset", "dataset": id})
    };
    let case = if changed { "upper" } else { "lower" };
    let mut rules = vec![
        json!([
            "copy",
            ["list", "_id", "id", "name", "email", "status", "created_at"]
        ]),
        json!(["add", "rdf:type", ["ni", format!("{name}:{name}")]]),
        json!(["add", "status", [case, "_S.status"]]),
        json!([
            "add",
            "display_name",
            ["concat", "_S.first_name", " ", "_S.last_name"]
        ]),
        json!(["add", "email", ["lower", ["strip", "_S.email"]]]),
        json!([
            "add",
            "created",
            ["datetime-parse", "%Y-%m-%dT%H:%M:%S", "_S.created_at"]
        ]),
        json!(["add", "active", ["eq", "_S.status", "active"]]),
        json!(["add", "address", ["apply", "address", "_S.address"]]),
        json!([
            "add",
            format!("{name}-ref"),
            ["ni", format!("{name}-master"), "_S.master_id"]
        ]),
        json!(["filter", ["not", ["is-empty", "_S.id"]]]),
        json!([
            "add",
            "tags",
            ["distinct", ["flatten", ["list", "_S.tags", "_S.labels"]]]
        ]),
        json!(["add", "updated", ["max", "_S.modified_at", "_S.created_at"]]),
        json!(["remove", "_S.internal_notes"]),
    ];
    if changed {
        rules.push(json!(["add", "source_pipe", id.clone()]));
    }
    let mut value = json!({
        "_id": id, "type": "pipe",
        "source": source,
        "transform": [{
            "type": "dtl",
            "rules": {
                "default": rules,
                "address": [
                    ["copy", ["list", "street", "zip", "city", "country"]],
                    ["add", "country", ["upper", ["coalesce", "_S.country", "NO"]]],
                    ["add", "geo", ["list", "_S.lat", "_S.lon"]],
                ],
            },
        }],
        "sink": sink,
        "pump": {
            "schedule_interval": if changed { 600 } else { 300 },
            "max_consecutive_read_errors": 5,
            "log_events_noop_runs": false,
        },
        "add_namespaces": true,
        "namespaced_identifiers": true,
        "metadata": {
            "tags": ["bench", name, format!("flow-{}", j % 25)],
            "description": format!("Pipe {j}: {name} records through stage {} of the flow.", j % 4),
        },
    });
    if changed && j.is_multiple_of(3) {
        value["batch_size"] = json!(250);
    }
    value
}

/// `(kind, id, body)` of a config value, as the connector reads it.
fn entity(value: &Value) -> Entity {
    layout::config_entity(value, "bench").expect("a generated entity is valid")
}

// ---------------------------------------------------------------------------------------------
// The world
// ---------------------------------------------------------------------------------------------

struct World {
    aws: shared::aws::Aws,
    session: Session,
    config: FunctionConfig,
    bucket: String,
    sim: Simulator,
    git: GitServer,
    repo_url: String,
    git_arn: String,
    node_arn: String,
    shape: Shape,
    /// Bytes of the entity files as committed.
    git_bytes: usize,
    /// Holds the working copy (and the bare repository's files) for the run.
    _repo: TestRepo,
}

impl World {
    async fn new(shape: Shape) -> World {
        let aws = aws().await;
        let session = aws.session("bench");
        let (git_arn, node_arn, bucket) = {
            let (_, _, own) = accounts(&session);
            let bucket = unique("bench-artifacts");
            own.create_bucket(&bucket).await;
            let git_arn = own
                .create_secret(
                    &unique("bench/git"),
                    &json!({"token": GIT_TOKEN}).to_string(),
                )
                .await;
            let node_arn = own
                .create_secret(&unique("bench/sesam"), &json!({"jwt": JWT}).to_string())
                .await;
            (git_arn, node_arn, bucket)
        };
        let git = GitServer::start(GIT_TOKEN);
        let name = unique("sesam-config");
        let repo = TestRepo::create(&git, &name);
        let mut git_bytes = 0;
        for value in shape.git() {
            let id = value["_id"].as_str().expect("an _id");
            let folder = if value["type"] == "pipe" {
                "pipes"
            } else {
                "systems"
            };
            let mut text = serde_json::to_string_pretty(&value).expect("JSON prints");
            text.push('\n');
            git_bytes += text.len();
            repo.write(&format!("node/{folder}/{id}.conf.json"), &text);
        }
        repo.write("README.md", "The production node's configuration.\n");
        repo.commit("node config");
        let config = FunctionConfig {
            artifact_bucket: Some(bucket.clone()),
            s3_path_style: true,
            ..FunctionConfig::default()
        };
        World {
            aws,
            session,
            config,
            bucket,
            sim: Simulator::start(0),
            repo_url: git.url(&name),
            git,
            git_arn,
            node_arn,
            shape,
            git_bytes,
            _repo: repo,
        }
    }

    /// A fresh node holding the node's side.
    fn seed_node(&self) -> String {
        let node = unique("node");
        let mut seed = NodeSeed::new(&node).jwt(JWT);
        seed.entities = self.shape.node().collect();
        self.sim.add_node(seed);
        node
    }

    fn request(&self, node: &str) -> Value {
        json!({
            "platform": "sesam",
            "source": {"name": "main", "git": {"url": self.repo_url, "ref": "main", "path": "node",
                "auth_secret_arn": self.git_arn}},
            "target": {"name": "prod", "sesam": {"url": self.sim.base_url(node),
                "auth_secret_arn": self.node_arn}},
            "sesam": {"prune": true, "max_delete": 5, "timeout_seconds": 60},
        })
    }

    fn client(&self, node: &str) -> NodeClient {
        let spec = SesamNode {
            url: self.sim.base_url(node),
            auth_secret_arn: self.node_arn.clone(),
        };
        NodeClient::new(
            &spec,
            &json!({"jwt": JWT}).to_string(),
            "bench",
            Duration::from_secs(60),
        )
        .expect("a node client")
    }

    /// Requests the simulator answered for `node`: (reads, writes).
    fn node_requests(&self, node: &str) -> (usize, usize) {
        let mine: Vec<_> = self
            .sim
            .requests()
            .into_iter()
            .filter(|r| r.node.as_deref() == Some(node))
            .collect();
        let reads = mine.iter().filter(|r| r.method == "GET").count();
        (reads, mine.len() - reads)
    }

    /// Objects under `prefix` in the artifact bucket.
    async fn objects(&self, prefix: &str) -> usize {
        let mut pages = self
            .session
            .own_s3()
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut count = 0;
        while let Some(page) = pages.next().await {
            count += page.expect("a listed page").contents().len();
        }
        count
    }
}

// ---------------------------------------------------------------------------------------------
// Peak RSS and CPU time
// ---------------------------------------------------------------------------------------------

/// Clock ticks per second of `/proc/*/stat` times (USER_HZ, 100 on Linux x86_64).
const TICKS: f64 = 100.0;

/// A `/proc/self/status` size (`VmHWM`, `VmRSS`) in MiB.
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// VmHWM of this process (peak RSS), in MiB.
fn peak_rss_mib() -> f64 {
    status_mib("VmHWM")
}

/// VmRSS of this process, in MiB.
fn rss_mib() -> f64 {
    status_mib("VmRSS")
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0); false where the kernel refuses.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The fields of a `/proc/.../stat` file after the command name (`state` first).
fn stat_fields(path: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// (own, reaped children's) CPU seconds, user + system, of a `/proc/.../stat` file.
fn cpu_of(path: &str) -> (f64, f64) {
    let ticks = |fields: &[String], i: usize| fields.get(i).and_then(|t| t.parse::<f64>().ok());
    stat_fields(path).map_or((0.0, 0.0), |f| {
        let own = ticks(&f, 11).unwrap_or(0.0) + ticks(&f, 12).unwrap_or(0.0);
        let children = ticks(&f, 13).unwrap_or(0.0) + ticks(&f, 14).unwrap_or(0.0);
        (own / TICKS, children / TICKS)
    })
}

/// CPU seconds used so far by the moto process, the simulator's and the git server's threads,
/// this whole process, and its reaped children (git's `http-backend` runs). ferry's own threads
/// are named `ferry` (and the main thread), so that the rest can be told apart.
#[derive(Clone, Copy, Default)]
struct Cpu {
    moto: f64,
    sim: f64,
    git_thread: f64,
    process: f64,
    children: f64,
}

impl Cpu {
    fn now(moto: Option<u32>) -> Cpu {
        let (process, children) = cpu_of("/proc/self/stat");
        let mut cpu = Cpu {
            moto: moto.map_or(f64::NAN, |pid| cpu_of(&format!("/proc/{pid}/stat")).0),
            process,
            children,
            ..Cpu::default()
        };
        for task in std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
        {
            let dir = task.path();
            let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            let used = cpu_of(&dir.join("stat").to_string_lossy()).0;
            match name.trim() {
                "sesam-sim" => cpu.sim += used,
                // The git server's thread, its runtime's workers (tokio's default name) and its
                // `http-backend` threads.
                other if other.starts_with("git-") || other.starts_with("tokio-runtime") => {
                    cpu.git_thread += used;
                }
                _ => {}
            }
        }
        cpu
    }

    fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            moto: self.moto - earlier.moto,
            sim: self.sim - earlier.sim,
            git_thread: self.git_thread - earlier.git_thread,
            process: self.process - earlier.process,
            children: self.children - earlier.children,
        }
    }

    /// ferry's own code: the process without the in-process servers' threads.
    fn ferry(self) -> f64 {
        self.process - self.sim - self.git_thread
    }

    /// The git server: its thread and the `http-backend` runs it reaped.
    fn git(self) -> f64 {
        self.git_thread + self.children
    }
}

// ---------------------------------------------------------------------------------------------
// One run: export, plan, apply, verify
// ---------------------------------------------------------------------------------------------

/// One phase of one run: seconds, peak RSS, CPU, and the requests it made.
#[derive(Clone, Copy, Default)]
struct Phase {
    seconds: f64,
    /// RSS when the phase started, MiB.
    rss_mib: f64,
    peak_rss_mib: f64,
    cpu: Cpu,
    s3_objects_written: usize,
    node_reads: usize,
    node_writes: usize,
    git_requests: usize,
}

struct Run {
    phases: [Phase; 4],
    plan: DeclarativePlanOutput,
    applied: u64,
    apply_calls: usize,
}

/// A step's output as its type, or a panic showing it.
macro_rules! read {
    ($value:expr, $type:ty) => {{
        let value: Value = $value;
        serde_json::from_value::<$type>(value.clone()).unwrap_or_else(|e| panic!("{e}: {value:#}"))
    }};
}

/// The counters of one node's run, read before and after each phase.
struct Meter<'w> {
    world: &'w World,
    node: String,
    prefix: String,
    moto: Option<u32>,
    objects: usize,
    started: (Instant, Cpu, (usize, usize), usize),
    rss_mib: f64,
}

impl Meter<'_> {
    fn start(&mut self) {
        let requests = self.world.node_requests(&self.node);
        let git = self.world.git.requests().len();
        reset_peak_rss();
        self.rss_mib = rss_mib();
        self.started = (Instant::now(), Cpu::now(self.moto), requests, git);
    }

    async fn finish(&mut self) -> Phase {
        let seconds = self.started.0.elapsed().as_secs_f64();
        let cpu = Cpu::now(self.moto).since(self.started.1);
        let peak_rss_mib = peak_rss_mib();
        let requests = self.world.node_requests(&self.node);
        let objects = self.world.objects(&self.prefix).await;
        let phase = Phase {
            seconds,
            rss_mib: self.rss_mib,
            peak_rss_mib,
            cpu,
            s3_objects_written: objects - self.objects,
            node_reads: requests.0 - self.started.2.0,
            node_writes: requests.1 - self.started.2.1,
            git_requests: self.world.git.requests().len() - self.started.3,
        };
        self.objects = objects;
        phase
    }
}

async fn run(world: &World, moto: Option<u32>) -> Run {
    let node = world.seed_node();
    let run_id = unique("sesam-bench");
    let mut meter = Meter {
        world,
        node: node.clone(),
        prefix: format!("bundles/sesam/{run_id}/"),
        moto,
        objects: 0,
        started: (Instant::now(), Cpu::default(), (0, 0), 0),
        rss_mib: 0.0,
    };
    let mut phases = [Phase::default(); 4];

    let input = ExportServiceInput::Start {
        run_id: run_id.clone(),
        request: world.request(&node),
    };
    meter.start();
    let out = export_service(&world.aws, &world.config, input)
        .await
        .expect("export");
    phases[0] = meter.finish().await;
    let exported = read!(out, ExportStarted);
    let request = exported.request;
    let bundle: Bundle = exported
        .bundle
        .expect("a declarative export is stored at once");

    let input = ImportServiceInput::Plan {
        run_id: run_id.clone(),
        request: request.clone(),
        bundle: bundle.clone(),
    };
    meter.start();
    let out = import_service(&world.aws, input).await.expect("plan");
    phases[1] = meter.finish().await;
    let planned = read!(out, DeclarativePlanOutput);

    // As the promote machine does: apply again while changes remain (a call stops when its
    // Lambda time runs low; at this size one call applies everything).
    let mut applied = 0;
    let mut apply_calls = 0;
    meter.start();
    loop {
        let input = ImportServiceInput::Apply {
            run_id: run_id.clone(),
            request: request.clone(),
            bundle: bundle.clone(),
        };
        let out = import_service(&world.aws, input).await.expect("apply");
        let done = read!(out, DeclarativeApplied);
        applied += done.count;
        apply_calls += 1;
        if done.remaining == 0 {
            break;
        }
    }
    phases[2] = meter.finish().await;

    let input = ImportServiceInput::Verify {
        run_id,
        request,
        plan: json!({}),
        job: None,
        bundle: Some(bundle),
    };
    meter.start();
    import_service(&world.aws, input)
        .await
        .expect("verify: the node matches the bundle");
    phases[3] = meter.finish().await;

    Run {
        phases,
        plan: planned,
        applied,
        apply_calls,
    }
}

// ---------------------------------------------------------------------------------------------
// The parts alone
// ---------------------------------------------------------------------------------------------

/// One part measured alone: what, seconds, requests (0: none).
struct Part {
    what: String,
    seconds: f64,
    requests: usize,
}

async fn parts(world: &World) -> Vec<Part> {
    let mut parts = Vec::new();
    let timeout = Duration::from_secs(60);

    let started = Instant::now();
    world
        .session
        .secret_string(&world.node_arn, "bench")
        .await
        .expect("a secret");
    parts.push(Part {
        what: "read one secret (GetSecretValue; each phase reads 2)".into(),
        seconds: started.elapsed().as_secs_f64(),
        requests: 1,
    });

    let auth = GitAuth {
        username: "bench".into(),
        token: GIT_TOKEN.into(),
    };
    let git_before = world.git.requests().len();
    let started = Instant::now();
    let tree = read_tree(&world.repo_url, "main", "node", Some(&auth), timeout)
        .await
        .expect("git read");
    parts.push(Part {
        what: format!(
            "git read: fetch + {} files of the commit (gix, git http-backend)",
            tree.files.len()
        ),
        seconds: started.elapsed().as_secs_f64(),
        requests: world.git.requests().len() - git_before,
    });
    let files: Vec<(String, Vec<u8>)> = tree.files.into_iter().map(|f| (f.path, f.bytes)).collect();
    let started = Instant::now();
    let entities = layout::from_files(&files, None, "bench").expect("the node folder parses");
    parts.push(Part {
        what: format!("parse + canonicalise {} files", files.len()),
        seconds: started.elapsed().as_secs_f64(),
        requests: 0,
    });

    let s3 = world.session.own_s3();
    let owner = world
        .session
        .own_account_id()
        .await
        .expect("ferry's account");
    let prefix = format!("{}/", unique("bench/scratch"));
    let started = Instant::now();
    store::save(&s3, &world.bucket, &owner, &prefix, &entities, json!({}))
        .await
        .expect("store a set");
    let n = entities.len() + 2;
    parts.push(Part {
        what: format!(
            "store a set in S3: {n} PUTs ({} entity files, entities.jsonl, manifest), 16 in flight",
            entities.len()
        ),
        seconds: started.elapsed().as_secs_f64(),
        requests: n,
    });
    let started = Instant::now();
    let (loaded, _) = store::load(&s3, &world.bucket, &prefix, None)
        .await
        .expect("load a set");
    assert_eq!(loaded.len(), entities.len());
    parts.push(Part {
        what: "load a set from S3: 2 GETs (manifest, entities.jsonl)".to_string(),
        seconds: started.elapsed().as_secs_f64(),
        requests: 2,
    });

    let node = world.seed_node();
    let client = world.client(&node);
    let started = Instant::now();
    let config = client.config().await.expect("GET /config");
    parts.push(Part {
        what: format!("node read: GET /config ({} entities)", config.len()),
        seconds: started.elapsed().as_secs_f64(),
        requests: 1,
    });
    let current: Vec<Entity> = config.iter().map(entity).collect();
    let on_node: std::collections::HashMap<(&str, &str), &Value> = current
        .iter()
        .map(|e| ((e.kind.as_str(), e.id.as_str()), &e.body))
        .collect();
    let changed: Vec<&Entity> = entities
        .iter()
        .filter(|e| {
            on_node
                .get(&(e.kind.as_str(), e.id.as_str()))
                .is_some_and(|body| **body != e.body)
        })
        .collect();
    let writes_before = world.node_requests(&node).1;
    let started = Instant::now();
    for e in &changed {
        client
            .put_entity(&e.kind, &e.id, &e.body)
            .await
            .expect("a node write");
    }
    parts.push(Part {
        what: format!(
            "node writes: {} updates, one at a time (force=false)",
            changed.len()
        ),
        seconds: started.elapsed().as_secs_f64(),
        requests: world.node_requests(&node).1 - writes_before,
    });

    let kinds = layout::kinds();
    let desired: Vec<Entity> = entities;
    let started = Instant::now();
    let (desired, _) = State::from_entities(&kinds, desired);
    let (current, _) = State::from_entities(&kinds, current);
    let planned = plan(&kinds, &desired, &current, &guards()).expect("a plan");
    parts.push(Part {
        what: format!(
            "engine: both states + plan ({} changes)",
            planned.changes.len()
        ),
        seconds: started.elapsed().as_secs_f64(),
        requests: 0,
    });
    parts
}

fn guards() -> Guards {
    Guards {
        protect: Vec::new(),
        prune: true,
        max_delete: 5,
    }
}

// ---------------------------------------------------------------------------------------------
// The engine alone
// ---------------------------------------------------------------------------------------------

struct EngineRow {
    entities: usize,
    states_seconds: f64,
    plan_seconds: f64,
    changes: usize,
    /// RSS when the stage started, MiB.
    rss_mib: f64,
    peak_rss_mib: f64,
}

/// Both sides at `n`, as entities in memory (not timed).
fn sides(n: usize) -> (Vec<Entity>, Vec<Entity>) {
    let shape = Shape::new(n);
    let desired = shape.git().map(|v| entity(&v)).collect();
    let current = shape.node().map(|v| entity(&v)).collect();
    (desired, current)
}

/// Median of `repeats` runs of `State::from_entities` (both sides) and `plan()`.
fn engine(n: usize, repeats: usize) -> EngineRow {
    let rss_mib = rss_mib();
    let kinds = layout::kinds();
    let mut states = Vec::new();
    let mut plans = Vec::new();
    let mut changes = 0;
    for _ in 0..repeats {
        let (desired, current) = sides(n);
        let started = Instant::now();
        let (desired, _) = State::from_entities(&kinds, desired);
        let (current, _) = State::from_entities(&kinds, current);
        let built = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let planned = plan(
            &kinds,
            &desired,
            &current,
            &Guards {
                max_delete: n as u64,
                ..guards()
            },
        )
        .expect("a plan");
        plans.push(started.elapsed().as_secs_f64());
        states.push(built);
        changes = planned.changes.len();
        drop((desired, current, planned));
    }
    EngineRow {
        entities: Shape::new(n).entities(),
        states_seconds: median(&mut states),
        plan_seconds: median(&mut plans),
        changes,
        rss_mib,
        peak_rss_mib: peak_rss_mib(),
    }
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // ferry's runtime threads get their own name: the git server's runtime keeps tokio's default.
    tokio::runtime::Builder::new_multi_thread()
        .thread_name("ferry")
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(bench());
}

async fn bench() {
    let args: Vec<String> = std::env::args().collect();
    let entities: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let repeats: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(3).max(1);
    let shape = Shape::new(entities);

    let started = Instant::now();
    let world = World::new(shape).await;
    eprintln!(
        "world ready in {:.1}s: {} entities on each node, git repository of {} files",
        started.elapsed().as_secs_f64(),
        shape.entities(),
        shape.entities() + 1
    );
    let resets = reset_peak_rss();
    let moto = child_running("moto_server");

    let mut runs = Vec::new();
    for r in 0..repeats {
        let run = run(&world, moto).await;
        eprintln!(
            "run {}: export {:.3}s, plan {:.3}s, apply {:.3}s ({} call), verify {:.3}s",
            r + 1,
            run.phases[0].seconds,
            run.phases[1].seconds,
            run.phases[2].seconds,
            run.apply_calls,
            run.phases[3].seconds
        );
        runs.push(run);
    }
    let parts = parts(&world).await;

    let mut engine_rows = Vec::new();
    for (i, n) in ENGINE_SIZES.into_iter().enumerate() {
        reset_peak_rss();
        let row = engine(n, ENGINE_REPEATS[i]);
        eprintln!(
            "engine at {}: {:.4}s",
            row.entities,
            row.states_seconds + row.plan_seconds
        );
        engine_rows.push(row);
    }

    // -- The phases
    let first = &runs[0];
    let counts = first.plan.counts;
    assert_eq!(counts.update as usize, shape.updates(), "{counts:?}");
    assert_eq!((counts.create, counts.delete), (5, 5), "{counts:?}");
    let changes = counts.create + counts.update + counts.delete;
    assert!(runs.iter().all(|r| r.applied == changes));
    println!(
        "Sesam promote, git → node: {} entities ({} systems, {} pipes; {:.1} KB each on average as committed), {} updates, {} creates, {} deletes (prune, max_delete 5), {} unchanged; median of {repeats} runs, each on a fresh node",
        thousands(shape.entities()),
        shape.systems,
        shape.pipes(),
        world.git_bytes as f64 / 1000.0 / shape.entities() as f64,
        counts.update,
        counts.create,
        counts.delete,
        counts.unchanged
    );
    println!();
    println!(
        "| phase | seconds | CPU s: moto | CPU s: simulator | CPU s: git server | CPU s: ferry | RSS MiB: start → peak | S3 objects written | node GET / writes | git requests |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let names = ["export", "plan", "apply", "verify"];
    let median_of = |i: usize, f: &dyn Fn(&Phase) -> f64| {
        let mut values: Vec<f64> = runs.iter().map(|r| f(&r.phases[i])).collect();
        median(&mut values)
    };
    for (i, name) in names.iter().enumerate() {
        let p = first.phases[i];
        let highest = runs
            .iter()
            .map(|r| r.phases[i])
            .max_by(|a, b| a.peak_rss_mib.total_cmp(&b.peak_rss_mib))
            .expect("a run");
        println!(
            "| {name} | {:.3} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} → {:.0} | {} | {} / {} | {} |",
            median_of(i, &|p| p.seconds),
            median_of(i, &|p| p.cpu.moto),
            median_of(i, &|p| p.cpu.sim),
            median_of(i, &|p| p.cpu.git()),
            median_of(i, &|p| p.cpu.ferry()),
            highest.rss_mib,
            highest.peak_rss_mib,
            thousands(p.s3_objects_written),
            p.node_reads,
            p.node_writes,
            p.git_requests
        );
    }
    let plan_median = median_of(1, &|p| p.seconds);
    println!();
    println!(
        "export: 2 secrets, git read, canonicalise, store the bundle. plan: 2 secrets, load the bundle, read the node, plan, store plan.json. apply: the same reads and plan.json, plan again, store before/, apply {changes} changes one request each (a create is PUT 404 + POST). verify: the same reads, plan again (empty)."
    );
    println!(
        "Plan at {} entities: {plan_median:.3}s, target < {PLAN_TARGET_SECONDS:.0}s: {}. Peak RSS is this process (ferry, the simulator, the git server; moto is another process){}.",
        thousands(shape.entities()),
        if plan_median < PLAN_TARGET_SECONDS {
            "met"
        } else {
            "NOT met"
        },
        if resets {
            ", reset before each phase"
        } else {
            "; the kernel refused a reset, so peaks are cumulative"
        }
    );

    // -- The parts
    println!();
    println!("What bounds the phases: each part alone");
    println!();
    println!("| part | seconds | requests | wall ms ÷ requests |");
    println!("|---|---:|---:|---:|");
    for part in &parts {
        let per = if part.requests == 0 {
            "–".to_string()
        } else {
            format!("{:.2}", 1000.0 * part.seconds / part.requests as f64)
        };
        println!(
            "| {} | {:.3} | {} | {per} |",
            part.what,
            part.seconds,
            if part.requests == 0 {
                "–".to_string()
            } else {
                thousands(part.requests)
            }
        );
    }

    // -- The engine
    println!();
    println!(
        "The engine alone: State::from_entities (both sides) + plan(), in memory; median of {} / {} / {} runs; peak RSS includes building the inputs",
        ENGINE_REPEATS[0], ENGINE_REPEATS[1], ENGINE_REPEATS[2]
    );
    println!();
    println!(
        "| entities | changes | states ms | plan ms | total ms | µs/entity | per entity vs 1,000 | n log n predicts | RSS MiB: start → peak |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let base = &engine_rows[0];
    let per_entity =
        |row: &EngineRow| (row.states_seconds + row.plan_seconds) / row.entities as f64;
    for row in &engine_rows {
        let ratio = per_entity(row) / per_entity(base);
        let predicted = (row.entities as f64).ln() / (base.entities as f64).ln();
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {ratio:.2}× | {predicted:.2}× | {:.0} → {:.0} |",
            thousands(row.entities),
            thousands(row.changes),
            1000.0 * row.states_seconds,
            1000.0 * row.plan_seconds,
            1000.0 * (row.states_seconds + row.plan_seconds),
            1e6 * per_entity(row),
            row.rss_mib,
            row.peak_rss_mib
        );
    }
    let last = engine_rows.last().expect("engine rows");
    let growth = per_entity(last) / per_entity(base);
    println!();
    println!(
        "Time per entity from {} to {} entities grew {growth:.2}× (n² would grow {}×): {}.",
        thousands(base.entities),
        thousands(last.entities),
        thousands(last.entities / base.entities),
        if growth < 3.0 {
            "n log n, target met"
        } else {
            "faster than n log n, target NOT met"
        }
    );
}
