// Flow tests of infra/statemachines/refresh.asl.json: the real definition, run by
// aws-local-stepfunctions, every Task calling the real functions under `cargo lambda watch`, against
// the local AWS endpoint. Each test seeds its own world after emptying the endpoint; tests run one
// after the other.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { describeCause } from '../runner.mjs';
import {
  LOGS,
  buildFunctions,
  demoRequest,
  facts,
  invocationsBy,
  note,
  refresh,
  seedWorld,
  startEndpoint,
  startFunctions,
  statesEntered,
} from './harness.mjs';

let endpoint;
let functions;
let cappedFunctions;

before(async () => {
  endpoint = await startEndpoint();
  const built = buildFunctions('refresh');
  note(`built ${built.join(', ')}`);
  functions = await startFunctions(endpoint.url);
  note(`local AWS endpoint at ${endpoint.url}, functions at ${functions.url}, logs in ${LOGS}`);
}, { timeout: 30 * 60 * 1000 });

after(() => {
  cappedFunctions?.stop();
  functions?.stop();
  endpoint?.stop();
});

const TEST_TIMEOUT = 5 * 60 * 1000;

function failure(result) {
  return `${result.status} ${result.error ?? ''}: ${describeCause(result.cause)}`;
}

/** Consumers by function name: {before, after}. */
function consumerStates(f) {
  return Object.fromEntries(f.consumers.map((c) => [c.function, c.after]));
}

/**
 * Every address of the seeded source ('…@example.com') found anywhere in a run's history: the
 * events (state inputs and outputs) of the execution and of every execution it started, and the
 * functions' inputs.
 */
function productionAddresses(result) {
  const history = JSON.stringify([result.timeline, result.invocations, result.output]);
  return [...new Set(history.match(/[A-Za-z0-9._%+-]+@example\.com/g) ?? [])];
}

function table(f, target) {
  return f.tables.find((t) => t.target === target);
}

test('a refresh with a scan table, a glue table and a bucket succeeds and leaves a masked copy', { timeout: TEST_TIMEOUT }, async () => {
  seedWorld(endpoint.url, { world: 'showcase', gluePolls: 2 });
  const before = facts(endpoint.url);
  const result = await refresh(functions, demoRequest(), 'success');
  assert.equal(result.status, 'SUCCEEDED', failure(result));
  note(`execution SUCCEEDED in ${(result.durationMs / 1000).toFixed(1)}s`);

  const f = facts(endpoint.url, demoRequest(), result);
  const alpha = table(f, 'efcms-test-alpha');
  assert.equal(alpha.target_items, alpha.source_items);
  assert.ok(alpha.source_items > 300);
  note(`scan table: ${alpha.target_items} target items = ${alpha.source_items} source items`);
  assert.equal(alpha.example_com_strings, 0);
  assert.equal(alpha.unmasked_emails, 0);
  assert.ok(alpha.masked_strings > 0);
  note(`scan table masked: ${alpha.masked_strings} strings at @example.invalid, no '@example.com' or other address left`);

  const glue = result.output.results.data.tables.find((t) => t.engine === 'glue');
  assert.match(glue.detail, /^SUCCEEDED/);
  const glueChecks = result.invocations.filter((i) => i.state === 'CheckGlue').length;
  assert.ok(glueChecks > 1, `CheckGlue ran ${glueChecks} time(s)`);
  note(`glue table: job run ${glue.job_run_id} SUCCEEDED after ${glueChecks} status checks (Wait loop)`);

  const bucket = f.buckets[0];
  assert.ok(bucket.identical, JSON.stringify(bucket));
  assert.ok(before.buckets[0].target_objects !== bucket.target_objects || !before.buckets[0].identical);
  note(`bucket synced: ${bucket.target_objects} objects, same keys and ETags as the source (stale ones deleted)`);

  assert.deepEqual(consumerStates(f), consumerStates(before));
  assert.deepEqual(consumerStates(f), { streams_test_blue: 'Enabled', streams_test_green: 'Disabled' });
  const paused = result.output.results.pause.toggle.changed;
  const blue = f.consumers.find((c) => c.function === 'streams_test_blue');
  assert.deepEqual(paused, [blue.mapping_id]);
  assert.deepEqual(result.output.results.resume.toggle.changed, [blue.mapping_id]);
  note('blue was paused and resumed (Enabled after), green stayed Disabled and was never touched');

  assert.deepEqual(f.deploy_table.settings, {
    migrate: false, 'source-table-version': 'alpha', 'destination-table-version': 'alpha',
  });
  note('deploy table holds the three settings');
  assert.deepEqual(f.manifests.keys, [`runs/refresh/${result.runId}/manifest.json`]);
  assert.equal(f.manifests.outcome, 'SUCCEEDED');
  assert.equal(result.output.report.manifest, `s3://ferry-artifacts/runs/refresh/${result.runId}/manifest.json`);
  note(`report manifest written: ${result.output.report.manifest} (outcome SUCCEEDED)`);

  // Each table, segment phase and bucket ran in an execution of its own, each within the worst
  // case preflight computed for it.
  const limits = result.output.plan.limits;
  const runs = (r) => [r, ...r.children.flatMap(runs)];
  const machines = runs(result).slice(1).map((r) => r.runId.split('.').at(-2));
  const count = (m) => machines.filter((x) => x === m).length;
  assert.equal(count('refresh-table'), 2);
  assert.equal(count('refresh-segment'), 2 * demoRequest().tables.find((t) => t.engine === 'scan').segments);
  assert.equal(count('refresh-bucket'), 2, 'one bucket counted before the pause, then synced');
  assert.ok(result.events.length <= limits.refresh_events, `${result.events.length} > ${limits.refresh_events}`);
  const largest = Math.max(...runs(result).slice(1).map((r) => r.events.length));
  assert.ok(largest <= limits.largest_child_events, `${largest} > ${limits.largest_child_events}`);
  assert.ok(limits.refresh_events <= limits.events_allowed && limits.state_bytes <= limits.state_bytes_allowed);
  note(`executions: refresh ${result.events.length} events (worst case ${limits.refresh_events}), `
    + `${machines.length} children: ${count('refresh-table')} tables, ${count('refresh-segment')} segment phases, `
    + `${count('refresh-bucket')} bucket runs, the largest ${largest} events (worst case ${limits.largest_child_events}, ${limits.largest_child})`);
});

test('a Glue job that fails resumes the consumers and fails the run with JobFailed and the job message', { timeout: TEST_TIMEOUT }, async () => {
  const message = 'AnalysisException: table efcms-prod-big has no column gsi1pk';
  seedWorld(endpoint.url, { world: 'demo', glueFails: message, gluePolls: 1 });
  const result = await refresh(functions, demoRequest(), 'glue-fails');
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'JobFailed');
  assert.ok(result.cause.includes(message), result.cause);
  assert.ok(result.cause.includes('ferry-refresh-table'), result.cause);
  note(`execution FAILED with JobFailed: ${result.cause}`);

  const entered = statesEntered(result);
  assert.ok(entered.indexOf('ResumeConsumers') > entered.indexOf('GlueFailed'));
  assert.ok(entered.includes('ReportFailure'));
  const f = facts(endpoint.url, demoRequest(), result);
  assert.deepEqual(consumerStates(f), { streams_test_blue: 'Enabled', streams_test_green: 'Disabled' });
  note('consumers resumed after the failure: blue Enabled, green Disabled');
  assert.equal(f.manifests.outcome, 'FAILED');
  assert.equal(f.manifests.error.error, 'JobFailed');
  note('report manifest records outcome FAILED with the JobFailed error');
});

test('a protected target fails in preflight with ProtectedTarget and writes nothing', { timeout: TEST_TIMEOUT }, async () => {
  seedWorld(endpoint.url, { world: 'demo' });
  const before = facts(endpoint.url);
  const input = demoRequest();
  input.target.role_arn = 'arn:aws:iam::111111111111:role/ferry-target';
  const result = await refresh(functions, input, 'protected');
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'ProtectedTarget');
  assert.match(describeCause(result.cause), /111111111111.*protected/);
  note(`execution FAILED in preflight: ProtectedTarget: ${describeCause(result.cause)}`);
  assert.deepEqual(result.invocations.map((i) => i.name), ['preflight', 'report']);
  note('only preflight and report ran');

  const f = facts(endpoint.url);
  assert.deepEqual(f.deploy_table.settings, {});
  assert.deepEqual(consumerStates(f), consumerStates(before));
  assert.deepEqual(f.tables.map((t) => t.digest), before.tables.map((t) => t.digest));
  assert.deepEqual(f.buckets.map((b) => b.digest), before.buckets.map((b) => b.digest));
  note('nothing written: deploy table empty, mappings, target tables and bucket unchanged');
  const manifest = facts(endpoint.url, demoRequest(), result).manifests;
  assert.equal(manifest.outcome, 'FAILED');
  note('the failure is reported (manifest with outcome FAILED)');
});

test('a dry run succeeds with the plan as output and writes nothing', { timeout: TEST_TIMEOUT }, async () => {
  seedWorld(endpoint.url, { world: 'demo' });
  const before = facts(endpoint.url);
  const input = { ...demoRequest(), dry_run: true };
  const result = await refresh(functions, input, 'dry-run');
  assert.equal(result.status, 'SUCCEEDED', failure(result));
  assert.equal(result.output.run_id, result.runId);
  assert.equal(result.output.dry_run, true);
  assert.equal(result.output.tables.length, 2);
  assert.equal(result.output.pause.length, 1);
  note(`execution SUCCEEDED with the plan as output (${result.output.tables.length} tables, ${result.output.pause.length} consumer to pause)`);
  assert.deepEqual(result.invocations.map((i) => i.name), ['preflight', 'report']);

  const f = facts(endpoint.url);
  assert.deepEqual(f.deploy_table.settings, {});
  assert.deepEqual(consumerStates(f), consumerStates(before));
  assert.deepEqual(f.tables.map((t) => t.digest), before.tables.map((t) => t.digest));
  assert.deepEqual(f.buckets.map((b) => b.digest), before.buckets.map((b) => b.digest));
  note('nothing written: only preflight and report ran; deploy table, mappings, tables and bucket unchanged');
});

test('copy-table and sync-bucket continue across invocations when each may work only briefly', { timeout: TEST_TIMEOUT }, async () => {
  cappedFunctions = await startFunctions(endpoint.url, { FERRY_MAX_WORK_SECONDS: '0' }, 'functions-capped');
  note('a second cargo lambda watch with FERRY_MAX_WORK_SECONDS=0');
  seedWorld(endpoint.url, { world: 'bulk' });
  const input = demoRequest();
  input.tables = [{ source: 'efcms-prod-alpha', target: 'efcms-test-alpha', engine: 'scan', segments: 2, mode: 'replace' }];
  // Capped invocations end long before the 880 s the deadline arithmetic counts on, so give them
  // the longest deadline: a week allows 689 invocations per segment phase.
  input.polling = { ...input.polling, deadline_seconds: 7 * 24 * 3600 };
  const result = await refresh(cappedFunctions, input, 'continuation');
  assert.equal(result.status, 'SUCCEEDED', failure(result));

  const copies = invocationsBy(result, 'CopySegment', (i) => `${i.phase} ${i.segment}`);
  for (const k of [...copies.keys()]) if (k.startsWith('clear')) copies.delete(k);
  assert.deepEqual([...copies.keys()].sort(), ['copy 0', 'copy 1']);
  for (const [segment, n] of copies) assert.ok(n > 1, `segment ${segment}: copy-table invoked ${n} time(s)`);
  note(`copy-table (copy phase) invoked ${[...copies.values()].join(' and ')} times for segments 0 and 1`);
  const counted = result.output.results.data.tables[0].copied.map((s) => s.counts.invocations);
  assert.deepEqual(counted, [copies.get('copy 0'), copies.get('copy 1')]);
  const syncs = result.invocations.filter((i) => i.state === 'SyncBucket').length;
  assert.ok(syncs > 1, `sync-bucket invoked ${syncs} time(s)`);
  note(`sync-bucket invoked ${syncs} times for its one bucket, resuming from its progress`);

  const f = facts(endpoint.url, input, result);
  const alpha = table(f, 'efcms-test-alpha');
  assert.equal(alpha.target_items, alpha.source_items);
  assert.equal(alpha.example_com_strings, 0);
  assert.ok(f.buckets[0].identical);
  note(`${alpha.target_items} items copied and masked across pages, bucket identical`);
  const history = result.timeline.length;
  assert.ok(result.invocations.some((i) => i.input.progress?.continuation), 'continuations were passed on');
  assert.deepEqual(productionAddresses(result), []);
  note(`no source address in the ${history} events of the run and its children, nor in any function input or output (continuations are sealed)`);
  cappedFunctions.stop();
  cappedFunctions = undefined;
});

test('the max-delete guard stops the run before anything changes: no clear, no pause, the run fails with its message', { timeout: TEST_TIMEOUT }, async () => {
  seedWorld(endpoint.url, { world: 'demo', staleObjects: 5 });
  const before = facts(endpoint.url);
  const input = demoRequest();
  input.buckets[0].max_delete = 2;
  const result = await refresh(functions, input, 'max-delete');
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'InvalidInput');
  assert.match(describeCause(result.cause), /more than max_delete 2/);
  note(`execution FAILED: InvalidInput: ${describeCause(result.cause)}`);
  const entered = statesEntered(result);
  assert.ok(entered.includes('CheckBuckets') && entered.includes('ReportFailureBeforePause'), entered.join(' > '));
  for (const state of ['SetupDeployTable', 'PauseConsumers', 'CopyData', 'CopySegment']) {
    assert.ok(!entered.includes(state), `${state} ran: ${entered.join(' > ')}`);
  }
  note('the guard failed in CheckBuckets, before the deploy table, the pause or any table clear');
  const f = facts(endpoint.url, demoRequest(), result);
  assert.deepEqual(consumerStates(f), { streams_test_blue: 'Enabled', streams_test_green: 'Disabled' });
  assert.deepEqual(f.tables, before.tables);
  note('consumers never paused (blue Enabled, green Disabled), every target table as it was');
  assert.equal(f.buckets[0].digest, before.buckets[0].digest);
  note(`target bucket untouched (${f.buckets[0].target_objects} objects, stale ones kept)`);
  assert.equal(f.manifests.outcome, 'FAILED');
});

test('running a successful refresh again leaves the same target data', { timeout: TEST_TIMEOUT }, async () => {
  seedWorld(endpoint.url, { world: 'showcase', gluePolls: 0 });
  const first = await refresh(functions, demoRequest(), 'rerun-1');
  assert.equal(first.status, 'SUCCEEDED', failure(first));
  const once = facts(endpoint.url);
  const second = await refresh(functions, demoRequest(), 'rerun-2');
  assert.equal(second.status, 'SUCCEEDED', failure(second));
  const twice = facts(endpoint.url);
  // The stream of each target table records both runs' writes; the data must be the same.
  const data = (tables) => tables.map(({ writes, last_write_ms: last, ...rest }) => rest);
  assert.deepEqual(data(twice.tables), data(once.tables));
  assert.deepEqual(twice.buckets, once.buckets);
  assert.deepEqual(twice.deploy_table, once.deploy_table);
  assert.deepEqual(consumerStates(twice), consumerStates(once));
  const alpha = table(twice, 'efcms-test-alpha');
  note(`second run ${second.runId} left identical target data (table digest ${alpha.digest}, ${alpha.target_items} items; bucket digest ${twice.buckets[0].digest})`);
});

/** How long the local endpoint makes each write to efcms-test-alpha take in the stop-writers test. */
const WRITE_DELAY_MS = 250;

test('a branch that fails stops the other branch\'s writers before the consumers resume: no item lands after the resume', { timeout: TEST_TIMEOUT }, async () => {
  const message = 'AnalysisException: table efcms-prod-big has no column gsi1pk';
  // Every write to efcms-test-alpha takes WRITE_DELAY_MS, so each page of its copy (a dozen batches)
  // takes seconds and the copy is still under way when the Glue run fails, eight status checks in
  // (each state read four times): about as far into the run as two checks of a second took.
  seedWorld(endpoint.url, { world: 'bulk', glueFails: message, gluePolls: 4, writeDelayMs: WRITE_DELAY_MS });
  const input = demoRequest();
  input.tables[0].segments = 1;
  // Waits as long as a write: the writers' checks (at most max_settle_polls, 120 at this interval)
  // then span ten times the longest page, far more than it, as they do at the real interval.
  const result = await refresh(functions, input, 'stop-writers', { fastWaitMs: WRITE_DELAY_MS });
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'JobFailed', failure(result));

  const parent = result.events.filter((e) => e.type === 'StateEntered');
  const at = (name) => parent.find((e) => e.state.name === name)?.timestamp;
  const [stopAt, resumeAt] = [at('StopWriters'), at('ResumeConsumers')];
  assert.ok(stopAt && resumeAt && stopAt < resumeAt, 'StopWriters ran before ResumeConsumers');
  const stopped = result.invocations.filter((i) => i.name === 'copy-table').length;
  const checks = parent.filter((e) => e.state.name === 'CheckWriters').length;
  assert.ok(checks >= 1, 'the first stop-writers call found a copy-table invocation still writing');
  note(`StopWriters entered ${stopAt - result.events[0].timestamp} ms into the run; ${checks} check(s) later ResumeConsumers, ${resumeAt - stopAt} ms after it`);

  const f = facts(endpoint.url, input, result);
  const alpha = table(f, 'efcms-test-alpha');
  assert.ok(alpha.writes > 0, 'the copy had begun');
  assert.ok(alpha.last_write_ms <= resumeAt, `a write landed ${alpha.last_write_ms - resumeAt} ms after the resume`);
  note(`${alpha.writes} writes to efcms-test-alpha (${alpha.target_items} of ${alpha.source_items} items, ${stopped} copy-table invocations), the last ${resumeAt - alpha.last_write_ms} ms before the resume`);
  // A writer still at work would land a write every WRITE_DELAY_MS.
  await new Promise((resolve) => setTimeout(resolve, 4 * WRITE_DELAY_MS));
  const later = table(facts(endpoint.url, input, result), 'efcms-test-alpha');
  assert.equal(later.writes, alpha.writes, 'nothing was written after the run ended');
  assert.deepEqual(consumerStates(f), { streams_test_blue: 'Enabled', streams_test_green: 'Disabled' });
  assert.equal(f.manifests.error.error, 'JobFailed');
  note(`${4 * WRITE_DELAY_MS} ms later still no new write; consumers resumed; manifest names JobFailed`);
});
