# Shell helpers for ferry's local runs (sourced, not executed): ports, readiness, the local AWS endpoint,
# the functions (infra/local/sfn/functions.mjs), the simulated worlds of each platform and the inputs
# that name them. Every server started here listens on 127.0.0.1 and is stopped by `stop_all` (set as
# an EXIT trap), or, for the local stack, by `infra/local/stack.sh down`.

FERRY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FERRY_PY="$FERRY_ROOT/.venv/bin/python"
FERRY_BIN="${CARGO_TARGET_DIR:-$FERRY_ROOT/target}/debug"
export PATH="$FERRY_ROOT/.venv/bin:$PATH"
_ferry_pgids=()

# The placeholders of the local example inputs (infra/examples/*-local.json), each filled by
# `fill_input` from the variable of its name, which the world functions below export.
FERRY_PLACEHOLDERS=(SPARK_URL SESAM_URL GIT_URL OC_URL DIRECTOR_URL CDAP_URL)

# The ARNs the local Step Functions API gives the state machines: <prefix>:<file name>.
FERRY_MACHINE_ARN_PREFIX=arn:aws:states:us-east-1:123456789012:stateMachine

# Prints a free TCP port on 127.0.0.1.
free_port() {
  "$FERRY_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until 127.0.0.1:$1 accepts connections (at most $2 seconds, default 60).
wait_port() {
  "$FERRY_PY" - "$1" "${2:-60}" <<'PY'
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
deadline = time.time() + limit
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(f"nothing listens on 127.0.0.1:{port} after {limit:.0f}s")
PY
}

# Prints the start time of process $1 (clock ticks since boot, field 22 of /proc/PID/stat), which
# tells a process from a later one given the same id; fails when there is no such process.
process_start_time() {
  local stat fields
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  read -ra fields <<< "${stat##*) }"
  echo "${fields[19]}"
}

# Starts a command in its own process group (its own session: no terminal signal reaches it),
# remembered for stop_all. When FERRY_PID_FILE is set, the group is also written to that file as one
# line: process group id, its leader's start time (0 when it has already ended), the program's name
# (the script's, for an interpreter running one; cargo-SUBCOMMAND for cargo), never its arguments.
start_bg() {
  setsid "$@" &
  _ferry_pgids+=("$!")
  if [ -n "${FERRY_PID_FILE:-}" ]; then
    local name=${1##*/} started
    case "${2:-}" in *.py|*.mjs) name=${2##*/} ;; esac
    [ "$name" = cargo ] && name="cargo-$2"
    started=$(process_start_time "$!") || started=0
    echo "$! $started $name" >> "$FERRY_PID_FILE"
  fi
}

# Stops every process group started with start_bg.
stop_all() {
  for pgid in "${_ferry_pgids[@]}"; do
    kill -- "-$pgid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}

# Prints the functions (folder names under functions/) that the state machine definitions $@ call,
# one a line, from their ${PascalCaseFunctionArn} substitutions.
machine_functions() {
  grep -ho '\${[A-Za-z0-9]*FunctionArn}' "$@" | sort -u |
    sed -E 's/^\$\{(.*)FunctionArn\}$/\1/; s/([a-z0-9])([A-Z])/\1-\2/g' | tr '[:upper:]' '[:lower:]'
}

# Starts the local AWS endpoint on a free port of 127.0.0.1 (its output to the file $1, else to this
# function's) and exports AWS_ENDPOINT_URL and the local credentials and region; seeds nothing.
start_aws_endpoint() {
  local port server=("$FERRY_PY" "$FERRY_ROOT/infra/local/moto_server.py")
  port=$(free_port)
  if [ -n "${1:-}" ]; then
    start_bg "${server[@]}" --host 127.0.0.1 --port "$port" > "$1" 2>&1
  else
    start_bg "${server[@]}" --host 127.0.0.1 --port "$port"
  fi
  wait_port "$port"
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
}

# Uses AWS_ENDPOINT_URL when set; otherwise starts the local AWS endpoint and seeds the demo world.
ensure_aws_endpoint() {
  if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
    echo "using the AWS endpoint at $AWS_ENDPOINT_URL"
    return
  fi
  start_aws_endpoint
  echo "started the local AWS endpoint at $AWS_ENDPOINT_URL"
  "$FERRY_PY" "$FERRY_ROOT/infra/local/seed.py" --endpoint "$AWS_ENDPOINT_URL"
}

# Serves the functions of every state machine, already built (debug) in FERRY_BIN, on a free port of
# 127.0.0.1 (infra/local/sfn/functions.mjs: the Lambda Invoke API in front of `cargo lambda watch
# --only-lambda-apis`, each function's instances started from its binary as invocations need them,
# at most 8 at once; its output and the functions' to $1), each instance with
# FERRY_PROTECTED_ACCOUNT_IDS, FERRY_ARTIFACT_BUCKET, the AWS endpoint, credentials and region,
# RUST_LOG (default info) and the rest of this environment (FERRY_MAX_WORK_SECONDS when exported);
# waits until it answers and exports FERRY_LAMBDA_ENDPOINT, where the Lambda Invoke API answers.
start_functions() {
  local port functions
  mapfile -t functions < <(machine_functions "$FERRY_ROOT"/infra/statemachines/*.asl.json)
  port=$(free_port)
  FERRY_PROTECTED_ACCOUNT_IDS=$FERRY_PROTECTED_ACCOUNT_IDS FERRY_ARTIFACT_BUCKET=$FERRY_ARTIFACT_BUCKET \
    AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID \
    AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY AWS_REGION=$AWS_REGION RUST_LOG=${RUST_LOG:-info} \
    start_bg "$FERRY_ROOT/infra/local/sfn/node_modules/.bin/node" "$FERRY_ROOT/infra/local/sfn/functions.mjs" \
    --port "$port" --bin-dir "$FERRY_BIN" "${functions[@]}" > "$1" 2>&1
  wait_port "$port" 300
  export FERRY_LAMBDA_ENDPOINT="http://127.0.0.1:$port"
}

# Serves every state machine (infra/local/sfn/serve.mjs) in front of the functions at
# FERRY_LAMBDA_ENDPOINT on a free port of 127.0.0.1, its output to $1, each function warmed up
# before it answers (FERRY_FAST_WAITS, default 1, shortens Wait states); waits until it does and
# exports what the ferry command reads: AWS_ENDPOINT_URL_SFN and the state machines' ARNs.
start_sfn_api() {
  local port sfn="$FERRY_ROOT/infra/local/sfn"
  port=$(free_port)
  FERRY_FAST_WAITS=${FERRY_FAST_WAITS:-1} start_bg "$sfn/node_modules/.bin/node" "$sfn/serve.mjs" --port "$port" \
    --warm > "$1" 2>&1
  wait_port "$port" 300
  export AWS_ENDPOINT_URL_SFN="http://127.0.0.1:$port"
  export FERRY_REFRESH_STATE_MACHINE_ARN="$FERRY_MACHINE_ARN_PREFIX:refresh"
  export FERRY_PROMOTE_STATE_MACHINE_ARN="$FERRY_MACHINE_ARN_PREFIX:promote"
}

# serve_machines DIR: builds every function of every state machine and the ferry command (debug),
# serves the functions (start_functions) and the Step Functions API in front of them (logs
# DIR/functions.log and DIR/sfn-api.log) and says where.
serve_machines() {
  local functions
  mapfile -t functions < <(machine_functions "$FERRY_ROOT"/infra/statemachines/*.asl.json)
  echo "building the functions and the ferry command (debug; the first build on a machine takes several minutes)"
  cargo build --locked $(printf -- '--bin %s ' "${functions[@]}" ferry)
  echo "starting the functions and the local Step Functions API"
  start_functions "$1/functions.log"
  start_sfn_api "$1/sfn-api.log"
  echo "functions served at $FERRY_LAMBDA_ENDPOINT behind the local Step Functions API at"
  echo "$AWS_ENDPOINT_URL_SFN, which the ferry command talks to (logs: ${1#"$FERRY_ROOT"/}/functions.log, sfn-api.log)"
}

# ferry_local COMMAND MACHINE INPUT RESULT [OPTION...]: `ferry COMMAND MACHINE --input INPUT` (plan or
# run; built) against the local Step Functions API, its progress and summary on standard error; once
# the run has ended, writes RESULT (unless empty) as the summaries read it: runId, status, output,
# error, cause, durationMs. Returns ferry's exit code (plan: 2 when something would change).
ferry_local() {
  local command=$1 machine=$2 input=$3 result=$4 report code=0
  shift 4
  report=$(mktemp)
  "$FERRY_BIN/ferry" "$command" "$machine" --input "$input" --output json --poll-interval 0.5 "$@" > "$report" \
    || code=$?
  if [ -n "$result" ]; then
    "$FERRY_PY" - "$report" "$result" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
if report.get("run") and report.get("status") not in (None, "RUNNING"):
    result = {"runId": report["run"], "status": report["status"], "output": report.get("output"),
              "error": report.get("error"), "cause": report.get("cause"),
              "durationMs": round(report.get("duration_seconds", 0) * 1000)}
    with open(sys.argv[2], "w") as file:
        json.dump(result, file, indent=2)
PY
  fi
  rm -f "$report"
  return "$code"
}

# Builds the Spark ImpEx simulator (spark-sim) and starts it on a free port of 127.0.0.1, its output
# to $1 (default /dev/null); exports SPARK_URL (http://127.0.0.1:PORT), where its tenants' APIs and
# its control API (/_sim) answer. Named by `--bin` alone, so cargo resolves features for the whole
# workspace, as `cargo lambda watch` and the flow tests do, and reuses their build.
start_spark_sim() {
  local port log=${1:-/dev/null}
  cargo build --quiet --locked --bin spark-sim
  port=$(free_port)
  start_bg "$FERRY_BIN/spark-sim" --port "$port" > "$log" 2>&1
  wait_port "$port"
  export SPARK_URL="http://127.0.0.1:$port"
}

# Seeds the local Spark world $1 (default infra/local/spark-demo.json): its tenants in the simulator
# at SPARK_URL, its auth secrets in ferry's own account at AWS_ENDPOINT_URL.
seed_spark_world() {
  "$FERRY_PY" "$FERRY_ROOT/infra/local/seed.py" --endpoint "$AWS_ENDPOINT_URL" --world none \
    --spark "${1:-$FERRY_ROOT/infra/local/spark-demo.json}" --spark-url "$SPARK_URL"
}

# start_spark_world DIR: the Spark world of infra/local/spark-demo.json: spark-sim with the tenants
# acme-uat and acme-prod (log DIR/spark-sim.log), their auth secrets in ferry's own account (seed
# output DIR/spark-seed.log); exports SPARK_URL.
start_spark_world() {
  start_spark_sim "$1/spark-sim.log"
  seed_spark_world > "$1/spark-seed.log"
}

# `git` with no system or user configuration and the demo's own identity.
demo_git() {
  GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0 \
    GIT_AUTHOR_NAME="ferry demo" GIT_AUTHOR_EMAIL=demo@ferry.invalid \
    GIT_COMMITTER_NAME="ferry demo" GIT_COMMITTER_EMAIL=demo@ferry.invalid git "$@"
}

# start_sesam_world DIR: the Sesam world of infra/local/sesam-demo.json: the Sesam node simulator
# (sesam-sim) with the node prod (log DIR/sesam-sim.log); git-server (log DIR/git-server.log) serving,
# with the token of the world's secret ferry/config-git-local, the repository sesam-config.git under
# DIR/git, where infra/local/sesam-demo/ is committed on main from the work tree DIR/git-work (both
# made afresh); the node's JWT and the git token in ferry's own account (seed output
# DIR/sesam-seed.log). Exports SESAM_URL, GIT_URL and SESAM_COMMIT (the commit, 12 hex digits).
start_sesam_world() {
  local dir=$1 world="$FERRY_ROOT/infra/local/sesam-demo.json" port token
  cargo build --quiet --locked --bin sesam-sim --bin git-server
  port=$(free_port)
  start_bg "$FERRY_BIN/sesam-sim" --port "$port" > "$dir/sesam-sim.log" 2>&1
  wait_port "$port"
  export SESAM_URL="http://127.0.0.1:$port"
  rm -rf "$dir/git" "$dir/git-work"
  mkdir -p "$dir/git"
  token=$("$FERRY_PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["secrets"]["ferry/config-git-local"]["token"])' "$world")
  port=$(free_port)
  start_bg "$FERRY_BIN/git-server" --root "$dir/git" --token "$token" --port "$port" > "$dir/git-server.log" 2>&1
  wait_port "$port"
  export GIT_URL="http://127.0.0.1:$port"
  demo_git init --quiet --bare --initial-branch=main "$dir/git/sesam-config.git"
  cp -R "$FERRY_ROOT/infra/local/sesam-demo" "$dir/git-work"
  demo_git -C "$dir/git-work" init --quiet --initial-branch=main
  demo_git -C "$dir/git-work" add -A
  demo_git -C "$dir/git-work" commit --quiet -m "prod node configuration"
  demo_git -C "$dir/git-work" push --quiet "$dir/git/sesam-config.git" HEAD:refs/heads/main
  "$FERRY_PY" "$FERRY_ROOT/infra/local/seed.py" --endpoint "$AWS_ENDPOINT_URL" --world none \
    --sesam "$world" --sesam-url "$SESAM_URL" > "$dir/sesam-seed.log"
  SESAM_COMMIT=$(demo_git -C "$dir/git-work" rev-parse --short=12 HEAD)
  export SESAM_COMMIT
}

# start_compass_world DIR: the Compass world of infra/local/compass-demo.json: oc-sim with its "oc"
# part (organization acme; log DIR/oc-sim.log) and director-sim with its "director" part, whose
# ${OC_CONTEXT} and ${OC_URL} name that oc-sim (log DIR/director-sim.log; both seeds written to DIR);
# both secrets in ferry's own account (seed output DIR/compass-seed.log). Exports OC_URL (the Open
# Connectors API base, .../elements/api-v2) and DIRECTOR_URL.
start_compass_world() {
  local dir=$1 world="$FERRY_ROOT/infra/local/compass-demo.json" oc_port director_port
  cargo build --quiet --locked --bin oc-sim --bin director-sim
  oc_port=$(free_port)
  export OC_URL="http://127.0.0.1:$oc_port/elements/api-v2"
  director_port=$(free_port)
  export DIRECTOR_URL="http://127.0.0.1:$director_port"
  "$FERRY_PY" -c 'import json, sys; json.dump(json.load(open(sys.argv[1]))["oc"], open(sys.argv[2], "w"))' \
    "$world" "$dir/oc-seed.json"
  "$FERRY_PY" -c 'import json, sys; json.dump(json.load(open(sys.argv[1]))["director"], open(sys.argv[2], "w"))' \
    "$world" "$dir/director-seed.template.json"
  sed -e "s#\${OC_CONTEXT}#127.0.0.1:$oc_port#g" -e "s#\${OC_URL}#$OC_URL#g" \
    "$dir/director-seed.template.json" > "$dir/director-seed.json"
  start_bg "$FERRY_BIN/oc-sim" --port "$oc_port" --seed "$dir/oc-seed.json" > "$dir/oc-sim.log" 2>&1
  wait_port "$oc_port"
  start_bg "$FERRY_BIN/director-sim" --port "$director_port" --seed "$dir/director-seed.json" \
    > "$dir/director-sim.log" 2>&1
  wait_port "$director_port"
  "$FERRY_PY" "$FERRY_ROOT/infra/local/seed.py" --endpoint "$AWS_ENDPOINT_URL" --world none \
    --compass "$world" > "$dir/compass-seed.log"
}

# start_datafusion_world DIR: the Data Fusion world of infra/local/datafusion-demo.json: cdap-sim
# (Google's token endpoint, the Data Fusion API and the instances df-dev and df-qa; seed DIR/cdap-seed.json
# with the public key files made absolute, log DIR/cdap-sim.log); both secrets, the test-only
# service-account key of tests/fixtures/google, in ferry's own account (seed output
# DIR/datafusion-seed.log). Exports CDAP_URL.
start_datafusion_world() {
  local dir=$1 world="$FERRY_ROOT/infra/local/datafusion-demo.json" port
  cargo build --quiet --locked --bin cdap-sim
  port=$(free_port)
  export CDAP_URL="http://127.0.0.1:$port"
  "$FERRY_PY" - "$world" "$FERRY_ROOT" > "$dir/cdap-seed.json" <<'PY'
import json, os, sys
seed = json.load(open(sys.argv[1]))["cdap"]
for account in seed["service_accounts"]:
    account["public_key_file"] = os.path.join(sys.argv[2], account["public_key_file"])
json.dump(seed, sys.stdout)
PY
  start_bg "$FERRY_BIN/cdap-sim" --port "$port" --seed "$dir/cdap-seed.json" > "$dir/cdap-sim.log" 2>&1
  wait_port "$port"
  "$FERRY_PY" "$FERRY_ROOT/infra/local/seed.py" --endpoint "$AWS_ENDPOINT_URL" --world none \
    --datafusion "$world" --datafusion-url "$CDAP_URL" > "$dir/datafusion-seed.log"
}

# fill_input SOURCE DEST: writes the input SOURCE to DEST with every placeholder ${NAME} of
# FERRY_PLACEHOLDERS set to the variable NAME; fails, naming the file and the placeholder, when
# SOURCE holds one whose variable is unset (its world was not started).
fill_input() {
  local name args=()
  for name in "${FERRY_PLACEHOLDERS[@]}"; do
    grep -qF "\${$name}" "$1" || continue
    if [ -z "${!name:-}" ]; then
      echo "$1 holds \${$name}, but $name is not set: start its world first" >&2
      return 1
    fi
    args+=(-e "s#\${$name}#${!name}#g")
  done
  if [ "${#args[@]}" -eq 0 ]; then
    cp "$1" "$2"
  else
    sed "${args[@]}" "$1" > "$2"
  fi
}
