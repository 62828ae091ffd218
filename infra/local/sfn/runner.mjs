// Runs one of ferry's state machines (infra/statemachines/<machine>.asl.json) locally with
// aws-local-stepfunctions: every Task is forwarded to the functions served by `cargo lambda watch`
// over the Lambda Invoke API, Waits and retry pauses are shortened, Choice type tests against false
// are rewritten around an engine bug (negateFalseTypeTests), and the execution's events are reported
// as they happen. Shared by the `run.mjs` command and the flow tests.

import { readFileSync, existsSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StateMachine } from 'aws-local-stepfunctions';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

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

/** The Task resource that runs another state machine and waits for its output. */
export const START_EXECUTION_SYNC = 'arn:aws:states:::states:startExecution.sync:2';

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
 * deserialization error): `cargo lambda watch` checks the build and starts a function's process on
 * its first invocation, which would otherwise count towards the first state that calls it.
 * Resolves with the seconds it took.
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

/**
 * The engine's state machine for `definition`. aws-local-stepfunctions checks a definition against
 * the Amazon States Language schema (asl-validator) every time it builds one, which costs a tenth
 * of a second or more: a run of the refresh machine builds one for each of its child executions.
 * So each definition is checked the first time this process builds it, and not again.
 */
function engineMachine(definition) {
  const text = JSON.stringify(definition);
  const checked = checkedDefinitions.has(text);
  const stateMachine = new StateMachine(definition, checked ? { validationOptions: { noValidate: true } } : undefined);
  checkedDefinitions.add(text);
  return stateMachine;
}

/**
 * Runs `machine` on `input` against the functions at `endpoint`.
 *
 * Options: `runId` (execution name, default local-<ms>), `fastWaits` (default true: every Wait and
 * retry pause lasts `fastWaitMs`, default FAST_WAIT_MS), `onEvent(event, line)` (called for every execution event, with
 * its formatted line or null), `invokeTimeoutMs`.
 *
 * A Task whose resource is START_EXECUTION_SYNC runs the state machine it names the same way, as an
 * execution of its own (its own history), and answers as Step Functions does: `{ExecutionArn,
 * Status, Output}`, or the error States.TaskFailed whose cause holds the child's Error and Cause.
 *
 * Resolves (never rejects for a failed execution) with `{runId, status, output, error, cause,
 * events, invocations, children, timeline, durationMs}`: status SUCCEEDED or FAILED, `events` this
 * execution's own history, `children` the results of the executions it started (each with its own
 * `events`), `timeline` the events of this execution and of every execution under it, in the
 * order they happened, and `invocations` the function invocations of all of them, in order, as
 * `{name, state, input}`.
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
}) {
  if (!endpoint) throw new Error('runMachine needs the endpoint of the functions (FERRY_LAMBDA_ENDPOINT)');
  const { definition } = loadDefinition(machine, root);
  const invocations = [];
  const inFlight = new Set();
  const taskResourceLocalHandlers = {};
  const waitTimeOverrides = {};
  const retryIntervalOverrides = {};
  const children = [];
  const timeline = [];
  let childRuns = 0;
  for (const [name, state] of allStates(definition)) {
    if (state.Type === 'Task' && state.Resource === START_EXECUTION_SYNC) {
      taskResourceLocalHandlers[name] = async ({ StateMachineArn, Input }) => {
        const child = StateMachineArn.split(':stateMachine:')[1];
        childRuns += 1;
        const childRun = await runMachine({
          machine: child,
          input: Input,
          endpoint,
          runId: `${runId}.${child}.${childRuns}`,
          fastWaits,
          fastWaitMs,
          onEvent: (event, line) => onEvent(event, line === null ? null : `${line}  <${child}>`),
          invokeTimeoutMs,
          root,
        });
        children.push(childRun);
        invocations.push(...childRun.invocations);
        timeline.push(...childRun.timeline);
        const executionArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${child}:${childRun.runId}`;
        if (childRun.status !== 'SUCCEEDED') {
          // What Step Functions answers for a failed child: States.TaskFailed, with the child's
          // DescribeExecution document (holding its own Error and Cause) as the cause.
          throw new FunctionError('States.TaskFailed', JSON.stringify({
            ExecutionArn: executionArn, Status: childRun.status, Error: childRun.error, Cause: childRun.cause,
          }));
        }
        return { ExecutionArn: executionArn, Status: 'SUCCEEDED', Output: childRun.output };
      };
    } else if (state.Type === 'Task') {
      const fn = state.Resource.split(':function:')[1];
      if (!fn) throw new Error(`Task ${name}: resource ${state.Resource} is not a Lambda function ARN`);
      taskResourceLocalHandlers[name] = (payload) => {
        invocations.push({ name: fn, state: name, input: payload });
        const call = invokeFunction(endpoint, fn, payload, invokeTimeoutMs);
        inFlight.add(call);
        call.then(() => inFlight.delete(call), () => inFlight.delete(call));
        return call;
      };
    }
    if (state.Type === 'Choice') state.Choices = state.Choices.map(negateFalseTypeTests);
    if (fastWaits && state.Type === 'Wait') waitTimeOverrides[name] = fastWaitMs;
    if (fastWaits && state.Retry) retryIntervalOverrides[name] = fastWaitMs;
  }

  const machineArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${machine}`;
  const context = {
    Execution: {
      Id: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${machine}:${runId}`,
      Name: runId,
      RoleArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/ferry-${machine}-local`,
    },
    StateMachine: { Id: machineArn, Name: machine },
    // aws-local-stepfunctions fills in only Execution.Input and Execution.StartTime. A state's
    // Parameters and ResultSelector are evaluated as it runs, so "now" is its entered time here.
    State: {
      get EnteredTime() {
        return new Date().toISOString();
      },
    },
  };

  const stateMachine = engineMachine(definition);
  const startedAt = Date.now();
  const format = eventPrinter(startedAt);
  const execution = stateMachine.run(input, {
    overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides },
    context,
  });
  const events = [];
  const logging = (async () => {
    for await (const event of execution.eventLogs) {
      events.push(event);
      timeline.push(event);
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
    status = 'FAILED';
    const failure = err?.cause instanceof Error ? err.cause : err;
    error = failure?.name ?? 'Error';
    cause = failure?.message ?? String(failure);
  }
  await logging;
  // A failed branch stops the execution, not the invocations other branches had under way: wait
  // for them, so that nothing is still writing when the caller looks at the result.
  await Promise.allSettled([...inFlight]);
  return {
    runId, status, output, error, cause, events, invocations, children, timeline, durationMs: Date.now() - startedAt,
  };
}
