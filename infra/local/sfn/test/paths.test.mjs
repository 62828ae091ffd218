// The failure paths of infra/statemachines/refresh.asl.json that real functions rarely take (a job
// that never finishes, a resume that fails, throttling), run against stand-in functions that answer
// over the same Lambda Invoke API as `cargo lambda watch`. Fast: no AWS endpoint, no build.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, beforeEach, test } from 'node:test';
import { runMachine } from '../runner.mjs';
import { demoRequest, note, statesEntered } from './harness.mjs';

/** Stand-in functions; each test replaces some of them. */
let handlers;
let calls;
let server;
let endpoint;

class Fail {
  constructor(errorType, errorMessage) {
    this.errorType = errorType;
    this.errorMessage = errorMessage;
  }
}

function plan(input) {
  const request = input.request;
  return {
    run_id: input.run_id,
    dry_run: request.dry_run ?? false,
    source: request.source,
    source_account_id: '111111111111',
    target: request.target,
    target_account_id: '222222222222',
    deploy_table: request.deploy_table,
    consumers: [{ mapping_id: 'm-blue', function_arn: 'arn:aws:lambda:us-east-1:222222222222:function:blue', table: 'efcms-test-alpha', state: 'Enabled' }],
    pause: ['m-blue'],
    tables: request.tables.map((t) => ({ mode: 'replace', ...t, key_schema: [], source_item_count: 1 })),
    buckets: request.buckets.map((b) => ({ concurrency: 32, transfer: 'auto', ...b })),
    masking: request.masking,
    polling: request.polling,
    max_polls: 3,
    max_settle_polls: 3,
    max_invocations: 5,
    max_concurrency: { tables: 4, segments: 4, buckets: 4 },
    limits: {
      refresh_events: 3074, largest_child_events: 700, largest_child: 'table efcms-test-big', state_bytes: 50000,
      events_allowed: 20000, state_bytes_allowed: 209715,
    },
    warnings: [],
  };
}

/** A toggle-streams answer: every mapping changed, reached unless `settled` is false. */
function toggled(i, { settled }) {
  const pending = settled ? [] : i.mapping_ids.map((id) => ({ mapping_id: id, reason: 'is Disabling' }));
  return {
    action: i.action, changed: i.mapping_ids, unchanged: [], reached: settled ? i.mapping_ids : [], pending, failed: [],
    settled, summary: settled ? 'all settled' : 'still settling', job: { kind: 'mappings', mapping_ids: i.mapping_ids },
  };
}

const counts = { items_read: 1, items_written: 1, items_deleted: 0, values_masked: 1, retries: 0, invocations: 1 };

function defaults() {
  return {
    preflight: plan,
    'setup-deploy-table': () => ({ table: 'efcms-deploy-test', written: 3, previous: {} }),
    'toggle-streams': (i) => toggled(i, { settled: true }),
    'start-glue': () => ({ job: { kind: 'glue', job_name: 'ferry-refresh-table', job_run_id: 'jr_1' }, started: true }),
    'check-status': () => ({ state: 'SUCCEEDED', detail: 'SUCCEEDED after 3s' }),
    'copy-table': () => ({ done: true, progress: { counts } }),
    'sync-bucket': () => ({ done: true, progress: { phase: 'apply', counts: { invocations: 1 } }, transfer: 'server_side',
      sample_copies: [], sample_deletes: [] }),
    'stop-writers': () => ({ settled: true, glue_stop_requested: 0, glue_running: 0, writers_live: 0, summary: 'no writer left' }),
    report: (i) => ({ outcome: i.outcome, manifest: `s3://ferry-artifacts/runs/refresh/${i.run_id}/manifest.json`,
      event: 'ferry.refresh', warnings: [] }),
  };
}

before(async () => {
  server = createServer((req, res) => {
    const name = decodeURIComponent(req.url.split('/')[3]);
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      const input = JSON.parse(body);
      calls.push({ name, input });
      try {
        const output = handlers[name](input);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(output));
      } catch (err) {
        // As `cargo lambda watch` answers a function error: HTTP 500 with the error document (the
        // Lambda service itself answers 200 with an X-Amz-Function-Error header; the runner takes both).
        const document = err instanceof Fail ? err : { errorType: 'Panic', errorMessage: String(err) };
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify(document));
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${server.address().port}`;
});

after(() => server.close());

beforeEach(() => {
  handlers = defaults();
  calls = [];
});

// No test here looks at how long a Wait or a retry pause lasts: each lasts a millisecond.
const run = (input = demoRequest()) => runMachine({
  machine: 'refresh', input, endpoint, runId: `paths-${Date.now()}`, fastWaitMs: 1,
});
const reports = () => calls.filter((c) => c.name === 'report').map((c) => c.input);
const toggles = () => calls.filter((c) => c.name === 'toggle-streams').map((c) => c.input.action);

test('a Glue job still running after max_polls checks fails the run with JobTimedOut, after a resume', async () => {
  handlers['check-status'] = (i) => (i.job.kind === 'glue' ? { state: 'RUNNING', detail: 'RUNNING after 40s' } : { state: 'SUCCEEDED', detail: '' });
  const result = await run();
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'JobTimedOut');
  assert.match(result.cause, /ferry-refresh-table run jr_1 copying table efcms-test-big still running after 3 status checks/);
  assert.equal(calls.filter((c) => c.name === 'check-status').length, 3);
  note(`JobTimedOut after 3 status checks (plan.max_polls): ${result.cause}`);
  assert.deepEqual(toggles(), ['off', 'on']);
  assert.equal(reports()[0].outcome, 'FAILED');
  assert.equal(reports()[0].error.Error, 'JobTimedOut');
  note('consumers resumed, FAILED reported with the error');
});

test('a segment still not done after max_invocations calls fails the run with DeadlineExceeded, after a resume', async () => {
  let invocations = 0;
  handlers['copy-table'] = (i) => {
    invocations = (i.progress?.counts?.invocations ?? 0) + 1;
    return { done: false, progress: { continuation: 'sealed', counts: { ...counts, invocations } } };
  };
  const result = await run();
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'DeadlineExceeded');
  assert.match(result.cause, /the clear phase of segment \d+ of table efcms-test-alpha is not done after 5 invocations/);
  assert.equal(invocations, 5);
  assert.deepEqual(toggles(), ['off', 'on']);
  assert.equal(reports()[0].error.Error, 'DeadlineExceeded');
  note(`DeadlineExceeded from the segment's own execution, unwrapped by the table's and the refresh's: ${result.cause}`);
});

/** A copy that fails in the scan branch, so the refresh goes through StopWriters. */
function failingCopy() {
  handlers['copy-table'] = () => { throw new Fail('AwsRejected', 'BatchWriteItem on efcms-test-alpha failed: ValidationException'); };
}

test('after a failed copy the consumers resume only once stop-writers finds no writer left', async () => {
  failingCopy();
  let stops = 0;
  handlers['stop-writers'] = (i) => {
    stops += 1;
    assert.equal(i.error.Error, 'AwsRejected');
    assert.deepEqual(i.tables.map((t) => t.target), ['efcms-test-alpha', 'efcms-test-big']);
    const left = stops < 3;
    return { settled: !left, glue_stop_requested: stops === 1 ? 1 : 0, glue_running: left ? 1 : 0, writers_live: left ? 2 : 0,
      summary: left ? 'glue job ferry-refresh-table run jr_1 STOPPING; copy-table table efcms-test-alpha segment 1 copy' : 'no writer left' };
  };
  const result = await run();
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'AwsRejected');
  assert.equal(stops, 3);
  const entered = statesEntered(result).filter((s) => ['StopWriters', 'CheckWriters', 'ResumeConsumers'].includes(s));
  assert.deepEqual(entered, ['StopWriters', 'CheckWriters', 'CheckWriters', 'ResumeConsumers']);
  assert.deepEqual(toggles(), ['off', 'on']);
  assert.equal(reports()[0].results.stop.polls, 2);
  note('stop-writers called 3 times (the first and 2 checks) before the resume; the run keeps its own error AwsRejected');
});

test('writers still running after max_settle_polls checks leave the consumers paused and named, the run keeps its error', async () => {
  failingCopy();
  handlers['stop-writers'] = () => ({ settled: false, glue_stop_requested: 0, glue_running: 1, writers_live: 0,
    summary: 'glue job ferry-refresh-table run jr_1 STOPPING (refused to stop)' });
  const result = await run();
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'AwsRejected');
  assert.equal(calls.filter((c) => c.name === 'stop-writers').length, 3, 'max_settle_polls calls, the first one included');
  assert.deepEqual(toggles(), ['off'], 'never resumed');
  const report = reports()[0];
  assert.equal(report.results.resume_error.Error, 'WritersNotStopped');
  assert.match(report.results.resume_error.Cause, /still running after 3 checks: glue job ferry-refresh-table run jr_1 STOPPING/);
  note(`no resume while a writer may still write: ${report.results.resume_error.Cause}`);
});

test('a stop-writers that fails leaves the consumers paused: nobody knows whether writers are left', async () => {
  failingCopy();
  handlers['stop-writers'] = () => { throw new Fail('Unauthorized', 'BatchStopJobRun on ferry-refresh-table failed: AccessDeniedException'); };
  const result = await run();
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'AwsRejected');
  assert.deepEqual(toggles(), ['off']);
  assert.match(reports()[0].results.resume_error.Cause, /stopping the writers of this run failed: Unauthorized: .*BatchStopJobRun on ferry-refresh-table failed/);
  note(`the run's error stays AwsRejected; the report is told why the consumers stayed paused: ${reports()[0].results.resume_error.Cause}`);
});

test('a consumer the resume cannot enable fails the run with ConsumersNotResumed, naming it', async () => {
  handlers['toggle-streams'] = (i) => {
    if (i.action === 'off') return toggled(i, { settled: true });
    return {
      ...toggled(i, { settled: true }), reached: [],
      failed: [{ mapping_id: 'm-blue', reason: 'no longer exists: replaced by a deploy during the run' }],
      summary: '0 of 1 mapping(s) Enabled; failed: m-blue no longer exists',
    };
  };
  const result = await run();
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'ConsumersNotResumed');
  assert.match(result.cause, /m-blue no longer exists/);
  assert.equal(reports()[0].outcome, 'FAILED');
  note(`a copy that succeeded with a consumer left paused is a FAILED run: ${result.cause}`);
});

/**
 * The most status checks preflight accepts for a Glue table: its execution's worst case,
 * `limits::table_events` = 32 + 19 × polls, stays within 20,000 events (80% of Step Functions'
 * 25,000) up to 1,050 polls (19,982 events); `limits` tests the same two numbers.
 */
const LARGEST_GLUE_POLLS = 1050;
const LARGEST_GLUE_EVENTS = 19_982;

test('a Glue table at the most status checks preflight accepts ends cleanly within its computed worst case', { timeout: 10 * 60 * 1000 }, async () => {
  handlers['check-status'] = () => ({ state: 'RUNNING', detail: 'RUNNING' });
  const request = demoRequest();
  const result = await runMachine({
    machine: 'refresh-table',
    endpoint,
    runId: `paths-largest-${Date.now()}`,
    fastWaitMs: 1,
    input: {
      run_id: 'paths-largest', source: request.source, target: request.target, masking: request.masking,
      polling: { interval_seconds: 21, deadline_seconds: 21 * LARGEST_GLUE_POLLS }, max_polls: LARGEST_GLUE_POLLS,
      entry: { mode: 'replace', ...request.tables.find((t) => t.engine === 'glue') }, max_invocations: 26, max_concurrency: 4,
    },
  });
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'JobTimedOut', result.cause);
  assert.equal(calls.filter((c) => c.name === 'check-status').length, LARGEST_GLUE_POLLS);
  assert.ok(result.events.length <= LARGEST_GLUE_EVENTS, `${result.events.length} events`);
  note(`${LARGEST_GLUE_POLLS} status checks, then JobTimedOut from the machine's own Fail state: `
    + `${result.events.length} events in the local engine's log, worst case computed ${LARGEST_GLUE_EVENTS} (Step Functions' limit 25,000)`);
});

test('pausing waits for the mappings to settle, then copies; resuming asks again until they settle', async () => {
  let checks = 0;
  let resumes = 0;
  handlers['toggle-streams'] = (i) => {
    if (i.action === 'off') return toggled(i, { settled: false });
    resumes += 1;
    return toggled(i, { settled: resumes > 1 });
  };
  handlers['check-status'] = (i) => {
    if (i.job.kind !== 'mappings') return { state: 'SUCCEEDED', detail: 'SUCCEEDED' };
    checks += 1;
    return checks % 2 === 1 ? { state: 'RUNNING', detail: 'Disabling' } : { state: 'SUCCEEDED', detail: 'settled' };
  };
  const result = await run();
  assert.equal(result.status, 'SUCCEEDED');
  const entered = statesEntered(result);
  assert.ok(entered.filter((s) => s === 'CheckPause').length === 2);
  assert.ok(entered.indexOf('CopyData') > entered.lastIndexOf('CheckPause'));
  assert.equal(entered.filter((s) => s === 'CheckResume').length, 1);
  assert.equal(resumes, 2);
  assert.deepEqual(result.output.results.resume.toggle.reached, ['m-blue']);
  assert.equal(result.output.results.pause.polls, 1);
  note('CopyData starts only after CheckPause saw the mappings settled; a resume still pending is asked again (CheckResume) until it settles');
});

test('a resume that fails after a failed copy still fails the run with the original error', async () => {
  handlers['copy-table'] = () => { throw new Fail('AwsRejected', 'BatchWriteItem on efcms-test-alpha failed: ValidationException'); };
  handlers['toggle-streams'] = (i) => {
    if (i.action === 'on') throw new Fail('Unauthorized', 'AccessDeniedException: not allowed to update mapping m-blue');
    return defaults()['toggle-streams'](i);
  };
  const result = await run();
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'AwsRejected');
  assert.match(result.cause, /BatchWriteItem/);
  note(`FAILED with the original error AwsRejected, not the resume's Unauthorized`);
  const [report] = reports();
  assert.equal(report.error.Error, 'AwsRejected');
  assert.equal(report.results.resume_error.Error, 'Unauthorized');
  note('the report carries both: error (the original) and results.resume_error');
});

test('a resume that fails after a successful copy fails the run with the resume error', async () => {
  handlers['toggle-streams'] = (i) => {
    if (i.action === 'on') throw new Fail('Unauthorized', 'AccessDeniedException on UpdateEventSourceMapping');
    return defaults()['toggle-streams'](i);
  };
  const result = await run();
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'Unauthorized');
  assert.equal(reports()[0].outcome, 'FAILED');
  note('consumers left paused is a failure: FAILED with Unauthorized, reported');
});

test('throttling is retried; InvalidInput is not', async () => {
  let attempts = 0;
  handlers['copy-table'] = () => {
    attempts += 1;
    if (attempts <= 2) throw new Fail('Throttled', 'ProvisionedThroughputExceededException');
    return { done: true, progress: { counts } };
  };
  const ok = await run();
  assert.equal(ok.status, 'SUCCEEDED');
  assert.equal(ok.timeline.filter((e) => e.type === 'StateRetried').length, 2);
  note('two Throttled answers retried, then SUCCEEDED');

  handlers = defaults();
  calls = [];
  handlers['sync-bucket'] = () => { throw new Fail('InvalidInput', 'refusing to sync: it would delete 5 objects, more than max_delete 2'); };
  const failed = await run();
  assert.equal(failed.status, 'FAILED');
  assert.equal(failed.error, 'InvalidInput');
  assert.equal(calls.filter((c) => c.name === 'sync-bucket').length, 1);
  assert.equal(calls.find((c) => c.name === 'sync-bucket').input.dry_run, true);
  assert.deepEqual(toggles(), []);
  assert.equal(calls.filter((c) => c.name === 'copy-table').length, 0);
  note('InvalidInput from sync-bucket\'s count (CheckBuckets) called once, not retried, run FAILED before any pause or copy');
});

test('a failure before the pause is reported without touching the consumers', async () => {
  handlers['setup-deploy-table'] = () => { throw new Fail('NotFound', "not found: DynamoDB table 'efcms-deploy-test'"); };
  const result = await run();
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'NotFound');
  assert.deepEqual(toggles(), []);
  assert.equal(reports()[0].paused_at, undefined);
  note('NotFound from setup-deploy-table: no toggle-streams call, FAILED reported without paused_at');
});

test('a preflight failure is reported with the request, and re-raised even when the report fails', async () => {
  handlers.preflight = () => { throw new Fail('InvalidInput', 'invalid input (1 problem): tables[0].segments: must be a whole number'); };
  handlers.report = () => { throw new Fail('AwsRejected', 'PutObject failed'); };
  const result = await run();
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'InvalidInput');
  const [report] = calls.filter((c) => c.name === 'report').map((c) => c.input);
  assert.deepEqual(report.request, demoRequest());
  assert.equal(report.plan, undefined);
  note('InvalidInput re-raised although report failed; report got the request, no plan');
});

test('a copy-table or sync-bucket invocation that times out is retried with the same continuation', async () => {
  // Each segment's phase answers once with a continuation naming it; the first call resuming from
  // one of them times out as Lambda does (Sandbox.Timedout), once.
  let timedOut = null;
  handlers['copy-table'] = (i) => {
    const invocations = (i.progress?.counts?.invocations ?? 0) + 1;
    if (!i.progress) {
      const continuation = `sealed-${i.table.target}-${i.phase}-${i.segment}`;
      return { done: false, progress: { continuation, counts: { ...counts, invocations } } };
    }
    if (timedOut === null) {
      timedOut = JSON.stringify(i.progress);
      throw new Fail('Sandbox.Timedout', 'Task timed out after 900.00 seconds');
    }
    return { done: true, progress: { counts: { ...counts, invocations } } };
  };
  // The bucket's apply answers once with a continuation; the call resuming from it first exceeds
  // the task's own TimeoutSeconds (States.Timeout), once.
  let syncTimedOut = false;
  handlers['sync-bucket'] = (i) => {
    if (i.dry_run) return defaults()['sync-bucket'](i);
    if (!i.progress) {
      return { done: false, progress: { phase: 'apply', start_after: 'a/big.bin', counts: { invocations: 1 } },
        transfer: 'stream', sample_copies: [], sample_deletes: [] };
    }
    if (!syncTimedOut) {
      syncTimedOut = true;
      throw new Fail('States.Timeout', 'Task timed out after 960 seconds');
    }
    return defaults()['sync-bucket'](i);
  };
  const result = await run();
  assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
  assert.notEqual(timedOut, null);
  const copies = calls.filter((c) => c.name === 'copy-table' && JSON.stringify(c.input.progress) === timedOut);
  assert.equal(copies.length, 2, 'the timed-out copy-table call is made again, with the same progress');
  const syncs = calls.filter((c) => c.name === 'sync-bucket' && c.input.progress?.start_after === 'a/big.bin');
  assert.equal(syncs.length, 2, 'the timed-out sync-bucket call is made again');
  assert.deepEqual(syncs[1].input, syncs[0].input);
  assert.equal(result.timeline.filter((e) => e.type === 'StateRetried').length, 2);
  assert.equal(reports()[0].outcome, 'SUCCEEDED');
  note(`Sandbox.Timedout (copy-table, resuming ${JSON.parse(timedOut).continuation}) and States.Timeout (sync-bucket) retried with the continuation they timed out on; run SUCCEEDED`);
});
