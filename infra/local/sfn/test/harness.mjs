// What the flow tests share: the local AWS endpoint, `cargo lambda watch` serving the functions,
// the worlds seeded by infra/local/seed.py, and the facts infra/local/summary.py reads back.
// Every server listens on 127.0.0.1 and is stopped after the tests (or when this process exits).

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { loadDefinition, ROOT, runMachine, warmUp } from '../runner.mjs';

export const PYTHON = process.env.FERRY_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');
/** Servers' logs and the tests' scratch files (.local/ is not committed), emptied by startEndpoint. */
export const LOGS = process.env.FERRY_FLOW_LOGS ?? join(ROOT, '.local', 'flow');
const SCRATCH = LOGS;
const groups = new Set();

/** The refresh request of the local demo, as a fresh object. */
export function demoRequest() {
  return JSON.parse(readFileSync(join(ROOT, 'infra', 'examples', 'refresh-local.json'), 'utf8'));
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts `command` in its own process group, its output appended to LOGS/<log>. */
function startGroup(command, args, { env = process.env, log }) {
  const path = join(LOGS, log);
  const out = openSync(path, 'a');
  const child = spawn(command, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', out, out] });
  groups.add(child.pid);
  child.on('exit', () => groups.delete(child.pid));
  return { pid: child.pid, log: path };
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

function run(command, args, { env = process.env, input } = {}) {
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

/** Builds the functions a machine calls (debug profile, what `cargo lambda watch` runs). */
export function buildFunctions(machine = 'refresh') {
  const { functions } = loadDefinition(machine);
  run('cargo', ['build', '--quiet', '--locked', ...functions.flatMap((f) => ['-p', f])]);
  return functions;
}

/** `cargo lambda watch` serving every function, with the given function environment. */
export async function startFunctions(endpointUrl, extraEnv = {}, name = 'functions') {
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
  const envVars = Object.entries(functionEnv).map(([k, v]) => `${k}=${v}`).join(',');
  const watch = startGroup('cargo', ['lambda', 'watch', '--invoke-address', '127.0.0.1', '--invoke-port', String(port),
    '--ignore-changes', '--concurrency', '8', '--timeout', '900', '--env-var', envVars], {
    env: { ...process.env, PATH: `${join(ROOT, '.venv', 'bin')}:${process.env.PATH}` },
    log: `${name}.log`,
  });
  await waitFor('cargo lambda watch', () => new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => { socket.destroy(); resolve(true); });
    socket.on('error', () => resolve(false));
  }), 300);
  const url = `http://127.0.0.1:${port}`;
  await warmUp(url, loadDefinition('refresh').functions);
  return { url, log: watch.log, stop: () => stopGroup(watch.pid) };
}

/** Empties the endpoint and seeds a world (see infra/local/seed.py for the worlds and options). */
export function seedWorld(endpointUrl, { world = 'demo', glueFails, gluePolls = 1, staleObjects } = {}) {
  const args = [join(ROOT, 'infra', 'local', 'seed.py'), '--endpoint', endpointUrl, '--reset', '--world', world,
    '--glue-polls', String(gluePolls), '--artifact-bucket', 'ferry-artifacts'];
  if (glueFails) args.push('--glue-fails', glueFails);
  if (staleObjects) args.push('--stale-objects', String(staleObjects));
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

/** Runs the refresh machine; prints its states when FERRY_FLOW_VERBOSE=1. */
export function refresh(functions, input, label) {
  const verbose = process.env.FERRY_FLOW_VERBOSE === '1';
  return runMachine({
    machine: 'refresh',
    input,
    endpoint: functions.url,
    runId: `flow-${label}-${Date.now()}`,
    onEvent: (_event, line) => {
      if (verbose && line) process.stdout.write(`    ${line}\n`);
    },
  });
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

/** The names of the states entered, in order (nested ones included). */
export function statesEntered(result) {
  return result.events.filter((e) => e.type === 'StateEntered').map((e) => e.state.name);
}

/** Prints what a test asserted. */
export function note(text) {
  process.stdout.write(`    ✓ ${text}\n`);
}
