#!/usr/bin/env bash
# Runs a state machine locally with the ferry command: its Tasks call ferry's functions built from
# source (infra/local/sfn/functions.mjs serves them), against a local AWS endpoint, behind the local
# Step Functions API (infra/local/sfn/serve.mjs), which `ferry run` starts and follows as it would on
# AWS: each state as it starts and ends, live counts, the summary. Exits non-zero when the execution
# fails.
#
#   infra/local/run_local.sh MACHINE INPUT_FILE      (make run-local MACHINE=refresh INPUT=...)
#   make run-local MACHINE=promote INPUT=infra/examples/promote-local.json
#
# The AWS endpoint is AWS_ENDPOINT_URL when set, else a local one started here and seeded with the
# demo world. An input holding the placeholder ${SPARK_URL} (as promote-local.json does) gets the
# Spark ImpEx simulator: spark-sim is built and started here on 127.0.0.1 with the tenants of
# infra/local/spark-demo.json (acme-uat, acme-prod), their auth secrets are stored in ferry's own
# account, and the input runs with the placeholder set to the simulator's address (written to
# .local/run-local/input.json; the simulator's log is .local/run-local/spark-sim.log). The functions
# get FERRY_PROTECTED_ACCOUNT_IDS (default 111111111111), FERRY_ARTIFACT_BUCKET (default
# ferry-artifacts, created in ferry's own account when the endpoint is local) and
# FERRY_MAX_WORK_SECONDS when set. FERRY_RUN_ID names the execution; FERRY_FAST_WAITS (default 1)
# shortens its Wait states; FERRY_RESULT_FILE gets the run's result as JSON (run id, status,
# output, error, cause, duration); FERRY_SFN_HISTORY_FILE gets every execution's history (the run's
# and its children's) as JSON once the Step Functions API stops. Logs go to .local/run-local/
# (functions.log, sfn-api.log).
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

serve_machines "$logs"

ferry_local run "$machine" "$input" "${FERRY_RESULT_FILE:-}" ${FERRY_RUN_ID:+--name "$FERRY_RUN_ID"}
