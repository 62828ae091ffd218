#!/usr/bin/env bash
# The local stack: ferry's state machines behind a local Step Functions API, with everything they
# reach, started once and left running in the background, so the `ferry` command and the AWS CLI
# work against this machine as they do against AWS.
#
#   infra/local/stack.sh up      (make local-up)    start it, print its export lines, ARNs and inputs
#   infra/local/stack.sh down    (make local-down)  stop it (nothing happens when none is up)
#   infra/local/stack.sh env     print its export lines: source .local/stack/env, or
#                                eval "$(infra/local/stack.sh env)"
#
# `up` builds every function of every state machine and every simulator once (debug), then starts,
# each on a free port of 127.0.0.1 and in a session of its own (closing the terminal leaves it
# running): the local AWS endpoint, seeded with the demo world `showcase` (a Glue run is seen
# RUNNING by two status checks) and the artifact bucket (FERRY_ARTIFACT_BUCKET, default
# ferry-artifacts), with every `ferry` event sent to the queue ferry-events-local; the demo's
# Spark, Sesam (with git-server), Compass and Data Fusion worlds; the functions (as
# infra/local/run_local.sh serves them: infra/local/sfn/functions.mjs); the Step Functions API
# (infra/local/sfn/serve.mjs, warmed up, every infra/statemachines/*.asl.json registered as
# arn:aws:states:us-east-1:123456789012:stateMachine:<name>). It writes to .local/stack/: env (the
# export lines), inputs/ (every infra/examples/*-local.json with its placeholders filled), pids (the
# process groups `down` stops), one log per server and setup.log (builds, seeds, set-up errors).
# `up` on a stack that is up prints its export lines again. A failure during `up` stops what it
# started, names the log to read and exits non-zero.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

STACK="$FERRY_ROOT/.local/stack"
ENV_FILE="$STACK/env"
PID_FILE="$STACK/pids"
SETUP_LOG="$STACK/setup.log"
SFN="$FERRY_ROOT/infra/local/sfn"
SIMULATORS=(spark-sim sesam-sim git-server oc-sim director-sim cdap-sim)

usage() {
  echo "usage: infra/local/stack.sh up|down|env" >&2
  exit 2
}

# A path relative to the repository, for messages.
relative() {
  echo "${1#"$FERRY_ROOT"/}"
}

boot_id() {
  cat /proc/sys/kernel/random/boot_id
}

# group_alive PGID: whether a process of group PGID runs (one that ended but was not reaped yet,
# a zombie, does not).
group_alive() {
  ps -eo pgid=,stat= | awk -v group="$1" '$1 == group && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

# leader_runs PGID START: whether the process that leads group PGID still runs (it started at START;
# a later process given the same id did not).
leader_runs() {
  [ "$(process_start_time "$1" || true)" = "$2" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# ours PGID START: whether process group PGID is still the one recorded: a process runs in it, and its
# leader is the one recorded or has ended (an id in use as a group's is never given to a new process).
ours() {
  local started
  group_alive "$1" || return 1
  started=$(process_start_time "$1") || return 0
  [ "$started" = "$2" ]
}

# Reads PID_FILE into STACK_PGIDS, STACK_STARTS and STACK_NAMES; a file of an earlier boot names no
# process of this one and reads as empty.
read_groups() {
  local first pgid start name
  STACK_PGIDS=() STACK_STARTS=() STACK_NAMES=()
  {
    read -r first || true
    [ "$first" = "boot $(boot_id)" ] || return 0
    while read -r pgid start name; do
      STACK_PGIDS+=("$pgid") STACK_STARTS+=("$start") STACK_NAMES+=("$name")
    done
  } < "$PID_FILE"
}

# Prints the names of the recorded servers that run (`running`) or not (`stopped`), one a line.
servers() {
  local i
  for i in "${!STACK_PGIDS[@]}"; do
    if leader_runs "${STACK_PGIDS[$i]}" "${STACK_STARTS[$i]}"; then
      [ "$1" = running ] && echo "${STACK_NAMES[$i]}"
    else
      [ "$1" = stopped ] && echo "${STACK_NAMES[$i]}"
    fi
  done
  return 0
}

# When PID_FILE names a stack: prints its export lines and exits 0 when all of it runs, exits 1
# when part of it has stopped or it never finished starting; forgets a stack that has stopped.
check_existing() {
  local running stopped
  [ -f "$PID_FILE" ] || return 0
  read_groups
  running=$(servers running)
  stopped=$(servers stopped)
  if [ -z "$running" ]; then
    rm -f "$PID_FILE" "$ENV_FILE"
    return 0
  fi
  if [ -n "$stopped" ]; then
    echo "part of the local stack has stopped: $(echo "$stopped" | paste -sd ' ')" >&2
    echo "(logs in .local/stack/); run 'make local-down', then 'make local-up'" >&2
    exit 1
  fi
  if [ ! -f "$ENV_FILE" ]; then
    echo "a local stack is starting, or did not finish starting; run 'make local-down' first" >&2
    exit 1
  fi
  echo "the local stack is already up ('make local-down' stops it):"
  cat "$ENV_FILE"
  exit 0
}

require() {
  [ -x "$FERRY_PY" ] && [ -x "$FERRY_ROOT/.venv/bin/cargo-lambda" ] ||
    { echo "the local tools are missing from .venv: run 'make local-up' (or 'make setup')" >&2; exit 2; }
  [ -x "$SFN/node_modules/.bin/node" ] ||
    { echo "run 'npm ci' in infra/local/sfn first ('make local-up' does)" >&2; exit 2; }
  [ -f "$SFN/serve.mjs" ] || { echo "no Step Functions API: infra/local/sfn/serve.mjs is missing" >&2; exit 2; }
}

# step TEXT COMMAND...: prints TEXT, then runs COMMAND in this shell, so its exports stay. Not
# redirected as a whole: a trap runs within the redirections of the function it interrupts, and the
# message of a failed `up` must reach the terminal. Each step sends its chatter to setup.log or its
# server's log itself; what reaches the terminal is an error.
step() {
  echo "$1"
  CURRENT_STEP=$1
  STEP_LOG_START=$(stat -c %s "$SETUP_LOG")
  shift
  "$@"
}

# On leaving `up` before the stack is complete: stops what was started, names the step that failed
# and prints what that step wrote to setup.log (its end).
abandon_up() {
  local code=$?
  [ "${STACK_UP:-0}" = 1 ] && return 0
  [ "$code" -ne 0 ] || code=1
  stop_all
  rm -f "$PID_FILE" "$ENV_FILE"
  if [ -n "${STACK_SIGNAL:-}" ]; then
    echo "the local stack did not start ($STACK_SIGNAL), and what it had started is stopped; the step under way:" >&2
  else
    echo "the local stack did not start, and what it had started is stopped; the step that failed:" >&2
  fi
  echo "  ${CURRENT_STEP:-none}" >&2
  if [ "$(stat -c %s "$SETUP_LOG")" -gt "${STEP_LOG_START:-0}" ]; then
    echo "its output (the end of .local/stack/setup.log):" >&2
    tail -c "+$((STEP_LOG_START + 1))" "$SETUP_LOG" | tail -n 15 | sed 's/^/  /' >&2
  fi
  echo "logs: .local/stack/*.log" >&2
  exit "$code"
}

# Every function of every state machine, every simulator and the ferry command, in one build.
build_all() {
  local name functions args=()
  mapfile -t functions < <(machine_functions "$FERRY_ROOT"/infra/statemachines/*.asl.json)
  for name in "${functions[@]}" "${SIMULATORS[@]}" ferry; do
    args+=(--bin "$name")
  done
  cargo build --locked "${args[@]}" >> "$SETUP_LOG" 2>&1
}

# The local AWS endpoint with the demo world `showcase`, the artifact bucket and ferry's events
# captured in the queue ferry-events-local.
start_seeded_endpoint() {
  start_aws_endpoint "$STACK/aws-endpoint.log"
  "$FERRY_PY" "$FERRY_ROOT/infra/local/seed.py" --endpoint "$AWS_ENDPOINT_URL" --world showcase --glue-polls 2 \
    --artifact-bucket "$FERRY_ARTIFACT_BUCKET" >> "$SETUP_LOG" 2>&1
  "$FERRY_PY" "$FERRY_ROOT/infra/local/sesam_summary.py" --endpoint "$AWS_ENDPOINT_URL" --capture-events \
    >> "$SETUP_LOG" 2>&1
}

# .local/stack/env and .local/stack/inputs/.
write_stack_files() {
  local name example
  export AWS_DEFAULT_REGION=$AWS_REGION
  for name in AWS_ENDPOINT_URL AWS_ENDPOINT_URL_SFN AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION \
    AWS_DEFAULT_REGION FERRY_REFRESH_STATE_MACHINE_ARN FERRY_PROMOTE_STATE_MACHINE_ARN FERRY_ARTIFACT_BUCKET \
    FERRY_LAMBDA_ENDPOINT "${FERRY_PLACEHOLDERS[@]}"; do
    printf 'export %s=%q\n' "$name" "${!name}"
  done > "$ENV_FILE"
  rm -rf "$STACK/inputs"
  mkdir -p "$STACK/inputs"
  for example in "$FERRY_ROOT"/infra/examples/*-local.json; do
    fill_input "$example" "$STACK/inputs/${example##*/}"
  done
}

print_stack() {
  local input
  echo
  echo "the local stack is up ('source .local/stack/env' in a shell to use it; 'make local-down' stops it):"
  cat "$ENV_FILE"
  echo
  echo "state machines:"
  echo "  refresh  $FERRY_REFRESH_STATE_MACHINE_ARN"
  echo "  promote  $FERRY_PROMOTE_STATE_MACHINE_ARN"
  echo "inputs, placeholders filled:"
  for input in "$STACK"/inputs/*.json; do
    echo "  $(relative "$input")"
  done
  echo "logs: .local/stack/*.log"
  echo
  echo "try it (the command is built at $(relative "$FERRY_BIN")/ferry):"
  echo "  export PATH=\"$FERRY_BIN:\$PATH\""
  echo "  ferry plan promote --input .local/stack/inputs/promote-sesam-approval-local.json   # exit 2: changes"
  echo "  ferry run promote --input .local/stack/inputs/promote-sesam-approval-local.json    # waits for:"
  echo "  ferry approve <run>                                                                # (another shell)"
  echo "  ferry history"
}

cmd_up() {
  check_existing
  require
  mkdir -p "$STACK"
  : > "$SETUP_LOG"
  rm -f "$ENV_FILE"
  echo "boot $(boot_id)" > "$PID_FILE"
  export FERRY_PID_FILE="$PID_FILE"
  trap abandon_up EXIT
  trap 'STACK_SIGNAL=SIGINT; exit 130' INT
  trap 'STACK_SIGNAL=SIGTERM; exit 143' TERM
  export FERRY_ARTIFACT_BUCKET=${FERRY_ARTIFACT_BUCKET:-ferry-artifacts}
  export FERRY_PROTECTED_ACCOUNT_IDS=${FERRY_PROTECTED_ACCOUNT_IDS:-111111111111}

  step "building every function and simulator (debug; the first build on a machine takes several minutes)" build_all
  step "starting the local AWS endpoint (demo world showcase, bucket $FERRY_ARTIFACT_BUCKET)" start_seeded_endpoint
  step "starting the Spark world (spark-sim: acme-uat, acme-prod)" start_spark_world "$STACK"
  step "starting the Sesam world (sesam-sim: node prod; git-server: sesam-config.git)" start_sesam_world "$STACK"
  step "starting the Compass world (oc-sim, director-sim)" start_compass_world "$STACK"
  step "starting the Data Fusion world (cdap-sim: df-dev, df-qa)" start_datafusion_world "$STACK"
  step "starting the functions (infra/local/sfn/functions.mjs)" start_functions "$STACK/functions.log"
  step "starting the Step Functions API (every function warmed up first)" start_sfn_api "$STACK/sfn-api.log"
  step "writing .local/stack/env and .local/stack/inputs/" write_stack_files
  STACK_UP=1
  print_stack
}

# Stops every recorded process group (SIGTERM; SIGKILL for what is left after 10 s).
cmd_down() {
  local i pgid waited=0 stopping=() names=()
  if [ ! -f "$PID_FILE" ]; then
    rm -f "$ENV_FILE"
    echo "no local stack is up"
    return 0
  fi
  read_groups
  for i in "${!STACK_PGIDS[@]}"; do
    pgid=${STACK_PGIDS[$i]}
    ours "$pgid" "${STACK_STARTS[$i]}" || continue
    kill -TERM -- "-$pgid" 2>/dev/null || true
    stopping+=("$pgid")
    names+=("${STACK_NAMES[$i]}")
  done
  for pgid in "${stopping[@]}"; do
    while group_alive "$pgid" && [ "$waited" -lt 100 ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    if group_alive "$pgid"; then
      kill -KILL -- "-$pgid" 2>/dev/null || true
    fi
  done
  rm -f "$PID_FILE" "$ENV_FILE"
  if [ "${#names[@]}" -eq 0 ]; then
    echo "the local stack had already stopped"
  else
    echo "stopped the local stack: ${names[*]}"
  fi
}

cmd_env() {
  if [ ! -f "$ENV_FILE" ]; then
    echo "no local stack is up: 'make local-up' starts one" >&2
    exit 1
  fi
  cat "$ENV_FILE"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  *) usage ;;
esac
