#!/usr/bin/env bash
# The local demo of a refresh and two promotions. First a realistic production account (ef-cms
# shaped items with emails in keys, nested maps, lists and free text; documents under nested
# prefixes) is refreshed into a test account by the real refresh state machine, each Task calling
# ferry's functions built from source. Then the real promote state machine promotes two Spark
# services from the tenant acme-uat to acme-prod of the Spark ImpEx simulator (spark-sim; tenants and
# auth secrets from infra/local/spark-demo.json, input infra/examples/promote-local.json). Last, the
# same state machine promotes Sesam node configuration kept in git (infra/local/sesam-demo/,
# committed with the `git` command line to a repository that git-server serves with a token) to the
# node `prod` of the Sesam node simulator (sesam-sim; the node and both secrets from
# infra/local/sesam-demo.json, input infra/examples/promote-sesam-local.json): first as a dry run
# (the plan with its field diffs, and the drift event), then applied. Then it reconciles the SAP
# Open Connectors instances tagged kyma (oc-sim) into applications of a Compass tenant (director-sim;
# both worlds and their secrets from infra/local/compass-demo.json, input
# infra/examples/promote-compass-local.json): a plan, then the reconcile. Last, it promotes Cloud Data
# Fusion namespaces, profiles, pipelines and preferences from the instance df-dev (CDAP 6.9.2) to
# df-qa (6.10.1) of the Data Fusion simulator (cdap-sim, also Google's token endpoint; the world and
# both secrets from infra/local/datafusion-demo.json, input
# infra/examples/promote-datafusion-local.json): a plan, the apply with a run of one pipeline waited
# for, and the apply again, which deploys nothing. Every run goes through the ferry command
# (`ferry run`, the Sesam apply waiting for `ferry approve`) against the local Step Functions API
# (infra/local/sfn/serve.mjs) in front of the functions, started once: ferry prints every state as it
# starts and ends and its summary; after each run the demo prints a summary read back from where the
# run wrote.
#
#   infra/local/demo.sh            (make demo)
#
# Uses AWS_ENDPOINT_URL when set, else starts a local AWS endpoint on 127.0.0.1; everything started
# here is stopped on exit. Logs and the runs' results go to .local/demo/. Exits non-zero when any
# run fails.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
trap stop_all EXIT

# promote_step COMMAND TITLE INPUT RESULT SUMMARY_TITLE SUMMARY_COMMAND...: `ferry COMMAND promote`
# (plan or run) on INPUT (its result written to RESULT), then, when the run came to an end,
# SUMMARY_COMMAND with --input INPUT --result RESULT; returns ferry's exit code (a plan's 2, changes
# found, counts as success). With FERRY_APPROVE set, the run is named so, and approved with
# `ferry approve` once it waits for it.
promote_step() {
  local command=$1 title=$2 request=$3 result=$4 summary_title=$5 code=0 follower
  shift 5
  echo
  echo "== $title"
  echo "\$ ferry $command promote --input ${request#"$FERRY_ROOT"/}${FERRY_APPROVE:+ --name $FERRY_APPROVE}"
  if [ -n "${FERRY_APPROVE:-}" ]; then
    ferry_local "$command" promote "$request" "$result" --name "$FERRY_APPROVE" &
    follower=$!
    approve_when_asked "$FERRY_APPROVE" || code=$?
    wait "$follower" || code=$?
  else
    ferry_local "$command" promote "$request" "$result" || code=$?
  fi
  if [ "$command" = plan ]; then
    case $code in
      0) echo "(ferry plan exited 0: nothing would change)" ;;
      2) echo "(ferry plan exited 2: something would change)" ;;
    esac
    [ "$code" -eq 2 ] && code=0
  fi
  echo
  echo "== $summary_title"
  if [ -f "$result" ]; then
    "$@" --input "$request" --result "$result"
  else
    echo "the run did not come to an end (see above)"
  fi
  return "$code"
}

# approve_when_asked RUN: waits (at most 5 minutes) until the run RUN waits for approval, then
# approves it with `ferry approve`.
approve_when_asked() {
  local tries
  for tries in $(seq 600); do
    if "$FERRY_BIN/ferry" status "$1" --output json 2>/dev/null | grep -q '"waiting_for_approval": *true'; then
      echo "\$ ferry approve $1 --comment 'plan read in the demo'" >&2
      "$FERRY_BIN/ferry" approve "$1" --comment "plan read in the demo" >&2
      return
    fi
    sleep 0.5
  done
  echo "$1 did not ask for approval within $((tries / 2)) seconds" >&2
  return 1
}

# applied_input PLAN APPLY: writes the input PLAN to APPLY with dry_run set to false.
applied_input() {
  "$FERRY_PY" -c 'import json, sys; r = json.load(open(sys.argv[1])); r["dry_run"] = False; json.dump(r, open(sys.argv[2], "w"), indent=2)' \
    "$1" "$2"
}
input="$FERRY_ROOT/infra/examples/refresh-local.json"
out="$FERRY_ROOT/.local/demo"
mkdir -p "$out"
rm -f "$out/result.json" "$out/promote-result.json" "$out/sesam-plan-result.json" "$out/sesam-result.json" \
  "$out/compass-plan-result.json" "$out/compass-result.json" "$out/datafusion-plan-result.json" \
  "$out/datafusion-result.json" "$out/datafusion-again-result.json"

if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
  ensure_aws_endpoint > "$out/endpoint.log" 2>&1
  echo "started the local AWS endpoint at $AWS_ENDPOINT_URL (log: .local/demo/endpoint.log)"
fi
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testing} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testing}
export AWS_REGION=${AWS_REGION:-us-east-1}
export FERRY_ARTIFACT_BUCKET=${FERRY_ARTIFACT_BUCKET:-ferry-artifacts}
export FERRY_PROTECTED_ACCOUNT_IDS=${FERRY_PROTECTED_ACCOUNT_IDS:-111111111111}
"$FERRY_PY" "$FERRY_ROOT/infra/local/seed.py" --endpoint "$AWS_ENDPOINT_URL" --world showcase --glue-polls 2 \
  --artifact-bucket "$FERRY_ARTIFACT_BUCKET"

serve_machines "$out"

echo
echo "== refresh: prod (111111111111) -> test (222222222222), input infra/examples/refresh-local.json"
status=0
echo "\$ ferry run refresh --input infra/examples/refresh-local.json"
ferry_local run refresh "$input" "$out/result.json" || status=$?

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
start_spark_world "$out"
echo "started the Spark ImpEx simulator at $SPARK_URL with tenants acme-uat and acme-prod; their auth secrets"
echo "are in ferry's own account (log: .local/demo/spark-sim.log)"
promote_input="$out/promote.json"
fill_input "$FERRY_ROOT/infra/examples/promote-local.json" "$promote_input"
"$FERRY_PY" "$FERRY_ROOT/infra/local/promote_summary.py" --input "$promote_input" --spark "$SPARK_URL" \
  --snapshot "$out/target-before.json"
promote_status=0
echo "\$ ferry run promote --input ${promote_input#"$FERRY_ROOT"/}"
ferry_local run promote "$promote_input" "$out/promote-result.json" || promote_status=$?

echo
echo "== summary, read back from the simulator and the artifact bucket"
if [ -f "$out/promote-result.json" ]; then
  "$FERRY_PY" "$FERRY_ROOT/infra/local/promote_summary.py" --endpoint "$AWS_ENDPOINT_URL" --input "$promote_input" \
    --result "$out/promote-result.json" --spark "$SPARK_URL" --before "$out/target-before.json" \
    --artifact-bucket "$FERRY_ARTIFACT_BUCKET"
else
  echo "the promotion did not run to an end (see above)"
fi

echo
echo "== promote: Sesam configuration in git (main) -> node prod, input infra/examples/promote-sesam-local.json"
start_sesam_world "$out"
"$FERRY_PY" "$FERRY_ROOT/infra/local/sesam_summary.py" --endpoint "$AWS_ENDPOINT_URL" --capture-events
echo "started git-server at $GIT_URL (token auth) serving sesam-config.git: infra/local/sesam-demo/ committed as $SESAM_COMMIT"
echo "started the Sesam node simulator at $SESAM_URL with node prod; the node's JWT and the git token are in"
echo "ferry's own account; ferry's events go to the queue ferry-events-local (logs: .local/demo/sesam-sim.log,"
echo ".local/demo/git-server.log)"
sesam_plan="$out/promote-sesam-plan.json"
sesam_apply="$out/promote-sesam.json"
fill_input "$FERRY_ROOT/infra/examples/promote-sesam-local.json" "$sesam_plan"
fill_input "$FERRY_ROOT/infra/examples/promote-sesam-approval-local.json" "$sesam_apply"
"$FERRY_PY" "$FERRY_ROOT/infra/local/sesam_summary.py" --input "$sesam_plan" --sesam "$SESAM_URL" \
  --snapshot "$out/sesam-before.json"

sesam_summary=("$FERRY_PY" "$FERRY_ROOT/infra/local/sesam_summary.py" --endpoint "$AWS_ENDPOINT_URL"
  --sesam "$SESAM_URL" --before "$out/sesam-before.json" --artifact-bucket "$FERRY_ARTIFACT_BUCKET")
sesam_plan_status=0
promote_step plan "Sesam plan (ferry plan: a dry run)" "$sesam_plan" "$out/sesam-plan-result.json" \
  "the plan, read back from the artifact bucket, the events and the node" "${sesam_summary[@]}" || sesam_plan_status=$?
sesam_status=0
FERRY_APPROVE="sesam-apply-$(date -u +%Y%m%dT%H%M%S)" promote_step \
  run "Sesam apply (infra/examples/promote-sesam-approval-local.json: approval required, so the run waits after its plan until ferry approve)" \
  "$sesam_apply" "$out/sesam-result.json" \
  "summary, read back from the node, the artifact bucket and the events" "${sesam_summary[@]}" || sesam_status=$?
echo
echo "== promote: Open Connectors instances tagged kyma -> Compass tenant, input infra/examples/promote-compass-local.json"
start_compass_world "$out"
echo "started oc-sim at $OC_URL (organization acme: instances 101-103 tagged kyma, 104 not) and director-sim at"
echo "$DIRECTOR_URL (tenant 3e64ebae-…: oc-102 outdated, oc-103 without its bundle, oc-99 of a gone instance,"
echo "crm-legacy of another Open Connectors tenant, billing without the label); both secrets are in ferry's own"
echo "account (logs: .local/demo/oc-sim.log, .local/demo/director-sim.log)"
compass_plan="$out/promote-compass-plan.json"
compass_apply="$out/promote-compass.json"
fill_input "$FERRY_ROOT/infra/examples/promote-compass-local.json" "$compass_plan"
applied_input "$compass_plan" "$compass_apply"
"$FERRY_PY" "$FERRY_ROOT/infra/local/compass_summary.py" --input "$compass_plan" --director "$DIRECTOR_URL" \
  --snapshot "$out/compass-before.json"

compass_summary=("$FERRY_PY" "$FERRY_ROOT/infra/local/compass_summary.py" --endpoint "$AWS_ENDPOINT_URL"
  --director "$DIRECTOR_URL" --before "$out/compass-before.json" --artifact-bucket "$FERRY_ARTIFACT_BUCKET")
compass_plan_status=0
promote_step plan "Compass reconcile plan (ferry plan: a dry run)" "$compass_plan" "$out/compass-plan-result.json" \
  "the plan, read back from the artifact bucket and the Director" "${compass_summary[@]}" || compass_plan_status=$?
compass_status=0
promote_step run "Compass reconcile (dry_run: false)" "$compass_apply" "$out/compass-result.json" \
  "summary, read back from the Director, the artifact bucket and the events" "${compass_summary[@]}" \
  || compass_status=$?
echo
echo "== promote: Cloud Data Fusion df-dev (CDAP 6.9.2) -> df-qa (6.10.1), input infra/examples/promote-datafusion-local.json"
start_datafusion_world "$out"
echo "started cdap-sim at $CDAP_URL (Google's token endpoint and the Data Fusion API): df-dev on CDAP 6.9.2"
echo "(namespaces default and sales, three pipelines, a Dataproc profile, preferences) and df-qa on 6.10.1"
echo "(GCS-Parquet-To-AVRO with another sink format, legacy-export); both secrets hold the test-only"
echo "service-account key of tests/fixtures/google (log: .local/demo/cdap-sim.log)"
datafusion_plan="$out/promote-datafusion-plan.json"
datafusion_apply="$out/promote-datafusion.json"
fill_input "$FERRY_ROOT/infra/examples/promote-datafusion-local.json" "$datafusion_plan"
applied_input "$datafusion_plan" "$datafusion_apply"
datafusion_summary=("$FERRY_PY" "$FERRY_ROOT/infra/local/datafusion_summary.py" --endpoint "$AWS_ENDPOINT_URL"
  --cdap "$CDAP_URL" --artifact-bucket "$FERRY_ARTIFACT_BUCKET")
"${datafusion_summary[@]}" --input "$datafusion_plan" --snapshot "$out/datafusion-before.json"
datafusion_plan_status=0
promote_step plan "Data Fusion plan (ferry plan: a dry run)" "$datafusion_plan" "$out/datafusion-plan-result.json" \
  "the plan, read back from the artifact bucket and df-qa" "${datafusion_summary[@]}" \
  --before "$out/datafusion-before.json" || datafusion_plan_status=$?
datafusion_status=0
promote_step run "Data Fusion apply (dry_run: false), then a run of default/GCS-Parquet-To-AVRO" "$datafusion_apply" \
  "$out/datafusion-result.json" "summary, read back from df-qa, its deploy counts and the artifact bucket" \
  "${datafusion_summary[@]}" --before "$out/datafusion-before.json" || datafusion_status=$?
"${datafusion_summary[@]}" --input "$datafusion_apply" --snapshot "$out/datafusion-before-again.json"
datafusion_again_status=0
promote_step run "Data Fusion apply again (nothing left to deploy; the run starts all the same)" "$datafusion_apply" \
  "$out/datafusion-again-result.json" "summary, read back from df-qa, its deploy counts and the artifact bucket" \
  "${datafusion_summary[@]}" --before "$out/datafusion-before-again.json" || datafusion_again_status=$?
for code in "$status" "$promote_status" "$sesam_plan_status" "$sesam_status" "$compass_plan_status" "$compass_status" \
  "$datafusion_plan_status" "$datafusion_status" "$datafusion_again_status"; do
  [ "$code" -ne 0 ] && exit "$code"
done
exit 0
