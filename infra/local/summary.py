#!/usr/bin/env python3
"""Summarise what a local refresh left in the target account, read back from the endpoint.

For every table of the refresh request: items in the target against the source, strings holding a
masked address (at the masking domain), strings still holding '@example.com', email addresses at any
other domain, and a digest of the target's items. For every bucket: objects in the target against the
source and whether both hold the same keys with the same ETags. The stream consumers of the target
tables with their mapping state (before the run too, when the run's result is given), the deploy
table's settings, the run manifest in the artifact bucket, and the refresh's wall-clock duration.
For every target table also what its current stream holds (every shard read from TRIM_HORIZON):
`writes`, the number of records, and `last_write_ms`, the latest ApproximateCreationDateTime as epoch
milliseconds (the local endpoint keeps millisecond precision; null with no records or no enabled
stream). `glue_job_runs` lists every run of the Glue job ferry-refresh-table in the source account
(111111111111 in the local worlds) as {id, state, ferry_run_id}, oldest first; reading them is a
GetJobRuns, which counts as one read of each run for the endpoint's Glue progression. (`glue_runs`
stays what it was: the Glue results of the run's own output.)

Usage: python infra/local/summary.py --endpoint URL --input REQUEST.json
           [--result RESULT.json] [--artifact-bucket NAME] [--json]

RESULT.json is what `infra/local/sfn/run.mjs` writes to FERRY_RESULT_FILE. With --json the facts
are printed as one JSON document (the flow tests read it) instead of text.
"""

import argparse
import hashlib
import json
import re
from datetime import datetime, timezone

import boto3

REGION = "us-east-1"
GLUE_JOB = "ferry-refresh-table"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


def session_for(endpoint, environment):
    """boto3 client factory acting as `environment` does: through its role, or ferry's own account."""
    base = dict(endpoint_url=endpoint, region_name=environment.get("region", REGION),
                aws_access_key_id="testing", aws_secret_access_key="testing")
    role = environment.get("role_arn")
    if role:
        creds = boto3.client("sts", **base).assume_role(RoleArn=role, RoleSessionName="ferry-summary")["Credentials"]
        base.update(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                    aws_session_token=creds["SessionToken"])
    return lambda service: boto3.client(service, **base)


def scan(client, table):
    items, start = [], None
    while True:
        page = client.scan(TableName=table, **({"ExclusiveStartKey": start} if start else {}))
        items.extend(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def strings(value):
    """Every string inside a DynamoDB JSON value (keys, maps, lists and sets included)."""
    if isinstance(value, dict):
        for kind, inner in value.items():
            if kind == "S":
                yield inner
            elif kind == "SS":
                yield from inner
            elif kind == "M":
                for attribute in inner.values():
                    yield from strings(attribute)
            elif kind == "L":
                for element in inner:
                    yield from strings(element)


def digest(rows):
    h = hashlib.sha256()
    for row in sorted(json.dumps(r, sort_keys=True) for r in rows):
        h.update(row.encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def stream_records(target, table):
    """Every record of `table`'s current stream, all shards from TRIM_HORIZON ([] with no enabled stream)."""
    described = target("dynamodb").describe_table(TableName=table)["Table"]
    arn = described.get("LatestStreamArn")
    if not arn or not (described.get("StreamSpecification") or {}).get("StreamEnabled"):
        return []
    streams = target("dynamodbstreams")
    shards, start = [], None
    while True:
        stream = streams.describe_stream(StreamArn=arn, **({"ExclusiveStartShardId": start} if start else {}))
        shards.extend(stream["StreamDescription"]["Shards"])
        start = stream["StreamDescription"].get("LastEvaluatedShardId")
        if not start:
            break
    records = []
    for shard in shards:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            # The local endpoint answers an empty page once the shard is read to its end.
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            if not page["Records"]:
                break
            records.extend(page["Records"])
            iterator = page.get("NextShardIterator")
    return records


def stream_facts(target, table):
    """`writes`: records in the table's stream; `last_write_ms`: the latest one's creation time (epoch ms)."""
    times = [r["dynamodb"]["ApproximateCreationDateTime"] for r in stream_records(target, table)
             if r.get("dynamodb", {}).get("ApproximateCreationDateTime")]
    return {"writes": len(times), "last_write_ms": round(max(times).timestamp() * 1000) if times else None}


def table_facts(source, target, spec, domain):
    facts = {"source": spec["source"], "target": spec["target"], "engine": spec.get("engine", "scan")}
    source_items = scan(source("dynamodb"), spec["source"])
    target_items = scan(target("dynamodb"), spec["target"])
    texts = [text for item in target_items for attribute in item.values() for text in strings(attribute)]
    masked = sum(1 for text in texts if f"@{domain}" in text)
    example_com = sum(1 for text in texts if "@example.com" in text)
    unmasked = sum(1 for text in texts for m in EMAIL.finditer(text) if m.group(1).lower() != domain)
    facts.update(source_items=len(source_items), target_items=len(target_items), masked_strings=masked,
                 example_com_strings=example_com, unmasked_emails=unmasked, digest=digest(target_items))
    facts.update(stream_facts(target, spec["target"]))
    return facts


def glue_job_runs(source):
    """Every run of the Glue job ferry-refresh-table, oldest first ([] when the job does not exist)."""
    glue = source("glue")
    runs = []
    try:
        for page in glue.get_paginator("get_job_runs").paginate(JobName=GLUE_JOB):
            runs.extend(page["JobRuns"])
    except glue.exceptions.EntityNotFoundException:
        return []
    runs.sort(key=lambda run: run["StartedOn"])
    return [{"id": run["Id"], "state": run["JobRunState"],
             "ferry_run_id": (run.get("Arguments") or {}).get("--ferry_run_id")} for run in runs]


def list_objects(client, bucket, prefix):
    objects = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            objects[obj["Key"]] = (obj["ETag"], obj["Size"])
    return objects


def bucket_facts(source, target, spec):
    prefix = spec.get("prefix", "")
    source_objects = list_objects(source("s3"), spec["source"], prefix)
    target_objects = list_objects(target("s3"), spec["target"], prefix)
    return {"source": spec["source"], "target": spec["target"], "prefix": prefix,
            "source_objects": len(source_objects), "target_objects": len(target_objects),
            "identical": source_objects == target_objects,
            "digest": digest([[k, *v] for k, v in target_objects.items()])}


def consumers(target, request, before):
    tables = (request.get("streams") or {}).get("tables") or [t["target"] for t in request.get("tables", [])]
    lam = target("lambda")
    found = []
    marker = None
    while True:
        page = lam.list_event_source_mappings(**({"Marker": marker} if marker else {}))
        for mapping in page["EventSourceMappings"]:
            arn = mapping.get("EventSourceArn", "")
            table = next((t for t in tables if f":table/{t}/stream/" in arn), None)
            if table is None:
                continue
            found.append({"function": mapping["FunctionArn"].rsplit(":", 1)[-1], "table": table,
                          "mapping_id": mapping["UUID"], "before": before.get(mapping["UUID"]),
                          "after": mapping["State"]})
        marker = page.get("NextMarker")
        if not marker:
            return sorted(found, key=lambda c: (c["table"], c["function"]))


def deploy_settings(target, request):
    spec = request.get("deploy_table")
    if not spec:
        return None
    values = {}
    for item in scan(target("dynamodb"), spec["table"]):
        current = item.get("current", {})
        kind, value = next(iter(current.items()), (None, None))
        values[item["pk"]["S"]] = {"N": lambda v: json.loads(v), "BOOL": bool}.get(kind, lambda v: v)(value)
    return {"table": spec["table"], "settings": values}


def manifests(endpoint, bucket, run_id):
    """The manifests in the artifact bucket: the run's own when its id is known, else every run's."""
    s3 = session_for(endpoint, {})("s3")
    try:
        keys = sorted(list_objects(s3, bucket, f"runs/refresh/{run_id}/" if run_id else "runs/"))
    except s3.exceptions.NoSuchBucket:
        return {"bucket": bucket, "keys": [], "missing_bucket": True}
    facts = {"bucket": bucket, "keys": keys}
    if run_id and keys:
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())
        facts.update(outcome=manifest.get("outcome"), error=manifest.get("error"))
    return facts


def collect(endpoint, request, result, artifact_bucket):
    source = session_for(endpoint, request["source"])
    target = session_for(endpoint, request["target"])
    domain = ((request.get("masking") or {}).get("domain") or "example.invalid").lower()
    output = (result or {}).get("output") or {}
    plan = output.get("plan") or {}
    before = {c["mapping_id"]: c["state"] for c in plan.get("consumers", [])}
    run_id = (result or {}).get("runId")
    return {
        "run_id": run_id,
        "status": (result or {}).get("status"),
        "duration_seconds": round(result["durationMs"] / 1000, 1) if result else None,
        "tables": [table_facts(source, target, spec, domain) for spec in request.get("tables", [])],
        "buckets": [bucket_facts(source, target, spec) for spec in request.get("buckets", [])],
        "consumers": consumers(target, request, before),
        "deploy_table": deploy_settings(target, request),
        "manifests": manifests(endpoint, artifact_bucket, run_id),
        "masking_domain": domain,
        "glue_runs": [t for t in ((output.get("results") or {}).get("data") or {}).get("tables", [])
                      if t.get("engine") == "glue"],
        "glue_job_runs": glue_job_runs(source),
    }


def render(facts):
    lines = []
    if facts["run_id"]:
        lines.append(f"refresh {facts['run_id']}: {facts['status']} in {facts['duration_seconds']} s (wall clock)")
    lines.append(f"tables (target items / source items; strings masked to @{facts['masking_domain']}; "
                 "strings with '@example.com' left; other addresses left)")
    glue = {g["table"]: g for g in facts["glue_runs"]}
    for t in facts["tables"]:
        line = (f"  {t['source']} -> {t['target']} ({t['engine']}): {t['target_items']} / {t['source_items']} items, "
                f"{t['masked_strings']} masked, {t['example_com_strings']} '@example.com' left, "
                f"{t['unmasked_emails']} other addresses left")
        lines.append(line)
        if t["writes"]:
            last = datetime.fromtimestamp(t["last_write_ms"] / 1000, timezone.utc).isoformat(timespec="milliseconds")
            lines.append(f"      stream: {t['writes']} writes, the last at {last}")
        if t["engine"] == "glue":
            run = glue.get(t["target"])
            state = f"job run {run['job_run_id']} {run['detail']}" if run else "job run not reached"
            lines.append(f"      Glue {state}; the local endpoint tracks job runs but runs no Glue script, "
                         "so no items move here")
    if facts["glue_job_runs"]:
        runs = ", ".join(f"{r['id'][:11]} {r['state']}" + (f" (run {r['ferry_run_id']})" if r["ferry_run_id"] else "")
                         for r in facts["glue_job_runs"])
        lines.append(f"Glue job runs of {GLUE_JOB}: {runs}")
    lines.append("buckets (target objects / source objects)")
    for b in facts["buckets"]:
        same = "same keys and ETags" if b["identical"] else "DIFFERENT keys or ETags"
        lines.append(f"  {b['source']}/{b['prefix']} -> {b['target']}/{b['prefix']}: "
                     f"{b['target_objects']} / {b['source_objects']} objects, {same}")
    lines.append("stream consumers of the target tables (mapping state before -> after)")
    for c in facts["consumers"]:
        lines.append(f"  {c['function']} on {c['table']}: {c['before'] or '?'} -> {c['after']}")
    if facts["deploy_table"]:
        settings = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(facts["deploy_table"]["settings"].items()))
        lines.append(f"deploy table {facts['deploy_table']['table']}: {settings or '(empty)'}")
    m = facts["manifests"]
    keys = ", ".join(f"s3://{m['bucket']}/{k}" for k in m["keys"]) or "none"
    outcome = f" (outcome {m['outcome']})" if m.get("outcome") else ""
    lines.append(f"run manifest: {keys}{outcome}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--input", required=True, help="the refresh request (execution input)")
    parser.add_argument("--result", help="the run's result file written by run.mjs")
    parser.add_argument("--artifact-bucket", default="ferry-artifacts")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with open(args.input) as f:
        request = json.load(f)
    result = None
    if args.result:
        with open(args.result) as f:
            result = json.load(f)
    facts = collect(args.endpoint, request, result, args.artifact_bucket)
    print(json.dumps(facts, indent=2) if args.json else render(facts))


if __name__ == "__main__":
    main()
