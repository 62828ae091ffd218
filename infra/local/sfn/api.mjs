// The local Step Functions API: the subset of the AWS Step Functions API that ferry's client uses,
// over HTTP as the AWS SDKs speak it (AWS JSON 1.0: `POST /` with `X-Amz-Target:
// AWSStepFunctions.<Operation>`), in front of the local runner (runner.mjs). Every
// infra/statemachines/*.asl.json is a state machine; an execution runs in this process with its
// Tasks forwarded to the functions at the Lambda endpoint, and keeps its history in the shape of
// GetExecutionHistory. A `states:startExecution.sync:2` Task starts a real execution of the child
// machine (listed, described, with its own history); `.waitForTaskToken` tasks wait for
// SendTaskSuccess or SendTaskFailure. Everything is kept in memory for the life of the process.
// serve.mjs is the command that serves it.

import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import {
  LOCAL_REGION,
  ROOT,
  TaskTokenError,
  executionArn,
  loadDefinition,
  localRoleArn,
  runMachine,
  sendTaskFailure,
  sendTaskHeartbeat,
  sendTaskSuccess,
  stateMachineArn,
} from './runner.mjs';

/** An error the API answers with: `name` is its code (HTTP 400, `x-amzn-ErrorType`). */
export class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.name = code;
  }
}

/** The largest request body the API reads (an input or output is at most 256 KiB, escaped in JSON). */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

/** The largest input or output Step Functions accepts (bytes). */
const MAX_DATA_BYTES = 256 * 1024;

const STATUSES = new Set(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);
const NOT_TRUNCATED = Object.freeze({ truncated: false });

// ---------------------------------------------------------------------------------------------
// Request members.

function validation(message) {
  return new ApiError('ValidationException', message);
}

function optionalString(body, field, maxLength) {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw validation(`${field} must be a string`);
  if (value.length > maxLength) throw validation(`${field} is longer than ${maxLength} characters`);
  return value;
}

function requiredString(body, field, maxLength) {
  const value = optionalString(body, field, maxLength);
  if (!value) throw validation(`${field} is required`);
  return value;
}

function optionalBoolean(body, field, fallback) {
  const value = body[field];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw validation(`${field} must be true or false`);
  return value;
}

/** maxResults: 1 to 1000; absent or 0 means 100. */
function maxResultsOf(body) {
  const value = body.maxResults;
  if (value === undefined || value === null || value === 0) return 100;
  if (!Number.isInteger(value) || value < 0 || value > 1000) throw validation('maxResults must be an integer from 0 to 1000');
  return value;
}

/** Data (an input or output) no larger than Step Functions takes. */
function checkDataSize(field, text, code = 'ValidationException') {
  if (Buffer.byteLength(text) > MAX_DATA_BYTES) throw new ApiError(code, `${field} is larger than ${MAX_DATA_BYTES} bytes`);
}

/** Characters an execution name must not contain (Step Functions' rules). */
const NAME_FORBIDDEN = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/u;

function checkName(name) {
  if (name.length > 80) throw new ApiError('InvalidName', 'name is longer than 80 characters');
  const bad = name.match(NAME_FORBIDDEN);
  if (bad) throw new ApiError('InvalidName', `name must not contain ${JSON.stringify(bad[0])}`);
}

const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[^:]+(:[^:]+)?$/;
const EXECUTION_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:]+:[^:]+$/;

function machineOf(api, arn) {
  if (!STATE_MACHINE_ARN.test(arn)) throw new ApiError('InvalidArn', `stateMachineArn is not a state machine ARN: ${arn}`);
  const machine = api.machines.get(arn);
  if (!machine) throw new ApiError('StateMachineDoesNotExist', `no state machine ${arn}`);
  return machine;
}

function executionOf(api, arn) {
  if (!EXECUTION_ARN.test(arn)) throw new ApiError('InvalidArn', `executionArn is not an execution ARN: ${arn}`);
  const record = api.executions.get(arn);
  if (!record) throw new ApiError('ExecutionDoesNotExist', `no execution ${arn}`);
  return record;
}

// ---------------------------------------------------------------------------------------------
// Paging: nextToken is opaque to clients; here it names the listing and the last item returned.

function pageToken(kind, key, after) {
  return Buffer.from(JSON.stringify({ kind, key, after })).toString('base64url');
}

/** The cursor of the request's nextToken (undefined for a first page). */
function cursorOf(body, kind, key) {
  const text = optionalString(body, 'nextToken', 1024);
  if (text === undefined || text === '') return undefined;
  let token = null;
  try {
    token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    // not one of ours
  }
  if (token?.kind !== kind || token?.key !== key || !Number.isInteger(token?.after)) {
    throw new ApiError('InvalidToken', 'nextToken was not returned by this listing with these arguments');
  }
  return token.after;
}

/** The first `maxResults` of `items`, and the nextToken after them when there are more. */
function page(items, maxResults, kind, key, cursor) {
  const slice = items.slice(0, maxResults);
  const nextToken = items.length > maxResults ? pageToken(kind, key, cursor(slice.at(-1))) : undefined;
  return { slice, nextToken };
}

// ---------------------------------------------------------------------------------------------
// Executions and their histories.

const seconds = (ms) => ms / 1000;
const json = (value) => JSON.stringify(value ?? null);
const text = (value) => (typeof value === 'string' ? value : JSON.stringify(value ?? null));

/** Appends a HistoryEvent of `type` (with its details member) to the execution's history. */
function append(record, type, timestamp, details = {}) {
  const id = record.events.length + 1;
  record.events.push({ timestamp: seconds(timestamp), type, id, previousEventId: id - 1, ...details });
}

/** Registers a RUNNING execution with its ExecutionStarted event. */
function newExecution(api, { machine, name, input, startDate = Date.now(), parent = null }) {
  const record = {
    seq: api.seq++,
    arn: executionArn(machine, name),
    name,
    machine,
    machineArn: stateMachineArn(machine),
    input,
    startDate,
    stopDate: null,
    status: 'RUNNING',
    output: null,
    error: null,
    cause: null,
    events: [],
    children: [],
    controller: new AbortController(),
  };
  api.executions.set(record.arn, record);
  parent?.children.push(record);
  append(record, 'ExecutionStarted', startDate, {
    executionStartedEventDetails: { input, inputDetails: NOT_TRUNCATED, roleArn: localRoleArn(machine) },
  });
  api.log(`started ${name} (${machine}${parent ? `, child of ${parent.name}` : ''})`);
  return record;
}

const TERMINAL_EVENTS = {
  SUCCEEDED: ['ExecutionSucceeded', 'executionSucceededEventDetails'],
  FAILED: ['ExecutionFailed', 'executionFailedEventDetails'],
  TIMED_OUT: ['ExecutionTimedOut', 'executionTimedOutEventDetails'],
  ABORTED: ['ExecutionAborted', 'executionAbortedEventDetails'],
};

/** Ends a RUNNING execution with `status` and its terminal event; nothing is added to its history after. */
function close(api, record, status, { output = null, error = null, cause = null, at = Date.now() }) {
  if (record.status !== 'RUNNING') return;
  Object.assign(record, { status, stopDate: at, output: status === 'SUCCEEDED' ? output : null, error, cause });
  const [type, member] = TERMINAL_EVENTS[status];
  const details = status === 'SUCCEEDED'
    ? { output, outputDetails: NOT_TRUNCATED }
    : Object.fromEntries(Object.entries({ error, cause }).filter(([, value]) => value !== null && value !== undefined));
  append(record, type, at, { [member]: details });
  const took = ((at - record.startDate) / 1000).toFixed(1);
  api.log(`ended ${record.name} (${record.machine}) ${status}${error ? ` ${error}` : ''} after ${took}s`);
}

/** Stops a RUNNING execution and the executions it started that still run. */
function abort(api, record, reason) {
  if (record.status !== 'RUNNING') return;
  record.controller.abort(reason);
  close(api, record, 'ABORTED', reason);
  for (const child of record.children) abort(api, child, reason);
}

/** An engine event (runner.mjs onEvent) as history. */
function onEngineEvent(api, record, event) {
  if (record.status !== 'RUNNING') return;
  const { state } = event;
  switch (event.type) {
    case 'StateEntered':
      append(record, `${state.type}StateEntered`, event.timestamp, {
        stateEnteredEventDetails: { name: state.name, input: json(state.input), inputDetails: NOT_TRUNCATED },
      });
      break;
    case 'StateExited':
      append(record, `${state.type}StateExited`, event.timestamp, {
        stateExitedEventDetails: { name: state.name, output: json(state.output), outputDetails: NOT_TRUNCATED },
      });
      break;
    case 'StateFailed':
      // A Task's failure is its TaskFailed (onTaskEvent); other states fail the execution itself.
      if (state.type === 'Map' || state.type === 'Parallel') append(record, `${state.type}StateFailed`, event.timestamp);
      break;
    case 'MapIterationStarted':
    case 'MapIterationSucceeded':
    case 'MapIterationFailed': {
      const member = `mapIteration${event.type.slice('MapIteration'.length)}EventDetails`;
      append(record, event.type, event.timestamp, { [member]: { name: event.parentState.name, index: event.index } });
      break;
    }
    case 'ExecutionSucceeded':
      close(api, record, 'SUCCEEDED', { output: json(event.output), at: event.timestamp });
      break;
    case 'ExecutionFailed':
      close(api, record, 'FAILED', { error: event.Error, cause: text(event.Cause), at: event.timestamp });
      break;
    case 'ExecutionTimeout':
      close(api, record, 'TIMED_OUT', { error: 'States.Timeout', cause: 'the execution ran past its TimeoutSeconds', at: event.timestamp });
      break;
    case 'ExecutionAborted':
      close(api, record, 'ABORTED', { at: event.timestamp });
      break;
    default:
      break;
  }
}

const LAMBDA_FUNCTION_ARN = /^arn:aws[a-z-]*:lambda:[^:]+:[^:]+:function:/;

/** `arn:aws:states:::lambda:invoke.waitForTaskToken` → resourceType `lambda`, resource `invoke.waitForTaskToken`. */
function integration(resource) {
  const rest = resource.replace(/^arn:aws[a-z-]*:states:::/, '');
  const colon = rest.indexOf(':');
  return colon < 0 ? { resourceType: rest, resource: rest } : { resourceType: rest.slice(0, colon), resource: rest.slice(colon + 1) };
}

const withTimeout = (event) => (event.timeoutSeconds ? { timeoutInSeconds: event.timeoutSeconds } : {});

/** A task event of a Task whose resource is a function ARN, as Step Functions records it. */
function lambdaFunctionEvent(event) {
  switch (event.type) {
    case 'TaskScheduled':
      return ['LambdaFunctionScheduled', { lambdaFunctionScheduledEventDetails: {
        resource: event.resource, input: json(event.parameters), inputDetails: NOT_TRUNCATED, ...withTimeout(event),
      } }];
    case 'TaskStarted':
      return ['LambdaFunctionStarted', {}];
    case 'TaskSucceeded':
      return ['LambdaFunctionSucceeded', { lambdaFunctionSucceededEventDetails: { output: json(event.output), outputDetails: NOT_TRUNCATED } }];
    case 'TaskFailed':
      return ['LambdaFunctionFailed', { lambdaFunctionFailedEventDetails: { error: event.error, cause: event.cause } }];
    case 'TaskTimedOut':
      return ['LambdaFunctionTimedOut', { lambdaFunctionTimedOutEventDetails: { error: event.error, cause: event.cause } }];
    default:
      return null;
  }
}

/** A task event of a service integration Task, as Step Functions records it. */
function integrationEvent(event) {
  const base = integration(event.resource);
  switch (event.type) {
    case 'TaskScheduled':
      return ['TaskScheduled', { taskScheduledEventDetails: {
        ...base, region: LOCAL_REGION, parameters: json(event.parameters), ...withTimeout(event),
      } }];
    case 'TaskStarted':
      return ['TaskStarted', { taskStartedEventDetails: base }];
    case 'TaskSubmitted':
      return ['TaskSubmitted', { taskSubmittedEventDetails: { ...base, output: json(event.output), outputDetails: NOT_TRUNCATED } }];
    case 'TaskSucceeded':
      return ['TaskSucceeded', { taskSucceededEventDetails: { ...base, output: json(event.output), outputDetails: NOT_TRUNCATED } }];
    case 'TaskFailed':
      return ['TaskFailed', { taskFailedEventDetails: { ...base, error: event.error, cause: event.cause } }];
    case 'TaskTimedOut':
      return ['TaskTimedOut', { taskTimedOutEventDetails: { ...base, error: event.error, cause: event.cause } }];
    default:
      return null;
  }
}

/** A task event (runner.mjs onTaskEvent) as history. */
function onTaskEvent(record, event) {
  if (record.status !== 'RUNNING') return;
  const entry = LAMBDA_FUNCTION_ARN.test(event.resource) ? lambdaFunctionEvent(event) : integrationEvent(event);
  if (entry) append(record, entry[0], event.timestamp, entry[1]);
}

/** The runner options that keep `record` up to date (and its children, as they start). */
function executionHooks(api, record) {
  return {
    signal: record.controller.signal,
    onEvent: (event) => onEngineEvent(api, record, event),
    onTaskEvent: (event) => onTaskEvent(record, event),
    onChildExecution: (child) => {
      const childRecord = newExecution(api, {
        machine: child.machine, name: child.runId, input: json(child.input), startDate: child.startDate, parent: record,
      });
      return executionHooks(api, childRecord);
    },
    // The engine's terminal event has closed it, unless the run could not start.
    onEnd: (result) => close(api, record, result.status, { output: json(result.output), error: result.error, cause: result.cause }),
  };
}

/** Runs a registered execution in the background. */
function launch(api, record, input) {
  const { onEnd, ...hooks } = executionHooks(api, record);
  runMachine({
    machine: record.machine,
    input,
    endpoint: api.endpoint,
    runId: record.name,
    fastWaits: api.fastWaits,
    fastWaitMs: api.fastWaitMs,
    root: api.root,
    ...hooks,
  }).then(onEnd, (err) => onEnd({ status: 'FAILED', error: 'States.Runtime', cause: err.message }));
}

// ---------------------------------------------------------------------------------------------
// Operations: each takes the request body and answers with the reply body.

const omitUnset = (object) => Object.fromEntries(Object.entries(object).filter(([, value]) => value !== null && value !== undefined));

function startExecution(api, body) {
  const machine = machineOf(api, requiredString(body, 'stateMachineArn', 2048));
  const name = optionalString(body, 'name', 1024) ?? randomUUID();
  checkName(name);
  const input = optionalString(body, 'input', MAX_BODY_BYTES) ?? '{}';
  checkDataSize('input', input, 'InvalidExecutionInput');
  let parsed;
  try {
    parsed = JSON.parse(input);
  } catch (err) {
    throw new ApiError('InvalidExecutionInput', `input is not JSON: ${err.message}`);
  }
  const existing = api.executions.get(executionArn(machine.name, name));
  if (existing) {
    // Step Functions: the same name and input while the execution is open is the same request.
    if (existing.status === 'RUNNING' && JSON.stringify(JSON.parse(existing.input)) === JSON.stringify(parsed)) {
      return { executionArn: existing.arn, startDate: seconds(existing.startDate) };
    }
    throw new ApiError('ExecutionAlreadyExists', existing.status === 'RUNNING'
      ? `the execution ${name} of ${machine.name} is running with another input`
      : `the execution ${name} of ${machine.name} already ran (${existing.status}); names are not reused`);
  }
  const record = newExecution(api, { machine: machine.name, name, input });
  launch(api, record, parsed);
  return { executionArn: record.arn, startDate: seconds(record.startDate) };
}

/** What DescribeExecution and ListExecutions both say of an execution. */
function executionItem(record) {
  return {
    executionArn: record.arn,
    stateMachineArn: record.machineArn,
    name: record.name,
    status: record.status,
    startDate: seconds(record.startDate),
    stopDate: record.stopDate === null ? null : seconds(record.stopDate),
  };
}

function describeExecution(api, body) {
  const record = executionOf(api, requiredString(body, 'executionArn', 2048));
  return omitUnset({
    ...executionItem(record),
    input: record.input,
    inputDetails: { included: true },
    output: record.output,
    outputDetails: record.output === null ? null : { included: true },
    error: record.error,
    cause: record.cause,
  });
}

/** Details members without the execution's data (includeExecutionData false). */
const DATA_MEMBERS = new Set(['input', 'inputDetails', 'output', 'outputDetails', 'parameters']);

function withoutData(event) {
  return Object.fromEntries(Object.entries(event).map(([key, value]) => [
    key,
    key.endsWith('EventDetails') ? Object.fromEntries(Object.entries(value).filter(([member]) => !DATA_MEMBERS.has(member))) : value,
  ]));
}

function getExecutionHistory(api, body) {
  const record = executionOf(api, requiredString(body, 'executionArn', 2048));
  const maxResults = maxResultsOf(body);
  const reverse = optionalBoolean(body, 'reverseOrder', false);
  const includeData = optionalBoolean(body, 'includeExecutionData', true);
  const kind = reverse ? 'history-reverse' : 'history';
  const after = cursorOf(body, kind, record.arn);
  let events = reverse ? [...record.events].reverse() : record.events;
  if (after !== undefined) events = events.filter((event) => (reverse ? event.id < after : event.id > after));
  const { slice, nextToken } = page(events, maxResults, kind, record.arn, (event) => event.id);
  return omitUnset({ events: includeData ? slice : slice.map(withoutData), nextToken });
}

function listExecutions(api, body) {
  if (body.mapRunArn !== undefined && body.mapRunArn !== null) throw validation('mapRunArn is not supported by the local API');
  const machine = machineOf(api, requiredString(body, 'stateMachineArn', 2048));
  const statusFilter = optionalString(body, 'statusFilter', 32);
  if (statusFilter !== undefined && !STATUSES.has(statusFilter)) {
    throw validation(`statusFilter must be one of ${[...STATUSES].join(', ')}`);
  }
  const maxResults = maxResultsOf(body);
  const key = `${machine.arn}|${statusFilter ?? ''}`;
  const after = cursorOf(body, 'executions', key);
  const matching = [...api.executions.values()]
    .filter((record) => record.machineArn === machine.arn && (!statusFilter || record.status === statusFilter))
    .filter((record) => after === undefined || record.seq < after)
    .sort((a, b) => b.seq - a.seq);
  const { slice, nextToken } = page(matching, maxResults, 'executions', key, (record) => record.seq);
  const executions = slice.map((record) => omitUnset(executionItem(record)));
  return omitUnset({ executions, nextToken });
}

function listStateMachines(api, body) {
  const maxResults = maxResultsOf(body);
  const after = cursorOf(body, 'state-machines', '');
  const all = [...api.machines.values()];
  const rest = all.slice(after === undefined ? 0 : after + 1);
  const { slice, nextToken } = page(rest, maxResults, 'state-machines', '', (machine) => all.indexOf(machine));
  const stateMachines = slice.map((machine) => ({
    stateMachineArn: machine.arn, name: machine.name, type: 'STANDARD', creationDate: seconds(machine.creationDate),
  }));
  return omitUnset({ stateMachines, nextToken });
}

function describeStateMachine(api, body) {
  const machine = machineOf(api, requiredString(body, 'stateMachineArn', 2048));
  return {
    stateMachineArn: machine.arn,
    name: machine.name,
    status: 'ACTIVE',
    definition: machine.definition,
    roleArn: localRoleArn(machine.name),
    type: 'STANDARD',
    creationDate: seconds(machine.creationDate),
    loggingConfiguration: { level: 'OFF', includeExecutionData: false },
    tracingConfiguration: { enabled: false },
  };
}

/** Calls a runner token function, its TaskTokenError becoming the API error of the same code. */
function withToken(call) {
  try {
    call();
  } catch (err) {
    if (err instanceof TaskTokenError) throw new ApiError(err.name, err.message);
    throw err;
  }
  return {};
}

function sendSuccess(api, body) {
  const token = requiredString(body, 'taskToken', 2048);
  const output = requiredString(body, 'output', MAX_BODY_BYTES);
  checkDataSize('output', output, 'InvalidOutput');
  return withToken(() => sendTaskSuccess(token, output));
}

function sendFailure(api, body) {
  const token = requiredString(body, 'taskToken', 2048);
  const error = optionalString(body, 'error', 256);
  const cause = optionalString(body, 'cause', 32768);
  return withToken(() => sendTaskFailure(token, error, cause));
}

function sendHeartbeat(api, body) {
  const token = requiredString(body, 'taskToken', 2048);
  return withToken(() => sendTaskHeartbeat(token));
}

function stopExecution(api, body) {
  const record = executionOf(api, requiredString(body, 'executionArn', 2048));
  const error = optionalString(body, 'error', 256);
  const cause = optionalString(body, 'cause', 32768);
  abort(api, record, { error, cause });
  return { stopDate: seconds(record.stopDate) };
}

const OPERATIONS = {
  StartExecution: startExecution,
  DescribeExecution: describeExecution,
  GetExecutionHistory: getExecutionHistory,
  ListExecutions: listExecutions,
  ListStateMachines: listStateMachines,
  DescribeStateMachine: describeStateMachine,
  SendTaskSuccess: sendSuccess,
  SendTaskFailure: sendFailure,
  SendTaskHeartbeat: sendHeartbeat,
  StopExecution: stopExecution,
};

/** The operations the local API answers. */
export const OPERATION_NAMES = Object.freeze(Object.keys(OPERATIONS));

// ---------------------------------------------------------------------------------------------
// HTTP.

/** The request body as JSON (an empty body is `{}`); rejects with an ApiError. */
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return reject(validation(`the request body is larger than ${MAX_BODY_BYTES} bytes`));
      const raw = Buffer.concat(chunks).toString('utf8');
      if (raw.trim() === '') return resolve({});
      let body;
      try {
        body = JSON.parse(raw);
      } catch (err) {
        return reject(validation(`the request body is not JSON: ${err.message}`));
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) return reject(validation('the request body must be a JSON object'));
      return resolve(body);
    });
  });
}

function reply(res, status, body, extraHeaders = {}) {
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': payload.length,
    'x-amzn-requestid': randomUUID(),
    ...extraHeaders,
  });
  res.end(payload);
}

function replyError(res, status, code, message) {
  reply(res, status, { __type: code, message }, { 'x-amzn-errortype': code });
}

/** The operation `X-Amz-Target` names, or an UnknownOperationException. */
function operationOf(req) {
  const target = String(req.headers['x-amz-target'] ?? '');
  const [prefix, name] = target.split('.');
  if (req.method === 'POST' && prefix === 'AWSStepFunctions' && Object.hasOwn(OPERATIONS, name)) return OPERATIONS[name];
  throw new ApiError('UnknownOperationException', `${req.method} ${req.url} with X-Amz-Target ${JSON.stringify(target)}: `
    + `the local API answers POST / with AWSStepFunctions.<${OPERATION_NAMES.join('|')}>`);
}

async function handle(api, req, res) {
  try {
    const body = await readBody(req);
    reply(res, 200, operationOf(req)(api, body));
  } catch (err) {
    if (err instanceof ApiError) {
      replyError(res, 400, err.name, err.message);
    } else {
      api.log(`internal error: ${err.stack ?? err}`);
      replyError(res, 500, 'InternalFailure', err.message);
    }
  }
}

/** Every infra/statemachines/*.asl.json under `root`, by state machine ARN. */
function loadMachines(root) {
  const dir = join(root, 'infra', 'statemachines');
  const creationDate = Date.now();
  const machines = new Map();
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.asl.json')).sort()) {
    const name = file.slice(0, -'.asl.json'.length);
    const { definition, functions } = loadDefinition(name, root);
    const arn = stateMachineArn(name);
    machines.set(arn, { arn, name, definition: JSON.stringify(definition, null, 2), functions, creationDate });
  }
  return machines;
}

/**
 * The local Step Functions API over the state machines under `root` (default: this repository),
 * running their Tasks against the functions at `endpoint`. `fastWaits` and `fastWaitMs` as in
 * runMachine; `log(line)` hears one line per execution started and ended. Returns
 * `{machines, functions, executions, handle(req, res), listen(port), close(), histories()}`: `listen`
 * serves on 127.0.0.1 (port 0: a free one) and resolves with the URL; `close` stops every running
 * execution and the server; `histories` is every execution, oldest first, as ListExecutions lists it
 * with its whole history as GetExecutionHistory gives it (`events`).
 */
export function createApi({ endpoint, root = ROOT, fastWaits = true, fastWaitMs = undefined, log = () => {} }) {
  if (!endpoint) throw new Error('the local Step Functions API needs the endpoint of the functions (FERRY_LAMBDA_ENDPOINT)');
  const machines = loadMachines(root);
  const functions = [...new Set([...machines.values()].flatMap((machine) => machine.functions))].sort();
  const api = { endpoint, root, fastWaits, fastWaitMs, log, machines, functions, executions: new Map(), seq: 1 };
  let server = null;
  api.handle = (req, res) => handle(api, req, res);
  api.histories = () => [...api.executions.values()].sort((a, b) => a.seq - b.seq)
    .map((record) => ({ ...omitUnset(executionItem(record)), events: record.events }));
  api.listen = (port = 0) => new Promise((resolve, reject) => {
    server = createServer(api.handle);
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`));
  });
  api.close = () => new Promise((resolve) => {
    for (const record of api.executions.values()) {
      abort(api, record, { error: 'States.Aborted', cause: 'the local Step Functions API stopped' });
    }
    if (!server) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
  return api;
}
