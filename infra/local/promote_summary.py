#!/usr/bin/env python3
"""Summarise what a local promote left behind, read back from the Spark ImpEx simulator and the
artifact bucket.

The target tenant's services and versions (before the run too, when a snapshot is given), the
source tenant's, the bundle under bundles/spark/<run>/ (each file's size and sha256, checked against
its manifest.json), the run manifest runs/promote/<run>/manifest.json with its outcome and error, and
the run's wall-clock duration.

Usage: python infra/local/promote_summary.py --endpoint URL --input REQUEST.json --result RESULT.json
           [--spark URL] [--before SNAPSHOT.json] [--artifact-bucket NAME] [--json]
       python infra/local/promote_summary.py --input REQUEST.json --spark URL --snapshot SNAPSHOT.json

REQUEST.json is the execution input (its base URLs name the tenants), RESULT.json what
`infra/local/sfn/run.mjs` writes to FERRY_RESULT_FILE, URL the simulator (spark-sim) whose control
API (/_sim) is read. --snapshot writes the target tenant as it is now to SNAPSHOT.json (for a later
--before) and exits. With --json the facts are printed as one JSON document (the flow tests read
it) instead of text; it includes both manifests as raw text, so a test can look for what must not be
there.
"""

import argparse
import hashlib
import json
import urllib.error
import urllib.request

import boto3
from botocore.exceptions import ClientError

REGION = "us-east-1"


def tenant_of(side):
    """The tenant name of one side of a promote request (env + tenant, or base_url's last segment)."""
    spark = side.get("spark", {})
    if spark.get("tenant"):
        return spark["tenant"].strip().lower()
    return spark.get("base_url", "").rstrip("/").rsplit("/", 1)[-1].lower()


def sim_tenant(spark_url, name):
    """The simulator's view of a tenant, or None when it has no such tenant."""
    try:
        with urllib.request.urlopen(f"{spark_url}/_sim/tenants/{name}", timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise


def s3_client(endpoint):
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def read(s3, bucket, key):
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as err:
        if err.response["Error"]["Code"] in ("NoSuchKey", "404", "NoSuchBucket"):
            return None
        raise


def as_json(data):
    try:
        return json.loads(data)
    except (TypeError, ValueError):
        return None


def bundle_facts(s3, bucket, run_id):
    prefix = f"bundles/spark/{run_id}/"
    objects = []
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    except ClientError:
        keys = []
    for key in sorted(keys):
        body = read(s3, bucket, key) or b""
        objects.append({"key": key, "size": len(body), "sha256": hashlib.sha256(body).hexdigest()})
    text = read(s3, bucket, f"{prefix}manifest.json")
    manifest = as_json(text)
    checks = []
    for entry in (manifest or {}).get("files", []):
        stored = next((o for o in objects if o["key"] == entry.get("key")), None)
        checks.append({"name": entry.get("name"), "key": entry.get("key"), "recorded": entry.get("sha256"),
                       "sha256": stored and stored["sha256"], "size": stored and stored["size"],
                       "matches": bool(stored) and stored["sha256"] == entry.get("sha256")})
    return {"bucket": bucket, "prefix": prefix, "objects": objects, "manifest": manifest,
            "manifest_text": text.decode() if text is not None else None, "checks": checks}


def run_manifest_facts(s3, bucket, run_id):
    key = f"runs/promote/{run_id}/manifest.json"
    text = read(s3, bucket, key)
    return {"key": key, "uri": f"s3://{bucket}/{key}", "manifest": as_json(text),
            "text": text.decode() if text is not None else None}


def read_run(args):
    """The request (--input), the run's result (--result) and the snapshot before it (--before, or None)."""
    with open(args.input, encoding="utf-8") as file:
        request = json.load(file)
    with open(args.result, encoding="utf-8") as file:
        result = json.load(file)
    before = None
    if args.before:
        with open(args.before, encoding="utf-8") as file:
            before = json.load(file)
    return request, result, before


def run_facts(request, result):
    """How a run ended, from its result: id, status, error and cause, duration, whether a dry run."""
    took = result.get("durationMs")
    return {
        "run_id": result["runId"],
        "status": result.get("status"),
        "error": result.get("error"),
        "cause": result.get("cause"),
        "duration_seconds": round(took / 1000, 1) if took is not None else None,
        "dry_run": bool(request.get("dry_run")),
    }


def facts(args):
    request, result, before = read_run(args)
    run_id = result["runId"]
    s3 = s3_client(args.endpoint)
    sides = {}
    for side in ("source", "target"):
        tenant = tenant_of(request.get(side, {}))
        sides[side] = {"name": request.get(side, {}).get("name"), "tenant": tenant,
                       "view": sim_tenant(args.spark, tenant) if args.spark else None}
    sides["target"]["before"] = before
    run = run_manifest_facts(s3, args.artifact_bucket, run_id)
    return {
        **run_facts(request, result),
        **sides,
        "bundle": bundle_facts(s3, args.artifact_bucket, run_id),
        "run_manifest": run,
        "outcome": (run["manifest"] or {}).get("outcome"),
    }


def versions(view):
    """`folder/service` → version labels, oldest first."""
    return {f"{s['folder']}/{s['service']}": [v["version"] for v in s["versions"]] for s in (view or {}).get("services", [])}


def listed(found, uri):
    """The versions of `uri` in `found`, as text."""
    return ", ".join(found.get(uri, [])) or "(absent)"


def describe_cause(cause):
    document = as_json(cause) if isinstance(cause, str) else None
    if isinstance(document, dict) and isinstance(document.get("errorMessage"), str):
        return document["errorMessage"]
    return cause or ""


def print_text(f):
    target, source = f["target"], f["source"]
    took = f" in {f['duration_seconds']}s" if f["duration_seconds"] is not None else ""
    print(f"promote {source['tenant']} ({source['name']}) -> {target['tenant']} ({target['name']}): "
          f"{f['status']}{took}, run {f['run_id']}")
    if f["status"] != "SUCCEEDED":
        print(f"  error: {f['error']}: {describe_cause(f['cause'])}")
    manifest = f["run_manifest"]["manifest"] or {}
    plan = manifest.get("plan") or (manifest.get("results") or {}).get("plan")
    if plan:
        print("  plan:")
        for change in plan.get("changes", []):
            existing = f", latest on the target {change['existing_latest']}" if change.get("existing_latest") else ""
            print(f"    {change['source']} -> {change['target']}: {change['action']} "
                  f"{', '.join(change['new_versions'])}{existing}")
    if target["view"] is not None:
        after = versions(target["view"])
        earlier = versions(target["before"]) if target["before"] is not None else None
        label = "before -> after" if earlier is not None else "now"
        print(f"  services on {target['tenant']} ({target['name']}), {label}:")
        uris = sorted({**(earlier or {}), **after})
        width = max((len(uri) for uri in uris), default=0)
        if earlier is None:
            for uri in uris:
                print(f"    {uri:<{width}}  {listed(after, uri)}")
        else:
            was_width = max(len(listed(earlier, uri)) for uri in uris)
            now_width = max(len(listed(after, uri)) for uri in uris)
            for uri in uris:
                added = [v for v in after.get(uri, []) if v not in earlier.get(uri, [])]
                change = ("created" if uri not in earlier else f"+{', '.join(added)}") if added else "unchanged"
                print(f"    {uri:<{width}}  {listed(earlier, uri):<{was_width}}  ->  "
                      f"{listed(after, uri):<{now_width}}  ({change})")
    bundle = f["bundle"]
    if bundle["manifest"] is not None:
        print(f"  bundle s3://{bundle['bucket']}/{bundle['prefix']} (manifest.json):")
        for check in bundle["checks"]:
            verdict = "matches the manifest" if check["matches"] else f"DIFFERS from the manifest ({check['recorded']})"
            print(f"    {check['name']}  {check['size']} bytes  sha256 {check['sha256']}  {verdict}")
        items = bundle["manifest"].get("items", [])
        print(f"    exported from {source['tenant']} ({source['name']}): "
              + ", ".join(f"{i['uri']} {', '.join(i['versions'])}" for i in items))
    else:
        print("  no bundle was stored")
    verification = (manifest.get("results") or {}).get("verification")
    if verification:
        print("  verified on the target: "
              + ", ".join(f"{s['target']} {', '.join(s['versions'])} (latest {s['latest']})" for s in verification["services"]))
    if f["run_manifest"]["manifest"] is not None:
        print(f"  run manifest {f['run_manifest']['uri']}: outcome {f['outcome']}")
    else:
        print(f"  no run manifest at {f['run_manifest']['uri']}")


def summary_command(doc, simulator, snapshot, facts, print_text):
    """The command line of a promote summary: --snapshot writes `snapshot(URL, request)` of the
    simulator named by --SIMULATOR and exits; otherwise the run's facts, as text or --json."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--endpoint")
    parser.add_argument("--input", required=True)
    parser.add_argument("--result")
    parser.add_argument(f"--{simulator}", metavar="URL")
    parser.add_argument("--before", metavar="SNAPSHOT.json")
    parser.add_argument("--snapshot", metavar="SNAPSHOT.json")
    parser.add_argument("--artifact-bucket", default="ferry-artifacts")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.snapshot:
        url = getattr(args, simulator)
        if not url:
            parser.error(f"--snapshot needs --{simulator} URL")
        with open(args.input, encoding="utf-8") as file:
            request = json.load(file)
        with open(args.snapshot, "w", encoding="utf-8") as file:
            json.dump(snapshot(url, request), file, indent=2)
        return
    if not args.endpoint or not args.result:
        parser.error("--endpoint and --result are required (unless --snapshot)")
    found = facts(args)
    if args.json:
        print(json.dumps(found, indent=2))
    else:
        print_text(found)


if __name__ == "__main__":
    summary_command(__doc__, "spark", lambda url, request: sim_tenant(url, tenant_of(request.get("target", {}))),
                    facts, print_text)
