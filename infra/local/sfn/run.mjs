// Runs a ferry state machine locally and prints each state as it enters and exits, then the
// execution's output.
//
//   node run.mjs MACHINE INPUT_FILE
//
// Environment: FERRY_LAMBDA_ENDPOINT (required: where `cargo lambda watch` serves the functions,
// e.g. http://127.0.0.1:9100), FERRY_RUN_ID (execution name; default local-<ms>), FERRY_FAST_WAITS
// (default 1: every Wait and retry pause lasts a moment; 0 keeps the definition's times),
// FERRY_RESULT_FILE (where to write the run's result as JSON: run id, status, output, error, cause,
// duration and the number of invocations of each function), FERRY_PRINT_OUTPUT (default 1; 0 leaves
// the output JSON out of what is printed).
// Exits 0 when the execution succeeds, 1 when it fails, 2 on a usage error.

import { readFileSync, writeFileSync } from 'node:fs';
import { describeCause, loadDefinition, runMachine, warmUp } from './runner.mjs';

function usage(message) {
  process.stderr.write(`${message}\nusage: node run.mjs MACHINE INPUT_FILE (with FERRY_LAMBDA_ENDPOINT set)\n`);
  process.exit(2);
}

const [machine, inputFile] = process.argv.slice(2);
if (!machine || !inputFile) usage('missing argument');
const endpoint = process.env.FERRY_LAMBDA_ENDPOINT;
if (!endpoint) usage('FERRY_LAMBDA_ENDPOINT is not set');

let input;
try {
  input = JSON.parse(readFileSync(inputFile, 'utf8'));
} catch (err) {
  usage(`cannot read the execution input ${inputFile}: ${err.message}`);
}

const fastWaits = (process.env.FERRY_FAST_WAITS ?? '1') !== '0';
const runId = process.env.FERRY_RUN_ID || undefined;
const { functions } = loadDefinition(machine);
let ready;
try {
  ready = await warmUp(endpoint, functions);
} catch (err) {
  process.stderr.write(`the functions at ${endpoint} do not answer: ${err.message}\n`);
  process.exit(1);
}
process.stdout.write(`started ${functions.join(', ')} in ${ready.toFixed(1)}s\n`);
process.stdout.write(`running ${machine} on ${inputFile} against ${endpoint}${fastWaits ? ' (waits shortened)' : ''}\n`);

const result = await runMachine({
  machine,
  input,
  endpoint,
  runId,
  fastWaits,
  onEvent: (_event, line) => {
    if (line) process.stdout.write(`${line}\n`);
  },
});

const invoked = {};
for (const { name } of result.invocations) invoked[name] = (invoked[name] ?? 0) + 1;
process.stdout.write(
  `execution ${result.runId} ${result.status} in ${(result.durationMs / 1000).toFixed(1)}s; invocations: ${Object.entries(invoked)
    .map(([name, n]) => `${name} x${n}`)
    .join(', ')}\n`,
);
if (process.env.FERRY_RESULT_FILE) {
  const { events: _events, invocations: _invocations, ...summary } = result;
  writeFileSync(process.env.FERRY_RESULT_FILE, `${JSON.stringify({ ...summary, invoked }, null, 2)}\n`);
}
if (result.status === 'SUCCEEDED') {
  if ((process.env.FERRY_PRINT_OUTPUT ?? '1') !== '0') process.stdout.write(`${JSON.stringify(result.output, null, 2)}\n`);
  process.exit(0);
}
process.stdout.write(`error: ${result.error}\ncause: ${describeCause(result.cause)}\n`);
process.exit(1);
