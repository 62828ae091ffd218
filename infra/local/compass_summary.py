#!/usr/bin/env python3
"""Summarise what a local Compass reconcile left behind, read back from the Director simulator, the
artifact bucket and ferry's events.

The plan (counts, one line per change with its field changes), what was applied and verified, every
application of the tenant before -> after (id, name, bundle and API, spec digest; those of other
contexts or without the label marked as never touched), the bundle under bundles/compass/<run>/
(each file checked against its manifest.json), its before/ snapshot and plan.json, the run
manifest, and the run's events (ferry.promote, ferry.drift).

Usage: python infra/local/compass_summary.py --endpoint URL --input REQUEST.json --result RESULT.json
           --director URL [--before SNAPSHOT.json] [--artifact-bucket NAME] [--json]
       python infra/local/compass_summary.py --input REQUEST.json --director URL --snapshot SNAPSHOT.json

REQUEST.json is the execution input (its target.compass.tenant names the tenant), RESULT.json what
`infra/local/sfn/run.mjs` writes to FERRY_RESULT_FILE, URL the Director simulator whose control API
(/control) is read. --snapshot writes the tenant's applications as they are now to SNAPSHOT.json.
"""

import hashlib
import json
import urllib.parse
import urllib.request

from promote_summary import describe_cause, read_run, summary_command
from sesam_summary import counts_text, declarative_facts, print_plan, print_stored

LABEL = "open_connectors"


def applications(director, tenant):
    """The tenant's applications, by id, from the simulator's control API."""
    url = f"{director}/control/tenants/{urllib.parse.quote(tenant)}/applications"
    with urllib.request.urlopen(url, timeout=10) as reply:
        apps = json.load(reply)
    return {app["id"]: app for app in apps}


def context_of(request):
    compass = request.get("compass") or {}
    if compass.get("context"):
        return compass["context"]
    url = ((request.get("source") or {}).get("open_connectors") or {}).get("url", "")
    return urllib.parse.urlsplit(url).netloc.lower()


def brief(app, context):
    """One line about an application: name, label, bundle/API and the spec's digest."""
    label = (app.get("labels") or {}).get(LABEL)
    if not isinstance(label, dict):
        return f"{app['name']}: no {LABEL} label (never touched)"
    if label.get("connectorInstanceContext") != context:
        return f"{app['name']}: context {label.get('connectorInstanceContext')} (never touched)"
    parts = [f"{app['name']}: instance {label.get('connectorInstanceID')}", f"\"{app.get('description') or ''}\""]
    bundles = app.get("bundles") or []
    if not bundles:
        parts.append("no bundle")
    for bundle in bundles:
        apis = bundle.get("apiDefinitions") or []
        for api in apis:
            data = ((api.get("spec") or {}).get("data") or "").encode()
            parts.append(f"bundle {bundle['name']} / API {api['name']} (spec sha256 {hashlib.sha256(data).hexdigest()[:12]})")
        if not apis:
            parts.append(f"bundle {bundle['name']} without an API")
    return ", ".join(parts)


def facts(args):
    request, result, before = read_run(args)
    tenant = request["target"]["compass"]["tenant"]
    return {
        **declarative_facts(args, request, result, "compass"),
        "context": context_of(request),
        "applications": applications(args.director, tenant) if args.director else None,
        "earlier": before,
    }


def print_applications(f):
    after, earlier = f["applications"] or {}, f["earlier"]
    context = f["context"]
    if earlier is None:
        print("  applications of the tenant now:")
        for app in sorted(after.values(), key=lambda a: a["name"]):
            print(f"    {brief(app, context)}")
        return
    print("  applications of the tenant, before -> after:")
    for app_id in sorted({*earlier, *after}, key=lambda i: (after.get(i) or earlier.get(i))["name"]):
        was, now = earlier.get(app_id), after.get(app_id)
        if was is None:
            print(f"    + {brief(now, context)}  (created, id {app_id})")
        elif now is None:
            print(f"    - {brief(was, context)}  (deleted)")
        elif json.dumps(was, sort_keys=True) == json.dumps(now, sort_keys=True):
            print(f"      {brief(now, context)}  (unchanged)")
        else:
            print(f"    ~ {brief(now, context)}  (updated, same id {app_id})")
            print(f"        was: {brief(was, context)}")


def print_text(f):
    took = f" in {f['duration_seconds']}s" if f["duration_seconds"] is not None else ""
    what = "reconcile plan (dry run)" if f["dry_run"] else "reconcile"
    request = f["request"]
    print(f"{what}: Open Connectors {f['context']} -> Compass tenant {request['target']['compass']['tenant']} "
          f"({request['target']['name']}): {f['status']}{took}, run {f['run_id']}")
    if f["status"] != "SUCCEEDED":
        print(f"  error: {f['error']}: {describe_cause(f['cause'])}")
    if f["plan"]:
        print_plan(f["plan"])
    results = f["results"] or {}
    applied = (results.get("import") or {}).get("applied")
    if applied is not None:
        print(f"  applied ({len(applied)}): {', '.join(applied) or 'nothing'}")
    verification = results.get("verification")
    if verification and verification.get("verified"):
        print(f"  verified: the tenant matches the bundle ({verification.get('entities')} applications, nothing left to do)")
    if f["applications"] is not None:
        print_applications(f)
    for event in f["events"] or []:
        if event["detail_type"] == "ferry.drift":
            print(f"  event ferry.drift: {counts_text(event['detail'].get('counts') or {})}")
    print_stored(f, "applications")


def snapshot(director, request):
    return applications(director, request["target"]["compass"]["tenant"])


if __name__ == "__main__":
    summary_command(__doc__, "director", snapshot, facts, print_text)
