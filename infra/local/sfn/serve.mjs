// Serves the local Step Functions API (api.mjs) on 127.0.0.1, so that a client built on an AWS SDK
// runs ferry's state machines locally when pointed at it (AWS_ENDPOINT_URL_SFN=http://127.0.0.1:PORT).
//
//   node serve.mjs [--port PORT] [--warm]
//
// --port: where to listen (0 or absent: a free port). --warm: before serving, check every definition
// against the Amazon States Language schema (a definition that fails it stops the server) and start
// every function of every state machine, so that no execution waits for either (the runner checks a
// definition the first time it runs it, blocking every execution meanwhile).
// Environment: FERRY_LAMBDA_ENDPOINT (required: where the Lambda Invoke API serves the functions,
// functions.mjs or `cargo lambda watch`, e.g. http://127.0.0.1:9100), FERRY_FAST_WAITS (default 1:
// every Wait and retry pause lasts a moment; 0 keeps the definition's times; task timeouts are never
// shortened).
// FERRY_SFN_HISTORY_FILE (optional): when the server stops, every execution it ran is written there
// as JSON, `{"executions": [...]}`, each as ListExecutions lists it with its history (`events`, as
// GetExecutionHistory gives them), so that a run can be looked at after the server is gone.
// When ready it prints one line, `ferry local Step Functions API at http://127.0.0.1:PORT`, then one
// line per execution started and ended. SIGTERM or SIGINT stops every running execution and exits 0.
// Exits 1 when it cannot start, 2 on a usage error.

import { writeFileSync } from 'node:fs';
import { createApi } from './api.mjs';
import { checkDefinitions, warmUp } from './runner.mjs';

const USAGE = 'usage: node serve.mjs [--port PORT] [--warm] (with FERRY_LAMBDA_ENDPOINT set)';

function usage(message) {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

/** `--port P`, `--port=P` and `--warm`. */
function parseArgs(args) {
  const options = { port: 0, warm: false };
  for (let i = 0; i < args.length; i += 1) {
    const [flag, inline] = args[i].split(/=(.*)/s);
    if (flag === '--warm' && inline === undefined) {
      options.warm = true;
    } else if (flag === '--port') {
      const value = inline ?? args[(i += 1)];
      if (!/^\d+$/.test(value ?? '') || Number(value) > 65535) usage(`--port must be a port number from 0 to 65535, not ${JSON.stringify(value ?? '')}`);
      options.port = Number(value);
    } else if (flag === '--help' || flag === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else {
      usage(`unknown argument ${JSON.stringify(args[i])}`);
    }
  }
  return options;
}

const { port, warm } = parseArgs(process.argv.slice(2));
const endpoint = process.env.FERRY_LAMBDA_ENDPOINT;
if (!endpoint) usage('FERRY_LAMBDA_ENDPOINT is not set');
const fastWaits = (process.env.FERRY_FAST_WAITS ?? '1') !== '0';

let api;
try {
  api = createApi({ endpoint, fastWaits, log: (line) => process.stdout.write(`${line}\n`) });
  if (warm) {
    const started = Date.now();
    checkDefinitions([...api.machines.values()].map((machine) => machine.name));
    process.stderr.write(`checked ${api.machines.size} state machine definitions in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
  }
} catch (err) {
  process.stderr.write(`cannot load the state machines: ${err.message}\n`);
  process.exit(1);
}
if (warm) {
  try {
    const took = await warmUp(endpoint, api.functions);
    process.stderr.write(`started ${api.functions.join(', ')} in ${took.toFixed(1)}s\n`);
  } catch (err) {
    process.stderr.write(`the functions at ${endpoint} do not answer: ${err.message}\n`);
    process.exit(1);
  }
}

let url;
try {
  url = await api.listen(port);
} catch (err) {
  process.stderr.write(`cannot listen on 127.0.0.1:${port}: ${err.message}\n`);
  process.exit(1);
}
process.stdout.write(`ferry local Step Functions API at ${url}\n`);

let stopping = false;
async function stop(signal) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`${signal}: stopping\n`);
  await api.close();
  const historyFile = process.env.FERRY_SFN_HISTORY_FILE;
  if (historyFile) writeFileSync(historyFile, JSON.stringify({ executions: api.histories() }));
  process.exit(0);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
