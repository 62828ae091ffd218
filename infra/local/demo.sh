#!/usr/bin/env bash
# The local demo of a refresh: a realistic production account (ef-cms shaped items with emails in
# keys, nested maps, lists and free text; documents under nested prefixes) is refreshed into a test
# account by the real refresh state machine, each Task calling ferry's functions built from source.
# Prints every state as it starts and ends, then a summary read back from the target account.
#
#   infra/local/demo.sh            (make demo)
#
# Uses AWS_ENDPOINT_URL when set, else starts a local AWS endpoint on 127.0.0.1; everything started
# here is stopped on exit. Logs and the run's result go to .local/demo/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
trap stop_all EXIT

input="$FERRY_ROOT/infra/examples/refresh-local.json"
out="$FERRY_ROOT/.local/demo"
mkdir -p "$out"
rm -f "$out/result.json"

if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
  ensure_aws_endpoint > "$out/endpoint.log" 2>&1
  echo "started the local AWS endpoint at $AWS_ENDPOINT_URL (log: .local/demo/endpoint.log)"
fi
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testing} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testing}
export AWS_REGION=${AWS_REGION:-us-east-1}
export FERRY_ARTIFACT_BUCKET=${FERRY_ARTIFACT_BUCKET:-ferry-artifacts}
"$FERRY_PY" "$FERRY_ROOT/infra/local/seed.py" --endpoint "$AWS_ENDPOINT_URL" --world showcase --glue-polls 2 \
  --artifact-bucket "$FERRY_ARTIFACT_BUCKET"

echo
echo "== refresh: prod (111111111111) -> test (222222222222), input infra/examples/refresh-local.json"
status=0
FERRY_PRINT_OUTPUT=0 FERRY_RESULT_FILE="$out/result.json" "$FERRY_ROOT/infra/local/run_local.sh" refresh "$input" || status=$?

echo
echo "== summary, read back from the target account"
if [ -f "$out/result.json" ]; then
  "$FERRY_PY" "$FERRY_ROOT/infra/local/summary.py" --endpoint "$AWS_ENDPOINT_URL" --input "$input" \
    --result "$out/result.json" --artifact-bucket "$FERRY_ARTIFACT_BUCKET"
else
  echo "the refresh did not run to an end (see above)"
fi
exit "$status"
