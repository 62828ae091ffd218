// The local Step Functions API (api.mjs, serve.mjs) spoken to as the AWS SDKs speak it (raw HTTP,
// AWS JSON 1.0), over the small state machines of test/api-fixtures/ copied into a temporary root,
// their Tasks answered by stand-in functions over the Lambda Invoke API. Fast: no build, no AWS
// endpoint. Every server listens on 127.0.0.1 and stops when the tests end.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, beforeEach, test } from 'node:test';
import { createApi } from '../api.mjs';
import { functionArn, runMachine, sendTaskSuccess, stateMachineArn } from '../runner.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(HERE, 'api-fixtures', 'statemachines');
const FUNCTIONS = ['boom', 'echo', 'report'];

let root;
let lambda;
let lambdaEndpoint;
let api;
let url;
/** Every invocation of a stand-in function: `{name, payload}`. */
let calls = [];

/** Stand-in functions: echo answers its payload (and fails for who "nobody"), boom fails, report answers. */
const handlers = {
  echo: (payload) => {
    if (payload?.who === 'nobody') return [500, { errorType: 'Boom', errorMessage: 'nobody to greet' }];
    return [200, { echo: payload }];
  },
  boom: () => [500, { errorType: 'Boom', errorMessage: 'it broke' }],
  report: () => [200, { reported: true }],
};

function startLambda() {
  lambda = createServer((req, res) => {
    const name = decodeURIComponent(req.url.split('/')[3] ?? '');
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      const payload = JSON.parse(body || 'null');
      calls.push({ name, payload });
      const [status, document] = handlers[name]?.(payload) ?? [404, { message: `no function ${name}` }];
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(document));
    });
  });
  return new Promise((resolve) => lambda.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${lambda.address().port}`)));
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'ferry-sfn-api-'));
  mkdirSync(join(root, 'infra'), { recursive: true });
  cpSync(FIXTURES, join(root, 'infra', 'statemachines'), { recursive: true });
  for (const name of FUNCTIONS) mkdirSync(join(root, 'functions', name), { recursive: true });
  lambdaEndpoint = await startLambda();
  api = createApi({ endpoint: lambdaEndpoint, root, fastWaitMs: 1 });
  url = await api.listen(0);
});

after(async () => {
  await api?.close();
  lambda?.closeAllConnections();
  await new Promise((resolve) => (lambda ? lambda.close(resolve) : resolve()));
  rmSync(root, { recursive: true, force: true });
});

beforeEach(() => {
  calls = [];
});

// ---------------------------------------------------------------------------------------------
// The protocol, raw.

/** POSTs `body` with `X-Amz-Target: AWSStepFunctions.<operation>`; resolves with status, headers and parsed body. */
function call(operation, body = {}, { target = `AWSStepFunctions.${operation}`, raw, base = url } = {}) {
  const payload = Buffer.from(raw ?? JSON.stringify(body));
  const headers = { 'content-type': 'application/x-amz-json-1.0', 'content-length': payload.length };
  if (target !== null) headers['x-amz-target'] = target;
  return new Promise((resolve, reject) => {
    const req = request(new URL('/', base), { method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** The reply body of a successful call. */
async function ok(operation, body) {
  const reply = await call(operation, body);
  assert.equal(reply.status, 200, `${operation}: ${JSON.stringify(reply.body)}`);
  assert.equal(reply.headers['content-type'], 'application/x-amz-json-1.0');
  return reply.body;
}

/** The error code of a failed call, checked to be the same in the header and the body. */
async function fails(operation, body, options) {
  const reply = await call(operation, body, options);
  assert.equal(reply.status, 400, `${operation}: ${JSON.stringify(reply.body)}`);
  assert.equal(reply.headers['x-amzn-errortype'], reply.body.__type);
  assert.equal(typeof reply.body.message, 'string');
  return reply.body.__type;
}

const machineArn = (name) => stateMachineArn(name);

async function start(machine, input, name) {
  return ok('StartExecution', { stateMachineArn: machineArn(machine), input: JSON.stringify(input), ...(name ? { name } : {}) });
}

/** Waits until `check()` returns something truthy (at most 10 s). */
async function until(check, what) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function finished(executionArn) {
  return until(async () => {
    const described = await ok('DescribeExecution', { executionArn });
    return described.status === 'RUNNING' ? null : described;
  }, `${executionArn} to end`);
}

/** The whole history, page by page. */
async function history(executionArn, extra = {}) {
  const events = [];
  let nextToken;
  do {
    const page = await ok('GetExecutionHistory', { executionArn, ...extra, ...(nextToken ? { nextToken } : {}) });
    events.push(...page.events);
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** The token the approval task passed its function, from the TaskScheduled parameters (once it waits). */
async function waitingToken(executionArn) {
  const events = await until(async () => {
    const all = await history(executionArn);
    return all.some((event) => event.type === 'TaskSubmitted') ? all : null;
  }, `${executionArn} to wait for its token`);
  const scheduled = events.find((event) => event.type === 'TaskScheduled').taskScheduledEventDetails;
  return { token: JSON.parse(scheduled.parameters).Payload.task_token, scheduled, events };
}

const types = (events) => events.map((event) => event.type);

// ---------------------------------------------------------------------------------------------

test('ListStateMachines and DescribeStateMachine show every definition of the root, paged', async () => {
  const names = readdirSync(FIXTURES).map((file) => file.replace('.asl.json', '')).sort();
  const first = await ok('ListStateMachines', { maxResults: 4 });
  assert.equal(first.stateMachines.length, 4);
  const second = await ok('ListStateMachines', { maxResults: 4, nextToken: first.nextToken });
  assert.equal(second.nextToken, undefined);
  const listed = [...first.stateMachines, ...second.stateMachines];
  assert.deepEqual(listed.map((m) => m.name), names);
  for (const machine of listed) {
    assert.equal(machine.stateMachineArn, `arn:aws:states:us-east-1:123456789012:stateMachine:${machine.name}`);
    assert.equal(machine.type, 'STANDARD');
    assert.equal(typeof machine.creationDate, 'number');
  }
  const described = await ok('DescribeStateMachine', { stateMachineArn: machineArn('simple') });
  assert.equal(described.name, 'simple');
  assert.equal(described.status, 'ACTIVE');
  assert.equal(described.roleArn, 'arn:aws:iam::123456789012:role/ferry-simple-local');
  assert.equal(JSON.parse(described.definition).States.Greet.Resource, functionArn('echo'));
  assert.equal(await fails('DescribeStateMachine', { stateMachineArn: machineArn('nope') }), 'StateMachineDoesNotExist');
  assert.equal(await fails('DescribeStateMachine', { stateMachineArn: 'nope' }), 'InvalidArn');
});

test('an execution is started, described and has the history Step Functions records', async () => {
  const input = JSON.stringify({ who: 'world' });
  const started = await ok('StartExecution', { stateMachineArn: machineArn('simple'), name: 'hello-1', input });
  assert.equal(started.executionArn, 'arn:aws:states:us-east-1:123456789012:execution:simple:hello-1');
  assert.equal(typeof started.startDate, 'number');
  const described = await finished(started.executionArn);
  assert.equal(described.status, 'SUCCEEDED');
  assert.equal(described.name, 'hello-1');
  assert.equal(described.stateMachineArn, machineArn('simple'));
  assert.equal(described.input, input);
  assert.deepEqual(JSON.parse(described.output), { who: 'world', greeting: { echo: { who: 'world' } }, marked: true });
  assert.ok(described.stopDate >= described.startDate && described.startDate === started.startDate);
  assert.equal(described.error, undefined);

  const events = await history(started.executionArn);
  assert.deepEqual(types(events), [
    'ExecutionStarted', 'TaskStateEntered', 'LambdaFunctionScheduled', 'LambdaFunctionStarted',
    'LambdaFunctionSucceeded', 'TaskStateExited', 'PassStateEntered', 'PassStateExited', 'ChoiceStateEntered',
    'ChoiceStateExited', 'WaitStateEntered', 'WaitStateExited', 'SucceedStateEntered', 'SucceedStateExited',
    'ExecutionSucceeded',
  ]);
  events.forEach((event, i) => {
    assert.equal(event.id, i + 1);
    assert.equal(event.previousEventId, i);
    assert.ok(i === 0 || event.timestamp >= events[i - 1].timestamp, 'timestamps in order');
  });
  assert.deepEqual(events[0].executionStartedEventDetails, {
    input, inputDetails: { truncated: false }, roleArn: 'arn:aws:iam::123456789012:role/ferry-simple-local',
  });
  assert.deepEqual(events[1].stateEnteredEventDetails, { name: 'Greet', input, inputDetails: { truncated: false } });
  assert.deepEqual(events[2].lambdaFunctionScheduledEventDetails, {
    resource: functionArn('echo'), input: '{"who":"world"}', inputDetails: { truncated: false }, timeoutInSeconds: 30,
  });
  assert.equal(events[4].lambdaFunctionSucceededEventDetails.output, '{"echo":{"who":"world"}}');
  assert.equal(events.at(-1).executionSucceededEventDetails.output, described.output);

  const bare = await history(started.executionArn, { includeExecutionData: false });
  assert.deepEqual(types(bare), types(events));
  const leaked = JSON.stringify(bare).match(/"(input|output|parameters)"/);
  assert.equal(leaked, null, 'includeExecutionData false leaves no data');
  assert.equal(bare[2].lambdaFunctionScheduledEventDetails.resource, functionArn('echo'));
});

test('a name is generated when none is given, and a name must be valid', async () => {
  const started = await start('invoke', { n: 1 });
  assert.match(started.executionArn, /:execution:invoke:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const described = await finished(started.executionArn);
  assert.equal(described.status, 'SUCCEEDED');
  // The Lambda Invoke integration answers {StatusCode, Payload}.
  assert.deepEqual(JSON.parse(described.output), { status: 200, echo: { echo: { n: 1 } } });
  const scheduled = (await history(started.executionArn)).find((e) => e.type === 'TaskScheduled').taskScheduledEventDetails;
  assert.deepEqual({ ...scheduled, parameters: JSON.parse(scheduled.parameters) }, {
    resourceType: 'lambda', resource: 'invoke', region: 'us-east-1', timeoutInSeconds: 30,
    parameters: { FunctionName: functionArn('echo'), Payload: { n: 1 } },
  });

  const arn = machineArn('invoke');
  assert.equal(await fails('StartExecution', { stateMachineArn: arn, name: 'has space' }), 'InvalidName');
  assert.equal(await fails('StartExecution', { stateMachineArn: arn, name: 'a'.repeat(81) }), 'InvalidName');
  assert.equal(await fails('StartExecution', { stateMachineArn: arn, input: '{not json' }), 'InvalidExecutionInput');
  assert.equal(await fails('StartExecution', { stateMachineArn: machineArn('nope') }), 'StateMachineDoesNotExist');
  assert.equal(await fails('StartExecution', { stateMachineArn: 'arn:aws:lambda:x' }), 'InvalidArn');
  assert.equal(await fails('StartExecution', {}), 'ValidationException');
});

test('StartExecution is idempotent for the same name and input while the execution runs', async () => {
  const input = { approval: { timeout_seconds: 60 } };
  const first = await start('approval', input, 'gate-idem');
  const again = await start('approval', input, 'gate-idem');
  assert.deepEqual(again, first);
  assert.equal(await fails('StartExecution', {
    stateMachineArn: machineArn('approval'), name: 'gate-idem', input: JSON.stringify({ other: true }),
  }), 'ExecutionAlreadyExists');
  const { token } = await waitingToken(first.executionArn);
  await ok('SendTaskSuccess', { taskToken: token, output: '{}' });
  await finished(first.executionArn);
  // A closed execution's name is not reused, whatever the input.
  assert.equal(await fails('StartExecution', {
    stateMachineArn: machineArn('approval'), name: 'gate-idem', input: JSON.stringify(input),
  }), 'ExecutionAlreadyExists');
  const listed = await ok('ListExecutions', { stateMachineArn: machineArn('approval') });
  assert.equal(listed.executions.filter((e) => e.name === 'gate-idem').length, 1, 'one execution, not two');
});

test('history and executions are paged, forwards, backwards and newest first', async () => {
  const started = await start('simple', { who: 'pages' }, 'paged-history');
  await finished(started.executionArn);
  const all = await history(started.executionArn);
  const firstPage = await ok('GetExecutionHistory', { executionArn: started.executionArn, maxResults: 4 });
  assert.equal(firstPage.events.length, 4);
  assert.equal(typeof firstPage.nextToken, 'string');
  assert.deepEqual(await history(started.executionArn, { maxResults: 4 }), all);
  assert.deepEqual(await history(started.executionArn, { maxResults: 5, reverseOrder: true }), [...all].reverse());
  assert.equal(await fails('GetExecutionHistory', { executionArn: started.executionArn, nextToken: 'bogus' }), 'InvalidToken');
  assert.equal(await fails('GetExecutionHistory', { executionArn: started.executionArn, maxResults: 1001 }), 'ValidationException');
  // A token of the forward listing is not one of the backward listing.
  assert.equal(await fails('GetExecutionHistory', {
    executionArn: started.executionArn, reverseOrder: true, nextToken: firstPage.nextToken,
  }), 'InvalidToken');

  const child = machineArn('child');
  const before = (await ok('ListExecutions', { stateMachineArn: child, maxResults: 1000 })).executions.length;
  const names = ['list-a', 'list-b', 'list-c'];
  for (const name of names) await finished((await start('child', { who: name }, name)).executionArn);
  const one = await ok('ListExecutions', { stateMachineArn: child, maxResults: 2 });
  assert.deepEqual(one.executions.map((e) => e.name), ['list-c', 'list-b']);
  const two = await ok('ListExecutions', { stateMachineArn: child, maxResults: 2, nextToken: one.nextToken });
  assert.equal(two.executions[0].name, 'list-a');
  assert.equal(two.nextToken === undefined, before <= 1, 'a token only while more remain');
  const everything = await ok('ListExecutions', { stateMachineArn: child, statusFilter: 'SUCCEEDED', maxResults: 1000 });
  assert.equal(everything.executions.length, before + names.length);
  for (const item of one.executions) {
    assert.deepEqual(Object.keys(item).sort(), ['executionArn', 'name', 'startDate', 'stateMachineArn', 'status', 'stopDate']);
    assert.equal(item.status, 'SUCCEEDED');
  }
  assert.deepEqual((await ok('ListExecutions', { stateMachineArn: child, statusFilter: 'RUNNING' })).executions, []);
  assert.equal(await fails('ListExecutions', { stateMachineArn: child, statusFilter: 'DONE' }), 'ValidationException');
  assert.equal(await fails('ListExecutions', { stateMachineArn: machineArn('nope') }), 'StateMachineDoesNotExist');
});

test('a failing function fails the execution with its error and cause', async () => {
  const started = await start('failing', {}, 'boom-1');
  const described = await finished(started.executionArn);
  assert.equal(described.status, 'FAILED');
  assert.equal(described.error, 'Boom');
  assert.equal(JSON.parse(described.cause).errorMessage, 'it broke');
  assert.equal(described.output, undefined);
  const events = await history(started.executionArn);
  assert.deepEqual(types(events), [
    'ExecutionStarted', 'TaskStateEntered', 'LambdaFunctionScheduled', 'LambdaFunctionStarted', 'LambdaFunctionFailed',
    'ExecutionFailed',
  ]);
  assert.deepEqual(events[4].lambdaFunctionFailedEventDetails, { error: 'Boom', cause: described.cause });
  assert.deepEqual(events[5].executionFailedEventDetails, { error: 'Boom', cause: described.cause });
});

test('a child execution is an execution of its own, announced by TaskSubmitted in the parent', async () => {
  const started = await start('parent', { who: 'kid', items: [1, 2] }, 'family');
  const parent = await finished(started.executionArn);
  assert.equal(parent.status, 'SUCCEEDED');
  const childArn = 'arn:aws:states:us-east-1:123456789012:execution:child:family.child.1';
  assert.deepEqual(JSON.parse(parent.output).child, { output: { echo: { who: 'kid' } } });

  const events = await history(started.executionArn);
  const iterations = events.filter((e) => e.type.startsWith('MapIteration'));
  assert.deepEqual(iterations.map((e) => [e.type, e.mapIterationStartedEventDetails?.index ?? e.mapIterationSucceededEventDetails?.index]).sort(), [
    ['MapIterationStarted', 0], ['MapIterationStarted', 1], ['MapIterationSucceeded', 0], ['MapIterationSucceeded', 1],
  ]);
  const task = events.filter((e) => e.type.startsWith('Task') && !e.type.startsWith('TaskState'));
  assert.deepEqual(types(task), ['TaskScheduled', 'TaskStarted', 'TaskSubmitted', 'TaskSucceeded']);
  const submitted = task[2].taskSubmittedEventDetails;
  assert.equal(submitted.resourceType, 'states');
  assert.equal(submitted.resource, 'startExecution.sync:2');
  const handle = JSON.parse(submitted.output);
  assert.equal(handle.ExecutionArn, childArn);
  assert.equal(typeof handle.StartDate, 'number');
  assert.equal(JSON.parse(task[0].taskScheduledEventDetails.parameters).StateMachineArn, machineArn('child'));
  assert.equal(JSON.parse(task[3].taskSucceededEventDetails.output).ExecutionArn, childArn);

  const listed = await ok('ListExecutions', { stateMachineArn: machineArn('child'), maxResults: 1000 });
  assert.ok(listed.executions.some((e) => e.executionArn === childArn && e.name === 'family.child.1'));
  const child = await ok('DescribeExecution', { executionArn: childArn });
  assert.equal(child.status, 'SUCCEEDED');
  assert.deepEqual(JSON.parse(child.input), { who: 'kid' });
  assert.ok(child.startDate >= parent.startDate && child.stopDate <= parent.stopDate);
  assert.deepEqual(types(await history(childArn)), [
    'ExecutionStarted', 'TaskStateEntered', 'LambdaFunctionScheduled', 'LambdaFunctionStarted', 'LambdaFunctionSucceeded',
    'TaskStateExited', 'ExecutionSucceeded',
  ]);

  // A failed child fails its task with States.TaskFailed, the child's error inside.
  const sad = await start('parent', { who: 'nobody', items: [] }, 'family-sad');
  const failed = await finished(sad.executionArn);
  assert.equal(failed.status, 'FAILED');
  assert.equal(failed.error, 'States.TaskFailed');
  assert.equal(JSON.parse(failed.cause).Error, 'Boom');
  const sadChild = await ok('DescribeExecution', { executionArn: `${childArn.replace('family.', 'family-sad.')}` });
  assert.equal(sadChild.status, 'FAILED');
  assert.equal(sadChild.error, 'Boom');
  assert.equal((await history(sad.executionArn)).find((e) => e.type === 'TaskFailed').taskFailedEventDetails.error, 'States.TaskFailed');
});

test('waitForTaskToken: SendTaskSuccess continues with the output at ResultPath; the token then is gone', async () => {
  const started = await start('approval', { approval: { timeout_seconds: 60 } }, 'gate-yes');
  const { token, scheduled } = await waitingToken(started.executionArn);
  assert.match(token, /^[A-Za-z0-9_-]{86}$/);
  assert.equal(scheduled.resourceType, 'lambda');
  assert.equal(scheduled.resource, 'invoke.waitForTaskToken');
  assert.equal(scheduled.timeoutInSeconds, 60);
  assert.deepEqual(JSON.parse(scheduled.parameters), {
    FunctionName: functionArn('report'),
    Payload: { run_id: 'gate-yes', outcome: 'AWAITING_APPROVAL', task_token: token },
  });
  assert.deepEqual(calls.filter((c) => c.name === 'report').map((c) => c.payload.task_token), [token]);
  assert.equal((await ok('DescribeExecution', { executionArn: started.executionArn })).status, 'RUNNING');

  assert.deepEqual(await ok('SendTaskHeartbeat', { taskToken: token }), {});
  assert.deepEqual(await ok('SendTaskSuccess', { taskToken: token, output: JSON.stringify({ approved_by: 'alice' }) }), {});
  const described = await finished(started.executionArn);
  assert.equal(described.status, 'SUCCEEDED');
  const output = JSON.parse(described.output);
  assert.deepEqual(output.approval_result, { approved_by: 'alice' });
  assert.equal(output.verdict, 'approved');
  const task = (await history(started.executionArn)).filter((e) => /^Task(Scheduled|Started|Submitted|Succeeded)$/.test(e.type));
  assert.deepEqual(types(task), ['TaskScheduled', 'TaskStarted', 'TaskSubmitted', 'TaskSucceeded']);
  assert.equal(task[3].taskSucceededEventDetails.output, '{"approved_by":"alice"}');

  assert.equal(await fails('SendTaskSuccess', { taskToken: token, output: '{}' }), 'TaskDoesNotExist');
  assert.equal(await fails('SendTaskHeartbeat', { taskToken: token }), 'TaskDoesNotExist');
  assert.equal(await fails('SendTaskSuccess', { taskToken: 'A'.repeat(86), output: '{}' }), 'TaskDoesNotExist');
  assert.equal(await fails('SendTaskSuccess', { taskToken: 'not-a-token', output: '{}' }), 'InvalidToken');
  assert.equal(await fails('SendTaskFailure', { taskToken: 'not-a-token' }), 'InvalidToken');
  assert.equal(await fails('SendTaskSuccess', { output: '{}' }), 'ValidationException');
});

test('waitForTaskToken: SendTaskFailure fails the task with its error, which Catch matches', async () => {
  const started = await start('approval', { approval: { timeout_seconds: 60 } }, 'gate-no');
  const { token } = await waitingToken(started.executionArn);
  assert.equal(await fails('SendTaskSuccess', { taskToken: token, output: 'not json' }), 'InvalidOutput');
  await ok('SendTaskFailure', { taskToken: token, error: 'Rejected', cause: 'not today' });
  const described = await finished(started.executionArn);
  assert.equal(described.status, 'SUCCEEDED');
  const output = JSON.parse(described.output);
  assert.equal(output.verdict, 'rejected');
  assert.deepEqual(output.error, { Error: 'Rejected', Cause: 'not today' });
  const failed = (await history(started.executionArn)).find((e) => e.type === 'TaskFailed').taskFailedEventDetails;
  assert.deepEqual(failed, { resourceType: 'lambda', resource: 'invoke.waitForTaskToken', error: 'Rejected', cause: 'not today' });
  assert.equal(await fails('SendTaskFailure', { taskToken: token, error: 'Rejected' }), 'TaskDoesNotExist');
});

test('waitForTaskToken: TimeoutSecondsPath ends the wait with States.Timeout, which States.TaskFailed does not catch', async () => {
  const started = await start('approval', { approval: { timeout_seconds: 1 } }, 'gate-late');
  const { token, scheduled } = await waitingToken(started.executionArn);
  assert.equal(scheduled.timeoutInSeconds, 1);
  const described = await finished(started.executionArn);
  const took = described.stopDate - described.startDate;
  assert.ok(took >= 0.95 && took < 5, `timed out after ${took}s, not shortened`);
  const output = JSON.parse(described.output);
  assert.equal(output.verdict, 'timed out');
  assert.equal(output.error.Error, 'States.Timeout');
  const events = await history(started.executionArn);
  assert.equal(events.filter((e) => e.type === 'TaskTimedOut').length, 1);
  assert.equal(events.filter((e) => e.type === 'TaskFailed' || e.type === 'TaskSucceeded').length, 0);
  assert.equal(await fails('SendTaskSuccess', { taskToken: token, output: '{}' }), 'TaskTimedOut');
});

test('StopExecution aborts an execution, its waiting task and the children it started', async () => {
  const started = await start('gate-parent', { approval: { timeout_seconds: 60 } }, 'stop-me');
  const childArn = 'arn:aws:states:us-east-1:123456789012:execution:approval:stop-me.approval.1';
  const { token } = await until(async () => {
    const listed = await ok('ListExecutions', { stateMachineArn: machineArn('approval'), statusFilter: 'RUNNING' });
    return listed.executions.some((e) => e.executionArn === childArn) && waitingToken(childArn);
  }, 'the child to wait');
  const stopped = await ok('StopExecution', { executionArn: started.executionArn, error: 'Cancelled', cause: 'by the test' });
  assert.equal(typeof stopped.stopDate, 'number');
  const described = await ok('DescribeExecution', { executionArn: started.executionArn });
  assert.equal(described.status, 'ABORTED');
  assert.equal(described.stopDate, stopped.stopDate);
  assert.equal(described.error, 'Cancelled');
  assert.equal(described.cause, 'by the test');
  const last = (await history(started.executionArn)).at(-1);
  assert.deepEqual([last.type, last.executionAbortedEventDetails], ['ExecutionAborted', { error: 'Cancelled', cause: 'by the test' }]);
  const child = await ok('DescribeExecution', { executionArn: childArn });
  assert.equal(child.status, 'ABORTED');
  assert.equal((await history(childArn)).at(-1).type, 'ExecutionAborted');
  assert.equal(await fails('SendTaskSuccess', { taskToken: token, output: '{}' }), 'TaskDoesNotExist');
  const aborted = await ok('ListExecutions', { stateMachineArn: machineArn('gate-parent'), statusFilter: 'ABORTED' });
  assert.deepEqual(aborted.executions.map((e) => e.name), ['stop-me']);
  // Nothing is added to a stopped execution's history, and stopping it again changes nothing.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal((await history(started.executionArn)).at(-1).type, 'ExecutionAborted');
  assert.deepEqual(await ok('StopExecution', { executionArn: started.executionArn }), stopped);
});

test('unknown operations, executions and malformed requests are refused as Step Functions refuses them', async () => {
  assert.equal(await fails('CreateStateMachine', {}), 'UnknownOperationException');
  assert.equal(await fails('DescribeExecution', {}, { target: null }), 'UnknownOperationException');
  assert.equal(await fails('DescribeExecution', {}, { target: 'AWSStepFunctions.constructor' }), 'UnknownOperationException');
  assert.equal(await fails('DescribeExecution', {}, { raw: '{"executionArn": ' }), 'ValidationException');
  assert.equal(await fails('DescribeExecution', {}), 'ValidationException');
  assert.equal(await fails('DescribeExecution', { executionArn: 42 }), 'ValidationException');
  const unknown = 'arn:aws:states:us-east-1:123456789012:execution:simple:never-started';
  assert.equal(await fails('DescribeExecution', { executionArn: unknown }), 'ExecutionDoesNotExist');
  assert.equal(await fails('GetExecutionHistory', { executionArn: unknown }), 'ExecutionDoesNotExist');
  assert.equal(await fails('StopExecution', { executionArn: unknown }), 'ExecutionDoesNotExist');
  assert.equal(await fails('DescribeExecution', { executionArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:simple' }), 'InvalidArn');
});

test('runMachine waits for a task token with no API at all, answered even before the invocation returns', async () => {
  const report = handlers.report;
  // The function itself ends the wait before it answers.
  handlers.report = (payload) => {
    sendTaskSuccess(payload.task_token, JSON.stringify({ approved_by: payload.run_id }));
    return [200, { reported: true }];
  };
  try {
    const result = await runMachine({
      machine: 'approval', input: { approval: { timeout_seconds: 60 } }, endpoint: lambdaEndpoint, root, runId: 'no-api',
    });
    assert.equal(result.status, 'SUCCEEDED');
    assert.deepEqual(result.output.approval_result, { approved_by: 'no-api' });
    assert.deepEqual(result.invocations.map((i) => i.name), ['report']);
  } finally {
    handlers.report = report;
  }
});

test('serve.mjs prints its URL once ready, serves the repository\'s state machines and stops on SIGTERM', async () => {
  const child = spawn(process.execPath, [join(HERE, '..', 'serve.mjs'), '--port', '0'], {
    env: { ...process.env, FERRY_LAMBDA_ENDPOINT: lambdaEndpoint }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk) => { out += chunk; });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const served = await until(() => out.match(/^ferry local Step Functions API at (http:\/\/127\.0\.0\.1:\d+)\n/)?.[1], 'the ready line');
    const reply = await call('ListStateMachines', {}, { base: served });
    assert.equal(reply.status, 200);
    assert.ok(reply.body.stateMachines.some((m) => m.stateMachineArn === machineArn('refresh')), JSON.stringify(reply.body));
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
  assert.equal(out.split('\n').filter((line) => line.startsWith('ferry local Step Functions API at')).length, 1);
});
