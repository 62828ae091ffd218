// What the flow tests share: the local AWS endpoint, `cargo lambda watch` serving the Lambda APIs to
// the functions' debug builds (their instances started here), the Spark ImpEx simulator
// (spark-sim), the Sesam node simulator (sesam-sim), a git server with token auth (git-server)
// and the repositories committed to it with the `git` command line, the
// worlds seeded by infra/local/seed.py, and the facts infra/local/summary.py,
// infra/local/promote_summary.py and infra/local/sesam_summary.py read back.
// Every server listens on 127.0.0.1 and is stopped after the tests (or when this process exits).

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { freePort, instanceEnv } from '../functions.mjs';
import { loadDefinition, ROOT, runMachine, warmUp } from '../runner.mjs';

export const PYTHON = process.env.FERRY_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');
/**
 * Servers' logs and the tests' scratch files (.local/ is not committed), one folder per test file
 * (`.local/flow/refresh/` for refresh.test.mjs), emptied by startEndpoint.
 */
export const LOGS = join(process.env.FERRY_FLOW_LOGS ?? join(ROOT, '.local', 'flow'),
  basename(process.argv[1] ?? 'flow').replace(/(\.test)?\.m?js$/, ''));
const SCRATCH = LOGS;
const TARGET = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
const groups = new Set();

/** The refresh request of the local demo, as a fresh object. */
export function demoRequest() {
  return JSON.parse(readFileSync(join(ROOT, 'infra', 'examples', 'refresh-local.json'), 'utf8'));
}

/** The promote request of the local demo, its `${SPARK_URL}` placeholders set to `sparkUrl`. */
export function promoteDemoRequest(sparkUrl) {
  const text = readFileSync(join(ROOT, 'infra', 'examples', 'promote-local.json'), 'utf8');
  return JSON.parse(text.replaceAll('${SPARK_URL}', sparkUrl));
}

/** The local Spark world of the demo (infra/local/spark-demo.json): tenants and auth secrets. */
export function sparkDemoWorld() {
  return JSON.parse(readFileSync(join(ROOT, 'infra', 'local', 'spark-demo.json'), 'utf8'));
}

export { freePort };

/**
 * Starts `command` in its own process group, its output appended to LOGS/<log>. With `stdin: 'pipe'`
 * its standard input stays open until `child.stdin` is closed or this process ends.
 */
function startGroup(command, args, { env = process.env, log, stdin = 'ignore' }) {
  const path = join(LOGS, log);
  const out = openSync(path, 'a');
  const child = spawn(command, args, { cwd: ROOT, env, detached: true, stdio: [stdin, out, out] });
  closeSync(out);
  groups.add(child.pid);
  child.on('exit', () => groups.delete(child.pid));
  return { pid: child.pid, log: path, child };
}

function stopGroup(pid) {
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    // already gone
  }
  groups.delete(pid);
}

process.on('exit', () => {
  for (const pid of groups) stopGroup(pid);
});

async function waitFor(what, probe, seconds) {
  const deadline = Date.now() + seconds * 1000;
  let last;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not ready after ${seconds}s${last ? `: ${last.message}` : ''}`);
}

export function run(command, args, { env = process.env, input } = {}) {
  const result = spawnSync(command, args, { cwd: ROOT, env, input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

/** The local AWS endpoint (moto with ferry's fixes), ready. */
export async function startEndpoint() {
  if (!process.env.FERRY_FLOW_LOGS) rmSync(LOGS, { recursive: true, force: true });
  mkdirSync(LOGS, { recursive: true });
  const port = await freePort();
  const server = startGroup(PYTHON, [join(ROOT, 'infra', 'local', 'moto_server.py'), '--host', '127.0.0.1',
    '--port', String(port), '--exit-with-parent'], { log: 'endpoint.log' });
  const url = `http://127.0.0.1:${port}`;
  await waitFor('the local AWS endpoint', async () => (await fetch(`${url}/moto-api/`)).ok, 60);
  return { url, stop: () => stopGroup(server.pid) };
}

/** The functions one state machine or a list of them call, sorted, each once. */
export function machineFunctions(machines = 'refresh') {
  const names = (Array.isArray(machines) ? machines : [machines]).flatMap((m) => loadDefinition(m).functions);
  return [...new Set(names)].sort();
}

/**
 * Builds the workspace binaries `bins` (functions, test servers) in one cargo run, debug profile. They
 * are named with `--bin` alone: with no `-p`, cargo resolves features for the whole workspace, as the
 * other flow test files and the `cargo run --bin` of `cargo lambda watch` (make demo, make run-local)
 * do, so all of them share one build of each dependency. (`-p` resolves features for the named
 * packages only: a second build of most of the dependency tree, minutes on two cores.)
 */
function buildBins(bins) {
  run('cargo', ['build', '--quiet', '--locked', ...bins.flatMap((b) => ['--bin', b])]);
}

/**
 * Builds the functions the machine(s) call (what startFunctions runs) and the test servers `servers`
 * (e.g. 'spark-sim'), in one cargo run; returns the functions.
 */
export function buildFunctions(machines = 'refresh', servers = []) {
  const functions = machineFunctions(machines);
  buildBins([...functions, ...servers]);
  return functions;
}

/** Instances of each function, as `cargo lambda watch --concurrency 8` ends up running. */
const INSTANCES_PER_FUNCTION = 8;

/**
 * Starts `count` instances of the built function `fn` (target/debug/<fn>) against the runtime API
 * that `cargo lambda watch` serves for it at `url`/.rt/<fn>, with the environment the watch gives
 * the instances it starts itself; their output is appended to LOGS/<log>.
 */
function startInstances(url, fn, count, functionEnv, log) {
  const env = instanceEnv(url, fn, { ...process.env, ...functionEnv });
  return Array.from({ length: count }, () => startGroup(join(TARGET, 'debug', fn), [], { env, log }));
}

/**
 * Resolves never; rejects as soon as one of `instances` exits, so that a function that cannot start
 * fails the warm-up at once instead of leaving its invocations waiting.
 */
function firstExit(instances) {
  return new Promise((_, reject) => {
    for (const { child, log } of instances) {
      child.on('exit', (code, signal) => reject(new Error(
        `${basename(child.spawnfile)} exited (${signal ?? `code ${code}`}) before it was stopped; see ${log}`)));
    }
  });
}

/**
 * `cargo lambda watch` serving the Lambda Invoke and runtime APIs for the functions of `machines`
 * (one state machine or a list), each run by INSTANCES_PER_FUNCTION instances of its debug build
 * (built here when stale) with the given function environment; every function has answered once
 * before this resolves. The watch only serves (`--only-lambda-apis`): left to start instances
 * itself, it would start each with its own `cargo run`, and up to its concurrency of them for a
 * function's first invocation alone, each waiting for cargo's lock on the target directory (about
 * half a minute per server on two cores), and would rebuild the functions mid-run when a source
 * file changes.
 */
export async function startFunctions(endpointUrl, extraEnv = {}, name = 'functions', machines = 'refresh') {
  const functions = machineFunctions(machines);
  buildBins(functions);
  const port = await freePort();
  const functionEnv = {
    FERRY_PROTECTED_ACCOUNT_IDS: '111111111111',
    FERRY_ARTIFACT_BUCKET: 'ferry-artifacts',
    AWS_ENDPOINT_URL: endpointUrl,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
    RUST_LOG: 'info',
    ...extraEnv,
  };
  const log = `${name}.log`;
  const watch = startGroup('cargo', ['lambda', 'watch', '--only-lambda-apis', '--invoke-address', '127.0.0.1',
    '--invoke-port', String(port), '--timeout', '900'], {
    env: { ...process.env, PATH: `${join(ROOT, '.venv', 'bin')}:${process.env.PATH}` },
    log,
  });
  await waitFor('cargo lambda watch', () => new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => { socket.destroy(); resolve(true); });
    socket.on('error', () => resolve(false));
  }), 300);
  const url = `http://127.0.0.1:${port}`;
  const instances = functions.flatMap((fn) => startInstances(url, fn, INSTANCES_PER_FUNCTION, functionEnv, log));
  const stop = () => {
    for (const instance of instances) stopGroup(instance.pid);
    stopGroup(watch.pid);
  };
  const exited = firstExit(instances);
  // Past the warm-up an exit shows as invocations that go unanswered (and stop() ends them all).
  exited.catch(() => {});
  try {
    await Promise.race([warmUp(url, functions), exited]);
  } catch (err) {
    stop();
    throw err;
  }
  return { url, log: watch.log, stop };
}

/** A client of a simulator's control API (`/_sim`) at `url`; `name` labels its errors. */
function controlClient(url, name) {
  return async (method, path, body) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${name} ${method} ${path}: HTTP ${res.status}: ${text}`);
    return text === '' ? null : JSON.parse(text);
  };
}

/**
 * The simulator `bin` (target/debug/<bin>, already built) on a free port of 127.0.0.1 in its own
 * process group, its output in LOGS/<bin>.log, ready once `probe` (a path) answers; it also ends
 * when this process does (its standard input closes). Returns its origin and port, a client of its
 * control API, and stop().
 */
export async function startSimulator(bin, probe) {
  const port = await freePort();
  const server = startGroup(join(TARGET, 'debug', bin), ['--port', String(port), '--exit-on-stdin-eof'],
    { log: `${bin}.log`, stdin: 'pipe' });
  server.child.stdin.on('error', () => {});
  const url = `http://127.0.0.1:${port}`;
  await waitFor(bin, async () => (await fetch(`${url}${probe}`)).ok, 60);
  return {
    url,
    port,
    log: server.log,
    control: controlClient(url, bin),
    stop: () => {
      server.child.stdin.destroy();
      stopGroup(server.pid);
    },
  };
}

/**
 * The Spark ImpEx simulator (target/debug/spark-sim, built here) on a free port of 127.0.0.1, in
 * its own process group, ready. It also ends when this process does (its standard input closes).
 * Returns its origin and a client of its control API (`/_sim`).
 */
export async function startSparkSim() {
  buildBins(['spark-sim']);
  const { url, log, control: call, stop } = await startSimulator('spark-sim', '/health');
  return {
    url,
    log,
    /** `http://127.0.0.1:PORT/<tenant>`. */
    baseUrl: (tenant) => `${url}/${tenant}`,
    /** Creates (or replaces) a tenant from a TenantSeed. */
    addTenant: (seed) => call('POST', '/_sim/tenants', seed),
    /** A tenant: folders, services with their versions, jobs. */
    tenant: (name) => call('GET', `/_sim/tenants/${encodeURIComponent(name)}`),
    /** Injects a fault, e.g. {fault: 'import_errors', message}. */
    fault: (name, fault) => call('POST', `/_sim/tenants/${encodeURIComponent(name)}/faults`, fault),
    /** Every API request answered so far: {method, path, tenant, auth, status}. */
    requests: () => call('GET', '/_sim/requests'),
    /** Drops every tenant, job and logged request. */
    reset: () => call('POST', '/_sim/reset'),
    stop,
  };
}

/**
 * Empties the endpoint and the simulator, creates the artifact bucket, stores the world's auth
 * secrets in ferry's own account and seeds its tenants in the simulator (infra/local/seed.py
 * --spark). `world` is `{tenants: [TenantSeed], secrets: {name: value}}`; a secret `ferry/x` is found
 * by the ARN arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/x.
 */
export function seedSpark(endpointUrl, sim, world) {
  run(PYTHON, [join(ROOT, 'infra', 'local', 'seed.py'), '--endpoint', endpointUrl, '--reset', '--world', 'none',
    '--artifact-bucket', 'ferry-artifacts', '--spark', scratchJson('spark-world', world), '--spark-url', sim.url]);
}

/** The ARN a promote input gives the secret `name` seeded by seedSpark. */
export function secretArn(name) {
  return `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}`;
}

/**
 * The Sesam node simulator (target/debug/sesam-sim, built here) on a free port of 127.0.0.1, in its
 * own process group, ready; it also ends when this process does (its standard input closes).
 * Returns its origin and a client of its control API (`/_sim`).
 */
export async function startSesamSim() {
  buildBins(['sesam-sim']);
  const { url, log, control: call, stop } = await startSimulator('sesam-sim', '/health');
  return {
    url,
    log,
    /** `http://127.0.0.1:PORT/<node>/api`: what a promote input's `sesam.url` names. */
    baseUrl: (node) => `${url}/${node}/api`,
    /** Creates (or replaces) a node from a NodeSeed ({name, jwts, entities, env, secrets}). */
    addNode: (seed) => call('POST', '/_sim/nodes', seed),
    /** A node: entities ({_id, kind, config, is-valid-config, config-errors}), env, secret names. */
    node: (name) => call('GET', `/_sim/nodes/${encodeURIComponent(name)}`),
    /** Arms a fault, e.g. {fault: 'server_error', count: 1, method: 'PUT', path_prefix: '/pipes'}. */
    fault: (name, fault) => call('POST', `/_sim/nodes/${encodeURIComponent(name)}/faults`, fault),
    /** Every node API request answered so far: {node, method, path, query, status, auth}. */
    requests: () => call('GET', '/_sim/requests'),
    /** Drops every node and logged request. */
    reset: () => call('POST', '/_sim/reset'),
    stop,
  };
}

/** `git` with no system or user configuration and a fixed identity, run in `dir`. */
function gitCli(dir, args) {
  const env = {
    ...process.env,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Ferry Flow Tests',
    GIT_AUTHOR_EMAIL: 'flow-tests@ferry.invalid',
    GIT_COMMITTER_NAME: 'Ferry Flow Tests',
    GIT_COMMITTER_EMAIL: 'flow-tests@ferry.invalid',
  };
  for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE']) delete env[name];
  return run('git', ['-C', dir, ...args], { env }).trim();
}

/**
 * The test git server (target/debug/git-server, built here: git's own `http-backend` behind Basic
 * auth whose password must be `token`) on a free port of 127.0.0.1, serving the bare repositories
 * under LOGS/<name>/ (emptied here; its log is LOGS/<name>-server.log), in its own process group,
 * ready; it also ends when this process does. Repositories are made with createGitRepo.
 */
export async function startGitServer(token, name = 'git') {
  buildBins(['git-server']);
  const root = join(SCRATCH, name);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const port = await freePort();
  const server = startGroup(join(TARGET, 'debug', 'git-server'),
    ['--root', root, '--token', token, '--port', String(port), '--exit-on-stdin-eof'],
    { log: `${name}-server.log`, stdin: 'pipe' });
  server.child.stdin.on('error', () => {});
  const url = `http://127.0.0.1:${port}`;
  // Anything without credentials is answered 401 once it serves.
  await waitFor('git-server', async () => (await fetch(`${url}/`)).status === 401, 60);
  return {
    url,
    root,
    log: server.log,
    /** `http://127.0.0.1:PORT/<name>.git`. */
    repoUrl: (name) => `${url}/${name}.git`,
    stop: () => {
      server.child.stdin.destroy();
      stopGroup(server.pid);
    },
  };
}

/**
 * A new bare repository `<name>.git` (branch `main`) in the git server's root and a working copy in
 * `<root>-work/<name>` that pushes to it through the file system. `commit(files, message)` writes
 * `files` (path → text, written as is, or any other JSON value, written pretty-printed; null
 * removes the file or folder), commits everything (even when nothing changed), pushes, and
 * returns the commit id.
 */
export function createGitRepo(git, name) {
  const bare = join(git.root, `${name}.git`);
  const work = join(`${git.root}-work`, name);
  rmSync(bare, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  gitCli(git.root, ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  gitCli(work, ['init', '--quiet', '--initial-branch=main']);
  return {
    name,
    url: git.repoUrl(name),
    work,
    commit(files, message) {
      for (const [path, contents] of Object.entries(files)) {
        const file = join(work, path);
        if (contents === null) {
          rmSync(file, { recursive: true, force: true });
          continue;
        }
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, typeof contents === 'string' ? contents : `${JSON.stringify(contents, null, 2)}\n`);
      }
      gitCli(work, ['add', '-A']);
      gitCli(work, ['commit', '--quiet', '--allow-empty', '-m', message]);
      gitCli(work, ['push', '--quiet', '--force', bare, 'HEAD:refs/heads/main']);
      return gitCli(work, ['rev-parse', 'HEAD']);
    },
  };
}

/**
 * Empties the endpoint and the Sesam simulator, creates the artifact bucket, stores the world's
 * secrets in ferry's own account, seeds its nodes in the simulator (infra/local/seed.py --sesam)
 * and sends ferry's EventBridge events to a queue that sesamFacts reads
 * (infra/local/sesam_summary.py --capture-events). `world` is `{nodes: [NodeSeed], secrets: {name:
 * value}}`; a secret `ferry/x` is found by secretArn('ferry/x').
 */
export function seedSesam(endpointUrl, sim, world) {
  run(PYTHON, [join(ROOT, 'infra', 'local', 'seed.py'), '--endpoint', endpointUrl, '--reset', '--world', 'none',
    '--artifact-bucket', 'ferry-artifacts', '--sesam', scratchJson('sesam-world', world), '--sesam-url', sim.url]);
  run(PYTHON, [join(ROOT, 'infra', 'local', 'sesam_summary.py'), '--endpoint', endpointUrl, '--capture-events']);
}

/**
 * What sesam_summary.py reads back after a Sesam promotion: the bundle, its `before/` snapshot and
 * `plan.json` in the artifact bucket (every object with its size, sha256 and text, each set checked
 * against its manifest), the run manifest, the run's EventBridge events (read from the queue
 * seedSesam set up, and removed from it) and the target node from the simulator.
 */
export function sesamFacts(endpointUrl, sim, request, result) {
  const args = [join(ROOT, 'infra', 'local', 'sesam_summary.py'), '--endpoint', endpointUrl, '--json',
    '--sesam', sim.url, '--input', scratchJson('sesam-request', request),
    '--result', scratchJson('sesam-result', { runId: result.runId, status: result.status, output: result.output,
      error: result.error, cause: result.cause, durationMs: result.durationMs })];
  return JSON.parse(run(PYTHON, args));
}

/** Empties the endpoint and seeds a world (see infra/local/seed.py for the worlds and options). */
export function seedWorld(endpointUrl, { world = 'demo', glueFails, gluePolls = 1, staleObjects, writeDelayMs } = {}) {
  const args = [join(ROOT, 'infra', 'local', 'seed.py'), '--endpoint', endpointUrl, '--reset', '--world', world,
    '--glue-polls', String(gluePolls), '--artifact-bucket', 'ferry-artifacts'];
  if (glueFails) args.push('--glue-fails', glueFails);
  if (staleObjects) args.push('--stale-objects', String(staleObjects));
  if (writeDelayMs) args.push('--write-delay-ms', String(writeDelayMs));
  run(PYTHON, args);
}

let counter = 0;

/** Writes `value` as JSON to a scratch file and returns its path. */
export function scratchJson(name, value) {
  counter += 1;
  const path = join(SCRATCH, `${counter}-${name}.json`);
  writeFileSync(path, JSON.stringify(value, null, 2));
  return path;
}

/**
 * What summary.py reads back: target tables (items, masked strings, digests), buckets, consumers,
 * deploy-table settings and, with a run result, that run's manifest. `request` names what to look at.
 */
export function facts(endpointUrl, request = demoRequest(), result = null) {
  const args = [join(ROOT, 'infra', 'local', 'summary.py'), '--endpoint', endpointUrl, '--json',
    '--input', scratchJson('request', request)];
  if (result) args.push('--result', scratchJson('result', { runId: result.runId, status: result.status,
    output: result.output, durationMs: result.durationMs }));
  return JSON.parse(run(PYTHON, args));
}

/**
 * What promote_summary.py reads back after a promote run: the run manifest and the bundle in the
 * artifact bucket (each object's size and sha256, the manifests as parsed JSON and as raw text) and
 * the source and target tenants from the simulator.
 */
export function promoteFacts(endpointUrl, sim, request, result) {
  const args = [join(ROOT, 'infra', 'local', 'promote_summary.py'), '--endpoint', endpointUrl, '--json',
    '--spark', sim.url, '--input', scratchJson('promote-request', request),
    '--result', scratchJson('promote-result', { runId: result.runId, status: result.status, output: result.output,
      error: result.error, cause: result.cause, durationMs: result.durationMs })];
  return JSON.parse(run(PYTHON, args));
}

/** Runs `machine` (`options` go to runMachine); prints its states when FERRY_FLOW_VERBOSE=1. */
function runVerbose(machine, functions, input, label, options = {}) {
  const verbose = process.env.FERRY_FLOW_VERBOSE === '1';
  return runMachine({
    machine,
    input,
    endpoint: functions.url,
    runId: `flow-${label}-${Date.now()}`,
    onEvent: (_event, line) => {
      if (verbose && line) process.stdout.write(`    ${line}\n`);
    },
    ...options,
  });
}

/** Runs the refresh machine (`options` go to runMachine, e.g. `fastWaitMs`); prints its states when FERRY_FLOW_VERBOSE=1. */
export function refresh(functions, input, label, options = {}) {
  return runVerbose('refresh', functions, input, label, options);
}

/** Runs the promote machine; prints its states when FERRY_FLOW_VERBOSE=1. */
export function promote(functions, input, label) {
  return runVerbose('promote', functions, input, label);
}

/** Invocations of the state `state`, grouped by a key of their input. */
export function invocationsBy(result, state, key) {
  const groupsByKey = new Map();
  for (const invocation of result.invocations.filter((i) => i.state === state)) {
    const k = key(invocation.input);
    groupsByKey.set(k, (groupsByKey.get(k) ?? 0) + 1);
  }
  return groupsByKey;
}

/**
 * The names of the states entered, in order (nested ones included, and those of the executions the
 * run started).
 */
export function statesEntered(result) {
  return [...(result.timeline ?? result.events)]
    .sort((a, b) => a.timestamp - b.timestamp)
    .filter((e) => e.type === 'StateEntered')
    .map((e) => e.state.name);
}

/** Prints what a test asserted. */
export function note(text) {
  process.stdout.write(`    ✓ ${text}\n`);
}
