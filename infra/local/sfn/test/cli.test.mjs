// Flow tests of the `ferry` command (cli/, target/debug/ferry) against the local Step Functions API
// (api.mjs, as `make local-up` serves it): every command goes through the AWS SDK to
// AWS_ENDPOINT_URL_SFN exactly as it would to AWS. The promote machine runs a Sesam promotion (git
// server → sesam-sim) with the real functions under `cargo lambda watch`: plan (exit 2, then 0 once
// applied), run with its progress, the approval gate answered by approve, reject and nobody
// (timeout), and rollback from a run's before/ bundle. Tests run one after the other.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createApi } from '../api.mjs';
import { ROOT, executionArn, stateMachineArn } from '../runner.mjs';
import {
  LOGS,
  buildFunctions,
  createGitRepo,
  demoRequest,
  note,
  scratchJson,
  secretArn,
  seedSesam,
  seedWorld,
  sesamFacts,
  startEndpoint,
  startFunctions,
  startGitServer,
  startSesamSim,
} from './harness.mjs';

const JWT = `eyJhbGciOiJIUzI1NiJ9.${randomBytes(18).toString('base64url')}.${randomBytes(12).toString('hex')}`;
const GIT_TOKEN = `git-token-${randomBytes(12).toString('hex')}`;
const NODE = 'prod';
const FERRY = join(process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target'), 'debug', 'ferry');
const TEST_TIMEOUT = 5 * 60 * 1000;

let endpoint;
let functions;
let sim;
let git;
let api;
let apiUrl;

before(async () => {
  endpoint = await startEndpoint();
  const built = buildFunctions(['refresh', 'promote'], ['sesam-sim', 'git-server', 'ferry']);
  note(`built ${built.join(', ')} and ferry`);
  sim = await startSesamSim();
  git = await startGitServer(GIT_TOKEN);
  functions = await startFunctions(endpoint.url, {}, 'functions', ['refresh', 'promote']);
  api = createApi({ endpoint: functions.url });
  apiUrl = await api.listen(0);
  note(`local Step Functions API at ${apiUrl}, AWS endpoint at ${endpoint.url}, logs in ${LOGS}`);
}, { timeout: 30 * 60 * 1000 });

after(async () => {
  await api?.close();
  functions?.stop();
  git?.stop();
  sim?.stop();
  endpoint?.stop();
});

// Every output of a ferry command, for the secrets test.
const printed = [];

/**
 * Runs `ferry args` (without blocking this process: the API runs in it) with the environment
 * `make local-up` prints; resolves with `{code, stdout, stderr}`. `.live.stdout` is what it has
 * printed so far.
 */
function ferry(args) {
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL: endpoint.url,
    AWS_ENDPOINT_URL_SFN: apiUrl,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'us-east-1',
    FERRY_PROMOTE_STATE_MACHINE_ARN: stateMachineArn('promote'),
    FERRY_REFRESH_STATE_MACHINE_ARN: stateMachineArn('refresh'),
    NO_COLOR: '1',
  };
  const live = { stdout: '' };
  const done = new Promise((resolve, reject) => {
    const child = spawn(FERRY, [...args, '--poll-interval', '0.2'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      live.stdout = stdout;
    });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    // A command that hangs fails its test with what it printed.
    const timer = setTimeout(() => child.kill('SIGKILL'), 120 * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      printed.push([`ferry ${args.join(' ')}`, `${stdout}\n${stderr}`]);
      resolve({ code, stdout, stderr });
    });
  });
  return Object.assign(done, { live });
}

/** The run a following `ferry` command says waits for approval, once it says so. */
async function approvalAskedBy(following) {
  for (let i = 0; i < 600; i += 1) {
    const asked = following.live.stdout.match(/waiting for approval: ferry approve (\S+)/);
    if (asked) return asked[1];
    await new Promise((resolve) => { setTimeout(resolve, 200); });
  }
  throw new Error(`no approval asked for in\n${following.live.stdout}`);
}

function shown(result) {
  return `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

const pipe = (id, system) => ({ _id: id, type: 'pipe', source: { type: 'dataset', system, dataset: id } });
const CRM = { _id: 'crm', type: 'system:url', base_url: 'https://crm.example.org' };
const ERP = { _id: 'erp', type: 'system:url', base_url: 'https://erp.example.org' };

/** The node `prod` holds crm and the pipes orders (from crm) and stale. */
const NODE_ENTITIES = [CRM, pipe('orders', 'crm'), pipe('stale', 'crm')];

/** The folder adds erp, moves orders to erp and drops stale. */
const FOLDER = {
  'node/systems/crm.conf.json': CRM,
  'node/systems/erp.conf.json': ERP,
  'node/pipes/orders.conf.json': pipe('orders', 'erp'),
};

let repos = 0;

/** Seeds the node and the secrets, commits the folder; returns the input file (with `extra`). */
async function fresh(extra = {}) {
  seedSesam(endpoint.url, sim, {
    nodes: [{ name: NODE, jwts: [JWT], entities: NODE_ENTITIES, env: {} }],
    secrets: { 'ferry/config-sesam-prod': { jwt: JWT }, 'ferry/config-git-local': { token: GIT_TOKEN } },
  });
  repos += 1;
  const repo = createGitRepo(git, `cli-config-${repos}`);
  repo.commit(FOLDER, 'node config');
  const request = {
    platform: 'sesam',
    source: { name: 'main', git: { url: repo.url, ref: 'main', path: 'node', auth_secret_arn: secretArn('ferry/config-git-local') } },
    target: { name: 'prod', sesam: { url: sim.baseUrl(NODE), auth_secret_arn: secretArn('ferry/config-sesam-prod') } },
    sesam: { prune: true, max_delete: 1, timeout_seconds: 10 },
    ...extra,
  };
  return { request, file: scratchJson('cli-input', request) };
}

/** `kind/id` of every entity on the node, sorted. */
async function entities() {
  return (await sim.node(NODE)).entities.map((e) => `${e.kind}/${e._id}`).sort();
}

/** Source system of the pipe `orders` on the node. */
async function ordersSystem() {
  return (await sim.node(NODE)).entities.find((e) => e._id === 'orders').config.source.system;
}

const BEFORE = ['pipe/orders', 'pipe/stale', 'system/crm'];
const AFTER = ['pipe/orders', 'system/crm', 'system/erp'];

/** Polls `ferry status` until the run waits for approval. */
async function waitingForApproval(run) {
  for (let i = 0; i < 300; i += 1) {
    const status = await ferry(['status', run, '--output', 'json']);
    const report = JSON.parse(status.stdout);
    if (report.waiting_for_approval) return report;
    // `ferry run` may not have started the execution yet.
    if (report.reason !== 'not_found') assert.equal(report.status, 'RUNNING', shown(status));
    await new Promise((resolve) => { setTimeout(resolve, 200); });
  }
  throw new Error(`${run} never waited for approval`);
}

const runName = (label) => `cli-${label}-${Date.now()}`;

test('plan exits 2 with the changes and changes nothing; after a run it exits 0', { timeout: TEST_TIMEOUT }, async () => {
  const { file } = await fresh();
  const plan = await ferry(['plan', 'promote', '--input', file]);
  assert.equal(plan.code, 2, shown(plan));
  for (const line of ['+ create system/erp', '~ update pipe/orders', '- delete pipe/stale']) {
    assert.ok(plan.stdout.includes(line), `no ${JSON.stringify(line)} in\n${shown(plan)}`);
  }
  assert.match(plan.stdout, /\/source\/system: "crm" → "erp"/);
  assert.deepEqual(await entities(), BEFORE);
  note(`ferry plan: exit 2, ${plan.stdout.split('\n').filter((l) => /^\s*[+~-] /.test(l)).length} change lines, node unchanged`);

  const run = await ferry(['run', 'promote', '--input', file, '--name', runName('run')]);
  assert.equal(run.code, 0, shown(run));
  for (const state of ['ExportService', 'Plan', 'ImportService', 'Verify', 'ReportSuccess']) {
    assert.match(run.stdout, new RegExp(`${state} done in `), `no end of ${state} in\n${shown(run)}`);
  }
  assert.match(run.stdout, /SUCCEEDED/);
  assert.deepEqual(await entities(), AFTER);
  assert.equal(await ordersSystem(), 'erp');
  note(`ferry run: exit 0, ${run.stdout.split('\n').length} lines of progress and summary`);

  const again = await ferry(['plan', 'promote', '--input', file]);
  assert.equal(again.code, 0, shown(again));
  note('ferry plan after the run: exit 0 (nothing to change)');
});

test('a run that asks for approval waits with nothing applied, and goes on when approved', { timeout: TEST_TIMEOUT }, async () => {
  const { request, file } = await fresh({ approval: { required: true, timeout_seconds: 600 } });
  const name = runName('approve');
  const following = ferry(['run', 'promote', '--input', file, '--name', name]);
  const waiting = await waitingForApproval(name);
  assert.equal(waiting.status, 'RUNNING');
  assert.deepEqual(await entities(), BEFORE);
  note(`${name} waits for approval; the node is unchanged`);

  const facts = sesamFacts(endpoint.url, sim, request, { runId: name, status: 'RUNNING', output: null });
  const asked = facts.events.filter((e) => e.detail_type === 'ferry.approval');
  assert.equal(asked.length, 1, JSON.stringify(facts.events));
  assert.equal(asked[0].detail.approve, `ferry approve ${name}`);
  assert.equal(asked[0].detail.platform, 'sesam');
  assert.equal(asked[0].detail.target, 'prod');
  assert.deepEqual(asked[0].detail.counts, { create: 1, update: 1, delete: 1, unchanged: 1, kept: 0, protected: 0 });
  assert.equal(asked[0].detail.timeout_seconds, 600);
  assert.ok(!asked[0].text.includes('task_token'), asked[0].text);
  note(`ferry.approval sent: ${asked[0].detail.platform} ${asked[0].detail.source} -> ${asked[0].detail.target}, `
    + `plan ${asked[0].detail.plan}, "${asked[0].detail.approve}"`);

  const approve = await ferry(['approve', name, '--comment', 'checked the plan']);
  assert.equal(approve.code, 0, shown(approve));
  const run = await following;
  assert.equal(run.code, 0, shown(run));
  assert.ok(run.stdout.includes(`waiting for approval: ferry approve ${name}`), shown(run));
  assert.match(run.stdout, /AwaitApproval done in .*approved by .*checked the plan/);
  assert.deepEqual(await entities(), AFTER);
  note('ferry approve: exit 0; the run printed the approval, applied and SUCCEEDED');

  const answeredAgain = await ferry(['approve', name]);
  assert.equal(answeredAgain.code, 1, shown(answeredAgain));
  assert.match(answeredAgain.stderr + answeredAgain.stdout, /not waiting for approval: it is SUCCEEDED/);

  // The rollback's input is the run's own, so it waits for an approval too.
  const rollingBack = ferry(['rollback', name, '--yes']);
  const undo = await approvalAskedBy(rollingBack);
  assert.deepEqual(await entities(), AFTER);
  const approveUndo = await ferry(['approve', undo]);
  assert.equal(approveUndo.code, 0, shown(approveUndo));
  const rollback = await rollingBack;
  assert.equal(rollback.code, 0, shown(rollback));
  assert.ok(rollback.stdout.includes('+ create pipe/stale'), shown(rollback));
  assert.ok(rollback.stdout.includes('- delete system/erp'), shown(rollback));
  assert.deepEqual(await entities(), BEFORE);
  assert.equal(await ordersSystem(), 'crm');
  note(`ferry rollback --yes: planned (stale back, erp gone, orders back to crm), ${undo} approved and applied, `
    + 'exit 0; the node is as before');
});

test('a rejected run ends Rejected with nothing applied', { timeout: TEST_TIMEOUT }, async () => {
  const { file } = await fresh({ approval: { required: true, timeout_seconds: 600 } });
  const name = runName('reject');
  const started = await ferry(['run', 'promote', '--input', file, '--name', name, '--detach']);
  assert.equal(started.code, 0, shown(started));
  await waitingForApproval(name);
  const reject = await ferry(['reject', name, '--reason', 'not during the sale']);
  assert.equal(reject.code, 0, shown(reject));

  let status;
  for (let i = 0; i < 100; i += 1) {
    status = await ferry(['status', name, '--output', 'json']);
    if (JSON.parse(status.stdout).status !== 'RUNNING') break;
    await new Promise((resolve) => { setTimeout(resolve, 200); });
  }
  const report = JSON.parse(status.stdout);
  assert.equal(status.code, 1, shown(status));
  assert.equal(report.status, 'FAILED');
  assert.equal(report.error, 'Rejected');
  assert.match(report.cause, /not during the sale \(by /);
  assert.deepEqual(await entities(), BEFORE);
  note(`ferry reject: exit 0; the run FAILED with Rejected (${report.cause}); the node is unchanged`);

  const history = await ferry(['history', 'promote', '--limit', '5']);
  assert.equal(history.code, 0, shown(history));
  const line = history.stdout.split('\n').find((l) => l.startsWith(name));
  assert.match(line ?? '', /promote\s+FAILED\s.*Rejected/, shown(history));
  note(`ferry history lists it: ${line.replace(/\s+/g, ' ')}`);
});

test('a run nobody answers ends ApprovalTimedOut with nothing applied', { timeout: TEST_TIMEOUT }, async () => {
  const { file } = await fresh({ approval: { required: true, timeout_seconds: 3 } });
  const run = await ferry(['run', 'promote', '--input', file, '--name', runName('timeout')]);
  assert.equal(run.code, 1, shown(run));
  assert.match(run.stdout + run.stderr, /ApprovalTimedOut/);
  assert.match(run.stdout + run.stderr, /within 3 seconds; nothing was applied/);
  assert.deepEqual(await entities(), BEFORE);
  note('ferry run with a 3 s approval timeout: exit 1, ApprovalTimedOut, the node is unchanged');
});

/** The states the refresh execution `run` of the local API has entered so far, in order. */
function entered(run) {
  const record = api.executions.get(executionArn('refresh', run));
  return (record?.events ?? []).filter((e) => e.type.endsWith('StateEntered')).map((e) => e.stateEnteredEventDetails.name);
}

test('a refresh that asks for approval pauses nothing and copies nothing until approved', { timeout: TEST_TIMEOUT }, async () => {
  seedWorld(endpoint.url);
  const request = { ...demoRequest(), approval: { required: true, timeout_seconds: 600 } };
  const file = scratchJson('cli-refresh-input', request);
  const name = runName('refresh');
  const following = ferry(['run', 'refresh', '--input', file, '--name', name]);
  await waitingForApproval(name);
  const before = entered(name);
  assert.deepEqual(before.slice(-2), ['ApprovalRequired', 'AwaitApproval'], before.join(' > '));
  assert.ok(before.includes('CheckBuckets'), before.join(' > '));
  for (const state of ['SetupDeployTable', 'PauseConsumers', 'CopyData', 'ResumeConsumers']) {
    assert.ok(!before.includes(state), `${state} ran before the approval: ${before.join(' > ')}`);
  }
  note(`${name} waits after ${before.slice(0, -1).join(' > ')}; nothing paused, set or copied`);

  const approve = await ferry(['approve', name]);
  assert.equal(approve.code, 0, shown(approve));
  const run = await following;
  assert.equal(run.code, 0, shown(run));
  const after = entered(name);
  for (const state of ['AwaitApproval', 'SetupDeployTable', 'PauseConsumers', 'CopyData', 'ResumeConsumers', 'ReportSuccess']) {
    assert.ok(after.includes(state), `${state} never ran: ${after.join(' > ')}`);
  }
  assert.match(run.stdout, /table efcms-test-alpha: \d+ item\(s\) written of \d+ read/);
  note('ferry approve: the refresh went on (deploy table, pause, copy and sync, resume) and SUCCEEDED');
});

test('no secret reaches any output of the ferry command', { timeout: TEST_TIMEOUT }, async () => {
  assert.ok(printed.length >= 10, `only ${printed.length} commands ran`);
  const tokens = [...api.executions.values()].flatMap((record) => record.events)
    .filter((e) => e.type === 'TaskScheduled')
    .map((e) => JSON.parse(e.taskScheduledEventDetails.parameters).Payload?.task_token)
    .filter(Boolean);
  assert.ok(tokens.length >= 3, `found ${tokens.length} task tokens in the histories`);
  for (const secret of [JWT, GIT_TOKEN, ...tokens]) {
    for (const [label, text] of printed) {
      assert.ok(!text.includes(secret), `${label} printed a secret`);
    }
  }
  note(`${printed.length} ferry commands printed neither the JWT, the git token nor any of ${tokens.length} task tokens`);
});
