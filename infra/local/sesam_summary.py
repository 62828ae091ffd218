#!/usr/bin/env python3
"""Summarise what a local Sesam promotion left behind, read back from the Sesam node simulator, the
artifact bucket and ferry's EventBridge events.

The plan (counts, one line per change with its field changes indented), what was applied and
verified, the target node's entities (before -> after, when a snapshot is given) and the writes it
received, the bundle under bundles/sesam/<run>/ (each file checked against its manifest.json), its
before/ snapshot (the rollback source) and plan.json, the run manifest runs/promote/<run>/manifest.json
with its outcome and error, and the run's events (ferry.promote, ferry.drift). A plan the guards
refuse (only a dry run reports one instead of failing) is shown with the reasons.

Usage: python infra/local/sesam_summary.py --endpoint URL --input REQUEST.json --result RESULT.json
           [--sesam URL] [--before SNAPSHOT.json] [--artifact-bucket NAME] [--json]
       python infra/local/sesam_summary.py --input REQUEST.json --sesam URL --snapshot SNAPSHOT.json
       python infra/local/sesam_summary.py --endpoint URL --capture-events

REQUEST.json is the execution input (its target.sesam.url names the node), RESULT.json what
`infra/local/sfn/run.mjs` writes to FERRY_RESULT_FILE, URL the simulator (sesam-sim) whose control
API (/_sim) is read. --snapshot writes the target node as it is now, and how many requests the
simulator had answered, to SNAPSHOT.json (for a later --before) and exits. --capture-events sends
every `ferry` event of ferry's own account to the SQS queue ferry-events-local (an EventBridge
rule) and exits; a later summary takes the run's events off that queue (events of other runs
read meanwhile are dropped). With --json the facts are printed as one JSON document (the flow tests
read it) instead of text; it holds every stored object's text, so a test can look for what must not
be there.
"""

import argparse
import hashlib
import json
import urllib.error
import urllib.parse
import urllib.request

import boto3
from botocore.exceptions import ClientError

from promote_summary import REGION, as_json, describe_cause, read, read_run, run_facts, run_manifest_facts, s3_client

EVENTS = "ferry-events-local"
OWN_ACCOUNT = "123456789012"


def own_client(endpoint, service):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def capture_events(endpoint):
    """An EventBridge rule sending every `ferry` event to the queue EVENTS (both made if missing)."""
    own_client(endpoint, "sqs").create_queue(QueueName=EVENTS)
    events = own_client(endpoint, "events")
    events.put_rule(Name=EVENTS, EventPattern=json.dumps({"source": ["ferry"]}))
    events.put_targets(Rule=EVENTS, Targets=[{"Id": "queue", "Arn": f"arn:aws:sqs:{REGION}:{OWN_ACCOUNT}:{EVENTS}"}])


def run_events(endpoint, run_id):
    """The run's events, taken off the queue EVENTS (None when events are not captured)."""
    sqs = own_client(endpoint, "sqs")
    try:
        queue = sqs.get_queue_url(QueueName=EVENTS)["QueueUrl"]
    except ClientError:
        return None
    found = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            event = as_json(message["Body"]) or {}
            detail = event.get("detail") or {}
            if detail.get("run_id") == run_id:
                found.append({"detail_type": event.get("detail-type"), "source": event.get("source"),
                              "detail": detail, "text": message["Body"]})
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


def node_of(request):
    """The node name and API URL of the request's target (`http://host/<node>/api`)."""
    url = (request.get("target", {}).get("sesam") or {}).get("url", "")
    parts = [p for p in urllib.parse.urlparse(url).path.split("/") if p]
    if parts and parts[-1] == "api":
        parts = parts[:-1]
    return (parts[-1] if parts else ""), url


def sim_get(sesam_url, path):
    try:
        with urllib.request.urlopen(f"{sesam_url}{path}", timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise


def snapshot(sesam_url, node):
    """The node's view now and how many requests the simulator has answered so far."""
    return {"node": sim_get(sesam_url, f"/_sim/nodes/{urllib.parse.quote(node)}"),
            "requests_seen": len(sim_get(sesam_url, "/_sim/requests") or [])}


def requests_since(sesam_url, node, seen):
    """The node's requests after the first `seen` ones, as `METHOD path` below /<node>/api."""
    prefix = f"/{node}/api"
    mine = [r for r in (sim_get(sesam_url, "/_sim/requests") or [])[seen:] if r.get("node") == node]
    lines = [{"method": r["method"], "path": r["path"][len(prefix):] or "/", "query": r.get("query"),
              "status": r["status"], "auth": r["auth"]} for r in mine]
    return {"writes": [r for r in lines if r["method"] != "GET"], "reads": sum(r["method"] == "GET" for r in lines)}


def set_facts(objects, text_of, bucket, prefix):
    """A stored entity set: its manifest, and each listed file checked against the stored object."""
    text = text_of.get(f"{prefix}manifest.json")
    manifest = as_json(text)
    checks = []
    for entry in (manifest or {}).get("files", []):
        stored = objects.get(entry.get("key"))
        checks.append({"kind": entry.get("kind"), "id": entry.get("id"), "key": entry.get("key"),
                       "recorded": entry.get("sha256"), "sha256": stored and stored["sha256"],
                       "matches": bool(stored) and stored["sha256"] == entry.get("sha256")})
    return {"uri": f"s3://{bucket}/{prefix}", "prefix": prefix, "manifest": manifest, "manifest_text": text,
            "entities": len(checks), "checks": checks, "all_match": bool(checks) and all(c["matches"] for c in checks)}


def bundle_facts(s3, bucket, run_id, platform="sesam"):
    """Every object under bundles/<platform>/<run>/: the bundle, before/ and plan.json."""
    prefix = f"bundles/{platform}/{run_id}/"
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = sorted(o["Key"] for page in pages for o in page.get("Contents", []))
    except ClientError:
        keys = []
    objects, text_of = {}, {}
    for key in keys:
        body = read(s3, bucket, key) or b""
        text_of[key] = body.decode("utf-8", errors="replace")
        objects[key] = {"key": key, "size": len(body), "sha256": hashlib.sha256(body).hexdigest(), "text": text_of[key]}
    plan_text = text_of.get(f"{prefix}plan.json")
    bundle = set_facts(objects, text_of, bucket, prefix)
    bundle["checks"] = [c for c in bundle["checks"] if not c["key"].startswith(f"{prefix}before/")]
    return {
        "bucket": bucket,
        "objects": list(objects.values()),
        "bundle": bundle,
        "before": set_facts(objects, text_of, bucket, f"{prefix}before/"),
        "plan_file": {"uri": f"s3://{bucket}/{prefix}plan.json", "plan": as_json(plan_text), "text": plan_text},
    }


def declarative_facts(args, request, result, platform):
    """What a declarative run left: how it ended, its plan (the dry run's answer, else the one its
    manifest records), results, bundle, before/ and plan.json, run manifest and events."""
    ended = run_facts(request, result)
    s3 = s3_client(args.endpoint)
    run = run_manifest_facts(s3, args.artifact_bucket, ended["run_id"])
    manifest = run["manifest"] or {}
    plan = result.get("output") if ended["dry_run"] and ended["status"] == "SUCCEEDED" else None
    plan = plan or manifest.get("plan") or (manifest.get("results") or {}).get("plan")
    return {
        **ended,
        "request": request,
        "output": result.get("output"),
        "plan": plan,
        "results": manifest.get("results"),
        **bundle_facts(s3, args.artifact_bucket, ended["run_id"], platform),
        "run_manifest": run,
        "outcome": manifest.get("outcome"),
        "events": run_events(args.endpoint, ended["run_id"]),
    }


def facts(args):
    request, result, before = read_run(args)
    node, url = node_of(request)
    found = {
        **declarative_facts(args, request, result, "sesam"),
        "source": {"name": request.get("source", {}).get("name"), "request": request.get("source")},
        "target": {"name": request.get("target", {}).get("name"), "node": node, "url": url,
                   "view": None, "before": (before or {}).get("node")},
    }
    if args.sesam:
        found["target"]["view"] = sim_get(args.sesam, f"/_sim/nodes/{urllib.parse.quote(node)}")
        found["requests"] = requests_since(args.sesam, node, (before or {}).get("requests_seen", 0))
    return found


def source_text(f):
    """Where the desired state came from, as the plan records it (else as the request names it)."""
    origin = (f["plan"] or {}).get("source") or {}
    side = f["source"]["request"] or {}
    if origin.get("git") or side.get("git"):
        git = side.get("git") or {}
        commit = origin.get("commit")
        return (f"git {origin.get('git') or git.get('url')} {origin.get('ref') or git.get('ref')}:"
                f"{origin.get('path') or git.get('path')}" + (f" @ {commit[:12]}" if commit else ""))
    if origin.get("bundle") or side.get("bundle"):
        return f"bundle {origin.get('bundle') or side.get('bundle')}"
    return f"node {origin.get('sesam') or (side.get('sesam') or {}).get('url')}"


def counts_text(counts):
    order = [("create", "to create"), ("update", "to update"), ("delete", "to delete"), ("unchanged", "unchanged"),
             ("protected", "protected"), ("kept", "kept (pruning off)")]
    return ", ".join(f"{counts.get(k, 0)} {label}" for k, label in order if counts.get(k) or k in ("create", "update", "delete"))


def field_text(field):
    """`path: old → new`, `path: + new` or `path: - old` (as ferry renders a field change)."""
    path = field.get("path") or "(whole document)"
    old, new = field.get("old"), field.get("new")
    if old is not None and new is not None:
        return f"{path}: {old} → {new}"
    if new is not None:
        return f"{path}: + {new}"
    if old is not None:
        return f"{path}: - {old}"
    return f"{path}: changed"


def print_plan(plan, indent="  "):
    print(f"{indent}{counts_text(plan.get('counts') or {})}")
    for reason in plan.get("refused") or []:
        print(f"{indent}REFUSED by the guards (a real run changes nothing): {reason}")
    signs = {"create": "+", "update": "~", "delete": "-"}
    for change in plan.get("changes", []):
        print(f"{indent}{signs.get(change['action'], '?')} {change['kind']}/{change['id']}")
        for field in change.get("fields", []):
            print(f"{indent}      {field_text(field)}")
    if plan.get("more_changes"):
        print(f"{indent}… and {plan['more_changes']} more (see plan.json)")
    if plan.get("protected"):
        print(f"{indent}protected, never touched: {', '.join(plan['protected'])}")
    if plan.get("kept"):
        print(f"{indent}kept on the target (pruning off): {', '.join(plan['kept'])}")


def entity_rows(view):
    """`kind/id` → (config, one-line description) of a node view, env included."""
    if not view:
        return {}
    rows = {}
    env = view.get("env") or {}
    rows["env"] = (env, ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in sorted(env.items()))
                   or "(empty)")
    for entity in view.get("entities", []):
        rows[f"{entity['kind']}/{entity['_id']}"] = (entity["config"], brief(entity["kind"], entity["config"]))
    return rows


def brief(kind, config):
    if kind == "pipe":
        source = config.get("source") or {}
        text = f"source {source.get('system') or source.get('type') or '?'}"
        sink = (config.get("sink") or {}).get("system")
        return text + (f", sink {sink}" if sink else "")
    if kind == "system":
        return config.get("base_url") or (config.get("docker") or {}).get("image") or config.get("type", "")
    rest = sorted(k for k in config if k not in ("_id", "type"))
    return ", ".join(rest) or "(no settings)"


def changed_fields(plan):
    """`kind/id` (or `env`) → the paths of the fields the plan changes."""
    found = {}
    for change in (plan or {}).get("changes", []):
        key = "env" if change["kind"] == "env" else f"{change['kind']}/{change['id']}"
        found[key] = [field.get("path") or "(whole document)" for field in change.get("fields", [])]
    return found


def print_node(f):
    target = f["target"]
    fields = changed_fields(f["plan"])
    after = entity_rows(target["view"])
    earlier = entity_rows(target["before"]) if target["before"] is not None else None
    kinds = {"env": 0, "metadata": 1, "system": 2, "pipe": 3}
    keys = sorted({**(earlier or {}), **after}, key=lambda k: (kinds.get(k.split("/")[0], 9), k))
    if not keys:
        return
    width = max(len(k) for k in keys)
    protect = set(((f["request"].get("sesam") or {}).get("protect")) or [])
    node = target["node"] if target["node"] == target["name"] else f"{target['node']} ({target['name']})"
    if earlier is None:
        print(f"  entities on node {node} now:")
        for key in keys:
            print(f"    {key:<{width}}  {after[key][1]}")
        return
    print(f"  entities on node {node}, before -> after:")
    was_width = max(len(earlier.get(k, (None, "(absent)"))[1]) for k in keys)
    for key in keys:
        was, now = earlier.get(key), after.get(key)
        if was is None:
            change = "created"
        elif now is None:
            change = "deleted"
        elif was[0] == now[0]:
            change = "unchanged" + (", protected" if key.split("/", 1)[-1] in protect or key in protect else "")
        else:
            change = "updated" + (f": {', '.join(fields[key])}" if fields.get(key) else "")
        was_text = was[1] if was else "(absent)"
        now_text = now[1] if now else "(absent)"
        if change.startswith("unchanged"):
            print(f"    {key:<{width}}  {was_text:<{was_width}}      ({change})")
        else:
            print(f"    {key:<{width}}  {was_text:<{was_width}}  ->  {now_text}  ({change})")


def print_text(f):
    took = f" in {f['duration_seconds']}s" if f["duration_seconds"] is not None else ""
    what = "plan (dry run)" if f["dry_run"] else "promote"
    target = f["target"]
    print(f"{what}: {f['source']['name']} ({source_text(f)}) -> {target['name']} (node {target['node']}): "
          f"{f['status']}{took}, run {f['run_id']}")
    if f["status"] != "SUCCEEDED":
        print(f"  error: {f['error']}: {describe_cause(f['cause'])}")
    if f["plan"] and (f["dry_run"] or f["status"] != "SUCCEEDED"):
        print_plan(f["plan"])
    elif f["plan"]:
        print(f"  plan: {counts_text(f['plan'].get('counts') or {})} (each change below)")
    results = f["results"] or {}
    applied = (results.get("import") or {}).get("applied")
    if applied is not None:
        count = (results.get("import") or {}).get("count", len(applied))
        more = f", … and {count - len(applied)} more" if count > len(applied) else ""
        print(f"  applied in order ({count}): {', '.join(applied) or 'nothing'}{more}")
    verification = results.get("verification")
    if verification and verification.get("verified"):
        print(f"  verified: the node matches the bundle ({verification.get('entities')} entities, nothing left to do)")
    if not f["dry_run"] and target["view"] is not None:
        print_node(f)
    requests = f.get("requests")
    if requests is not None:
        writes = requests["writes"]
        if writes:
            listed = ", ".join(f"{w['method']} {w['path']}" + (f" ({w['status']})" if w["status"] >= 300 else "")
                               for w in writes)
            print(f"  writes the node received ({len(writes)}): {listed}")
        else:
            print(f"  the node received no write ({requests['reads']} reads)")
    for event in f["events"] or []:
        if event["detail_type"] == "ferry.drift":
            changes = ", ".join(f"{c['action']} {c['kind']}/{c['id']}" for c in event["detail"].get("changes", []))
            print(f"  event ferry.drift: {event['detail'].get('source')} -> {event['detail'].get('target')}, "
                  f"{counts_text(event['detail'].get('counts') or {})}; {changes}")
    print_stored(f)


def print_stored(f, entities="entities"):
    """Where a declarative run's bundle, before/, plan.json and run manifest are, each checked."""
    bundle, before = f["bundle"], f["before"]
    if bundle["manifest"] is not None:
        verdict = "every file matches manifest.json" if bundle["all_match"] or not bundle["checks"] else \
            "a file DIFFERS from manifest.json"
        print(f"  bundle  {bundle['uri']}  ({bundle['entities']} {entities}, {verdict})")
    else:
        print("  no bundle was stored")
    if before["manifest"] is not None:
        print(f"  before  {before['uri']}  ({before['entities']} {entities}: the rollback source)")
    if f["plan_file"]["plan"] is not None:
        print(f"  plan    {f['plan_file']['uri']}  ({len(f['plan_file']['plan'].get('changes', []))} changes)")
    if f["run_manifest"]["manifest"] is not None:
        print(f"  run manifest {f['run_manifest']['uri']}: outcome {f['outcome']}")
    else:
        print(f"  no run manifest at {f['run_manifest']['uri']}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint")
    parser.add_argument("--input")
    parser.add_argument("--result")
    parser.add_argument("--sesam", metavar="URL")
    parser.add_argument("--before", metavar="SNAPSHOT.json")
    parser.add_argument("--snapshot", metavar="SNAPSHOT.json")
    parser.add_argument("--capture-events", action="store_true")
    parser.add_argument("--artifact-bucket", default="ferry-artifacts")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.capture_events:
        if not args.endpoint:
            parser.error("--capture-events needs --endpoint URL")
        capture_events(args.endpoint)
        return
    if not args.input:
        parser.error("--input is required")
    if args.snapshot:
        if not args.sesam:
            parser.error("--snapshot needs --sesam URL")
        with open(args.input, encoding="utf-8") as file:
            node, _ = node_of(json.load(file))
        with open(args.snapshot, "w", encoding="utf-8") as file:
            json.dump(snapshot(args.sesam, node), file, indent=2)
        return
    if not args.endpoint or not args.result:
        parser.error("--endpoint and --result are required (unless --snapshot or --capture-events)")
    found = facts(args)
    if args.json:
        print(json.dumps(found, indent=2))
    else:
        print_text(found)


if __name__ == "__main__":
    main()
