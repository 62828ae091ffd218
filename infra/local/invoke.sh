#!/usr/bin/env bash
# Invokes one ferry function locally over the Lambda Invoke API and prints its JSON answer.
#
#   infra/local/invoke.sh FUNCTION INPUT_FILE
#
# The function runs from source under `cargo lambda watch` on 127.0.0.1. The AWS endpoint is
# AWS_ENDPOINT_URL when set, else a local one started here and seeded with the demo world. For
# `preflight`, INPUT_FILE may be a plain refresh execution input: it is wrapped with a run id.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
trap stop_all EXIT

function_name=${1:?usage: invoke.sh FUNCTION INPUT_FILE}
input=${2:?usage: invoke.sh FUNCTION INPUT_FILE}
[ -d "$FERRY_ROOT/functions/$function_name" ] || { echo "no function '$function_name' in functions/" >&2; exit 2; }

ensure_aws_endpoint
export FERRY_PROTECTED_ACCOUNT_IDS=${FERRY_PROTECTED_ACCOUNT_IDS:-111111111111}

payload=$(mktemp)
"$FERRY_PY" - "$function_name" "$input" "$payload" <<'PY'
import json, sys, time
function, source, dest = sys.argv[1:4]
document = json.load(open(source))
if function == "preflight" and "request" not in document:
    document = {"run_id": f"local-{int(time.time())}", "request": document}
json.dump(document, open(dest, "w"))
PY

port=$(free_port)
start_bg cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" \
  --env-var "FERRY_PROTECTED_ACCOUNT_IDS=$FERRY_PROTECTED_ACCOUNT_IDS,AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL,AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-},AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-},AWS_REGION=${AWS_REGION:-us-east-1}"
wait_port "$port" 120
cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$port" --data-file "$payload" \
  --output-format json "$function_name"
