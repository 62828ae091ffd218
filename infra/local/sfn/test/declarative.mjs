// What the flow tests of declarative platforms (Compass, Data Fusion) read back after a run: the
// run's objects in the artifact bucket and its events, a sweep of the whole bucket for secret
// values and manifest mismatches, and the files a run left under the log folder.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../runner.mjs';
import { PYTHON, run } from './harness.mjs';

const INFRA_LOCAL = join(ROOT, 'infra', 'local');

/** Runs a Python `script` (with infra/local importable) and parses what it prints as JSON. */
export function python(script, args, input) {
  const prelude = `import sys; sys.path.insert(0, ${JSON.stringify(INFRA_LOCAL)})\n`;
  return JSON.parse(run(PYTHON, ['-c', prelude + script, ...args], { input }));
}

/** Everything a run left in the artifact bucket but the entity files, and its events. */
const RUN_FACTS = `
import json
from promote_summary import as_json, read, run_manifest_facts, s3_client
from sesam_summary import run_events
endpoint, bucket, platform, run_id = sys.argv[1:5]
s3 = s3_client(endpoint)
prefix = f"bundles/{platform}/{run_id}/"
keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])]
def text(key):
    body = read(s3, bucket, key)
    return None if body is None else body.decode()
def entity_set(at):
    return {"manifest": as_json(text(f"{at}manifest.json")),
            "files": sum(1 for k in keys if k.startswith(at) and k.count("/") == at.count("/") + 1 and k.endswith(".json")
                         and not k.endswith("manifest.json"))}
print(json.dumps({"keys": keys, "bundle": entity_set(prefix), "before": entity_set(f"{prefix}before/"),
                  "plan_file": as_json(text(f"{prefix}plan.json")),
                  "run_manifest": run_manifest_facts(s3, bucket, run_id), "events": run_events(endpoint, run_id)}))
`;

/**
 * The objects of one run of `platform` (its bundle, `before/`, `plan.json`), its run manifest
 * (with `outcome`) and the ferry events it sent.
 */
export function runFacts(endpointUrl, bucket, platform, runId) {
  const facts = python(RUN_FACTS, [endpointUrl, bucket, platform, runId]);
  facts.outcome = facts.run_manifest.manifest?.outcome;
  return facts;
}

const SWEEP = `
import hashlib, json
from concurrent.futures import ThreadPoolExecutor
from promote_summary import as_json, read, s3_client
endpoint, bucket = sys.argv[1:3]
secrets = [line for line in sys.stdin.read().splitlines() if line]
s3 = s3_client(endpoint)
keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket) for o in page.get("Contents", [])]
with ThreadPoolExecutor(16) as pool:
    bodies = dict(zip(keys, pool.map(lambda k: read(s3, bucket, k) or b"", keys)))
leaks = sorted(k for k, body in bodies.items() if any(s.encode() in body for s in secrets))
mismatched, listed = [], 0
for key, body in bodies.items():
    if not key.startswith("bundles/") or not key.endswith("/manifest.json"):
        continue
    manifest = as_json(body) or {}
    for entry in manifest.get("files", []):
        listed += 1
        if hashlib.sha256(bodies.get(entry["key"], b"")).hexdigest() != entry["sha256"]:
            mismatched.append(entry["key"])
print(json.dumps({"objects": len(keys), "bytes": sum(map(len, bodies.values())), "leaks": leaks,
                  "listed": listed, "mismatched": mismatched}))
`;

/**
 * Every object of `bucket`: which hold any of `secrets`, and which files listed by a bundle's
 * manifest do not match their sha256 (`{objects, bytes, leaks, listed, mismatched}`).
 */
export function sweepBucket(endpointUrl, bucket, secrets) {
  return python(SWEEP, [endpointUrl, bucket], `${secrets.join('\n')}\n`);
}

/** Every file under `dir`, recursively, with its text. */
export function filesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name)).map((path) => [path, readFileSync(path, 'utf8')]);
}
