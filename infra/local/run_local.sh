#!/usr/bin/env bash
# Runs a state machine locally: its Tasks call ferry's functions served from source by
# `cargo lambda watch`, against a local AWS endpoint. Prints each state as it enters and exits, then
# the execution's output; exits non-zero when the execution fails.
#
#   infra/local/run_local.sh MACHINE INPUT_FILE      (make run-local MACHINE=refresh INPUT=...)
#   make run-local MACHINE=promote INPUT=infra/examples/promote-local.json
#
# The AWS endpoint is AWS_ENDPOINT_URL when set, else a local one started here and seeded with the
# demo world. An input holding the placeholder ${SPARK_URL} (as promote-local.json does) gets the
# Spark ImpEx simulator: spark-sim is built and started here on 127.0.0.1 with the tenants of
# infra/local/spark-demo.json (acme-uat, acme-prod), their auth secrets are stored in ferry's own
# account, and the input runs with the placeholder set to the simulator's address (written to
# .local/run-local/input.json; the simulator's log is .local/run-local/spark-sim.log). The functions get FERRY_PROTECTED_ACCOUNT_IDS (default 111111111111),
# FERRY_ARTIFACT_BUCKET (default ferry-artifacts, created in ferry's own account when the endpoint is
# local) and FERRY_MAX_WORK_SECONDS when set. FERRY_RESULT_FILE, FERRY_RUN_ID and FERRY_FAST_WAITS are
# passed on to infra/local/sfn/run.mjs. Function logs go to .local/run-local/functions.log.
# Every server started here listens on 127.0.0.1 and is stopped on exit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
trap stop_all EXIT

machine=${1:?usage: run_local.sh MACHINE INPUT_FILE}
input=${2:?usage: run_local.sh MACHINE INPUT_FILE}
definition="$FERRY_ROOT/infra/statemachines/$machine.asl.json"
[ -f "$definition" ] || { echo "no state machine '$machine' in infra/statemachines/" >&2; exit 2; }
[ -f "$input" ] || { echo "no input file $input" >&2; exit 2; }
sfn="$FERRY_ROOT/infra/local/sfn"
[ -x "$sfn/node_modules/.bin/node" ] || { echo "run 'npm ci' in infra/local/sfn first (make run-local does)" >&2; exit 2; }

logs="$FERRY_ROOT/.local/run-local"
mkdir -p "$logs"
if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
  ensure_aws_endpoint > "$logs/endpoint.log" 2>&1
  echo "started the local AWS endpoint at $AWS_ENDPOINT_URL (demo world seeded; log: .local/run-local/endpoint.log)"
else
  echo "using the AWS endpoint at $AWS_ENDPOINT_URL"
fi
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testing} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testing}
export AWS_REGION=${AWS_REGION:-us-east-1}
export FERRY_PROTECTED_ACCOUNT_IDS=${FERRY_PROTECTED_ACCOUNT_IDS:-111111111111}
export FERRY_ARTIFACT_BUCKET=${FERRY_ARTIFACT_BUCKET:-ferry-artifacts}

case "$AWS_ENDPOINT_URL" in
  http://127.0.0.1:*|http://localhost:*)
    "$FERRY_PY" "$FERRY_ROOT/infra/local/seed.py" --endpoint "$AWS_ENDPOINT_URL" --world none \
      --artifact-bucket "$FERRY_ARTIFACT_BUCKET" > /dev/null ;;
esac

if grep -q '\${SPARK_URL}' "$input"; then
  start_spark_sim "$logs/spark-sim.log"
  seed_spark_world > /dev/null
  fill_input "$input" "$logs/input.json"
  input="$logs/input.json"
  echo "started the Spark ImpEx simulator at $SPARK_URL with the tenants of infra/local/spark-demo.json (log: .local/run-local/spark-sim.log)"
fi

# The functions the machine calls, built before the watch starts so no invocation waits for a compile.
mapfile -t functions < <(machine_functions "$definition")
echo "building ${functions[*]} (debug; the first build on a machine takes several minutes)"
cargo build --locked $(printf -- '--bin %s ' "${functions[@]}")

start_functions "$logs/functions.log"
echo "functions served by cargo lambda watch at $FERRY_LAMBDA_ENDPOINT (log: .local/run-local/functions.log)"

"$sfn/node_modules/.bin/node" "$sfn/run.mjs" "$machine" "$input"
