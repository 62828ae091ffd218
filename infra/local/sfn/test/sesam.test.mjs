// Flow tests of Sesam promotions through infra/statemachines/promote.asl.json: the real definition,
// run by aws-local-stepfunctions, every Task calling the real functions under `cargo lambda watch`,
// against the local AWS endpoint (artifact bucket, secrets, an EventBridge rule feeding a queue),
// a git server with token auth holding the node folder, and the Sesam node simulator (sesam-sim)
// as the target node. Each test empties the endpoint and the simulator, seeds its own world and
// commits its own repository; tests run one after the other.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { describeCause, ROOT } from '../runner.mjs';
import {
  LOGS,
  buildFunctions,
  createGitRepo,
  note,
  promote,
  secretArn,
  seedSesam,
  sesamFacts,
  startEndpoint,
  startFunctions,
  startGitServer,
  startSesamSim,
  statesEntered,
} from './harness.mjs';

// Credentials of this run: none of them may show up in a payload, manifest, event, object or log.
const JWT = `eyJhbGciOiJIUzI1NiJ9.${randomBytes(18).toString('base64url')}.${randomBytes(12).toString('hex')}`;
const GIT_TOKEN = `git-token-${randomBytes(12).toString('hex')}`;
const SECRET_VALUES = [JWT, GIT_TOKEN];

let endpoint;
let functions;
let sim;
let git;

before(async () => {
  endpoint = await startEndpoint();
  const built = buildFunctions('promote', ['sesam-sim', 'git-server']);
  note(`built ${built.join(', ')}`);
  sim = await startSesamSim();
  git = await startGitServer(GIT_TOKEN);
  functions = await startFunctions(endpoint.url, {}, 'functions', 'promote');
  note(`local AWS endpoint at ${endpoint.url}, sesam-sim at ${sim.url}, git-server at ${git.url}, `
    + `functions at ${functions.url}, logs in ${LOGS}`);
}, { timeout: 30 * 60 * 1000 });

after(() => {
  functions?.stop();
  git?.stop();
  sim?.stop();
  endpoint?.stop();
});

const TEST_TIMEOUT = 3 * 60 * 1000;
const NODE = 'prod';
const BUCKET = 'ferry-artifacts';

function pipe(id, system) {
  return { _id: id, type: 'pipe', source: { type: 'dataset', system, dataset: id } };
}

const METADATA = { _id: 'node', type: 'metadata', global_defaults: { use_signalling_internally: false } };
const CRM = { _id: 'crm', type: 'system:url', base_url: 'https://crm.example.org' };
const ERP = { _id: 'erp', type: 'system:url', base_url: 'https://erp.example.org' };
const AUTODEPLOYER = { _id: 'autodeployer', type: 'system:microservice', docker: { image: 'sesam/autodeployer:1.4' } };

/**
 * The target node `prod` (metadata, crm, the protected autodeployer, pipes orders and stale, env
 * region=eu) and the secrets: the node's JWT, the git token, and the JWT bound to another host.
 */
function world() {
  return {
    nodes: [{
      name: NODE,
      jwts: [JWT],
      entities: [METADATA, CRM, AUTODEPLOYER, pipe('orders', 'crm'), pipe('stale', 'crm')],
      env: { region: 'eu' },
    }],
    secrets: {
      'ferry/config-sesam-prod': { jwt: JWT },
      'ferry/config-git-local': { token: GIT_TOKEN },
      'ferry/config-sesam-elsewhere': { jwt: JWT, hosts: ['datahub-1.sesam.cloud'] },
    },
  };
}

/**
 * The node folder `node/` as committed: the same metadata, crm identical but formatted and ordered
 * differently, a new erp system, orders moved to erp, a new invoices pipe, the env file, and a
 * file that is not config.
 */
function nodeFolder() {
  return {
    'node/node-metadata.conf.json': METADATA,
    'node/systems/crm.conf.json':
      '{\n    "base_url" : "https://crm.example.org",\n  "type": "system:url", "_id": "crm"\n}\n',
    'node/systems/erp.conf.json': ERP,
    'node/pipes/orders.conf.json': pipe('orders', 'erp'),
    'node/pipes/invoices.conf.json': pipe('invoices', 'erp'),
    'node/env/prod.json': { region: 'eu', tier: 'gold' },
    'README.md': 'The configuration of the prod node.\n',
  };
}

let repos = 0;

/** Seeds the world and commits the node folder (plus `extra` files) to a new repository. */
async function fresh(extra = {}) {
  seedSesam(endpoint.url, sim, world());
  repos += 1;
  const repo = createGitRepo(git, `sesam-config-${repos}`);
  const commit = repo.commit({ ...nodeFolder(), ...extra }, 'node config');
  return { repo, commit, node: await sim.node(NODE) };
}

function request(repo, { dryRun = false } = {}) {
  return {
    dry_run: dryRun,
    platform: 'sesam',
    source: {
      name: 'main',
      git: { url: repo.url, ref: 'main', path: 'node', auth_secret_arn: secretArn('ferry/config-git-local') },
    },
    target: { name: 'prod', sesam: { url: sim.baseUrl(NODE), auth_secret_arn: secretArn('ferry/config-sesam-prod') } },
    sesam: { protect: ['autodeployer'], prune: true, max_delete: 1, env_file: 'env/prod.json', timeout_seconds: 10 },
  };
}

function failure(result) {
  return `${result.status} ${result.error ?? ''}: ${describeCause(result.cause)}`;
}

/** `kind/id` → config of every entity on the node, and `env` → its variables. */
function state(view) {
  const entries = view.entities.map((e) => [`${e.kind}/${e._id}`, e.config]);
  return Object.fromEntries([['env', view.env], ...entries]);
}

/** The node's requests other than GET, as `METHOD path status`. */
async function writes() {
  return (await sim.requests()).filter((r) => r.node === NODE && r.method !== 'GET')
    .map((r) => `${r.method} ${r.path} ${r.status}`);
}

/** `action kind/id`, then `    field change` lines, as ferry describes a plan. */
function described(changes) {
  const signs = { create: '+', update: '~', delete: '-' };
  return changes.flatMap((c) => [`${signs[c.action]} ${c.kind}/${c.id}`, ...(c.fields ?? []).map((f) => {
    if (f.old !== undefined && f.new !== undefined) return `    ${f.path}: ${f.old} → ${f.new}`;
    return f.new !== undefined ? `    ${f.path}: + ${f.new}` : `    ${f.path}: - ${f.old}`;
  })]);
}

const PLAN = [
  '~ env/env',
  '    /tier: + "gold"',
  '+ system/erp',
  '+ pipe/invoices',
  '~ pipe/orders',
  '    /source/system: "crm" → "erp"',
  '- pipe/stale',
];
const COUNTS = { create: 2, update: 2, delete: 1, unchanged: 2, kept: 0, protected: 1 };
const APPLIED = ['env/env', 'system/erp', 'pipe/invoices', 'pipe/orders', 'pipe/stale'];

/** What the node holds once the folder is applied: the folder's entities and the protected one. */
function desiredState() {
  return {
    env: { region: 'eu', tier: 'gold' },
    'metadata/node': METADATA,
    'system/autodeployer': AUTODEPLOYER,
    'system/crm': CRM,
    'system/erp': ERP,
    'pipe/invoices': pipe('invoices', 'erp'),
    'pipe/orders': pipe('orders', 'erp'),
  };
}

// Texts of every run of this file (outputs, events, manifests, stored objects) for the secrets test.
const seen = [];

function keep(label, result, facts) {
  seen.push([`${label}: execution output`, JSON.stringify(result.output)]);
  seen.push([`${label}: execution events`, JSON.stringify(result.events)]);
  seen.push([`${label}: function inputs`, JSON.stringify(result.invocations)]);
  seen.push([`${label}: execution error`, `${result.error ?? ''} ${result.cause ?? ''}`]);
  if (facts) {
    seen.push([`${label}: run manifest`, facts.run_manifest.text ?? '']);
    seen.push([`${label}: events`, JSON.stringify(facts.events)]);
    for (const object of facts.objects) seen.push([`${label}: s3://${BUCKET}/${object.key}`, object.text]);
  }
}

async function run(input, label) {
  const result = await promote(functions, input, label);
  const facts = sesamFacts(endpoint.url, sim, input, result);
  keep(label, result, facts);
  return { result, facts };
}

test('a dry run answers the plan with field diffs, writes nothing to the node and reports the drift', { timeout: TEST_TIMEOUT }, async () => {
  const { repo, commit, node } = await fresh();
  const input = request(repo, { dryRun: true });
  const { result, facts } = await run(input, 'plan');
  assert.equal(result.status, 'SUCCEEDED', failure(result));
  const plan = result.output;
  assert.equal(plan.platform, 'sesam');
  assert.equal(plan.target, 'prod');
  assert.equal(plan.nothing_to_do, false);
  assert.deepEqual(plan.counts, COUNTS);
  assert.deepEqual(described(plan.changes), PLAN);
  assert.deepEqual(plan.protected, ['system/autodeployer']);
  assert.deepEqual(plan.source, { git: repo.url, ref: 'main', path: 'node', commit });
  assert.equal(plan.plan, `s3://${BUCKET}/bundles/sesam/${result.runId}/plan.json`);
  assert.equal(plan.before, `s3://${BUCKET}/bundles/sesam/${result.runId}/before/`);
  note(`execution SUCCEEDED in ${(result.durationMs / 1000).toFixed(1)}s with the plan of commit ${commit.slice(0, 12)}: `
    + `${PLAN.map((l) => l.trim()).join('; ')}`);
  note('crm, formatted and ordered differently, and the metadata are unchanged; autodeployer protected');
  assert.deepEqual(result.invocations.map((i) => i.state), ['ExportService', 'Plan', 'ReportDryRun']);

  assert.deepEqual(await writes(), []);
  assert.deepEqual(state(await sim.node(NODE)), state(node));
  const auth = new Set((await sim.requests()).filter((r) => r.node === NODE).map((r) => r.auth));
  assert.deepEqual([...auth], ['valid']);
  note('the node got only GET requests, each with its JWT, and is unchanged');

  assert.equal(facts.outcome, 'DRY_RUN');
  assert.deepEqual(facts.run_manifest.manifest.plan, plan);
  const drift = facts.events.filter((e) => e.detail_type === 'ferry.drift');
  assert.equal(drift.length, 1, JSON.stringify(facts.events));
  assert.equal(drift[0].source, 'ferry');
  assert.equal(drift[0].detail.platform, 'sesam');
  assert.equal(drift[0].detail.source, 'main');
  assert.equal(drift[0].detail.target, 'prod');
  assert.deepEqual(drift[0].detail.counts, COUNTS);
  assert.deepEqual(drift[0].detail.changes.map((c) => `${c.action} ${c.kind}/${c.id}`),
    ['update env/env', 'create system/erp', 'create pipe/invoices', 'update pipe/orders', 'delete pipe/stale']);
  assert.equal(drift[0].detail.plan, plan.plan);
  assert.equal(drift[0].detail.manifest, facts.run_manifest.uri);
  assert.deepEqual(facts.events.map((e) => e.detail_type).sort(), ['ferry.drift', 'ferry.promote']);
  note(`ferry.drift sent (sesam, main -> prod, 5 changes, plan and manifest named) besides ferry.promote; run manifest outcome DRY_RUN`);
});

test('an apply makes the node what the folder says, in order, skipping equal and protected entities, and verifies', { timeout: TEST_TIMEOUT }, async () => {
  const { repo, node } = await fresh();
  const input = request(repo);
  const { result, facts } = await run(input, 'apply');
  assert.equal(result.status, 'SUCCEEDED', failure(result));
  note(`execution SUCCEEDED in ${(result.durationMs / 1000).toFixed(1)}s`);
  const entered = statesEntered(result);
  const path = ['ExportService', 'ExportedAtOnce', 'Plan', 'AnythingToApply', 'ImportService', 'AppliedAtOnce', 'Verify',
    'ReportSuccess'];
  assert.deepEqual(entered.filter((s) => path.includes(s)), path, entered.join(' > '));
  const polling = ['WaitForExport', 'CheckExport', 'StoreBundle', 'StartImportPolls', 'WaitForImport', 'CheckImport'];
  assert.deepEqual(entered.filter((s) => polling.includes(s)), [], entered.join(' > '));
  note(`states: ${entered.join(' > ')} (no export or import polling)`);

  const after = await sim.node(NODE);
  assert.deepEqual(state(after), desiredState());
  assert.ok(after.entities.every((e) => e['is-valid-config']), JSON.stringify(after.entities));
  assert.deepEqual(after.entities.find((e) => e._id === 'crm').config, node.entities.find((e) => e._id === 'crm').config);
  note('node: env tier=gold, erp and invoices created, orders reads erp, stale deleted; every entity valid');

  const written = await writes();
  const touched = written.filter((w) => /\/(crm|autodeployer|metadata)\b/.test(w));
  assert.deepEqual(touched, [], written.join(', '));
  assert.equal(written.filter((w) => / 2\d\d$/.test(w)).length, 5, written.join(', '));
  assert.ok(written.every((w) => / (2\d\d|404)$/.test(w)), written.join(', '));
  note(`writes: ${written.join(', ')}; none on crm (equal as parsed JSON), autodeployer (protected) or the metadata`);

  assert.deepEqual(result.output.results.import.applied, APPLIED);
  assert.equal(result.output.results.import.count, APPLIED.length);
  assert.equal(result.output.results.verification.verified, true);
  assert.equal(facts.outcome, 'SUCCEEDED');
  assert.deepEqual(facts.results.import.applied, APPLIED);
  const prefix = `bundles/sesam/${result.runId}/`;
  const keys = facts.objects.map((o) => o.key);
  assert.ok(keys.includes(`${prefix}manifest.json`) && keys.includes(`${prefix}plan.json`)
    && keys.includes(`${prefix}before/manifest.json`), keys.join(', '));
  assert.ok(facts.bundle.all_match, JSON.stringify(facts.bundle.checks));
  assert.ok(facts.before.all_match, JSON.stringify(facts.before.checks));
  assert.deepEqual(facts.bundle.checks.map((c) => `${c.kind}/${c.id}`).sort(),
    ['env/env', 'metadata/node', 'pipe/invoices', 'pipe/orders', 'system/crm', 'system/erp']);
  assert.deepEqual(facts.before.checks.map((c) => `${c.kind}/${c.id}`).sort(),
    ['env/env', 'metadata/node', 'pipe/orders', 'pipe/stale', 'system/autodeployer', 'system/crm']);
  assert.deepEqual(described(facts.plan_file.plan.changes), PLAN);
  note(`bundle s3://${BUCKET}/${prefix} (6 entities), before/ (6 entities) and plan.json stored, every file matching its manifest`);
  assert.deepEqual(facts.events.map((e) => e.detail_type), ['ferry.promote']);
  assert.equal(facts.events[0].detail.outcome, 'SUCCEEDED');
  note('ferry.promote SUCCEEDED sent, no drift event');
});

test('a second run finds nothing to do: no apply, no verify, no write', { timeout: TEST_TIMEOUT }, async () => {
  const { repo } = await fresh();
  const input = request(repo);
  const first = await run(input, 'first');
  assert.equal(first.result.status, 'SUCCEEDED', failure(first.result));
  const writesBefore = await writes();
  const { result, facts } = await run(input, 'again');
  assert.equal(result.status, 'SUCCEEDED', failure(result));
  const entered = statesEntered(result);
  assert.deepEqual(entered.slice(entered.indexOf('AnythingToApply')), ['AnythingToApply', 'AnythingToStart', 'ReportSuccess', 'Succeeded']);
  assert.ok(!entered.includes('ImportService') && !entered.includes('Verify'), entered.join(' > '));
  const plan = result.output.results.plan;
  assert.equal(plan.nothing_to_do, true);
  assert.deepEqual(plan.changes, []);
  assert.deepEqual(plan.counts, { create: 0, update: 0, delete: 0, unchanged: 6, kept: 0, protected: 1 });
  note(`second execution SUCCEEDED via AnythingToApply > AnythingToStart > ReportSuccess: 6 unchanged, 1 protected`);
  assert.deepEqual(await writes(), writesBefore);
  assert.deepEqual(state(await sim.node(NODE)), desiredState());
  assert.equal(facts.outcome, 'SUCCEEDED');
  note('no request but GET reached the node during the second run');
});

test('more deletions than max_delete are refused before anything is written', { timeout: TEST_TIMEOUT }, async () => {
  const { repo, node } = await fresh();
  const input = request(repo);
  input.sesam.max_delete = 0;
  const { result, facts } = await run(input, 'max-delete');
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'Refused', failure(result));
  const cause = describeCause(result.cause);
  assert.match(cause, /refused, nothing was changed/);
  assert.match(cause, /1 deletions planned, more than max_delete 0 \(first: pipe\/stale\)/);
  note(`execution FAILED: Refused: ${cause}`);
  assert.ok(!statesEntered(result).includes('ImportService'));
  assert.deepEqual(await writes(), []);
  assert.deepEqual(state(await sim.node(NODE)), state(node));
  assert.equal(facts.outcome, 'FAILED');
  assert.equal(facts.run_manifest.manifest.error.error, 'Refused');
  note('no write reached the node; run reported FAILED with Refused');
});

test('pruning from a source that holds no entity is refused outright', { timeout: TEST_TIMEOUT }, async () => {
  const { repo, node } = await fresh();
  const commit = repo.commit({
    'node/node-metadata.conf.json': null,
    'node/systems': null,
    'node/pipes': null,
    'node/env': null,
    'node/README.md': 'Emptied by mistake.\n',
  }, 'remove the config');
  const input = request(repo);
  input.sesam.max_delete = 100;
  delete input.sesam.env_file;
  const { result } = await run(input, 'empty-source');
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'Refused', failure(result));
  const cause = describeCause(result.cause);
  assert.match(cause, /the source holds no entity/);
  note(`commit ${commit.slice(0, 12)} emptied node/; execution FAILED: Refused: ${cause}`);
  assert.deepEqual(await writes(), []);
  assert.deepEqual(state(await sim.node(NODE)), state(node));
  note('no write reached the node');
});

test('the before/ snapshot of a run rolls the node back', { timeout: TEST_TIMEOUT }, async () => {
  const { repo, node } = await fresh();
  const applied = await run(request(repo), 'rolled-back');
  assert.equal(applied.result.status, 'SUCCEEDED', failure(applied.result));
  const snapshot = applied.result.output.results.plan.before;
  assert.equal(snapshot, `s3://${BUCKET}/bundles/sesam/${applied.result.runId}/before/`);
  const rollback = { ...request(repo), source: { name: 'before', bundle: snapshot } };
  rollback.sesam.max_delete = 5;

  const dry = await run({ ...rollback, dry_run: true }, 'rollback-plan');
  assert.equal(dry.result.status, 'SUCCEEDED', failure(dry.result));
  assert.deepEqual(dry.result.output.source, { bundle: snapshot });
  assert.deepEqual(described(dry.result.output.changes), [
    '~ env/env',
    '    /tier: - "gold"',
    '~ pipe/orders',
    '    /source/system: "erp" → "crm"',
    '+ pipe/stale',
    '- pipe/invoices',
    '- system/erp',
  ]);
  note(`rollback plan from ${snapshot}: ${described(dry.result.output.changes).map((l) => l.trim()).join('; ')}`);

  const { result, facts } = await run(rollback, 'rollback');
  assert.equal(result.status, 'SUCCEEDED', failure(result));
  assert.deepEqual(state(await sim.node(NODE)), state(node));
  assert.equal(facts.outcome, 'SUCCEEDED');
  note('rollback SUCCEEDED: the node holds exactly what it held before the first run');
});

test('no JWT or git token is kept in outputs, events, manifests, stored objects or function logs', { timeout: TEST_TIMEOUT }, async () => {
  const { repo } = await fresh();
  for (const dryRun of [true, false]) {
    const { result } = await run(request(repo, { dryRun }), dryRun ? 'secrets-plan' : 'secrets-apply');
    assert.equal(result.status, 'SUCCEEDED', failure(result));
  }
  const places = [...seen, ['function logs', readFileSync(functions.log, 'utf8')]];
  for (const [place, text] of places) {
    for (const secret of SECRET_VALUES) assert.ok(!text.includes(secret), `${place} holds a secret value`);
  }
  const objects = seen.filter(([place]) => place.includes('s3://')).length;
  const logs = places.at(-1)[1];
  assert.ok(logs.length > 0 && objects > 0 && seen.some(([p, t]) => p.endsWith(': events') && t.includes('ferry.promote')),
    'nothing was looked at');
  note(`neither the JWT nor the git token in ${places.length} places: the outputs, execution events, function inputs, `
    + `run manifests and ferry events of ${new Set(seen.map(([p]) => p.split(':')[0])).size} runs, `
    + `${objects} stored bundle/before/plan objects, and the function logs (${(logs.length / 1024).toFixed(0)} KiB)`);
});

test('a JWT bound to other hosts fails with InvalidInput before any request reaches the node', { timeout: TEST_TIMEOUT }, async () => {
  const { repo, node } = await fresh();
  const input = request(repo);
  input.target.sesam.auth_secret_arn = secretArn('ferry/config-sesam-elsewhere');
  const { result, facts } = await run(input, 'unbound-jwt');
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'InvalidInput', failure(result));
  const cause = describeCause(result.cause);
  assert.match(cause, /target\.sesam\.auth_secret_arn/);
  assert.match(cause, /not bound to host '127\.0\.0\.1'/);
  note(`execution FAILED: InvalidInput: ${cause}`);
  assert.deepEqual(result.invocations.map((i) => i.name), ['export-service', 'report']);
  assert.deepEqual((await sim.requests()).filter((r) => r.node === NODE), []);
  assert.deepEqual(state(await sim.node(NODE)), state(node));
  assert.deepEqual(facts.objects, []);
  assert.equal(facts.outcome, 'FAILED');
  note('only export-service (start) and report ran; the node logged no request at all; no bundle stored');
});

test('an entity the node rejects fails the run with its validation message and what was and was not applied', { timeout: TEST_TIMEOUT }, async () => {
  const { repo } = await fresh({ 'node/pipes/broken.conf.json': pipe('broken', 'nowhere') });
  const { result, facts } = await run(request(repo), 'rejected');
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'ApiRejected', failure(result));
  const cause = describeCause(result.cause);
  assert.match(cause, /applying pipe\/broken failed/);
  assert.match(cause, /broken: source\.system refers to unknown system "nowhere"/);
  assert.match(cause, /applied \(2\): env\/env, system\/erp/);
  assert.match(cause, /not applied \(4\): pipe\/broken, pipe\/invoices, pipe\/orders, pipe\/stale/);
  note(`execution FAILED: ApiRejected: ${cause}`);
  assert.ok(!statesEntered(result).includes('Verify'));
  const now = state(await sim.node(NODE));
  assert.deepEqual(now.env, { region: 'eu', tier: 'gold' });
  assert.deepEqual(now['system/erp'], ERP);
  assert.equal(now['pipe/broken'], undefined);
  assert.deepEqual(now['pipe/orders'], pipe('orders', 'crm'));
  assert.ok(now['pipe/stale']);
  note('the node holds what was applied (env, erp) and nothing after it (broken refused, orders and stale as they were)');
  assert.equal(facts.outcome, 'FAILED');
  assert.equal(facts.run_manifest.manifest.error.error, 'ApiRejected');
  note('run reported FAILED with ApiRejected');
});

test('the demo input plans against the demo world', { timeout: TEST_TIMEOUT }, async () => {
  const demoWorld = JSON.parse(readFileSync(join(ROOT, 'infra', 'local', 'sesam-demo.json'), 'utf8'));
  seedSesam(endpoint.url, sim, demoWorld);
  // The demo serves its repository with the token of its own world.
  const token = demoWorld.secrets['ferry/config-git-local'].token;
  const demoGit = await startGitServer(token, 'demo-git');
  try {
    const repo = createGitRepo(demoGit, 'sesam-config');
    const folder = join(ROOT, 'infra', 'local', 'sesam-demo');
    const files = Object.fromEntries(demoFiles(folder).map((path) => [path, readFileSync(join(folder, path), 'utf8')]));
    repo.commit(files, 'demo config');
    const text = readFileSync(join(ROOT, 'infra', 'examples', 'promote-sesam-local.json'), 'utf8')
      .replaceAll('${GIT_URL}', demoGit.url).replaceAll('${SESAM_URL}', sim.url);
    const input = JSON.parse(text);
    assert.equal(input.dry_run, true);
    const result = await promote(functions, input, 'demo');
    assert.equal(result.status, 'SUCCEEDED', failure(result));
    assert.equal(result.output.nothing_to_do, false);
    assert.ok(result.output.changes.some((c) => c.fields?.length > 0), JSON.stringify(result.output.changes));
    assert.deepEqual(await writes(), []);
    note(`demo plan: ${described(result.output.changes).map((l) => l.trim()).join('; ')}`);
  } finally {
    demoGit.stop();
  }
});

/** The files under `folder`, as paths relative to it. */
function demoFiles(folder) {
  return readdirSync(folder, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name))).sort();
}
