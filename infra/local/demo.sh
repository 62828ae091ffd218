#!/usr/bin/env bash
# The local demo of a refresh and a promotion. First a realistic production account (ef-cms shaped
# items with emails in keys, nested maps, lists and free text; documents under nested prefixes) is
# refreshed into a test account by the real refresh state machine, each Task calling ferry's
# functions built from source. Then the real promote state machine promotes two Spark services
# from the tenant acme-uat to acme-prod of the Spark ImpEx simulator (spark-sim; tenants and auth
# secrets from infra/local/spark-demo.json, input infra/examples/promote-local.json). Prints every
# state as it starts and ends, and after each run a summary read back from where it wrote.
#
#   infra/local/demo.sh            (make demo)
#
# Uses AWS_ENDPOINT_URL when set, else starts a local AWS endpoint on 127.0.0.1; everything started
# here is stopped on exit. Logs and the runs' results go to .local/demo/. Exits non-zero when either
# run fails.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
trap stop_all EXIT

input="$FERRY_ROOT/infra/examples/refresh-local.json"
out="$FERRY_ROOT/.local/demo"
mkdir -p "$out"
rm -f "$out/result.json" "$out/promote-result.json"

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

echo
echo "== promote: Spark services acme-uat (uat) -> acme-prod (prod), input infra/examples/promote-local.json"
start_spark_sim "$out/spark-sim.log"
seed_spark_world > "$out/spark-seed.log"
echo "started the Spark ImpEx simulator at $SPARK_URL with tenants acme-uat and acme-prod; their auth secrets"
echo "are in ferry's own account (log: .local/demo/spark-sim.log)"
promote_input="$out/promote.json"
fill_spark_url "$FERRY_ROOT/infra/examples/promote-local.json" "$promote_input"
"$FERRY_PY" "$FERRY_ROOT/infra/local/promote_summary.py" --input "$promote_input" --spark "$SPARK_URL" \
  --snapshot "$out/target-before.json"
promote_status=0
FERRY_PRINT_OUTPUT=0 FERRY_RESULT_FILE="$out/promote-result.json" \
  "$FERRY_ROOT/infra/local/run_local.sh" promote "$promote_input" || promote_status=$?

echo
echo "== summary, read back from the simulator and the artifact bucket"
if [ -f "$out/promote-result.json" ]; then
  "$FERRY_PY" "$FERRY_ROOT/infra/local/promote_summary.py" --endpoint "$AWS_ENDPOINT_URL" --input "$promote_input" \
    --result "$out/promote-result.json" --spark "$SPARK_URL" --before "$out/target-before.json" \
    --artifact-bucket "$FERRY_ARTIFACT_BUCKET"
else
  echo "the promotion did not run to an end (see above)"
fi
[ "$status" -ne 0 ] && exit "$status"
exit "$promote_status"
