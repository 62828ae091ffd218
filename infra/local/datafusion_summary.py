#!/usr/bin/env python3
"""Summarise what a local Data Fusion promotion left behind, read back from the CDAP simulator, the
artifact bucket and ferry's events.

The plan (counts, one line per change with its field changes, and the pipelines rewritten from the
source's CDAP version to the target's), what was applied and verified, how many times each pipeline
of the target was deployed during the run (the simulator's deploy counts less the snapshot's), the
target's pipelines before -> after with their pipeline and plugin artifact versions, the pipeline
runs ferry started (run id, status, runtime arguments), the bundle under bundles/datafusion/<run>/
(each file checked against its manifest.json), its before/ snapshot and plan.json, the run manifest,
and the run's ferry.drift event.

Usage: python infra/local/datafusion_summary.py --endpoint URL --input REQUEST.json --result RESULT.json
           --cdap URL [--before SNAPSHOT.json] [--artifact-bucket NAME] [--json]
       python infra/local/datafusion_summary.py --input REQUEST.json --cdap URL --snapshot SNAPSHOT.json

REQUEST.json is the execution input (its target.datafusion names the instance), RESULT.json what
`infra/local/sfn/run.mjs` writes to FERRY_RESULT_FILE, URL the simulator (cdap-sim) whose control
API (/control) is read. --snapshot writes the target instance's whole state as it is now (with its
deploy counts) to SNAPSHOT.json; take one before each run whose deploys you want counted.
"""

import json
import urllib.parse
import urllib.request

from promote_summary import describe_cause, read_run, summary_command
from sesam_summary import counts_text, declarative_facts, print_plan, print_stored


def instance_of(side):
    """The instance id a request side names: the last segment of `instance`, else the one in
    `api_endpoint` (`.../instances/<name>/api`)."""
    datafusion = side.get("datafusion") or {}
    if datafusion.get("instance"):
        return datafusion["instance"].rstrip("/").rsplit("/", 1)[-1]
    parts = urllib.parse.urlsplit(datafusion.get("api_endpoint", "")).path.strip("/").split("/")
    return parts[parts.index("instances") + 1] if "instances" in parts[:-1] else ""


def control(cdap, path):
    with urllib.request.urlopen(f"{cdap}/control{path}", timeout=10) as reply:
        return json.load(reply)


def snapshot(cdap, request):
    return control(cdap, f"/instances/{urllib.parse.quote(instance_of(request['target']))}")


def facts(args):
    request, result, before = read_run(args)
    name = instance_of(request["target"])
    found = {
        **declarative_facts(args, request, result, "datafusion"),
        "instance": name,
        "source_instance": instance_of(request.get("source") or {}),
        "view": None,
        "deploys": None,
        "earlier": before,
    }
    if args.cdap:
        found["view"] = snapshot(args.cdap, request)
        found["deploys"] = control(args.cdap, "/counts")["deploys"].get(name, {})
    return found


def pipelines(view):
    """`ns/name` → the app's view, for every app of the instance view."""
    return {f"{ns}/{name}": app for ns, space in sorted(((view or {}).get("namespaces") or {}).items())
            for name, app in sorted((space.get("apps") or {}).items())}


def artifacts(app):
    """The pipeline artifact and its plugins' artifacts, as `name version` text."""
    artifact = app.get("artifact") or {}
    stages = (app.get("configuration") or {}).get("stages") or []
    used = ((stage.get("plugin") or {}).get("artifact") for stage in stages)
    plugins = sorted({f"{a['name']} {a['version']}" for a in used if a})
    return f"{artifact.get('name')} {artifact.get('version')} ({', '.join(plugins) or 'no plugins'})"


def versions_text(app):
    count = len(app.get("versions") or [])
    return f"{count} version{'s' if count != 1 else ''}"


def print_rewrite(plan):
    origin = (plan or {}).get("source") or {}
    if origin.get("version") and origin.get("target_version"):
        print(f"  pipelines rewritten for the target: CDAP {origin['version']} → {origin['target_version']} "
              f"({origin.get('pipelines_rewritten', 0)} pipelines: the pipeline artifact and the SYSTEM plugins "
              "of that version)")


def deploys_during(f):
    """`ns/name` → deploys to the target during the run (every deploy so far without a snapshot)."""
    earlier = (f["earlier"] or {}).get("deploys") or {}
    return {f"{ns}/{app}": count - (earlier.get(ns) or {}).get(app, 0)
            for ns, apps in sorted(f["deploys"].items()) for app, count in sorted(apps.items())}


def print_deploys(f):
    since = "during this run" if f["earlier"] is not None else "so far (seeding included)"
    print(f"  deploys to {f['instance']} {since} (GET /control/counts): "
          + ", ".join(f"{key} {count}" for key, count in deploys_during(f).items()))


def print_pipelines(f):
    after = pipelines(f["view"])
    earlier = pipelines(f["earlier"]) if f["earlier"] is not None else None
    if earlier is None:
        print(f"  pipelines on {f['instance']} now:")
        for key, app in after.items():
            print(f"    {key}: {artifacts(app)}, {versions_text(app)}")
        return
    print(f"  pipelines on {f['instance']}, before -> after:")
    width = max((len(k) for k in {*earlier, *after}), default=0)
    for key in sorted({*earlier, *after}):
        was, now = earlier.get(key), after.get(key)
        if was is None:
            print(f"    + {key:<{width}}  {artifacts(now)}  (created)")
        elif now is None:
            print(f"    - {key:<{width}}  {artifacts(was)}  (deleted)")
        elif was.get("versions") == now.get("versions"):
            print(f"      {key:<{width}}  {artifacts(now)}, {versions_text(now)}  (unchanged)")
        else:
            print(f"    ~ {key:<{width}}  {artifacts(was)}, {versions_text(was)}")
            print(f"      {'':<{width}}  -> {artifacts(now)}, {versions_text(now)}  (updated: a new version)")


def print_runs(f):
    started = (((f["results"] or {}).get("runs") or {}).get("job") or {}).get("runs") or []
    apps = pipelines(f["view"])
    for run in started:
        key = f"{run['namespace']}/{run['pipeline']}"
        seen = next((r for r in (apps.get(key) or {}).get("runs", []) if r.get("runid") == run["run_id"]), {})
        args = json.loads((seen.get("properties") or {}).get("runtimeArgs") or "{}")
        listed = ", ".join(f"{k}={v}" for k, v in sorted(args.items()))
        print(f"  run {key} {run['run_id']}: {seen.get('status', '(not found on the instance)')}"
              + (f" (runtime args {listed})" if listed else ""))
    status = (f["results"] or {}).get("runs_status")
    if status:
        print(f"  the state machine saw: {status.get('state')} ({status.get('detail')})")


def side_text(instance, version):
    return f"{instance}, CDAP {version}" if version else instance


def print_text(f):
    took = f" in {f['duration_seconds']}s" if f["duration_seconds"] is not None else ""
    what = "plan (dry run)" if f["dry_run"] else "promote"
    request = f["request"]
    origin = (f["plan"] or {}).get("source") or {}
    source = side_text(f["source_instance"] or "bundle", origin.get("version"))
    target = side_text(f["instance"], origin.get("target_version") or (f["view"] or {}).get("version"))
    print(f"{what}: {request['source'].get('name')} ({source}) -> {request['target']['name']} ({target}): "
          f"{f['status']}{took}, run {f['run_id']}")
    if f["status"] != "SUCCEEDED":
        print(f"  error: {f['error']}: {describe_cause(f['cause'])}")
    if f["plan"]:
        print_plan(f["plan"])
        print_rewrite(f["plan"])
    results = f["results"] or {}
    applied = (results.get("import") or {}).get("applied")
    if applied is not None:
        print(f"  applied in order ({len(applied)}): {', '.join(applied) or 'nothing'}")
    if not f["dry_run"] and (f["plan"] or {}).get("nothing_to_do"):
        print("  nothing to apply: the target already matches the bundle")
    verification = results.get("verification")
    if verification and verification.get("verified"):
        print(f"  verified: the target matches the bundle ({verification.get('entities')} entities, nothing left to do)")
    if f["deploys"] is not None:
        print_deploys(f)
    if f["view"] is not None and not f["dry_run"]:
        print_pipelines(f)
    print_runs(f)
    for event in f["events"] or []:
        if event["detail_type"] == "ferry.drift":
            print(f"  event ferry.drift: {counts_text(event['detail'].get('counts') or {})}")
    print_stored(f)


if __name__ == "__main__":
    summary_command(__doc__, "cdap", snapshot, facts, print_text)
