// Runs one of ferry's state machines (infra/statemachines/<machine>.asl.json) locally with
// aws-local-stepfunctions: every Task is forwarded to the functions served over the Lambda Invoke
// API (by functions.mjs or `cargo lambda watch`; a function ARN, the Lambda Invoke integration, or
// its `.waitForTaskToken` form, whose tokens sendTaskSuccess and sendTaskFailure end), a
// `states:startExecution.sync:2` Task runs its state machine as an execution of its own, Waits and
// retry pauses are shortened, Choice type tests against false are rewritten around an engine bug
// (negateFalseTypeTests), and the execution's events are reported as they happen. Shared by the
// local Step Functions API (api.mjs) and the flow tests.

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExecutionAbortedError, StateMachine } from 'aws-local-stepfunctions';

/** This folder (infra/local/sfn), where the runner's npm packages are installed. */
const HERE = dirname(fileURLToPath(import.meta.url));

/** The repository root. */
export const ROOT = resolve(HERE, '..', '..', '..');

/** Account and region of the ARNs the local run substitutes (ferry's own account). */
export const LOCAL_ACCOUNT = '123456789012';
export const LOCAL_REGION = 'us-east-1';

/** Waits and retry pauses last this long when shortened (milliseconds). */
export const FAST_WAIT_MS = 100;

/** How long one function invocation may take before the runner gives up on it (milliseconds). */
export const INVOKE_TIMEOUT_MS = 20 * 60 * 1000;

/** `SetupDeployTable` → `setup-deploy-table`. */
export function kebab(pascal) {
  return pascal.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** The ARN a local run gives the function `name`. */
export function functionArn(name) {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${name}`;
}

/** The ARN a local run gives the state machine `name`. */
export function stateMachineArn(name) {
  return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${name}`;
}

/** The role a local run says the state machine `machine` runs with (`$$.Execution.RoleArn`). */
export function localRoleArn(machine) {
  return `arn:aws:iam::${LOCAL_ACCOUNT}:role/ferry-${machine}-local`;
}

/** The ARN of the execution `name` of the state machine `machine` in a local run. */
export function executionArn(machine, name) {
  return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${machine}:${name}`;
}

/** The Task resource that runs another state machine and waits for its output. */
export const START_EXECUTION_SYNC = 'arn:aws:states:::states:startExecution.sync:2';

/** The Task resource of the Lambda Invoke integration: `{FunctionName, Payload}` → `{StatusCode, Payload}`. */
export const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';

/** The Task resource that invokes a function with a task token, then waits for SendTaskSuccess or SendTaskFailure. */
export const LAMBDA_INVOKE_WAIT = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

/**
 * Reads a state machine definition and replaces its `${XFunctionArn}` and `${XStateMachineArn}`
 * substitutions with local ARNs. Returns the definition, the names of the functions it and the
 * state machines it starts use, and the names of those state machines.
 */
export function loadDefinition(machine, root = ROOT) {
  const path = join(root, 'infra', 'statemachines', `${machine}.asl.json`);
  if (!existsSync(path)) {
    throw new Error(`no state machine '${machine}': ${path} does not exist`);
  }
  const functions = new Set();
  const children = new Set();
  const text = readFileSync(path, 'utf8')
    .replace(/\$\{([A-Za-z0-9]+)FunctionArn\}/g, (_, pascal) => {
      const name = kebab(pascal);
      if (!existsSync(join(root, 'functions', name))) {
        throw new Error(`${path} names \${${pascal}FunctionArn}, but functions/${name} does not exist`);
      }
      functions.add(name);
      return functionArn(name);
    })
    .replace(/\$\{([A-Za-z0-9]+)StateMachineArn\}/g, (_, pascal) => {
      children.add(kebab(pascal));
      return stateMachineArn(kebab(pascal));
    });
  const leftover = text.match(/\$\{[^}]*\}/);
  if (leftover) {
    throw new Error(`${path}: no local value for the substitution ${leftover[0]}`);
  }
  for (const child of children) {
    for (const name of loadDefinition(child, root).functions) functions.add(name);
  }
  return { definition: JSON.parse(text), functions: [...functions].sort(), children: [...children].sort(), path };
}

/** Every state of a definition, including those inside Parallel branches and Map processors. */
export function allStates(definition) {
  const found = [];
  const visit = (machine) => {
    for (const [name, state] of Object.entries(machine.States)) {
      found.push([name, state]);
      for (const branch of state.Branches ?? []) visit(branch);
      const processor = state.ItemProcessor ?? state.Iterator;
      if (processor) visit(processor);
    }
  };
  visit(definition);
  const names = found.map(([name]) => name);
  const twice = names.filter((name, i) => names.indexOf(name) !== i);
  if (twice.length > 0) {
    // Local overrides are keyed by state name, so a name used twice could not be told apart.
    throw new Error(`state names must be unique across the whole definition: ${[...new Set(twice)].join(', ')}`);
  }
  return found;
}

/** The Choice rule operators that test a value's type or presence. */
const TYPE_TESTS = ['IsNull', 'IsPresent', 'IsNumeric', 'IsString', 'IsBoolean', 'IsTimestamp'];

/**
 * A Choice rule with every type test against `false` (`"IsNull": false`) written as the negation of
 * the same test against `true`, which is what Step Functions means by it. aws-local-stepfunctions
 * 3.0.0 evaluates a type test against `false` as never matching (`IsNull && value === null`), so
 * `{"Variable": "$.x", "IsNull": false}` would never match a present, non-null `$.x`.
 */
export function negateFalseTypeTests(rule) {
  if (Array.isArray(rule.And)) return { ...rule, And: rule.And.map(negateFalseTypeTests) };
  if (Array.isArray(rule.Or)) return { ...rule, Or: rule.Or.map(negateFalseTypeTests) };
  if (rule.Not) return { ...rule, Not: negateFalseTypeTests(rule.Not) };
  const test = TYPE_TESTS.find((name) => rule[name] === false);
  if (!test) return rule;
  const { Next, ...condition } = rule;
  return { Not: { ...condition, [test]: true }, ...(Next === undefined ? {} : { Next }) };
}

/** An error a function returned; `name` is its errorType so Retry and Catch match on it. */
export class FunctionError extends Error {
  constructor(errorType, cause) {
    super(cause);
    this.name = errorType;
  }
}

/**
 * Invokes `name` over the Lambda Invoke API at `endpoint` (for example http://127.0.0.1:9100).
 * Resolves with the function's result; rejects with a FunctionError whose name is the function's
 * errorType and whose message is what Step Functions puts in `Cause` for a Lambda task: the
 * function's error document as text. Transport failures become the `Lambda.*` errors Step
 * Functions raises for them, so the definition's retriers apply to them too.
 */
export function invokeFunction(endpoint, name, payload, timeoutMs = INVOKE_TIMEOUT_MS) {
  const url = new URL(`/2015-03-31/functions/${encodeURIComponent(name)}/invocations`, endpoint);
  const body = Buffer.from(JSON.stringify(payload));
  return new Promise((resolvePromise, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': body.length },
      timeout: timeoutMs,
    }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('error', (err) => reject(new FunctionError('Lambda.SdkClientException', `${name}: ${err.message}`)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let document;
        try {
          document = text === '' ? null : JSON.parse(text);
        } catch {
          document = undefined;
        }
        const functionError = res.headers['x-amz-function-error'];
        if (functionError !== undefined || (res.statusCode >= 400 && document?.errorType)) {
          const errorType = document?.errorType ?? 'Lambda.Unknown';
          reject(new FunctionError(errorType, document === undefined ? text : JSON.stringify(document)));
        } else if (res.statusCode === 404) {
          reject(new FunctionError('Lambda.ResourceNotFoundException', `${name}: ${text || 'no such function'}`));
        } else if (res.statusCode === 429) {
          reject(new FunctionError('Lambda.TooManyRequestsException', `${name}: ${text}`));
        } else if (res.statusCode >= 400) {
          reject(new FunctionError('Lambda.ServiceException', `${name}: HTTP ${res.statusCode}: ${text}`));
        } else if (document === undefined) {
          reject(new FunctionError('Lambda.ServiceException', `${name} answered with a body that is not JSON: ${text.slice(0, 500)}`));
        } else {
          resolvePromise(document);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer after ${timeoutMs / 1000}s`)));
    req.on('error', (err) => reject(new FunctionError('Lambda.SdkClientException', `invoking ${name} at ${endpoint}: ${err.message}`)));
    req.end(body);
  });
}

/**
 * Starts every function once, all at the same time, with an empty payload (each answers with a
 * deserialization error): a function's first invocation starts its first instance (a process),
 * which would otherwise count towards the first state that calls it. Resolves with the seconds it
 * took.
 */
export async function warmUp(endpoint, functions) {
  const started = Date.now();
  await Promise.all(functions.map((name) => invokeFunction(endpoint, name, {}).catch((err) => {
    if (err.name.startsWith('Lambda.')) throw err;
  })));
  return (Date.now() - started) / 1000;
}

/** A readable form of an error cause: the message of a Lambda error document, else the text. */
export function describeCause(cause) {
  if (typeof cause !== 'string') return String(cause ?? '');
  try {
    const document = JSON.parse(cause);
    if (document && typeof document.errorMessage === 'string') return document.errorMessage;
  } catch {
    // not JSON: the cause is already text
  }
  return cause;
}

/** The execution name of a local run. */
export function localRunId() {
  return `local-${Date.now()}`;
}

/** What a state works on, from its input: the table, scan segment or bucket of a Map iteration. */
export function stateSubject(input) {
  if (!input || typeof input !== 'object') return '';
  const parts = [];
  const table = input.entry?.target ?? input.table?.target;
  if (typeof table === 'string') parts.push(table);
  if (Number.isInteger(input.segment)) parts.push(`segment ${input.segment}`);
  if (typeof input.bucket?.target === 'string') parts.push(`s3://${input.bucket.target}/${input.bucket.prefix ?? ''}`);
  return parts.length > 0 ? ` [${parts.join(', ')}]` : '';
}

const INSTANT = new Set(['Choice', 'Pass', 'Succeed', 'Fail']);

/**
 * Turns execution events into lines: Task, Wait, Map and Parallel states get a line when they are
 * entered and one when they exit (with their duration); Choice, Pass, Succeed and Fail states, which
 * take no time, one line when they are left; failures, retries and catches one line each.
 */
export function eventPrinter(startedAt = Date.now()) {
  const entered = new Map();
  return (event) => {
    const at = `+${((event.timestamp - startedAt) / 1000).toFixed(2).padStart(6)}s`;
    const state = event.state ? `${event.state.name}${stateSubject(event.state.input)}` : '';
    const key = event.state ? `${event.index ?? ''}/${state}` : '';
    switch (event.type) {
      case 'StateEntered':
        entered.set(key, event.timestamp);
        return INSTANT.has(event.state.type) ? null : `${at}  start ${state} (${event.state.type})`;
      case 'StateExited': {
        const took = entered.has(key) ? ` ${((event.timestamp - entered.get(key)) / 1000).toFixed(2)}s` : '';
        entered.delete(key);
        return INSTANT.has(event.state.type)
          ? `${at}  pass  ${state} (${event.state.type})`
          : `${at}  end   ${state} (${event.state.type})${took}`;
      }
      case 'StateFailed':
        return `${at}  FAIL  ${state} (${event.state.type}): ${event.Error}: ${describeCause(event.Cause)}`;
      case 'StateRetried':
        return `${at}  retry ${state} (attempt ${event.retry.attempt})`;
      case 'StateCaught':
        return `${at}  catch ${state} -> ${event.catch.catcher.Next}`;
      case 'ExecutionFailed':
        return `${at}  execution FAILED: ${event.Error}: ${describeCause(event.Cause)}`;
      case 'ExecutionSucceeded':
        return `${at}  execution SUCCEEDED`;
      default:
        return null;
    }
  };
}

/** The definitions (as JSON text) aws-local-stepfunctions has checked in this process. */
const checkedDefinitions = new Set();

/** The version of aws-local-stepfunctions, whose checks the files under CHECKED_DIR vouch for. */
const ENGINE_VERSION = JSON.parse(readFileSync(join(HERE, 'node_modules', 'aws-local-stepfunctions', 'package.json'), 'utf8')).version;

/**
 * Definitions that passed the check in earlier processes: one empty file each, named by the sha256
 * of the engine's version and the definition. Under node_modules/.cache, so that reinstalling the
 * engine forgets them.
 */
const CHECKED_DIR = join(HERE, 'node_modules', '.cache', 'ferry-asl-checked');

function checkedFile(text) {
  return join(CHECKED_DIR, createHash('sha256').update(`${ENGINE_VERSION}\n${text}`).digest('hex'));
}

/** Remembers that `text` passed the check, for later processes (best effort: a read-only tree just forgets). */
function rememberChecked(text) {
  try {
    mkdirSync(CHECKED_DIR, { recursive: true });
    writeFileSync(checkedFile(text), '');
  } catch {
    // the next process checks it again
  }
}

/**
 * The engine's state machine for `definition`. aws-local-stepfunctions checks a definition against
 * the Amazon States Language schema (asl-validator) every time it builds one, compiling the schema
 * anew each time: a fifth of a second to a second or more of blocked event loop per definition on
 * two busy cores, and a run of the refresh machine builds one for each of its child executions. So
 * each definition is checked once: the first time this process builds it, unless an earlier process
 * of the same engine version checked the same definition (CHECKED_DIR).
 */
function engineMachine(definition) {
  const text = JSON.stringify(definition);
  const checked = checkedDefinitions.has(text) || existsSync(checkedFile(text));
  const stateMachine = new StateMachine(definition, checked ? { validationOptions: { noValidate: true } } : undefined);
  if (!checked) rememberChecked(text);
  checkedDefinitions.add(text);
  return stateMachine;
}

/**
 * The definition of `machine` as the engine runs it: loaded (loadDefinition), each Task's timeout
 * prepared (prepareTaskTimeout) and each Choice type test against false rewritten
 * (negateFalseTypeTests).
 */
function engineDefinition(machine, root) {
  const { definition } = loadDefinition(machine, root);
  for (const [name, state] of allStates(definition)) {
    if (state.Type === 'Task') prepareTaskTimeout(name, state);
    if (state.Type === 'Choice') state.Choices = state.Choices.map(negateFalseTypeTests);
  }
  return definition;
}

/**
 * Checks the definitions of `machines` against the Amazon States Language schema now, as the engine
 * runs them, so that no execution of them (or of them as children) waits for the check; throws on
 * the first definition that fails it. A long-lived server calls it before it serves.
 */
export function checkDefinitions(machines, root = ROOT) {
  for (const machine of machines) engineMachine(engineDefinition(machine, root));
}

// ---------------------------------------------------------------------------------------------
// Task tokens (`.waitForTaskToken`): one registry per process, so that the local Step Functions
// API (api.mjs) can answer SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat for any execution.

/** A task token: 64 random bytes, base64url. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{86}$/;

/** The tasks waiting for a token, by token: `{resolve, reject, executionArn}`. */
const waitingTasks = new Map();

/** How the task of a token that no longer waits ended, by token (the most recent ones). */
const endedTasks = new Map();
const ENDED_TASKS_KEPT = 10_000;

/** An error of SendTaskSuccess, SendTaskFailure or SendTaskHeartbeat; `name` is the API's error code. */
export class TaskTokenError extends Error {
  constructor(code, message) {
    super(message);
    this.name = code;
  }
}

function newTaskToken() {
  return randomBytes(64).toString('base64url');
}

/** Registers a task waiting for `token`; resolves with its output, rejects with its failure. */
function awaitTaskToken(token, executionArn) {
  let resolve;
  let reject;
  const answer = new Promise((yes, no) => {
    resolve = yes;
    reject = no;
  });
  // Whoever waits sees the failure; a task that timed out no longer waits.
  answer.catch(() => {});
  waitingTasks.set(token, { resolve, reject, executionArn });
  return answer;
}

/** Ends the wait for `token` (`how`: succeeded, failed, timed out, was stopped, ended); returns its task, if it waited. */
function endTask(token, how) {
  const task = waitingTasks.get(token);
  if (!task) return null;
  waitingTasks.delete(token);
  endedTasks.set(token, how);
  if (endedTasks.size > ENDED_TASKS_KEPT) endedTasks.delete(endedTasks.keys().next().value);
  return task;
}

/** Fails every task of the execution `executionArn` that still waits for its token. */
function endTasksOf(executionArn, how) {
  for (const [token, task] of [...waitingTasks]) {
    if (task.executionArn !== executionArn) continue;
    endTask(token, how);
    task.reject(new FunctionError('States.Runtime', `the execution ${how} while the task waited for its token`));
  }
}

/** The task waiting for `token`, or the TaskTokenError that says why there is none. */
function waitingTask(token) {
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) {
    throw new TaskTokenError('InvalidToken', 'taskToken is not a task token of this runner');
  }
  const task = waitingTasks.get(token);
  if (task) return task;
  const how = endedTasks.get(token);
  if (how === 'timed out') throw new TaskTokenError('TaskTimedOut', 'the task of this taskToken timed out');
  throw new TaskTokenError('TaskDoesNotExist', how
    ? `the task of this taskToken no longer waits: it ${how}`
    : 'no task waits for this taskToken');
}

/** Ends the task waiting for `token` with `output` (JSON text) as its result (SendTaskSuccess). */
export function sendTaskSuccess(token, output) {
  const task = waitingTask(token);
  let result;
  try {
    result = JSON.parse(output);
  } catch (err) {
    throw new TaskTokenError('InvalidOutput', `output is not JSON: ${err.message}`);
  }
  endTask(token, 'succeeded');
  task.resolve(result);
}

/**
 * Fails the task waiting for `token` with `error` and `cause` (SendTaskFailure), as a function error
 * would: Retry and Catch match on `error`.
 */
export function sendTaskFailure(token, error, cause) {
  const task = waitingTask(token);
  endTask(token, 'failed');
  task.reject(new FunctionError(error ?? '', cause ?? ''));
}

/** Checks that a task waits for `token` (SendTaskHeartbeat; heartbeat timeouts are not kept locally). */
export function sendTaskHeartbeat(token) {
  waitingTask(token);
}

/** The token `$$.Task.Token` gave the task about to run (it appears in its parameters), or a new one. */
function claimTaskToken(run, parameters) {
  if (run.issuedTokens.length === 0) return newTaskToken();
  const text = JSON.stringify(parameters) ?? '';
  const token = run.issuedTokens.find((issued) => text.includes(issued)) ?? newTaskToken();
  run.issuedTokens.length = 0;
  return token;
}

// ---------------------------------------------------------------------------------------------
// Task handlers: one per Task state, by resource.

/** Where a rewritten TimeoutSecondsPath puts its value in a task's parameters (see prepareTaskTimeout). */
const TIMEOUT_KEY = '__ferry_timeout_seconds';

/** The timeout aws-local-stepfunctions gives a Task state that names none (seconds). */
const ENGINE_DEFAULT_TIMEOUT_SECONDS = 60;

/** The longest delay a Node timer keeps (a longer one fires at once): a token waits at most this long. */
export const MAX_TASK_TIMEOUT_SECONDS = 2_147_483;

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Prepares a Task state's timeout for the engine, which applies TimeoutSeconds and
 * TimeoutSecondsPath to local handlers itself (as `States.Timeout`, which `States.TaskFailed` does not
 * catch), but evaluates TimeoutSecondsPath against the state's evaluated Parameters instead of its
 * input, and gives a task without a timeout 60 s. So the path is evaluated along with the Parameters,
 * into TIMEOUT_KEY (the handlers take it out again), and a task waiting for a token with no timeout
 * waits as long as a timer can (Step Functions: about a year).
 */
function prepareTaskTimeout(name, state) {
  if (state.TimeoutSecondsPath && isPlainObject(state.Parameters)) {
    if ('InputPath' in state && state.InputPath !== '$') {
      throw new Error(`Task ${name}: TimeoutSecondsPath is read from the state's input, which the local runner cannot do with an InputPath`);
    }
    state.Parameters = { ...state.Parameters, [`${TIMEOUT_KEY}.$`]: state.TimeoutSecondsPath };
    state.TimeoutSecondsPath = `$.${TIMEOUT_KEY}`;
  } else if (state.Resource === LAMBDA_INVOKE_WAIT && !state.TimeoutSeconds && !state.TimeoutSecondsPath) {
    state.TimeoutSeconds = MAX_TASK_TIMEOUT_SECONDS;
  }
  if (state.Resource === LAMBDA_INVOKE_WAIT && !isPlainObject(state.Parameters)) {
    throw new Error(`Task ${name}: a .waitForTaskToken task needs Parameters that pass $$.Task.Token on`);
  }
}

/** A task's parameters without TIMEOUT_KEY, and the timeout the engine applies to it (seconds, or null when unknown). */
function taskParameters(state, parameters) {
  if (!isPlainObject(parameters) || !(TIMEOUT_KEY in parameters)) {
    const timeoutSeconds = state.TimeoutSeconds || (state.TimeoutSecondsPath ? null : ENGINE_DEFAULT_TIMEOUT_SECONDS);
    return { parameters, timeoutSeconds };
  }
  const { [TIMEOUT_KEY]: timeoutSeconds, ...rest } = parameters;
  return { parameters: rest, timeoutSeconds };
}

const TASK_ENDS = new Set(['TaskSucceeded', 'TaskFailed', 'TaskTimedOut']);

/**
 * Reports one attempt of a Task state to `run.onTaskEvent` as `{type, timestamp, state, resource,
 * ...details}`: TaskScheduled (`parameters`, `timeoutSeconds`) and TaskStarted at once, then what
 * the handler reports (TaskSubmitted `output`, TaskSucceeded `output`, TaskFailed `error` and
 * `cause`), or TaskTimedOut when the engine's timeout for the attempt fires; nothing after the
 * attempt ended. The engine logs StateEntered in the same step as it calls the handler, but hands
 * it on only later, so the first events wait a turn of the event loop to come after it.
 * `onTimeout` callbacks run when the attempt times out.
 */
function taskReporter(run, state, resource, parameters, timeoutSeconds) {
  const queue = [];
  const onTimeout = [];
  let ready = false;
  let ended = false;
  let timer = null;
  const deliver = (event) => run.onTaskEvent?.(event);
  const report = (type, details = {}) => {
    if (ended) return;
    ended = TASK_ENDS.has(type);
    if (ended) clearTimeout(timer);
    const event = { type, timestamp: Date.now(), state, resource, ...details };
    if (ready) deliver(event);
    else queue.push(event);
  };
  setImmediate(() => {
    ready = true;
    for (const event of queue.splice(0)) deliver(event);
  });
  // Started before the engine starts its own timer for the attempt, so it fires first.
  if (timeoutSeconds) {
    timer = setTimeout(() => {
      report('TaskTimedOut', { error: 'States.Timeout', cause: `the task did not end within ${timeoutSeconds} s` });
      for (const callback of onTimeout) callback();
    }, timeoutSeconds * 1000);
  }
  report('TaskScheduled', { parameters, timeoutSeconds });
  report('TaskStarted');
  return {
    report,
    onTimeout: (callback) => onTimeout.push(callback),
    fail(err) {
      report('TaskFailed', { error: err?.name ?? 'Error', cause: err?.message ?? String(err) });
      return err;
    },
  };
}

/** Refuses to start a task in a stopped execution (the engine still runs a retrier's next attempt). */
function refuseWhenStopped(run) {
  if (run.signal?.aborted) throw new FunctionError('States.Runtime', 'the execution was stopped');
}

/** Invokes `fn` for the Task state `state`, counted in `run.invocations` and awaited before the run ends. */
function invokeTracked(run, state, fn, payload) {
  run.invocations.push({ name: fn, state, input: payload });
  const call = invokeFunction(run.endpoint, fn, payload, run.invokeTimeoutMs);
  run.inFlight.add(call);
  call.then(() => run.inFlight.delete(call), () => run.inFlight.delete(call));
  return call;
}

/** The function a Lambda Invoke integration's FunctionName names: a name, or the name in a function ARN. */
export function functionName(nameOrArn) {
  const text = typeof nameOrArn === 'string' ? nameOrArn : '';
  const name = text.includes(':function:') ? text.split(':function:')[1].split(':')[0] : text;
  if (!name) throw new FunctionError('States.Runtime', `FunctionName must name a function, not ${JSON.stringify(nameOrArn)}`);
  return name;
}

/**
 * What every Task handler does first: refuses a stopped run, claims the attempt's task token,
 * evaluates the parameters and the timeout, and starts reporting the task.
 */
function beginTask(run, name, state, input) {
  refuseWhenStopped(run);
  const token = claimTaskToken(run, input);
  const { parameters, timeoutSeconds } = taskParameters(state, input);
  return { token, parameters, task: taskReporter(run, name, state.Resource, parameters, timeoutSeconds) };
}

/** What the Lambda Invoke integration answers for a function's payload. */
function lambdaResult(payload) {
  return { ExecutedVersion: '$LATEST', Payload: payload, StatusCode: 200 };
}

/** A Task whose resource is a function ARN: the function's answer is the result. */
function functionHandler(run, name, state) {
  const fn = state.Resource.split(':function:')[1];
  return async (input) => {
    const { parameters, task } = beginTask(run, name, state, input);
    try {
      const output = await invokeTracked(run, name, fn, parameters);
      task.report('TaskSucceeded', { output });
      return output;
    } catch (err) {
      throw task.fail(err);
    }
  };
}

/** A Task of the Lambda Invoke integration (request-response): `{FunctionName, Payload}` → `{StatusCode, Payload}`. */
function lambdaInvokeHandler(run, name, state) {
  return async (input) => {
    const { parameters, task } = beginTask(run, name, state, input);
    try {
      const payload = await invokeTracked(run, name, functionName(parameters?.FunctionName), parameters?.Payload ?? {});
      const output = lambdaResult(payload);
      task.report('TaskSucceeded', { output });
      return output;
    } catch (err) {
      throw task.fail(err);
    }
  };
}

/**
 * A Task of `lambda:invoke.waitForTaskToken`: invokes the function with its Payload (which passes
 * `$$.Task.Token` on), then waits for SendTaskSuccess (its output is the result) or SendTaskFailure
 * (a FunctionError(error, cause)). A function error fails the task at once; the engine's timeout
 * (TimeoutSeconds or TimeoutSecondsPath, never shortened) ends the wait with States.Timeout.
 */
function waitForTokenHandler(run, name, state) {
  return async (input) => {
    const { token, parameters, task } = beginTask(run, name, state, input);
    const answer = awaitTaskToken(token, run.arn);
    // The engine fails the attempt with States.Timeout; the handler's own answer would come first
    // and be caught as States.TaskFailed, so the wait ends without one.
    task.onTimeout(() => endTask(token, 'timed out'));
    try {
      const payload = await invokeTracked(run, name, functionName(parameters.FunctionName), parameters.Payload ?? {});
      task.report('TaskSubmitted', { output: lambdaResult(payload) });
    } catch (err) {
      endTask(token, 'failed');
      throw task.fail(err);
    }
    try {
      const output = await answer;
      task.report('TaskSucceeded', { output });
      return output;
    } catch (err) {
      throw task.fail(err);
    }
  };
}

/**
 * A Task whose resource is START_EXECUTION_SYNC: runs the state machine it names as an execution
 * of its own (its own history), named `<parent run id>.<machine>.<n>`, and answers as Step Functions
 * does: `{ExecutionArn, Status, Output}`, or the error States.TaskFailed whose cause holds the
 * child's Error and Cause. `run.onChildExecution`, when given, is told of the child before it starts
 * and may return the child's own `onEvent`, `onTaskEvent`, `onChildExecution`, `signal` and
 * `onEnd(result)` (called with the child's result, or `{status, error, cause}` when it could not run).
 */
function childExecutionHandler(run, name, state) {
  return async (input) => {
    const { parameters, task } = beginTask(run, name, state, input);
    const { StateMachineArn, Input } = parameters;
    const child = StateMachineArn.split(':stateMachine:')[1];
    run.childRuns += 1;
    const childRunId = `${run.runId}.${child}.${run.childRuns}`;
    const childArn = executionArn(child, childRunId);
    const startDate = Date.now();
    const hooks = run.onChildExecution?.({
      machine: child, runId: childRunId, executionArn: childArn, input: Input, startDate, parentArn: run.arn,
    }) ?? {};
    task.report('TaskSubmitted', { output: { ExecutionArn: childArn, StartDate: startDate } });
    const signals = [run.signal, hooks.signal].filter(Boolean);
    let childRun;
    try {
      childRun = await runMachine({
        machine: child,
        input: Input,
        endpoint: run.endpoint,
        runId: childRunId,
        fastWaits: run.fastWaits,
        fastWaitMs: run.fastWaitMs,
        onEvent: hooks.onEvent ?? ((event, line) => run.onEvent(event, line === null ? null : `${line}  <${child}>`)),
        onTaskEvent: hooks.onTaskEvent,
        onChildExecution: hooks.onChildExecution ?? run.onChildExecution,
        signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0],
        invokeTimeoutMs: run.invokeTimeoutMs,
        root: run.root,
      });
    } catch (err) {
      hooks.onEnd?.({ status: 'FAILED', error: 'States.Runtime', cause: err.message });
      throw task.fail(err);
    }
    hooks.onEnd?.(childRun);
    run.children.push(childRun);
    run.invocations.push(...childRun.invocations);
    run.timeline.push(...childRun.timeline);
    if (childRun.status !== 'SUCCEEDED') {
      // What Step Functions answers for a failed child: States.TaskFailed, with the child's
      // DescribeExecution document (holding its own Error and Cause) as the cause.
      throw task.fail(new FunctionError('States.TaskFailed', JSON.stringify({
        ExecutionArn: childArn, Status: childRun.status, Error: childRun.error, Cause: childRun.cause,
      })));
    }
    const output = { ExecutionArn: childArn, Status: 'SUCCEEDED', Output: childRun.output };
    task.report('TaskSucceeded', { output });
    return output;
  };
}

/** The local handler of the Task state `name`, by its resource. */
function taskHandler(run, name, state) {
  switch (state.Resource) {
    case START_EXECUTION_SYNC:
      return childExecutionHandler(run, name, state);
    case LAMBDA_INVOKE:
      return lambdaInvokeHandler(run, name, state);
    case LAMBDA_INVOKE_WAIT:
      return waitForTokenHandler(run, name, state);
    default:
      if (!state.Resource.split(':function:')[1]) {
        throw new Error(`Task ${name}: resource ${state.Resource} is not a Lambda function ARN, ${LAMBDA_INVOKE}, `
          + `${LAMBDA_INVOKE_WAIT} or ${START_EXECUTION_SYNC}`);
      }
      return functionHandler(run, name, state);
  }
}

/** The context object of an execution (what `$$` reads) beyond what aws-local-stepfunctions fills in. */
function executionContext(run) {
  return {
    Execution: {
      Id: run.arn,
      Name: run.runId,
      RoleArn: localRoleArn(run.machine),
    },
    StateMachine: { Id: stateMachineArn(run.machine), Name: run.machine },
    // aws-local-stepfunctions fills in only Execution.Input and Execution.StartTime. A state's
    // Parameters and ResultSelector are evaluated as it runs, so "now" is its entered time here.
    State: {
      get EnteredTime() {
        return new Date().toISOString();
      },
    },
    // A fresh token each time a state's Parameters read it: each attempt of a task gets its own.
    Task: {
      get Token() {
        const token = newTaskToken();
        run.issuedTokens.push(token);
        return token;
      },
    },
  };
}

/**
 * Runs `machine` on `input` against the functions at `endpoint`.
 *
 * Options: `runId` (execution name, default local-<ms>), `fastWaits` (default true: every Wait and
 * retry pause lasts `fastWaitMs`, default FAST_WAIT_MS; task timeouts are never shortened),
 * `onEvent(event, line)` (called for every execution event, with its formatted line or null),
 * `invokeTimeoutMs`, `root` (where infra/statemachines and functions are), and for the local Step
 * Functions API: `signal` (an AbortSignal: aborting it stops the execution, its reason's `error` and
 * `cause` becoming the result's), `onTaskEvent(event)` (each task attempt's TaskScheduled,
 * TaskStarted, TaskSubmitted, TaskSucceeded, TaskFailed and TaskTimedOut, which the engine does not
 * log; see taskReporter) and `onChildExecution(child)` (see childExecutionHandler).
 *
 * Task resources: a function ARN; START_EXECUTION_SYNC, run as a child execution of its own (its
 * own history); LAMBDA_INVOKE; LAMBDA_INVOKE_WAIT, whose `$$.Task.Token` is a fresh token that
 * sendTaskSuccess or sendTaskFailure ends.
 *
 * Resolves (never rejects for a failed execution) with `{runId, status, output, error, cause,
 * events, invocations, children, timeline, durationMs}`: status SUCCEEDED, FAILED or ABORTED,
 * `events` this execution's own history, `children` the results of the executions it started (each
 * with its own `events`), `timeline` the events of this execution and of every execution under it,
 * in the order they happened, and `invocations` the function invocations of all of them, in order,
 * as `{name, state, input}`.
 */
export async function runMachine({
  machine,
  input,
  endpoint,
  runId = localRunId(),
  fastWaits = true,
  fastWaitMs = FAST_WAIT_MS,
  onEvent = () => {},
  invokeTimeoutMs = INVOKE_TIMEOUT_MS,
  root = ROOT,
  signal = undefined,
  onTaskEvent = undefined,
  onChildExecution = undefined,
}) {
  if (!endpoint) throw new Error('runMachine needs the endpoint of the functions (FERRY_LAMBDA_ENDPOINT)');
  const definition = engineDefinition(machine, root);
  const run = {
    machine, runId, endpoint, fastWaits, fastWaitMs, onEvent, invokeTimeoutMs, root, signal, onTaskEvent, onChildExecution,
    arn: executionArn(machine, runId),
    invocations: [],
    inFlight: new Set(),
    children: [],
    timeline: [],
    childRuns: 0,
    issuedTokens: [],
  };
  const taskResourceLocalHandlers = {};
  const waitTimeOverrides = {};
  const retryIntervalOverrides = {};
  for (const [name, state] of allStates(definition)) {
    if (state.Type === 'Task') taskResourceLocalHandlers[name] = taskHandler(run, name, state);
    if (fastWaits && state.Type === 'Wait') waitTimeOverrides[name] = fastWaitMs;
    if (fastWaits && state.Retry) retryIntervalOverrides[name] = fastWaitMs;
  }

  const stateMachine = engineMachine(definition);
  const startedAt = Date.now();
  const format = eventPrinter(startedAt);
  const execution = stateMachine.run(input, {
    overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides },
    context: executionContext(run),
  });
  const stop = () => {
    execution.abort();
    endTasksOf(run.arn, 'was stopped');
  };
  if (signal?.aborted) stop();
  else signal?.addEventListener('abort', stop, { once: true });
  const events = [];
  const logging = (async () => {
    for await (const event of execution.eventLogs) {
      events.push(event);
      run.timeline.push(event);
      onEvent(event, format(event));
    }
  })();

  let status = 'SUCCEEDED';
  let output = null;
  let error = null;
  let cause = null;
  try {
    output = await execution.result;
  } catch (err) {
    if (err instanceof ExecutionAbortedError) {
      status = 'ABORTED';
      error = signal?.reason?.error ?? null;
      cause = signal?.reason?.cause ?? null;
    } else {
      status = 'FAILED';
      const failure = err?.cause instanceof Error ? err.cause : err;
      error = failure?.name ?? 'Error';
      cause = failure?.message ?? String(failure);
    }
  }
  signal?.removeEventListener('abort', stop);
  endTasksOf(run.arn, 'ended');
  await logging;
  // A failed branch stops the execution, not the invocations other branches had under way: wait
  // for them, so that nothing is still writing when the caller looks at the result.
  await Promise.allSettled([...run.inFlight]);
  const { invocations, children, timeline } = run;
  return {
    runId, status, output, error, cause, events, invocations, children, timeline, durationMs: Date.now() - startedAt,
  };
}
