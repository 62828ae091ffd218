// Tests of the local functions server's instance pool (functions.mjs): instances start as
// invocations find every instance busy, never past the maximum. Fast: nothing is started.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { instanceEnv, instancePool } from '../functions.mjs';

/** A pool over `functions` whose starts are recorded as `fn#number`. */
function recordingPool(functions, max) {
  const started = [];
  const pool = instancePool(functions, max, (fn, number) => {
    started.push(`${fn}#${number}`);
    return { fn, number };
  });
  return { pool, started };
}

test('an instance starts only when every instance of its function is busy', () => {
  const { pool, started } = recordingPool(['copy-table', 'report'], 8);
  pool.reserve('copy-table');
  assert.deepEqual(started, ['copy-table#1']);
  pool.release('copy-table');
  pool.reserve('copy-table');
  assert.deepEqual(started, ['copy-table#1'], 'the idle instance takes the next invocation');
  pool.reserve('copy-table');
  pool.reserve('copy-table');
  pool.reserve('report');
  assert.deepEqual(started, ['copy-table#1', 'copy-table#2', 'copy-table#3', 'report#1']);
});

test('a function never gets more instances than the maximum; further invocations wait for one', () => {
  const { pool, started } = recordingPool(['sync-bucket'], 2);
  for (let i = 0; i < 5; i += 1) pool.reserve('sync-bucket');
  assert.deepEqual(started, ['sync-bucket#1', 'sync-bucket#2']);
});

test('the pool serves the functions it was given, and only those', () => {
  const { pool } = recordingPool(['preflight'], 1);
  assert.equal(pool.serves('preflight'), true);
  assert.equal(pool.serves('nope'), false);
});

test('an instance polls the runtime API the watch serves for its function, with the configuration', () => {
  const env = instanceEnv('http://127.0.0.1:9000', 'report', { FERRY_ARTIFACT_BUCKET: 'b' });
  assert.deepEqual(env, {
    FERRY_ARTIFACT_BUCKET: 'b',
    AWS_LAMBDA_FUNCTION_NAME: 'report',
    AWS_LAMBDA_FUNCTION_VERSION: '1',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '4096',
    AWS_LAMBDA_RUNTIME_API: 'http://127.0.0.1:9000/.rt/report',
  });
});
