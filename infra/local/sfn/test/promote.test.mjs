// Flow tests of infra/statemachines/promote.asl.json: the real definition, run by
// aws-local-stepfunctions, every Task calling the real functions under `cargo lambda watch`, against
// the local AWS endpoint (artifact bucket, auth secrets) and the Spark ImpEx simulator (spark-sim)
// serving a source and a target tenant. Each test empties both and seeds its own world; tests run
// one after the other.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { describeCause } from '../runner.mjs';
import {
  LOGS,
  buildFunctions,
  note,
  promote,
  promoteDemoRequest,
  promoteFacts,
  secretArn,
  seedSpark,
  sparkDemoWorld,
  startEndpoint,
  startFunctions,
  startSparkSim,
  statesEntered,
} from './harness.mjs';

let endpoint;
let functions;
let sim;

before(async () => {
  endpoint = await startEndpoint();
  const built = buildFunctions('promote', ['spark-sim']);
  note(`built ${built.join(', ')}`);
  sim = await startSparkSim();
  functions = await startFunctions(endpoint.url, {}, 'functions', 'promote');
  note(`local AWS endpoint at ${endpoint.url}, spark-sim at ${sim.url}, functions at ${functions.url}, logs in ${LOGS}`);
}, { timeout: 30 * 60 * 1000 });

after(() => {
  functions?.stop();
  sim?.stop();
  endpoint?.stop();
});

const TEST_TIMEOUT = 3 * 60 * 1000;

// Credentials of this run: none of them may show up in a payload, manifest, event or log.
const UAT_TOKEN = `uat-bearer-${randomBytes(12).toString('hex')}`;
const PROD_CLIENT_SECRET = `prod-client-secret-${randomBytes(12).toString('hex')}`;
const SECRET_VALUES = [UAT_TOKEN, PROD_CLIENT_SECRET];

/** Source acme-uat (bearer token) and target acme-prod (OAuth client credentials). */
function world() {
  return {
    tenants: [
      {
        name: 'acme-uat',
        folders: ['pricing'],
        services: [
          { folder: 'pricing', service: 'quote', versions: ['1.0.0', '1.1.0'] },
          { folder: 'pricing', service: 'rater', versions: ['2.0.0'] },
        ],
        bearer_tokens: [UAT_TOKEN],
        export_polls: 2,
      },
      {
        name: 'acme-prod',
        folders: ['pricing'],
        services: [
          { folder: 'pricing', service: 'quote-v2', versions: ['1.0.0', '1.4.0'] },
          { folder: 'pricing', service: 'legacy', versions: ['3.2.1'] },
        ],
        clients: [{ client_id: 'ferry-promote', client_secret: PROD_CLIENT_SECRET }],
        import_polls: 2,
      },
    ],
    secrets: {
      'ferry/spark-uat': { bearer_token: UAT_TOKEN },
      'ferry/spark-prod': { client_id: 'ferry-promote', client_secret: PROD_CLIENT_SECRET },
    },
  };
}

/** quote → quote-v2 (exists on the target: add_version) and rater → rater-v2 (absent: create). */
function request() {
  return {
    dry_run: false,
    platform: 'spark',
    source: { name: 'uat', spark: { base_url: sim.baseUrl('acme-uat'), auth_secret_arn: secretArn('ferry/spark-uat') } },
    target: { name: 'prod', spark: { base_url: sim.baseUrl('acme-prod'), auth_secret_arn: secretArn('ferry/spark-prod') } },
    spark: {
      services: [
        { source: 'pricing/quote', target: 'pricing/quote-v2', upgrade: 'minor' },
        { source: 'pricing/rater', target: 'pricing/rater-v2', upgrade: 'major' },
      ],
      services_existing: 'add_version',
    },
    polling: { interval_seconds: 1, deadline_seconds: 60 },
  };
}

function failure(result) {
  return `${result.status} ${result.error ?? ''}: ${describeCause(result.cause)}`;
}

/** `folder/service` → version labels, oldest first. */
function versions(tenant) {
  return Object.fromEntries(tenant.services.map((s) => [`${s.folder}/${s.service}`, s.versions.map((v) => v.version)]));
}

/** Requests that started an import on `tenant`. */
function exportStarts(requests, tenant) {
  return requests.filter((r) => r.method === 'POST' && r.path === `/${tenant}/api/v4/export`);
}

function importStarts(requests, tenant) {
  return requests.filter((r) => r.method === 'POST' && r.path === `/${tenant}/api/v4/import`);
}

function assertStoredBundle(f, runId) {
  const keys = f.bundle.objects.map((o) => o.key);
  assert.deepEqual(keys, [`bundles/spark/${runId}/export-1.zip`, `bundles/spark/${runId}/manifest.json`]);
  assert.equal(f.bundle.checks.length, 1);
  assert.ok(f.bundle.checks[0].matches, JSON.stringify(f.bundle.checks));
  return f.bundle.checks[0];
}

test('a promotion creates one service and adds a version to another on the target, keeps the bundle and reports it', { timeout: TEST_TIMEOUT }, async () => {
  seedSpark(endpoint.url, sim, world());
  const sourceBefore = await sim.tenant('acme-uat');
  const input = request();
  const result = await promote(functions, input, 'success');
  assert.equal(result.status, 'SUCCEEDED', failure(result));
  note(`execution SUCCEEDED in ${(result.durationMs / 1000).toFixed(1)}s`);
  const checks = result.invocations.filter((i) => i.state === 'CheckExport').length;
  assert.ok(checks > 1, `CheckExport ran ${checks} time(s)`);
  note(`export polled ${checks} times, import polled ${result.invocations.filter((i) => i.state === 'CheckImport').length} times (Wait loops)`);

  const target = await sim.tenant('acme-prod');
  assert.deepEqual(versions(target), {
    'pricing/quote-v2': ['1.0.0', '1.4.0', '1.5.0'],
    'pricing/legacy': ['3.2.1'],
    'pricing/rater-v2': ['2.0.0'],
  });
  note('target acme-prod: pricing/quote-v2 1.0.0, 1.4.0 + 1.5.0 (minor bump), pricing/rater-v2 created with 2.0.0, pricing/legacy untouched');
  assert.deepEqual(versions(await sim.tenant('acme-uat')), versions(sourceBefore));
  const plan = result.output.results.plan;
  assert.deepEqual(plan.changes.map((c) => [c.target, c.action, c.new_versions]), [
    ['pricing/quote-v2', 'add_version', ['1.5.0']],
    ['pricing/rater-v2', 'create', ['2.0.0']],
  ]);
  assert.deepEqual(result.output.results.verification.services.map((s) => [s.target, s.versions, s.latest]), [
    ['pricing/quote-v2', ['1.5.0'], '1.5.0'],
    ['pricing/rater-v2', ['2.0.0'], '2.0.0'],
  ]);
  note('plan and verification agree with the target: add_version 1.5.0, create 2.0.0');

  const requests = await sim.requests();
  const auth = (tenant) => new Set(requests.filter((r) => r.tenant === tenant && !r.path.includes('/openid-connect/token')).map((r) => r.auth));
  assert.deepEqual([...auth('acme-uat')], ['bearer']);
  assert.deepEqual([...auth('acme-prod')], ['oauth']);
  assert.ok(requests.some((r) => r.method === 'POST' && r.path === '/auth/realms/acme-prod/protocol/openid-connect/token' && r.status === 200));
  assert.equal(importStarts(requests, 'acme-prod').length, 1);
  note('source called with its bearer token, target with an OAuth token from client credentials; one import started');

  const f = promoteFacts(endpoint.url, sim, input, result);
  const zip = assertStoredBundle(f, result.runId);
  assert.equal(f.bundle.manifest.run_id, result.runId);
  assert.deepEqual(f.bundle.manifest.items, [
    { uri: 'pricing/quote', versions: ['1.1.0'] },
    { uri: 'pricing/rater', versions: ['2.0.0'] },
  ]);
  note(`bundle s3://ferry-artifacts/${f.bundle.prefix}: export-1.zip (${zip.size} bytes) sha256 ${zip.sha256.slice(0, 12)}… = manifest.json`);
  assert.equal(f.outcome, 'SUCCEEDED');
  assert.equal(result.output.report.manifest, f.run_manifest.uri);
  note(`run manifest ${f.run_manifest.uri} (outcome SUCCEEDED)`);

  const places = {
    'run manifest': f.run_manifest.text,
    'bundle manifest': f.bundle.manifest_text,
    'execution output': JSON.stringify(result.output),
    'execution events': JSON.stringify(result.events),
    'function inputs': JSON.stringify(result.invocations),
    'function logs': readFileSync(functions.log, 'utf8'),
  };
  for (const [place, text] of Object.entries(places)) {
    assert.ok(text && text.length > 0, `${place} is empty`);
    for (const secret of SECRET_VALUES) assert.ok(!text.includes(secret), `${place} holds a secret value`);
  }
  note(`no token or client secret in ${Object.keys(places).join(', ')}`);
});

test('a dry run of the demo input answers the plan and imports nothing', { timeout: TEST_TIMEOUT }, async () => {
  seedSpark(endpoint.url, sim, sparkDemoWorld());
  const before = await sim.tenant('acme-prod');
  const input = { ...promoteDemoRequest(sim.url), dry_run: true };
  const result = await promote(functions, input, 'dry-run');
  assert.equal(result.status, 'SUCCEEDED', failure(result));
  assert.deepEqual(result.output, {
    target: 'prod',
    tenant: 'acme-prod',
    changes: [
      { source: 'pricing/quote', target: 'pricing/quote', action: 'add_version', existing_latest: '1.0.0', new_versions: ['1.1.0'] },
      { source: 'pricing/rater', target: 'pricing/rater', action: 'create', new_versions: ['1.0.0'] },
    ],
  });
  note('execution SUCCEEDED with the plan as output: pricing/quote add_version 1.1.0, pricing/rater create 1.0.0');
  assert.deepEqual(result.invocations.map((i) => i.state).filter((s) => !s.startsWith('Check')),
    ['ExportService', 'StoreBundle', 'Plan', 'ReportDryRun']);

  assert.deepEqual(await sim.tenant('acme-prod'), before);
  assert.deepEqual(importStarts(await sim.requests(), 'acme-prod'), []);
  note('target unchanged (services, versions, no job); no import request in the simulator log');
  const f = promoteFacts(endpoint.url, sim, input, result);
  assertStoredBundle(f, result.runId);
  assert.equal(f.outcome, 'DRY_RUN');
  assert.deepEqual(f.run_manifest.manifest.plan, result.output);
  note(`bundle kept; run manifest outcome DRY_RUN with the plan`);
});

test('a missing destination folder fails with NotFound naming every one, before anything is exported', { timeout: TEST_TIMEOUT }, async () => {
  seedSpark(endpoint.url, sim, world());
  const before = await sim.tenant('acme-prod');
  const input = request();
  input.spark.services[0].target = 'tariffs/quote';
  input.spark.services[1].target = 'rating/rater';
  const result = await promote(functions, input, 'folder-missing');
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'NotFound', failure(result));
  const cause = describeCause(result.cause);
  assert.match(cause, /Spark folder 'rating'/);
  assert.match(cause, /Spark folder 'tariffs'/);
  assert.match(cause, /acme-prod/);
  note(`execution FAILED: NotFound: ${cause}`);
  const entered = statesEntered(result);
  assert.ok(!entered.includes('StoreBundle') && !entered.includes('ImportService'), entered.join(' > '));
  const requests = await sim.requests();
  assert.deepEqual(exportStarts(requests, 'acme-uat'), []);
  assert.deepEqual(importStarts(requests, 'acme-prod'), []);
  assert.deepEqual(await sim.tenant('acme-prod'), before);
  note('failed in ExportService: no export and no import request, target unchanged');
  const f = promoteFacts(endpoint.url, sim, input, result);
  assert.deepEqual(f.bundle.objects, []);
  assert.equal(f.outcome, 'FAILED');
  assert.equal(f.run_manifest.manifest.error.error, 'NotFound');
  note('no bundle; run reported FAILED with NotFound');
});

test('an import that completes with errors fails with JobFailed naming the job and its message; the target is unchanged', { timeout: TEST_TIMEOUT }, async () => {
  seedSpark(endpoint.url, sim, world());
  const message = 'engine file of pricing/quote-v2 failed validation: sheet Rates is missing';
  await sim.fault('acme-prod', { fault: 'import_errors', message });
  const before = await sim.tenant('acme-prod');
  const input = request();
  const result = await promote(functions, input, 'import-errors');
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'JobFailed', failure(result));
  const jobs = (await sim.tenant('acme-prod')).jobs.filter((j) => j.object === 'import');
  assert.equal(jobs.length, 1);
  const cause = describeCause(result.cause);
  assert.ok(cause.includes(jobs[0].id), cause);
  assert.ok(cause.includes(message), cause);
  note(`execution FAILED: JobFailed: ${cause}`);
  assert.ok(!statesEntered(result).includes('Verify'));
  assert.deepEqual(versions(await sim.tenant('acme-prod')), versions(before));
  note('target services and versions unchanged');
  const f = promoteFacts(endpoint.url, sim, input, result);
  assert.equal(f.outcome, 'FAILED');
  assert.equal(f.run_manifest.manifest.error.error, 'JobFailed');
  note('run reported FAILED with JobFailed');
});

test('an export that never completes times out with JobTimedOut after max_polls checks and is cancelled', { timeout: TEST_TIMEOUT }, async () => {
  seedSpark(endpoint.url, sim, world());
  await sim.fault('acme-uat', { fault: 'export_never_completes' });
  const input = request();
  // The shortest deadline the contract allows over a long interval: max_polls = 60 / 20 = 3 (the
  // runner shortens every Wait anyway).
  input.polling = { interval_seconds: 20, deadline_seconds: 60 };
  const result = await promote(functions, input, 'export-timeout');
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'JobTimedOut', failure(result));
  const exports = (await sim.tenant('acme-uat')).jobs.filter((j) => j.object === 'export');
  assert.equal(exports.length, 1);
  const cause = describeCause(result.cause);
  assert.ok(cause.includes(exports[0].id), cause);
  assert.match(cause, /3 status checks/);
  assert.match(cause, /last status: in_progress/);
  assert.equal(result.invocations.filter((i) => i.state === 'CheckExport').length, 3);
  note(`execution FAILED after 3 status checks: JobTimedOut: ${cause}`);
  const entered = statesEntered(result);
  assert.ok(entered.indexOf('CancelExport') > entered.indexOf('ExportTimedOut'), entered.join(' > '));
  assert.equal(exports[0].status, 'cancelled');
  assert.deepEqual((await sim.tenant('acme-uat')).jobs.filter((j) => j.status === 'in_progress'), []);
  assert.ok((await sim.requests()).some((r) => r.method === 'PATCH' && r.path === `/acme-uat/api/v4/export/${exports[0].id}`));
  note(`export job ${exports[0].id} cancelled: the tenant's job slot is free`);
  assert.ok(!entered.includes('StoreBundle') && !entered.includes('Plan'));
  const f = promoteFacts(endpoint.url, sim, input, result);
  assert.deepEqual(f.bundle.objects, []);
  assert.equal(f.outcome, 'FAILED');
  assert.equal(f.run_manifest.manifest.error.error, 'JobTimedOut');
  note('no bundle stored; run reported FAILED with JobTimedOut');
});

test('invalid input fails with InvalidInput naming the bad fields before the simulator is called', { timeout: TEST_TIMEOUT }, async () => {
  seedSpark(endpoint.url, sim, world());
  const input = request();
  input.spark.services[1].upgrade = 'sideways';
  input.target.spark.base_url = 'http://10.1.2.3/acme-prod';
  const result = await promote(functions, input, 'invalid');
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'InvalidInput', failure(result));
  const cause = describeCause(result.cause);
  assert.match(cause, /spark\.services\[1\]\.upgrade/);
  assert.match(cause, /target\.spark\.base_url/);
  note(`execution FAILED: InvalidInput: ${cause}`);
  assert.deepEqual(result.invocations.map((i) => i.name), ['export-service', 'report']);
  assert.deepEqual(await sim.requests(), []);
  note('only export-service (start) and report ran; the simulator logged no request');
  const f = promoteFacts(endpoint.url, sim, input, result);
  assert.equal(f.outcome, 'FAILED');
  assert.equal(f.run_manifest.manifest.request.spark.services[1].upgrade, 'sideways');
  note('run reported FAILED with the request as given');
});
