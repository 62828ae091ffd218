#!/usr/bin/env python3
"""Seed a local AWS endpoint with the two-account world that infra/examples/refresh-local.json names.

Production (account 111111111111): tables efcms-prod-alpha (with a few ef-cms shaped items) and
efcms-prod-big, the Glue job ferry-refresh-table, the bucket prod-documents.
Test (account 222222222222): tables efcms-test-alpha and efcms-test-big with streams, their stream
consumers streams_test_blue (enabled) and streams_test_green (disabled), the deploy table
efcms-deploy-test, the bucket test-documents.
ferry's own account (123456789012): the masking key secret ferry/masking-key.

Re-running is safe: what exists is left as it is (a secret named by --spark, --sesam, --compass or
--datafusion gets the file's value).

Usage: python infra/local/seed.py --endpoint http://127.0.0.1:PORT [--reset] [--world WORLD]
           [--glue-fails MESSAGE] [--glue-polls N] [--stale-objects N] [--artifact-bucket NAME]
           [--write-delay-ms N]
           [--spark FILE [--spark-url URL]] [--sesam FILE [--sesam-url URL]] [--compass FILE]
           [--datafusion FILE [--datafusion-url URL]]

Worlds (each one the demo world above plus what it names; --world none seeds nothing):
  demo          the world above (the default)
  showcase      a realistic production: a few hundred ef-cms items in efcms-prod-alpha (users and
                their `user-email|<address>` keys, cases with contacts in nested maps, docket entries
                with served parties in lists, free-text notes), some in efcms-prod-big, a few dozen
                documents under nested prefixes in prod-documents, and leftovers of an older
                refresh in the test account (stale items and objects)
  bulk          efcms-prod-alpha holds about 3 MB, so every scan segment of a two-segment copy
                reads several 1 MB pages
Options that apply to any world:
  --reset             empty the endpoint first (POST /moto-api/reset)
  --glue-fails TEXT   runs of ferry-refresh-table end FAILED with TEXT as their error message
  --glue-polls N      a Glue job run is read N times per state (STARTING, RUNNING) before it moves
                      on, so a run is seen RUNNING by a few status checks (0: finished at once)
  --stale-objects N   N objects in test-documents that prod-documents lacks
  --artifact-bucket NAME   create ferry's artifact bucket NAME in ferry's own account
  --write-delay-ms N  tag the target table efcms-test-alpha (222222222222) with
                      ferry-local:write-delay-ms = N, so the local endpoint makes every PutItem,
                      DeleteItem and BatchWriteItem to it wait N ms before it is applied (a copy
                      into it is slow enough to fail another branch meanwhile); tagged after the
                      world is seeded, so seeding stays fast; 0 removes the tag
  --spark FILE        a local Spark world (infra/local/spark-demo.json is the demo's): FILE's
                      "secrets" (secret name -> JSON value, for example {"bearer_token": ...}) are
                      stored in ferry's own account, where a promote input's auth_secret_arn
                      arn:aws:secretsmanager:us-east-1:123456789012:secret:NAME finds them; with
                      --spark-url, FILE's "tenants" (spark-sim tenant seeds) are created in the
                      Spark ImpEx simulator at URL (emptied first with --reset)
  --sesam FILE        a local Sesam world (infra/local/sesam-demo.json is the demo's): FILE's
                      "secrets" (a node's {"jwt": ...}, a git remote's {"token": ...}) are stored in
                      ferry's own account like --spark's; with --sesam-url, FILE's "nodes" (sesam-sim
                      node seeds) are created in the Sesam node simulator at URL (emptied first with
                      --reset)
  --compass FILE      a local Compass world (infra/local/compass-demo.json is the demo's): FILE's
                      "secrets" (Open Connectors {"user_secret", "organization_secret"}, a Compass
                      client's {"client_id", "client_secret"}) are stored like --spark's; its "oc" and
                      "director" parts are the simulators' own seed files (oc-sim, director-sim --seed)
  --datafusion FILE   a local Data Fusion world (infra/local/datafusion-demo.json is the demo's):
                      FILE's "secrets" (Google credentials JSON) are stored like --spark's; a secret
                      written {"key_file": PATH, ...} is PATH's JSON (relative to the repository,
                      such as tests/fixtures/google/service-account.json) with the other fields set
                      over it; with --datafusion-url, `${CDAP_URL}` in them becomes URL (the Data
                      Fusion simulator, whose token endpoint is URL/token); its "cdap" part is the
                      simulator's own seed file (cdap-sim --seed)
"""

import argparse
import json
import random
import urllib.request
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

REGION = "us-east-1"
PROD = "111111111111"
TEST = "222222222222"
REPOSITORY = Path(__file__).resolve().parents[2]


def clients(endpoint, account):
    """Clients acting in `account`, through an assumed role (or ferry's own account for None)."""
    base = dict(endpoint_url=endpoint, region_name=REGION,
                aws_access_key_id="testing", aws_secret_access_key="testing")
    if account is None:
        return lambda service: boto3.client(service, **base)
    creds = boto3.client("sts", **base).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/ferry-seed", RoleSessionName="seed")["Credentials"]
    scoped = dict(base, aws_access_key_id=creds["AccessKeyId"],
                  aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    return lambda service: boto3.client(service, **scoped)


def exists_ok(call, *codes):
    """Runs `call`, ignoring the error codes that mean "already there"."""
    try:
        return call()
    except ClientError as err:
        if err.response["Error"]["Code"] not in codes:
            raise
        return None


def table(client, name, stream):
    spec = dict(TableName=name, BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                      {"AttributeName": "sk", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                           {"AttributeName": "sk", "KeyType": "RANGE"}])
    if stream:
        spec["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    exists_ok(lambda: client.create_table(**spec), "ResourceInUseException")
    return client.describe_table(TableName=name)["Table"].get("LatestStreamArn")


def consumer(make, function, stream_arn, enabled):
    iam, lam = make("iam"), make("lambda")
    role = exists_ok(lambda: iam.create_role(
        RoleName=f"{function}-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})),
        "EntityAlreadyExists")
    role_arn = role["Role"]["Arn"] if role else iam.get_role(RoleName=f"{function}-role")["Role"]["Arn"]
    exists_ok(lambda: lam.create_function(FunctionName=function, Runtime="provided.al2023", Role=role_arn,
                                          Handler="bootstrap", Code={"ZipFile": b"seeded consumer"}),
              "ResourceConflictException")
    if not lam.list_event_source_mappings(FunctionName=function, EventSourceArn=stream_arn)["EventSourceMappings"]:
        lam.create_event_source_mapping(FunctionName=function, EventSourceArn=stream_arn,
                                        StartingPosition="TRIM_HORIZON", Enabled=enabled)


def items():
    """A few items shaped like ef-cms data: emails in keys, nested maps, lists and free text."""
    for i in range(1, 6):
        email = f"petitioner{i}@example.com"
        yield {"pk": {"S": f"user-email|{email}"}, "sk": {"S": f"user|{i:04d}"},
               "userId": {"S": f"user-{i:04d}"}}
        yield {"pk": {"S": f"case|{100 + i}-24"}, "sk": {"S": "case"},
               "contactPrimary": {"M": {"name": {"S": f"Petitioner {i}"}, "email": {"S": email},
                                        "pendingEmail": {"S": f"new{i}@example.org"}}},
               "serviceEmails": {"L": [{"S": email}, {"S": f"counsel{i}@lawfirm.example"}]},
               "note": {"S": f"Contacted {email} about the hearing."}}


def seed(endpoint, glue_arguments=None):
    prod, test, own = clients(endpoint, PROD), clients(endpoint, TEST), clients(endpoint, None)

    ddb = prod("dynamodb")
    table(ddb, "efcms-prod-alpha", stream=True)
    table(ddb, "efcms-prod-big", stream=False)
    for item in items():
        ddb.put_item(TableName="efcms-prod-alpha", Item=item)
    exists_ok(lambda: prod("glue").create_job(
        Name="ferry-refresh-table", Role=f"arn:aws:iam::{PROD}:role/ferry-glue",
        Command={"Name": "glueetl", "ScriptLocation": "s3://ferry-glue-scripts/refresh_table.py"},
        DefaultArguments=glue_arguments or {},
        ExecutionProperty={"MaxConcurrentRuns": 10}), "AlreadyExistsException", "IdempotentParameterMismatchException")
    exists_ok(lambda: prod("s3").create_bucket(Bucket="prod-documents"), "BucketAlreadyOwnedByYou")
    for n in range(1, 4):
        prod("s3").put_object(Bucket="prod-documents", Key=f"case-{100 + n}-24/petition.pdf", Body=b"%PDF-1.7 demo")

    ddb = test("dynamodb")
    alpha_stream = table(ddb, "efcms-test-alpha", stream=True)
    table(ddb, "efcms-test-big", stream=True)
    table(ddb, "efcms-deploy-test", stream=False)
    exists_ok(lambda: test("s3").create_bucket(Bucket="test-documents"), "BucketAlreadyOwnedByYou")
    consumer(test, "streams_test_blue", alpha_stream, enabled=True)
    consumer(test, "streams_test_green", alpha_stream, enabled=False)

    exists_ok(lambda: own("secretsmanager").create_secret(
        Name="ferry/masking-key", SecretString="local-demo-masking-key-not-for-production"),
        "ResourceExistsException")
    print("seeded prod (111111111111), test (222222222222) and the masking key")


def put_items(client, name, rows):
    """Writes `rows` (DynamoDB JSON items) to `name`, 25 per batch, resending what comes back unprocessed."""
    rows = list(rows)
    for start in range(0, len(rows), 25):
        requests = {name: [{"PutRequest": {"Item": item}} for item in rows[start:start + 25]]}
        while requests:
            requests = client.batch_write_item(RequestItems=requests).get("UnprocessedItems") or None


def s(value):
    """A DynamoDB string attribute."""
    return {"S": value}


def showcase_items(rng):
    """A few hundred items shaped like ef-cms data, the same on every run."""
    first = ["Ada", "Bo", "Cyra", "Dev", "Eun", "Fin", "Gia", "Hal", "Ines", "Jon", "Kai", "Lena"]
    last = ["Moreau", "Okafor", "Lindqvist", "Tanaka", "Reyes", "Novak", "Haddad", "Brennan"]
    domains = ["example.com", "example.com", "example.org", "lawfirm.example", "mail.example.net"]
    users = []
    for i in range(60):
        name = f"{rng.choice(first)} {rng.choice(last)}"
        email = f"{name.lower().replace(' ', '.')}{i}@{rng.choice(domains)}"
        user_id = f"{i:08x}-4c1b-4e3a-9f0e-{i * 7919:012x}"
        users.append((user_id, name, email))
        yield {"pk": s(f"user|{user_id}"), "sk": s(f"user|{user_id}"), "entityName": s("User"),
               "name": s(name), "email": s(email), "role": s(rng.choice(["petitioner", "privatePractitioner"])),
               "contact": {"M": {"address1": s(f"{100 + i} Main St"), "city": s("Springfield"),
                                 "phone": s(f"555-01{i:02d}")}}}
        yield {"pk": s(f"user-email|{email}"), "sk": s(f"user|{user_id}"), "userId": s(user_id)}
    titles = ["Petition", "Answer", "Motion for Continuance", "Order", "Notice of Trial", "Stipulation"]
    for c in range(40):
        docket = f"{101 + c}-24"
        petitioner = users[c % len(users)]
        counsel = users[(c * 7 + 3) % len(users)]
        yield {"pk": s(f"case|{docket}"), "sk": s(f"case|{docket}"), "entityName": s("Case"),
               "docketNumber": s(docket), "caseCaption": s(f"{petitioner[1]}, Petitioner"),
               "contactPrimary": {"M": {"name": s(petitioner[1]), "email": s(petitioner[2]),
                                        "serviceIndicator": s("Electronic"),
                                        "address": {"M": {"city": s("Springfield"), "state": s("IL")}}}},
               "privatePractitioners": {"L": [{"M": {"name": s(counsel[1]), "email": s(counsel[2]),
                                                      "barNumber": s(f"PT{c:04d}")}}]},
               "serviceEmails": {"L": [s(petitioner[2]), s(counsel[2])]},
               "status": s(rng.choice(["New", "General Docket", "Calendared", "Closed"]))}
        for d in range(4):
            yield {"pk": s(f"case|{docket}"), "sk": s(f"docket-entry|{c:04d}-{d:04d}"),
                   "entityName": s("DocketEntry"), "documentTitle": s(titles[(c + d) % len(titles)]),
                   "filedBy": s(f"Resp. (C/O {counsel[1]} <{counsel[2]}>)"),
                   "servedParties": {"L": [{"M": {"name": s(petitioner[1]), "email": s(petitioner[2])}},
                                           {"M": {"name": s("IRS"), "email": s("service@irs.example.com")}}]},
                   "isDraft": {"BOOL": d == 3}, "index": {"N": str(d + 1)}}
        yield {"pk": s(f"case|{docket}"), "sk": s(f"work-item|{c:04d}"), "entityName": s("WorkItem"),
               "assigneeName": s(counsel[1]),
               "message": s(f"Please review the filing from {petitioner[2]} and reply to {counsel[2]}.")}


def bulk_items():
    """About 3 MB of items (with an email each), to make every scan segment read several pages."""
    padding = "lorem ipsum dolor sit amet " * 130
    for i in range(850):
        yield {"pk": s(f"user-email|bulk{i}@example.com"), "sk": s(f"bulk|{i:05d}"),
               "email": s(f"bulk{i}@example.com"), "notes": s(padding)}


def showcase(endpoint, rng):
    prod, test = clients(endpoint, PROD), clients(endpoint, TEST)
    put_items(prod("dynamodb"), "efcms-prod-alpha", showcase_items(rng))
    put_items(prod("dynamodb"), "efcms-prod-big", ({**item, "pk": s("big#" + item["pk"]["S"])}
                                                   for item in showcase_items(random.Random(7))))
    put_items(test("dynamodb"), "efcms-test-alpha",
              ({"pk": s(f"case|{900 + i}-19"), "sk": s("case"), "note": s("left by an older refresh")}
               for i in range(6)))
    s3 = prod("s3")
    for c in range(12):
        folder = f"case-{101 + c}-24"
        s3.put_object(Bucket="prod-documents", Key=f"{folder}/petition.pdf", Body=f"%PDF-1.7 petition {c}".encode())
        for d in range(2):
            s3.put_object(Bucket="prod-documents", Key=f"{folder}/docket-entries/{c:04d}-{d:04d}.pdf",
                          Body=f"%PDF-1.7 entry {c}-{d}".encode())
    for n in range(6):
        s3.put_object(Bucket="prod-documents", Key=f"orders/2024/{n + 1:02d}/standing-order.pdf",
                      Body=f"%PDF-1.7 order {n}".encode())
    test("s3").put_object(Bucket="test-documents", Key="case-101-24/petition.pdf", Body=b"%PDF-1.7 petition 0")
    stale_objects(endpoint, 4)


def stale_objects(endpoint, count):
    s3 = clients(endpoint, TEST)("s3")
    for n in range(count):
        s3.put_object(Bucket="test-documents", Key=f"stale/{n:04d}.pdf", Body=b"%PDF-1.7 stale")


def reset(endpoint):
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30).read()


def post_json(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).read()


def store_secrets(endpoint, values):
    """Stores each secret (name -> JSON value or text) in ferry's own account; returns their ARNs."""
    secrets = clients(endpoint, None)("secretsmanager")
    arns = []
    for name, value in sorted(values.items()):
        text = value if isinstance(value, str) else json.dumps(value)
        created = exists_ok(lambda: secrets.create_secret(Name=name, SecretString=text), "ResourceExistsException")
        if created is None:
            secrets.put_secret_value(SecretId=name, SecretString=text)
        arns.append(secrets.describe_secret(SecretId=name)["ARN"])
    return arns


def spark_world(endpoint, path, spark_url, reset_first):
    """Stores the world's secrets in ferry's own account and seeds its tenants in the simulator."""
    with open(path, encoding="utf-8") as file:
        world = json.load(file)
    arns = store_secrets(endpoint, world.get("secrets", {}))
    tenants = world.get("tenants", [])
    if spark_url:
        if reset_first:
            post_json(f"{spark_url}/_sim/reset", {})
        for tenant in tenants:
            post_json(f"{spark_url}/_sim/tenants", tenant)
    print(f"seeded {len(arns)} Spark auth secret(s) in 123456789012"
          + (f" ({', '.join(arns)})" if arns else "")
          + (f" and tenant(s) {', '.join(t['name'] for t in tenants)} at {spark_url}" if spark_url and tenants else ""))


def sesam_world(endpoint, path, sesam_url, reset_first):
    """Stores the world's secrets in ferry's own account and seeds its nodes in the Sesam simulator."""
    with open(path, encoding="utf-8") as file:
        world = json.load(file)
    arns = store_secrets(endpoint, world.get("secrets", {}))
    nodes = world.get("nodes", [])
    if sesam_url:
        if reset_first:
            post_json(f"{sesam_url}/_sim/reset", {})
        for node in nodes:
            post_json(f"{sesam_url}/_sim/nodes", node)
    print(f"seeded {len(arns)} secret(s) for Sesam promotions in 123456789012"
          + (f" ({', '.join(arns)})" if arns else "")
          + (f" and node(s) {', '.join(n['name'] for n in nodes)} at {sesam_url}" if sesam_url and nodes else ""))


def filled(value, placeholders):
    """`value` with every `${NAME}` of `placeholders` in its strings replaced, at any depth."""
    if isinstance(value, dict):
        return {k: filled(v, placeholders) for k, v in value.items()}
    if isinstance(value, list):
        return [filled(v, placeholders) for v in value]
    if isinstance(value, str):
        for name, text in placeholders.items():
            value = value.replace(f"${{{name}}}", text)
    return value


def with_key_file(value):
    """A secret given as {"key_file": PATH, ...}: PATH's JSON (relative to the repository) with the
    other fields set over it; any other value as it is."""
    if not isinstance(value, dict) or "key_file" not in value:
        return value
    rest = {k: v for k, v in value.items() if k != "key_file"}
    with open(REPOSITORY / value["key_file"], encoding="utf-8") as file:
        return {**json.load(file), **rest}


def world_secrets(endpoint, path, purpose, placeholders=None):
    """Stores a world file's "secrets" in ferry's own account (`${NAME}` placeholders filled, key
    files read) and says so."""
    with open(path, encoding="utf-8") as file:
        world = json.load(file)
    values = {name: with_key_file(filled(value, placeholders or {}))
              for name, value in world.get("secrets", {}).items()}
    arns = store_secrets(endpoint, values)
    print(f"seeded {len(arns)} secret(s) for {purpose} in 123456789012"
          + (f" ({', '.join(arns)})" if arns else ""))


def glue_progression(endpoint, reads):
    """Glue job runs advance one state every `reads` reads (0: they are finished when first read)."""
    transition = {"progression": "manual", "times": reads} if reads > 0 else {"progression": "immediate"}
    body = json.dumps({"model_name": "glue::job_run", "transition": transition}).encode()
    urllib.request.urlopen(urllib.request.Request(
        f"{endpoint}/moto-api/state-manager/set-transition", data=body, method="POST",
        headers={"Content-Type": "application/json"}), timeout=30).read()


WRITE_DELAY_TAG = "ferry-local:write-delay-ms"
SLOW_TABLE = "efcms-test-alpha"


def write_delay(endpoint, ms):
    """Tags efcms-test-alpha so the endpoint delays each write to it by `ms` (0: removes the tag)."""
    ddb = clients(endpoint, TEST)("dynamodb")
    try:
        arn = ddb.describe_table(TableName=SLOW_TABLE)["Table"]["TableArn"]
    except ddb.exceptions.ResourceNotFoundException:
        raise SystemExit(f"--write-delay-ms: {SLOW_TABLE} does not exist in {TEST} (seed a world first)")
    ddb.untag_resource(ResourceArn=arn, TagKeys=[WRITE_DELAY_TAG])
    if ms > 0:
        ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": WRITE_DELAY_TAG, "Value": str(ms)}])


WORLDS = ("demo", "showcase", "bulk", "none")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__[__doc__.index("Worlds ("):])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--world", choices=WORLDS, default="demo")
    parser.add_argument("--reset", action="store_true")
    parser.add_argument("--glue-fails", metavar="MESSAGE")
    parser.add_argument("--glue-polls", type=int, metavar="N")
    parser.add_argument("--stale-objects", type=int, default=0, metavar="N")
    parser.add_argument("--artifact-bucket", metavar="NAME")
    parser.add_argument("--write-delay-ms", type=int, metavar="N")
    parser.add_argument("--spark", metavar="FILE")
    parser.add_argument("--spark-url", metavar="URL")
    parser.add_argument("--sesam", metavar="FILE")
    parser.add_argument("--sesam-url", metavar="URL")
    parser.add_argument("--compass", metavar="FILE")
    parser.add_argument("--datafusion", metavar="FILE")
    parser.add_argument("--datafusion-url", metavar="URL")
    args = parser.parse_args()
    if args.spark_url and not args.spark:
        parser.error("--spark-url needs --spark FILE")
    if args.sesam_url and not args.sesam:
        parser.error("--sesam-url needs --sesam FILE")
    if args.datafusion_url and not args.datafusion:
        parser.error("--datafusion-url needs --datafusion FILE")
    if args.write_delay_ms is not None and args.write_delay_ms < 0:
        parser.error("--write-delay-ms needs N >= 0")
    if args.reset:
        reset(args.endpoint)
    if args.glue_polls is not None:
        glue_progression(args.endpoint, args.glue_polls)
    if args.world != "none":
        glue_arguments = ({"--emu-final-state": "FAILED", "--emu-error-message": args.glue_fails}
                          if args.glue_fails else None)
        seed(args.endpoint, glue_arguments)
    if args.world == "showcase":
        showcase(args.endpoint, random.Random(2024))
    if args.world == "bulk":
        put_items(clients(args.endpoint, PROD)("dynamodb"), "efcms-prod-alpha", bulk_items())
    if args.stale_objects:
        stale_objects(args.endpoint, args.stale_objects)
    if args.artifact_bucket:
        own_s3 = clients(args.endpoint, None)("s3")
        exists_ok(lambda: own_s3.create_bucket(Bucket=args.artifact_bucket), "BucketAlreadyOwnedByYou")
    if args.spark:
        spark_world(args.endpoint, args.spark, args.spark_url, args.reset)
    if args.sesam:
        sesam_world(args.endpoint, args.sesam, args.sesam_url, args.reset)
    if args.compass:
        world_secrets(args.endpoint, args.compass, "Compass reconciles")
    if args.datafusion:
        world_secrets(args.endpoint, args.datafusion, "Data Fusion promotions",
                      {"CDAP_URL": args.datafusion_url} if args.datafusion_url else None)
    if args.write_delay_ms is not None:
        write_delay(args.endpoint, args.write_delay_ms)
    if (args.world not in ("demo", "none") or args.glue_fails or args.stale_objects or args.artifact_bucket
            or args.write_delay_ms):
        print(f"seeded world '{args.world}'"
              + (", Glue runs fail" if args.glue_fails else "")
              + (f", {args.stale_objects} stale objects in test-documents" if args.stale_objects else "")
              + (f", artifact bucket {args.artifact_bucket}" if args.artifact_bucket else "")
              + (f", writes to {SLOW_TABLE} wait {args.write_delay_ms} ms" if args.write_delay_ms else ""))


if __name__ == "__main__":
    main()
