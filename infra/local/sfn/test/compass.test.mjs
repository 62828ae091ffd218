// Flow tests of Compass reconciles through infra/statemachines/promote.asl.json: the real definition,
// run by aws-local-stepfunctions, every Task calling the real functions under `cargo lambda watch`,
// against the local AWS endpoint (artifact bucket, secrets, an EventBridge rule feeding a queue),
// the SAP Open Connectors simulator (oc-sim) as the source and the Compass Director simulator
// (director-sim) as the target. Its token endpoint is reached through a small tap in this process
// that only notes the access tokens it relays, so the secrets test knows them.
//
// Executions cost seconds, so the tests share one world and run in order, each starting from where
// the one before left the simulators: 205 tagged instances (two pages of Open Connectors) onto a
// tenant that already holds 210 applications of another context (the target read pages too); a dry
// run, the creating run and an idempotent re-run; then a rename, a changed spec, a removed instance
// and a half-created application, refused by max_delete, then applied; a rollback from that run's
// before/ snapshot; element_header credentials on a second tenant; and no secret anywhere.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
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

// Credentials of this run: none of them may show up in a payload, manifest, event, object or log.
const USER_SECRET = `oc-user-${randomBytes(12).toString('hex')}`;
const ORG_SECRET = `oc-org-${randomBytes(12).toString('hex')}`;
const CLIENT_ID = 'ferry-flow';
const CLIENT_SECRET = `client-secret-${randomBytes(12).toString('hex')}`;

const BUCKET = 'ferry-artifacts';
const INFRA_LOCAL = join(ROOT, 'infra', 'local');
const TEST_TIMEOUT = 3 * 60 * 1000;

const ORG = 'acme';
const TENANT = 'tenant-prod';
const CREDS_TENANT = 'tenant-creds';
const TAG = 'kyma';
const CREDS_TAG = 'creds';
const FIRST_ID = 1001;
const INSTANCES = 205;
const OTHER_CONTEXT = 'api.openconnectors.ext.hana.ondemand.com';
const OTHER_APPS = 210;
const KEYS = ['sfdc', 'hubspotcrm', 'zendesk', 'shopify', 'dropbox'];

// The instances the tests change: renamed, re-specced, removed, protected and renamed, added
// with a half-created application, and the two selected by the credentials test.
const RENAMED = 1010;
const RESPECCED = 1020;
const REMOVED = 1030;
const PROTECTED = 1040;
const HALF = FIRST_ID + INSTANCES;
const WITH_CREDS = [1050, 1051];

/**
 * A loopback relay of the Director's token endpoint that keeps every access token it hands out,
 * so the secrets test can look for them.
 */
async function startTokenTap(directorUrl) {
  const tokens = new Set();
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const headers = {};
    for (const name of ['content-type', 'authorization', 'accept']) {
      if (req.headers[name]) headers[name] = req.headers[name];
    }
    const upstream = await fetch(`${directorUrl}${req.url}`, { method: 'POST', headers, body: Buffer.concat(chunks) });
    const text = await upstream.text();
    try {
      const token = JSON.parse(text).access_token;
      if (token) tokens.add(token);
    } catch {
      // not a token answer
    }
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
    res.end(text);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, tokens, stop: () => server.close() };
}

/**
 * Creates the artifact bucket, stores both secrets in ferry's own account (infra/local/seed.py
 * --compass, from a file outside LOGS removed at once) and sends ferry's events to the queue the
 * facts read (infra/local/sesam_summary.py --capture-events).
 */
function seedAws(endpointUrl) {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-compass-'));
  try {
    const file = join(dir, 'world.json');
    writeFileSync(file, JSON.stringify({
      secrets: {
        'ferry/compass-oc': { user_secret: USER_SECRET, organization_secret: ORG_SECRET },
        'ferry/compass-director': { client_id: CLIENT_ID, client_secret: CLIENT_SECRET },
      },
    }));
    run(PYTHON, [join(INFRA_LOCAL, 'seed.py'), '--endpoint', endpointUrl, '--reset', '--world', 'none',
      '--artifact-bucket', BUCKET, '--compass', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  run(PYTHON, [join(INFRA_LOCAL, 'sesam_summary.py'), '--endpoint', endpointUrl, '--capture-events']);
}

let endpoint;
let functions;
let oc;
let director;
let tap;

before(async () => {
  endpoint = await startEndpoint();
  const built = buildFunctions('promote', ['oc-sim', 'director-sim']);
  note(`built ${built.join(', ')}, oc-sim and director-sim`);
  oc = await startSimulator('oc-sim', '/control/requests');
  director = await startSimulator('director-sim', '/control/counts');
  tap = await startTokenTap(director.url);
  functions = await startFunctions(endpoint.url, {}, 'functions', 'promote');
  seedAws(endpoint.url);
  await seedWorld();
  note(`local AWS endpoint at ${endpoint.url}, oc-sim at ${oc.url}, director-sim at ${director.url} `
    + `(tokens through ${tap.url}), functions at ${functions.url}, logs in ${LOGS}`);
}, { timeout: 30 * 60 * 1000 });

after(() => {
  functions?.stop();
  tap?.stop();
  director?.stop();
  oc?.stop();
  endpoint?.stop();
});

/** The platform API of oc-sim and the context its applications are labelled with. */
const ocUrl = () => `${oc.url}/elements/api-v2`;
const context = () => `127.0.0.1:${oc.port}`;

function instanceSeed(id, tags = [TAG]) {
  return { id, name: `Instance ${id}`, element: { key: KEYS[id % KEYS.length] }, tags };
}

/** An application of another Open Connectors host, with a bundle: never to be touched. */
function otherApp(n) {
  return {
    name: `hana-${String(n).padStart(4, '0')}`,
    providerName: 'SAP Open Connectors',
    description: `an instance of ${OTHER_CONTEXT}`,
    labels: { open_connectors: { connectorInstanceContext: OTHER_CONTEXT, connectorInstanceID: String(n) } },
    bundles: [{
      name: 'sfdc',
      apiDefinitions: [{
        name: 'sfdc',
        targetURL: `https://${OTHER_CONTEXT}/elements/api-v2`,
        spec: { type: 'OPEN_API', format: 'JSON', data: '{"swagger":"2.0"}' },
      }],
    }],
  };
}

/**
 * The organization `acme` (205 instances tagged kyma, two of them also creds, and three without
 * the tag), the client with both scopes, and the tenants: prod with 210 applications of another
 * context and two without any label, creds empty.
 */
async function seedWorld() {
  const instances = [];
  for (let id = FIRST_ID; id < FIRST_ID + INSTANCES; id += 1) {
    instances.push(instanceSeed(id, WITH_CREDS.includes(id) ? [TAG, CREDS_TAG] : [TAG]));
  }
  for (let id = 2001; id <= 2003; id += 1) instances.push(instanceSeed(id, ['sandbox']));
  await oc.control('POST', '/control/orgs', { name: ORG, user_secret: USER_SECRET, organization_secret: ORG_SECRET, instances });
  const others = Array.from({ length: OTHER_APPS }, (_, i) => otherApp(i + 1));
  const unlabelled = [{ name: 'manual-crm', description: 'registered by hand' }, { name: 'manual-erp', labels: { team: 'erp' } }];
  await director.control('POST', '/control/seed', {
    clients: [{ id: CLIENT_ID, secret: CLIENT_SECRET, scopes: ['application:read', 'application:write'] }],
    tenants: [{ id: TENANT, applications: [...others, ...unlabelled] }, { id: CREDS_TENANT, applications: [] }],
  });
}

function request({ dryRun = false, maxDelete = 10, protect = [], tenant = TENANT, tags = [TAG], credentials = 'none' } = {}) {
  return {
    dry_run: dryRun,
    platform: 'compass',
    source: {
      name: 'oc-eu',
      open_connectors: { url: ocUrl(), auth_secret_arn: secretArn('ferry/compass-oc'), tags },
    },
    target: {
      name: 'compass-prod',
      compass: {
        director_url: `${director.url}/graphql`,
        token_url: `${tap.url}/oauth2/token`,
        tenant,
        auth_secret_arn: secretArn('ferry/compass-director'),
      },
    },
    compass: {
      application_prefix: 'oc', prune: true, max_delete: maxDelete, protect: protect.map(String), credentials,
      concurrency: 8, timeout_seconds: 30,
    },
  };
}

function failure(result) {
  return `${result.status} ${result.error ?? ''}: ${describeCause(result.cause)}`;
}

const apps = (tenant = TENANT) => director.control('GET', `/control/tenants/${tenant}/applications`);
const counts = () => director.control('GET', '/control/counts');
const ocRequests = () => oc.control('GET', `/control/requests?org=${ORG}`);
const instance = (id) => oc.control('GET', `/control/instances/${id}`);

function labelOf(app) {
  return app.labels?.open_connectors;
}

/** The tenant's applications split into this context's (by instance id) and every other one. */
async function split(tenant = TENANT) {
  const all = await apps(tenant);
  const mine = new Map();
  const others = [];
  for (const app of all) {
    if (labelOf(app)?.connectorInstanceContext === context()) mine.set(Number(labelOf(app).connectorInstanceID), app);
    else others.push(app);
  }
  return { mine, others };
}

/** An application as ferry shapes it, without ids and timestamps, its spec parsed. */
function shape(app) {
  return {
    name: app.name,
    providerName: app.providerName,
    description: app.description,
    labels: app.labels,
    bundles: (app.bundles ?? []).map((b) => ({
      name: b.name,
      description: b.description,
      auth: b.defaultInstanceAuth ?? null,
      apis: (b.apiDefinitions ?? []).map((a) => ({
        name: a.name,
        description: a.description,
        targetURL: a.targetURL,
        type: a.spec?.type,
        format: a.spec?.format,
        spec: JSON.parse(a.spec?.data ?? 'null'),
      })),
    })),
  };
}

function shapes(mine) {
  return Object.fromEntries([...mine].sort(([a], [b]) => a - b).map(([id, app]) => [id, shape(app)]));
}

/** The OpenAPI document oc-sim serves for instance `id`, read as ferry reads it. */
async function doc(id) {
  const res = await fetch(`${ocUrl()}/instances/${id}/docs?version=-1`,
    { headers: { authorization: `User ${USER_SECRET}, Organization ${ORG_SECRET}`, accept: 'application/json' } });
  assert.equal(res.status, 200, `docs of ${id}`);
  return res.json();
}

/** What ferry must register for instance `id` (as the simulator holds it now), without credentials. */
async function expected(id) {
  const view = await instance(id);
  const about = `${view.element.name}: ${view.name}`;
  return {
    name: `oc-${id}`,
    providerName: 'SAP Open Connectors',
    description: `SAP Open Connectors ${about}`,
    labels: { open_connectors: { connectorInstanceContext: context(), connectorInstanceID: String(id) } },
    bundles: [{
      name: view.element.key,
      description: about,
      auth: null,
      apis: [{
        name: view.element.key, description: about, targetURL: ocUrl(), type: 'OPEN_API', format: 'JSON', spec: await doc(id),
      }],
    }],
  };
}

function ids(from, count) {
  return Array.from({ length: count }, (_, i) => from + i);
}

// Texts of every run of this file (outputs, execution events, function inputs, errors, run
// manifests, ferry events) for the secrets test; stored objects are read there.
const seen = [];
const runs = [];

async function execute(input, label) {
  const before = (await ocRequests()).length;
  const result = await promote(functions, input, label);
  const facts = runFacts(endpoint.url, BUCKET, 'compass', result.runId);
  const requests = (await ocRequests()).slice(before);
  seen.push([`${label}: execution output`, JSON.stringify(result.output)]);
  seen.push([`${label}: execution events`, JSON.stringify(result.events)]);
  seen.push([`${label}: function inputs`, JSON.stringify(result.invocations)]);
  seen.push([`${label}: execution error`, `${result.error ?? ''} ${result.cause ?? ''}`]);
  seen.push([`${label}: run manifest`, facts.run_manifest.text ?? '']);
  seen.push([`${label}: events`, JSON.stringify(facts.events)]);
  runs.push(result.runId);
  return { result, facts, requests };
}

/** `action application/id` lines, then `    path` for each field change. */
function described(changes) {
  const signs = { create: '+', update: '~', delete: '-' };
  return changes.flatMap((c) => [`${signs[c.action]} ${c.kind}/${c.id}`, ...(c.fields ?? []).map((f) => `    ${f.path}`)]);
}

const took = (result) => `${(result.durationMs / 1000).toFixed(1)}s`;

// Shared between the tests, in order.
const world = {};

test('a dry run reads every page of both sides, plans 205 creates and changes nothing', { timeout: TEST_TIMEOUT }, async () => {
  const { mine, others } = await split();
  assert.equal(mine.size, 0);
  assert.equal(others.length, OTHER_APPS + 2);
  world.others = others;
  const countsBefore = await counts();
  const { result, facts, requests } = await execute(request({ dryRun: true }), 'plan');
  assert.equal(result.status, 'SUCCEEDED', failure(result));
  assert.deepEqual(result.invocations.map((i) => i.state), ['ExportService', 'Plan', 'ReportDryRun']);
  const plan = result.output;
  assert.equal(plan.platform, 'compass');
  assert.equal(plan.target, 'compass-prod');
  assert.equal(plan.nothing_to_do, false);
  assert.deepEqual(plan.counts, { create: INSTANCES, update: 0, delete: 0, unchanged: 0, kept: 0, protected: 0 });
  assert.deepEqual(plan.source, { open_connectors: ocUrl(), tags: [TAG], instances: INSTANCES });
  assert.equal(plan.changes.length + plan.more_changes, INSTANCES);
  assert.ok(plan.changes.every((c) => c.action === 'create' && c.kind === 'application'), JSON.stringify(plan.changes));
  assert.equal(plan.plan, `s3://${BUCKET}/bundles/compass/${result.runId}/plan.json`);
  const planned = facts.plan_file.changes.map((c) => Number(c.id)).sort((a, b) => a - b);
  assert.deepEqual(planned, ids(FIRST_ID, INSTANCES));
  note(`execution SUCCEEDED in ${took(result)}: ${plan.changes.length} changes listed, ${plan.more_changes} more in `
    + `plan.json, which names all ${INSTANCES} instances (none of the 3 untagged ones)`);

  const lists = requests.filter((r) => r.endpoint === 'instances');
  assert.equal(lists.length, 2, JSON.stringify(lists));
  assert.match(lists[0].query, /tags%5B%5D=kyma/);
  assert.doesNotMatch(lists[0].query, /nextPage/);
  assert.match(lists[1].query, /nextPage=/);
  const docs = requests.filter((r) => r.endpoint === 'docs').map((r) => r.instance_id).sort((a, b) => a - b);
  assert.deepEqual(docs, ids(FIRST_ID, INSTANCES));
  assert.ok(requests.every((r) => r.method === 'GET' && r.status === 200 && r.auth === 'valid'), JSON.stringify(requests));
  note(`oc-sim: 2 pages of instances (the second by nextPage), ${docs.length} docs, each once, all authenticated`);

  const countsAfter = await counts();
  assert.equal(countsAfter.mutations, countsBefore.mutations);
  assert.equal(countsAfter.queries - countsBefore.queries, 2, JSON.stringify({ countsBefore, countsAfter }));
  const now = await split();
  assert.equal(now.mine.size, 0);
  assert.deepEqual(now.others, others);
  note(`director-sim: ${countsAfter.queries - countsBefore.queries} queries (the ${OTHER_APPS + 2} applications take `
    + `two pages), no mutation; the tenant is unchanged`);

  assert.equal(facts.outcome, 'DRY_RUN');
  assert.equal(facts.bundle.manifest.files.length, INSTANCES);
  const drift = facts.events.filter((e) => e.detail_type === 'ferry.drift');
  assert.equal(drift.length, 1, JSON.stringify(facts.events.map((e) => e.detail_type)));
  assert.equal(drift[0].detail.platform, 'compass');
  assert.deepEqual(drift[0].detail.counts, plan.counts);
  note('ferry.drift sent with the counts; run manifest outcome DRY_RUN; bundle of 205 applications stored');
});

test('the first run registers one application per instance with its bundle and API, across pages', { timeout: TEST_TIMEOUT }, async () => {
  const countsBefore = await counts();
  const { result, facts } = await execute(request(), 'create');
  assert.equal(result.status, 'SUCCEEDED', failure(result));
  const entered = statesEntered(result);
  const path = ['ExportService', 'Plan', 'AnythingToApply', 'ImportService', 'Verify', 'ReportSuccess'];
  assert.deepEqual(entered.filter((s) => path.includes(s)).filter((s, i, all) => all.indexOf(s) === i), path, entered.join(' > '));
  assert.equal(result.output.results.plan.counts.create, INSTANCES);
  assert.equal(result.output.results.import.count, INSTANCES);
  assert.equal(result.output.results.verification.verified, true);
  const countsAfter = await counts();
  assert.equal(countsAfter.mutations - countsBefore.mutations, INSTANCES, 'one registerApplication per instance');
  note(`execution SUCCEEDED in ${took(result)}: ${INSTANCES} applied, each with one mutation, verified`);

  const { mine, others } = await split();
  assert.deepEqual([...mine.keys()].sort((a, b) => a - b), ids(FIRST_ID, INSTANCES));
  for (const id of ids(FIRST_ID, INSTANCES)) assert.deepEqual(shape(mine.get(id)), await expected(id), `application of ${id}`);
  assert.deepEqual(others, world.others);
  world.ids = new Map([...mine].map(([id, app]) => [id, app.id]));
  note(`${INSTANCES} applications oc-<id>, labelled {${context()}, id}, each one bundle named after its connector with `
    + 'its OpenAPI document as an OPEN_API/JSON definition; the 212 other applications unchanged');

  assert.equal(facts.outcome, 'SUCCEEDED');
  assert.equal(facts.bundle.manifest.files.length, INSTANCES);
  assert.equal(facts.bundle.files, INSTANCES);
  assert.ok(facts.before.manifest, 'the before/ snapshot is kept');
  assert.equal(facts.before.manifest.files.length, 0);
  assert.deepEqual(facts.events.map((e) => e.detail_type), ['ferry.promote']);
  note('bundle (205 files) and an empty before/ stored; ferry.promote SUCCEEDED, no drift event');
});

test('a second run finds nothing to do and sends no mutation', { timeout: TEST_TIMEOUT }, async () => {
  const before = await apps();
  const countsBefore = await counts();
  const { result } = await execute(request(), 'again');
  assert.equal(result.status, 'SUCCEEDED', failure(result));
  const entered = statesEntered(result);
  assert.deepEqual(entered.slice(entered.indexOf('AnythingToApply')), ['AnythingToApply', 'AnythingToStart', 'ReportSuccess', 'Succeeded']);
  const plan = result.output.results.plan;
  assert.equal(plan.nothing_to_do, true);
  assert.deepEqual(plan.counts, { create: 0, update: 0, delete: 0, unchanged: INSTANCES, kept: 0, protected: 0 });
  assert.equal((await counts()).mutations, countsBefore.mutations);
  assert.deepEqual(await apps(), before);
  note(`execution SUCCEEDED in ${took(result)} via AnythingToApply > AnythingToStart > ReportSuccess: ${INSTANCES} unchanged, no mutation`);
});

test('more deletions than max_delete are refused before anything is written', { timeout: TEST_TIMEOUT }, async () => {
  await oc.control('PATCH', `/control/instances/${RENAMED}`, { name: 'Renamed instance' });
  await oc.control('PATCH', `/control/instances/${PROTECTED}`, { name: 'Renamed but protected' });
  await oc.control('POST', `/control/instances/${RESPECCED}/spec/paths`,
    { path: '/ferry-check', item: { get: { summary: 'added later', responses: { 200: { description: 'OK' } } } } });
  await oc.control('DELETE', `/control/instances/${REMOVED}`);
  await oc.control('POST', `/control/orgs/${ORG}/instances`, instanceSeed(HALF));
  const half = await expected(HALF);
  const [stored] = (await director.control('POST', `/control/tenants/${TENANT}/applications`, {
    name: half.name, providerName: half.providerName, description: half.description, labels: half.labels,
  })).applications;
  world.halfId = stored.id;
  note(`oc-sim: ${RENAMED} and ${PROTECTED} renamed, ${RESPECCED} has a new path, ${REMOVED} removed, ${HALF} added; `
    + `director-sim: oc-${HALF} registered with its label but no bundle`);

  const before = await apps();
  const countsBefore = await counts();
  const { result, facts } = await execute(request({ maxDelete: 0, protect: [PROTECTED] }), 'max-delete');
  assert.equal(result.status, 'FAILED');
  assert.equal(result.error, 'Refused', failure(result));
  const cause = describeCause(result.cause);
  assert.match(cause, new RegExp(`1 deletions planned, more than max_delete 0 \\(first: application/${REMOVED}\\)`));
  assert.ok(!statesEntered(result).includes('ImportService'));
  assert.equal((await counts()).mutations, countsBefore.mutations);
  assert.deepEqual(await apps(), before);
  assert.equal(facts.outcome, 'FAILED');
  assert.equal(facts.run_manifest.manifest.error.error, 'Refused');
  world.snapshot = await split();
  note(`execution FAILED in ${took(result)}: Refused: ${cause}; no mutation, the tenant unchanged`);
});

test('an update keeps ids: rename and new spec updated, half-created repaired, removed pruned, protected kept', { timeout: TEST_TIMEOUT }, async () => {
  const countsBefore = await counts();
  const { result, facts } = await execute(request({ protect: [PROTECTED] }), 'update');
  assert.equal(result.status, 'SUCCEEDED', failure(result));
  const plan = result.output.results.plan;
  assert.deepEqual(plan.counts, { create: 0, update: 3, delete: 1, unchanged: INSTANCES - 4, kept: 0, protected: 1 });
  assert.deepEqual(plan.protected, [`application/${PROTECTED}`]);
  const changed = plan.changes.map((c) => `${c.action} ${c.id}`).sort();
  assert.deepEqual(changed, [`delete ${REMOVED}`, `update ${RENAMED}`, `update ${RESPECCED}`, `update ${HALF}`]);
  note(`execution SUCCEEDED in ${took(result)}: ${described(plan.changes).map((l) => l.trim()).join('; ')}`);
  const fields = (id) => plan.changes.find((c) => c.id === String(id)).fields.map((f) => f.path);
  assert.ok(fields(RENAMED).includes('/description'), fields(RENAMED).join(', '));
  assert.ok(fields(RESPECCED).some((p) => p.includes('spec')), fields(RESPECCED).join(', '));
  assert.ok(!fields(RESPECCED).includes('/description'), fields(RESPECCED).join(', '));
  assert.equal(result.output.results.verification.verified, true);
  const mutations = (await counts()).mutations - countsBefore.mutations;

  const { mine, others } = await split();
  assert.ok(!mine.has(REMOVED), 'the application of the removed instance is deleted');
  for (const id of [RENAMED, RESPECCED, HALF]) assert.deepEqual(shape(mine.get(id)), await expected(id), `application of ${id}`);
  assert.equal(mine.get(HALF).id, world.halfId, 'the half-created application keeps its id');
  for (const id of [RENAMED, RESPECCED]) assert.equal(mine.get(id).id, world.ids.get(id), `application of ${id} keeps its id`);
  assert.deepEqual(mine.get(PROTECTED), world.snapshot.mine.get(PROTECTED));
  assert.match(mine.get(PROTECTED).description, new RegExp(`: Instance ${PROTECTED}$`));
  const untouched = [...mine.keys()].filter((id) => ![RENAMED, RESPECCED, HALF].includes(id));
  for (const id of untouched) assert.deepEqual(mine.get(id), world.snapshot.mine.get(id), `application of ${id}`);
  assert.deepEqual(others, world.others);
  assert.ok(JSON.parse(mine.get(RESPECCED).bundles[0].apiDefinitions[0].spec.data).paths['/ferry-check']);
  note(`${mutations} mutations: ${RENAMED}'s application describes the new name, ${RESPECCED}'s API holds the new path, `
    + `oc-${HALF} got its bundle and API (same id), ${REMOVED}'s is gone; ${PROTECTED} (protected) and the other `
    + `${untouched.length - 1} of this context, and the ${others.length} of other contexts, are exactly as they were`);

  assert.equal(facts.before.manifest.files.length, INSTANCES + 1);
  assert.equal(plan.before, `s3://${BUCKET}/bundles/compass/${result.runId}/before/`);
  world.before = plan.before;
  note(`before/ holds the ${INSTANCES + 1} applications of this context as they were: ${plan.before}`);
});

test('the before/ snapshot of a run rolls the tenant back', { timeout: TEST_TIMEOUT }, async () => {
  const input = request({ protect: [PROTECTED] });
  input.source = { name: 'before', bundle: world.before };
  input.compass.context = context();
  const { result } = await execute(input, 'rollback');
  assert.equal(result.status, 'SUCCEEDED', failure(result));
  const plan = result.output.results.plan;
  assert.deepEqual(plan.source, { bundle: world.before });
  assert.deepEqual(plan.counts, { create: 1, update: 3, delete: 0, unchanged: INSTANCES - 4, kept: 0, protected: 1 });
  assert.equal(result.output.results.verification.verified, true);
  note(`rollback SUCCEEDED in ${took(result)}: ${described(plan.changes).filter((l) => !l.startsWith(' ')).join('; ')}`);

  const { mine, others } = await split();
  assert.deepEqual(shapes(mine), shapes(world.snapshot.mine));
  for (const [id, app] of mine) {
    if (id !== REMOVED) assert.equal(app.id, world.snapshot.mine.get(id).id, `application of ${id} keeps its id`);
  }
  assert.deepEqual(mine.get(HALF).bundles, []);
  assert.deepEqual(others, world.others);
  note(`the tenant holds what it held before the update (${mine.size} applications of this context; ${REMOVED}'s `
    + `registered again as oc-${REMOVED}, oc-${HALF} without its bundle again, the rest by the same ids)`);
});

test('element_header credentials give each bundle the instance\'s header, and a rotated token updates it', { timeout: TEST_TIMEOUT }, async () => {
  const input = request({ tenant: CREDS_TENANT, tags: [CREDS_TAG], credentials: 'element_header' });
  const first = await execute(input, 'creds');
  assert.equal(first.result.status, 'SUCCEEDED', failure(first.result));
  assert.equal(first.result.output.results.plan.counts.create, WITH_CREDS.length);
  const header = async (id) => `User ${USER_SECRET}, Organization ${ORG_SECRET}, Element ${(await instance(id)).token}`;
  const authOf = (app) => app.bundles[0].defaultInstanceAuth?.additionalHeaders;
  let { mine } = await split(CREDS_TENANT);
  assert.deepEqual([...mine.keys()].sort(), WITH_CREDS);
  for (const id of WITH_CREDS) assert.deepEqual(authOf(mine.get(id)), { Authorization: [await header(id)] }, `bundle of ${id}`);
  const created = new Map([...mine].map(([id, app]) => [id, app.id]));
  note(`execution SUCCEEDED in ${took(first.result)}: ${WITH_CREDS.join(' and ')} registered in ${CREDS_TENANT}, each `
    + 'bundle\'s default instance auth carrying User …, Organization …, Element <its token>');

  const { token: rotated } = await oc.control('POST', `/control/instances/${WITH_CREDS[0]}/token`);
  const second = await execute(input, 'creds-rotated');
  assert.equal(second.result.status, 'SUCCEEDED', failure(second.result));
  const plan = second.result.output.results.plan;
  assert.deepEqual(plan.changes.map((c) => `${c.action} ${c.id}`), [`update ${WITH_CREDS[0]}`]);
  assert.deepEqual(plan.changes[0].fields.map((f) => f.path), ['/bundles/0/credential_sha256']);
  ({ mine } = await split(CREDS_TENANT));
  assert.ok((await header(WITH_CREDS[0])).endsWith(rotated));
  for (const id of WITH_CREDS) {
    assert.deepEqual(authOf(mine.get(id)), { Authorization: [await header(id)] }, `bundle of ${id}`);
    assert.equal(mine.get(id).id, created.get(id));
  }
  note(`token of ${WITH_CREDS[0]} rotated: the next run updated only its bundle's header (same application id)`);

  const rollback = request({ tenant: CREDS_TENANT, tags: [CREDS_TAG] });
  rollback.source = { name: 'before', bundle: plan.before };
  rollback.compass.context = context();
  const countsBefore = await counts();
  const refused = await execute(rollback, 'creds-rollback');
  assert.equal(refused.result.status, 'FAILED', failure(refused.result));
  assert.equal(refused.result.error, 'Refused');
  assert.match(describeCause(refused.result.cause), new RegExp(`application/${WITH_CREDS[0]}: its consumers' credentials cannot be restored from a bundle`));
  assert.equal((await counts()).mutations, countsBefore.mutations, 'a refused rollback writes nothing');
  note('a rollback that would have to restore instance credentials from a bundle is refused before any write');
});

/**
 * Reads every object in the artifact bucket; answers their number and size, the keys holding any
 * of the values given on standard input (one per line, never written to a file), and every file
 * a manifest lists whose stored bytes do not match its sha256.
 */
test('no OC secret, client secret, instance token or access token in outputs, events, objects or logs', { timeout: TEST_TIMEOUT }, async () => {
  const org = await oc.control('GET', `/control/orgs/${ORG}`);
  const tokens = org.instances.map((i) => i.token);
  const secrets = [USER_SECRET, ORG_SECRET, CLIENT_SECRET, ...tokens, ...tap.tokens];
  assert.ok(tap.tokens.size > 0, 'the tap saw no access token');
  assert.ok(tokens.length > INSTANCES && tokens.every((t) => t.length >= 32), 'instance tokens');

  const sweep = sweepBucket(endpoint.url, BUCKET, secrets);
  assert.deepEqual(sweep.leaks, []);
  assert.deepEqual(sweep.mismatched, []);
  assert.ok(sweep.objects > 1000 && sweep.listed > 1000, JSON.stringify(sweep));
  note(`artifact bucket: ${sweep.objects} objects (${(sweep.bytes / 1024 / 1024).toFixed(1)} MiB) hold none of the `
    + `${secrets.length} secret values; all ${sweep.listed} files listed by manifests match their sha256`);

  const logs = filesUnder(LOGS);
  for (const [place, text] of [...seen, ...logs]) {
    for (const secret of secrets) assert.ok(!text.includes(secret), `${place} holds a secret value`);
  }
  const functionLog = logs.find(([path]) => path.endsWith('functions.log'))[1];
  assert.ok(functionLog.length > 0 && seen.some(([p, t]) => p.endsWith(': events') && t.includes('ferry.promote')),
    'nothing was looked at');
  note(`nor do the outputs, execution events, function inputs, run manifests and ferry events of ${runs.length} runs, `
    + `or the ${logs.length} files under ${LOGS} (function log ${(functionLog.length / 1024).toFixed(0)} KiB): `
    + `${tap.tokens.size} access token(s), ${tokens.length} instance tokens, the OC and client secrets`);
});
