// Flow tests of Data Fusion promotions through infra/statemachines/promote.asl.json: the real
// definition, run by aws-local-stepfunctions, every Task calling the real functions under
// `cargo lambda watch`, against the local AWS endpoint (artifact bucket, secrets, an EventBridge
// rule feeding a queue) and the CDAP simulator (cdap-sim) playing Google: its token endpoint checks
// the RS256 assertion ferry signs with the service-account key, its Data Fusion API resolves the
// two instances, df-dev on CDAP 6.9.2 and df-qa on 6.10.1.
//
// Executions cost seconds, so the tests share one world and run in order: a plan only; the apply
// (versions rewritten, order respected) with a pipeline run waited for; an idempotent second run
// that deploys nothing; a run that fails, reported with its pipeline and run id; a rollback from
// the apply's before/ snapshot; bad input refused before anything is deployed; and no key or
// token anywhere.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { describeCause, ROOT } from '../runner.mjs';
import {
  LOGS,
  PYTHON,
  buildFunctions,
  note,
  promote,
  run,
  secretArn,
  startEndpoint,
  startFunctions,
  startSimulator,
  statesEntered,
} from './harness.mjs';
import { filesUnder, runFacts, sweepBucket } from './declarative.mjs';

const BUCKET = 'ferry-artifacts';
const INFRA_LOCAL = join(ROOT, 'infra', 'local');
const FIXTURES = join(ROOT, 'tests', 'fixtures', 'google');
const TEST_TIMEOUT = 3 * 60 * 1000;
const KEY = JSON.parse(readFileSync(join(FIXTURES, 'service-account.json'), 'utf8'));
const EMAIL = KEY.client_email;
const DEV_SECRET = 'ferry/config-gcp-dev';
const QA_SECRET = 'ferry/config-gcp-qa';
const BAD_SECRET = 'ferry/config-gcp-bad';
const VERSION_DEV = '6.9.2';
const VERSION_QA = '6.10.1';

let endpoint;
let functions;
let cdap;
// Shared between the tests, in order.
const world = {};

/** A pipeline config as the studio exports it (stage ids, positions, icons, hash keys). */
function pipelineConfig(path, version, format = 'parquet') {
  return {
    description: 'a pipeline',
    stages: [
      { name: 'GCS', id: 'GCS', _uiPosition: { top: '100px', left: '50px' }, icon: 'icon-gcs',
        plugin: { name: 'GCSFile', type: 'batchsource', label: 'GCS',
          artifact: { name: 'google-cloud', version: '0.22.0', scope: 'SYSTEM' },
          properties: { path, format } } },
      { name: 'Wrangler', id: 'Wrangler', $$hashKey: 'object:12',
        plugin: { name: 'Wrangler', type: 'transform', label: 'Wrangler',
          artifact: { name: 'wrangler-transform', version, scope: 'SYSTEM' },
          properties: { directives: 'drop :ssn' } } },
    ],
    connections: [{ from: 'GCS', to: 'Wrangler' }],
    engine: 'spark',
  };
}

function app(namespace, name, path, version) {
  return { namespace, name, description: `${name} pipeline`,
    artifact: { name: 'cdap-data-pipeline', version, scope: 'SYSTEM' }, config: pipelineConfig(path, version) };
}

function plugins(version) {
  return [{ name: 'google-cloud', version: '0.22.0', scope: 'SYSTEM' },
    { name: 'wrangler-transform', version, scope: 'SYSTEM' }];
}

const PROVISIONER = { name: 'gcp-dataproc', properties: [{ name: 'region', value: 'us-central1', isEditable: true }] };

/** df-dev (6.9.2): three pipelines, a profile, preferences; df-qa (6.10.1): one extra pipeline. */
async function seedWorld() {
  await cdap.control('POST', '/control/service-accounts',
    { client_email: EMAIL, public_key_file: join(FIXTURES, 'sa-public.pem') });
  await cdap.control('POST', '/control/instances', {
    name: 'df-dev', project: 'acme-dev', location: 'us-central1', version: VERSION_DEV, plugins: plugins(VERSION_DEV),
    namespaces: [{ name: 'sales', description: 'Sales', config: {} }],
    apps: [app('default', 'GCS-Parquet-To-AVRO', 'gs://dev/in', VERSION_DEV),
      app('default', 'daily-orders', 'gs://dev/orders', VERSION_DEV),
      app('sales', 'sales-rollup', 'gs://dev/sales', VERSION_DEV)],
    profiles: [{ name: 'dataproc-large', label: 'Large', description: '16 workers', provisioner: PROVISIONER }],
    preferences: [{ namespace: 'default', app: 'daily-orders', values: { 'system.profile.name': 'SYSTEM:dataproc-large' } }],
  });
  await cdap.control('POST', '/control/instances', {
    name: 'df-qa', project: 'acme-qa', location: 'us-central1', version: VERSION_QA, plugins: plugins(VERSION_QA),
    apps: [app('default', 'legacy-export', 'gs://qa/legacy', VERSION_QA)],
  });
}

/**
 * Creates the artifact bucket, stores the secrets in ferry's own account (from a file outside
 * LOGS, removed at once) and sends ferry's events to the queue the facts read.
 */
function seedAws(endpointUrl) {
  const key = { ...KEY, token_uri: `${cdap.url}/token` };
  const dir = mkdtempSync(join(tmpdir(), 'ferry-datafusion-'));
  try {
    const file = join(dir, 'world.json');
    writeFileSync(file, JSON.stringify({
      secrets: { [DEV_SECRET]: key, [QA_SECRET]: key, [BAD_SECRET]: { type: 'authorized_user', refresh_token: 'r' } },
    }));
    run(PYTHON, [join(INFRA_LOCAL, 'seed.py'), '--endpoint', endpointUrl, '--reset', '--world', 'none',
      '--artifact-bucket', BUCKET, '--datafusion', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  run(PYTHON, [join(INFRA_LOCAL, 'sesam_summary.py'), '--endpoint', endpointUrl, '--capture-events']);
}

before(async () => {
  endpoint = await startEndpoint();
  const built = buildFunctions('promote', ['cdap-sim']);
  note(`built ${built.join(', ')} and cdap-sim`);
  cdap = await startSimulator('cdap-sim', '/control/counts');
  functions = await startFunctions(endpoint.url, {}, 'functions', 'promote');
  seedAws(endpoint.url);
  await seedWorld();
  world.seeded = await deployCounts();
  note(`local AWS endpoint at ${endpoint.url}, cdap-sim at ${cdap.url}, functions at ${functions.url}, logs in ${LOGS}`);
}, { timeout: 30 * 60 * 1000 });

after(() => {
  functions?.stop();
  cdap?.stop();
  endpoint?.stop();
});

function side(project, name, secret) {
  return { instance: `projects/${project}/locations/us-central1/instances/${name}`, control_plane_url: cdap.url,
    auth_secret_arn: secretArn(secret) };
}

function request({ dryRun = false, start = [], prune = false, maxDelete = 5, pipelines = ['*'] } = {}) {
  return {
    dry_run: dryRun,
    platform: 'datafusion',
    source: { name: 'dev', datafusion: side('acme-dev', 'df-dev', DEV_SECRET) },
    target: { name: 'qa', datafusion: side('acme-qa', 'df-qa', QA_SECRET) },
    datafusion: { namespaces: ['default', 'sales'], pipelines, prune, max_delete: maxDelete, start, timeout_seconds: 30 },
    polling: { interval_seconds: 1, deadline_seconds: 120 },
  };
}

const qa = () => cdap.control('GET', '/control/instances/df-qa');
const deployCounts = async () => (await cdap.control('GET', '/control/counts')).deploys['df-qa'] ?? {};

/** Deploys to df-qa since the world was seeded, `ns/name` → count (the seed's own are not counted). */
async function deploys() {
  const out = {};
  for (const [ns, apps] of Object.entries(await deployCounts())) {
    for (const [name, count] of Object.entries(apps)) {
      const since = count - (world.seeded?.[ns]?.[name] ?? 0);
      if (since > 0) out[`${ns}/${name}`] = since;
    }
  }
  return out;
}
const requests = () => cdap.control('GET', '/control/requests');
const failure = (result) => `${result.status} ${result.error ?? ''}: ${describeCause(result.cause)}`;
const took = (result) => `${(result.durationMs / 1000).toFixed(1)}s`;

/** The pipelines of an instance's state: `ns/name` → artifact version. */
function pipelinesOf(state) {
  const out = {};
  for (const [ns, view] of Object.entries(state.namespaces)) {
    for (const [name, a] of Object.entries(view.apps ?? {})) out[`${ns}/${name}`] = a.artifact.version;
  }
  return out;
}

// Texts of every run (outputs, execution events, function inputs, errors, run manifests, ferry
// events) for the secrets test.
const seen = [];

async function execute(input, label) {
  const result = await promote(functions, input, label);
  const facts = runFacts(endpoint.url, BUCKET, 'datafusion', result.runId);
  seen.push([`${label}: execution output`, JSON.stringify(result.output)]);
  seen.push([`${label}: execution events`, JSON.stringify(result.events)]);
  seen.push([`${label}: function inputs`, JSON.stringify(result.invocations)]);
  seen.push([`${label}: execution error`, `${result.error ?? ''} ${result.cause ?? ''}`]);
  seen.push([`${label}: run manifest`, facts.run_manifest.text ?? '']);
  seen.push([`${label}: events`, JSON.stringify(facts.events)]);
  return { result, facts };
}

test('a dry run plans namespaces, profiles, pipelines and preferences in order and deploys nothing', { timeout: TEST_TIMEOUT }, async () => {
  const { result, facts } = await execute(request({ dryRun: true }), 'plan');
  assert.equal(result.status, 'SUCCEEDED', failure(result));
  assert.deepEqual(result.invocations.map((i) => i.state), ['ExportService', 'Plan', 'ReportDryRun']);
  const plan = result.output;
  assert.equal(plan.platform, 'datafusion');
  assert.deepEqual(plan.counts, { create: 6, update: 0, delete: 0, unchanged: 1, kept: 1, protected: 0 });
  assert.deepEqual(plan.changes.map((c) => `${c.action} ${c.kind}/${c.id}`), [
    'create namespace/sales',
    'create profile/system/dataproc-large',
    'create pipeline/default/GCS-Parquet-To-AVRO',
    'create pipeline/default/daily-orders',
    'create pipeline/sales/sales-rollup',
    'create preferences/default/daily-orders',
  ]);
  assert.deepEqual(plan.kept, ['pipeline/default/legacy-export']);
  assert.deepEqual(plan.source, { datafusion: 'projects/acme-dev/locations/us-central1/instances/df-dev',
    version: VERSION_DEV, target_version: VERSION_QA, pipelines_rewritten: 3 });
  assert.deepEqual(await deploys(), {});
  assert.equal(facts.outcome, 'DRY_RUN');
  const drift = facts.events.filter((e) => e.detail_type === 'ferry.drift');
  assert.equal(drift.length, 1);
  note(`dry run SUCCEEDED in ${took(result)}: ${plan.changes.length} creates in dependency order, legacy-export kept, `
    + `3 pipelines rewritten ${VERSION_DEV} → ${VERSION_QA}; nothing deployed; ferry.drift sent`);
});

test('the apply deploys in order with versions rewritten, then runs the pipeline and waits for it', { timeout: TEST_TIMEOUT }, async () => {
  const before = (await requests()).length;
  const input = request({ start: [{ namespace: 'default', pipeline: 'GCS-Parquet-To-AVRO', runtime_args: { 'run.date': '2026-12-01' } }] });
  const { result, facts } = await execute(input, 'apply');
  assert.equal(result.status, 'SUCCEEDED', failure(result));
  const entered = statesEntered(result);
  for (const state of ['ImportService', 'Verify', 'AnythingToStart', 'StartRuns', 'WaitForRuns', 'CheckRuns', 'ReportSuccess']) {
    assert.ok(entered.includes(state), `${state} not entered: ${entered.join(', ')}`);
  }
  const results = result.output.results;
  assert.equal(results.verification.verified, true);
  assert.equal(results.runs_status.state, 'SUCCEEDED');
  const [started] = results.runs.job.runs;
  assert.equal(started.pipeline, 'GCS-Parquet-To-AVRO');

  const state = await qa();
  assert.deepEqual(pipelinesOf(state), { 'default/GCS-Parquet-To-AVRO': VERSION_QA, 'default/daily-orders': VERSION_QA,
    'default/legacy-export': VERSION_QA, 'sales/sales-rollup': VERSION_QA });
  const orders = state.namespaces.default.apps['daily-orders'];
  assert.equal(orders.configuration.stages[1].plugin.artifact.version, VERSION_QA);
  assert.equal(orders.configuration.stages[0].plugin.artifact.version, '0.22.0');
  assert.ok(!JSON.stringify(orders.configuration).includes('_uiPosition'));
  assert.equal(orders.preferences['system.profile.name'], 'SYSTEM:dataproc-large');
  const run = state.namespaces.default.apps['GCS-Parquet-To-AVRO'].runs.find((r) => r.runid === started.run_id);
  assert.equal(run.status, 'COMPLETED');
  assert.match(run.properties.runtimeArgs, /"run.date":"2026-12-01"/);
  assert.match(run.properties.runtimeArgs, new RegExp(`"ferry.run_id":"${result.runId}"`));

  // Order: the namespace before the profile, the profile before the pipelines, preferences last.
  const writes = (await requests()).slice(before).filter((r) => r.method === 'PUT').map((r) => r.endpoint);
  const order = ['namespaces', 'profiles', 'apps', 'preferences'];
  const ranks = writes.map((e) => order.indexOf(e));
  assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b), `writes out of order: ${writes.join(', ')}`);
  assert.deepEqual(await deploys(), { 'default/GCS-Parquet-To-AVRO': 1, 'default/daily-orders': 1, 'sales/sales-rollup': 1 });
  world.before = `s3://${BUCKET}/bundles/datafusion/${result.runId}/before/`;
  assert.ok(facts.before.manifest, 'the apply kept the target as before/');
  note(`apply SUCCEEDED in ${took(result)}: writes ${writes.join(' → ')}; every pipeline on ${VERSION_QA}; `
    + `run ${started.run_id} of GCS-Parquet-To-AVRO waited for until COMPLETED`);
});

test('a second run finds nothing to do and deploys nothing (CDAP would mint a version per deploy)', { timeout: TEST_TIMEOUT }, async () => {
  const counted = await deploys();
  const { result } = await execute(request(), 'again');
  assert.equal(result.status, 'SUCCEEDED', failure(result));
  assert.equal(result.output.results.plan.nothing_to_do, true);
  assert.ok(!statesEntered(result).includes('ImportService'));
  assert.deepEqual(await deploys(), counted);
  assert.equal((await qa()).namespaces.default.apps['legacy-export'].versions.length, 1, 'the extra pipeline is kept');
  note(`second run SUCCEEDED in ${took(result)}: nothing to do, no deploy; legacy-export kept without prune`);
});

test('a failed pipeline run fails the execution, naming the pipeline, the run id and the status', { timeout: TEST_TIMEOUT }, async () => {
  await cdap.control('POST', '/control/instances/df-qa/outcome', { namespace: 'default', app: 'daily-orders', status: 'FAILED' });
  const { result, facts } = await execute(request({ start: [{ namespace: 'default', pipeline: 'daily-orders' }] }), 'failed-run');
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'JobFailed', failure(result));
  const runs = (await qa()).namespaces.default.apps['daily-orders'].runs;
  const failed = runs.find((r) => r.status === 'FAILED');
  assert.ok(failed, JSON.stringify(runs));
  assert.ok(result.cause.includes(`pipeline default/daily-orders run ${failed.runid}: FAILED`), result.cause);
  assert.equal(facts.outcome, 'FAILED');
  note(`run FAILED in ${took(result)} with JobFailed: ${result.cause}`);
});

test('the before/ snapshot rolls the target back (with prune: what the apply created is deleted)', { timeout: TEST_TIMEOUT }, async () => {
  const input = request({ prune: true, maxDelete: 10 });
  input.source = { name: 'before', bundle: world.before };
  const { result } = await execute(input, 'rollback');
  assert.equal(result.status, 'SUCCEEDED', failure(result));
  const plan = result.output.results.plan;
  assert.equal(plan.counts.delete, 5, JSON.stringify(plan.changes));
  const state = await qa();
  assert.deepEqual(pipelinesOf(state), { 'default/legacy-export': VERSION_QA });
  assert.ok(!state.system_profiles.some((p) => p.name === 'dataproc-large'));
  assert.ok(state.system_profiles.some((p) => p.name === 'native'), 'built-in profiles are never touched');
  note(`rollback SUCCEEDED in ${took(result)}: ${plan.changes.map((c) => `${c.action} ${c.kind}/${c.id}`).join('; ')}`);
});

test('bad input fails before anything is deployed, naming every bad field', { timeout: TEST_TIMEOUT }, async () => {
  const counted = await deploys();
  const both = request();
  both.target.datafusion.api_endpoint = `${cdap.url}/instances/df-qa/api`;
  both.source.datafusion.instance = 'projects/Acme/instances/dev';
  let { result } = await execute(both, 'bad-sides');
  assert.equal(result.error, 'InvalidInput', failure(result));
  assert.match(result.cause, /target\.datafusion: must hold exactly one of instance, api_endpoint \(found both\)/);
  assert.match(result.cause, /source\.datafusion\.instance: 'projects\/Acme\/instances\/dev' is not an instance name/);

  ({ result } = await execute(request({ pipelines: ['daily-*', 'nightly-*'] }), 'bad-glob'));
  assert.equal(result.error, 'InvalidInput', failure(result));
  assert.match(result.cause, /datafusion\.pipelines\[1\]: 'nightly-\*' matches no pipeline/);

  const unknown = request();
  unknown.target.datafusion.auth_secret_arn = secretArn(BAD_SECRET);
  ({ result } = await execute(unknown, 'bad-secret'));
  assert.equal(result.error, 'InvalidInput', failure(result));
  assert.match(result.cause, /target\.datafusion\.auth_secret_arn: secret '.*config-gcp-bad' holds credentials of type 'authorized_user'/);
  assert.deepEqual(await deploys(), counted);
  note('both endpoints, a malformed instance, a glob matching nothing and an authorized_user secret: each refused '
    + 'at ExportService with the field named; nothing deployed');
});

test('no key, assertion or token in outputs, events, objects or logs', { timeout: TEST_TIMEOUT }, async () => {
  const keyBody = KEY.private_key.split('\n').filter((l) => l && !l.startsWith('-----'));
  const secrets = [...keyBody.filter((l) => l.length >= 40), 'ya29.sim-', 'sts-sim-', 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIs'];
  const sweep = sweepBucket(endpoint.url, BUCKET, secrets);
  assert.deepEqual(sweep.leaks, []);
  assert.deepEqual(sweep.mismatched, []);
  assert.ok(sweep.objects > 10 && sweep.listed > 10, JSON.stringify(sweep));
  const logs = filesUnder(LOGS);
  for (const [place, text] of [...seen, ...logs]) {
    for (const secret of secrets) assert.ok(!text.includes(secret), `${place} holds ${secret.slice(0, 12)}…`);
  }
  const grants = (await cdap.control('GET', '/control/counts')).grants;
  assert.ok((grants.service_account ?? 0) > 0, JSON.stringify(grants));
  note(`artifact bucket (${sweep.objects} objects), ${seen.length} run texts and ${logs.length} log files hold no `
    + `line of the private key, no access token (ya29.sim-…) and no signed assertion; ${grants.service_account} token grants`);
});
