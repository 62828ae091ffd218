// Serves ferry's functions for local runs (make run-local, make demo, make local-up): the Lambda
// Invoke API on 127.0.0.1, in front of `cargo lambda watch --only-lambda-apis`, which emulates
// Lambda's Invoke and runtime APIs, with the instances of each function's debug build started here
// as Lambda starts them: one more whenever an invocation finds every instance of its function busy,
// up to a maximum per function. Left to start instances itself, the watch would start each with its
// own `cargo run`, and up to its concurrency of them for a function's first invocation alone: about
// eight cargo builds to check per function, each waiting for cargo's locks (tens of seconds on two
// cores before the first state runs).
//
//   node functions.mjs --port PORT --bin-dir DIR [--max-instances N] FUNCTION...
//
// --port: where the Invoke API listens (0: a free port). --bin-dir: where the built functions are
// (target/debug). --max-instances: instances of one function at most (default 8). Each instance gets
// this process's environment (the function configuration: FERRY_*, AWS_ENDPOINT_URL, credentials,
// region, RUST_LOG) and the AWS_LAMBDA_* variables of its function; its output and the watch's go
// to this process's. When ready it prints `ferry local functions at http://127.0.0.1:PORT`, and
// `started instance N of FUNCTION` for each instance it starts (its cold start follows). An
// instance that ends while this serves, or the watch, ends all of it (exit 1), so that invocations
// fail at once instead of waiting for an instance that will not come. SIGTERM or SIGINT stops every
// instance and the watch, then exits 0. Exits 2 on a usage error.

import { spawn } from 'node:child_process';
import { createServer, request } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The workspace `cargo lambda watch` runs in (it reads its Cargo.toml). */
const WORKSPACE = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Instances of one function at most, as `cargo lambda watch --concurrency 8` allowed. */
export const DEFAULT_MAX_INSTANCES = 8;

/** The Invoke API's path for one function: `/2015-03-31/functions/<name>/invocations`. */
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/?]+)\/invocations(?:\?.*)?$/;

/**
 * The environment of an instance of `fn` that takes its invocations from the runtime API `cargo
 * lambda watch` serves for it at `watchUrl`/.rt/<fn>: `env` (the function configuration) and the
 * variables Lambda sets for a function.
 */
export function instanceEnv(watchUrl, fn, env = process.env) {
  return {
    ...env,
    AWS_LAMBDA_FUNCTION_NAME: fn,
    AWS_LAMBDA_FUNCTION_VERSION: '1',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '4096',
    AWS_LAMBDA_RUNTIME_API: `${watchUrl}/.rt/${fn}`,
  };
}

/** A free TCP port of 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once 127.0.0.1:`port` accepts a connection; rejects after `seconds`. */
async function waitForPort(port, seconds) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const open = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.on('connect', () => { socket.destroy(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${seconds}s`);
}

/**
 * The instances of each function: `reserve(fn)` before an invocation of `fn` (it starts one more
 * instance when every instance is busy and the maximum is not reached), `release(fn)` after it.
 * `start(fn, number)` starts the instance `number` (from 1) of `fn` and returns its child process.
 */
export function instancePool(functions, maxInstances, start) {
  const pools = new Map(functions.map((fn) => [fn, { instances: [], busy: 0 }]));
  return {
    serves: (fn) => pools.has(fn),
    reserve(fn) {
      const pool = pools.get(fn);
      pool.busy += 1;
      if (pool.busy > pool.instances.length && pool.instances.length < maxInstances) {
        pool.instances.push(start(fn, pool.instances.length + 1));
      }
    },
    release(fn) {
      pools.get(fn).busy -= 1;
    },
  };
}

/** Answers an invocation of a function this server does not run, as Lambda does. */
function notFound(res, fn) {
  const body = JSON.stringify({ Type: 'User', message: `Function not found: ${fn}` });
  res.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' });
  res.end(body);
}

/** Forwards one Invoke API request to the watch at `watchUrl`, reserving an instance of its function for it. */
function forward(pool, watchUrl, req, res) {
  const match = req.method === 'POST' ? INVOKE_PATH.exec(req.url) : null;
  const fn = match ? decodeURIComponent(match[1]) : null;
  if (!fn || !pool.serves(fn)) {
    req.resume();
    notFound(res, fn ?? req.url);
    return;
  }
  pool.reserve(fn);
  res.on('close', () => pool.release(fn));
  const { host, ...headers } = req.headers;
  const upstream = request(new URL(req.url, watchUrl), { method: 'POST', headers }, (reply) => {
    res.writeHead(reply.statusCode, reply.headers);
    reply.pipe(res);
  });
  upstream.on('error', (err) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`invoking ${fn}: ${err.message}`);
  });
  req.pipe(upstream);
}

/**
 * Serves `functions` (names of built binaries in `binDir`) on 127.0.0.1:`port`; resolves with
 * `{url, stop()}` once the Invoke API answers. `log(line)` hears each instance started;
 * `onEnd(reason)` hears when an instance or the watch ends while serving (everything has been
 * stopped by then).
 */
export async function serveFunctions({
  port, binDir, functions, maxInstances = DEFAULT_MAX_INSTANCES, log = () => {}, onEnd,
}) {
  const watchPort = await freePort();
  const watchUrl = `http://127.0.0.1:${watchPort}`;
  const children = new Set();
  let stopping = false;
  const stop = () => {
    stopping = true;
    for (const child of children) child.kill('SIGTERM');
  };
  const ended = (child, reason) => {
    children.delete(child);
    if (stopping) return;
    stop();
    onEnd?.(reason);
  };
  const track = (child, what) => {
    children.add(child);
    child.on('exit', (code, signal) => ended(child, `${what} ended (${signal ?? `code ${code}`}) while serving`));
    child.on('error', (err) => ended(child, `${what} could not start: ${err.message}`));
    return child;
  };
  track(spawn('cargo', ['lambda', 'watch', '--only-lambda-apis', '--invoke-address', '127.0.0.1',
    '--invoke-port', String(watchPort), '--timeout', '900'], { cwd: WORKSPACE, stdio: 'inherit' }), 'cargo lambda watch');
  await waitForPort(watchPort, 300);
  const pool = instancePool(functions, maxInstances, (fn, number) => {
    log(`started instance ${number} of ${fn}`);
    return track(spawn(join(binDir, fn), [], { env: instanceEnv(watchUrl, fn), stdio: 'inherit' }), `an instance of ${fn}`);
  });
  const server = createServer((req, res) => forward(pool, watchUrl, req, res));
  await new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stop() {
      stop();
      server.close();
      server.closeAllConnections();
    },
  };
}

const USAGE = 'usage: node functions.mjs --port PORT --bin-dir DIR [--max-instances N] FUNCTION...';

function usage(message) {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

/** `--port P`, `--bin-dir D`, `--max-instances N` (each also as `--flag=value`) and the functions. */
function parseArgs(args) {
  const options = { port: null, binDir: null, maxInstances: DEFAULT_MAX_INSTANCES, functions: [] };
  for (let i = 0; i < args.length; i += 1) {
    const [flag, inline] = args[i].split(/=(.*)/s);
    const value = () => inline ?? args[(i += 1)] ?? '';
    if (flag === '--port') {
      const port = value();
      if (!/^\d+$/.test(port) || Number(port) > 65535) usage(`--port must be a port number from 0 to 65535, not ${JSON.stringify(port)}`);
      options.port = Number(port);
    } else if (flag === '--bin-dir') {
      options.binDir = value();
    } else if (flag === '--max-instances') {
      const count = value();
      if (!/^[1-9]\d*$/.test(count)) usage(`--max-instances must be a whole number from 1, not ${JSON.stringify(count)}`);
      options.maxInstances = Number(count);
    } else if (flag.startsWith('-')) {
      usage(`unknown argument ${JSON.stringify(args[i])}`);
    } else {
      options.functions.push(args[i]);
    }
  }
  if (options.port === null || !options.binDir || options.functions.length === 0) usage('--port, --bin-dir and a function are needed');
  return options;
}

/** The command: serves until SIGTERM or SIGINT. */
async function main() {
  const options = parseArgs(process.argv.slice(2));
  const served = await serveFunctions({
    ...options,
    log: (line) => process.stdout.write(`${line}\n`),
    onEnd: (reason) => {
      process.stderr.write(`ferry local functions: ${reason}; stopped\n`);
      process.exit(1);
    },
  });
  process.stdout.write(`ferry local functions at ${served.url}\n`);
  const stop = () => {
    served.stop();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`ferry local functions: ${err.message}\n`);
    process.exit(1);
  });
}
