#!/usr/bin/env python3
"""Seed a local AWS endpoint with the two-account world that infra/examples/refresh-local.json names.

Production (account 111111111111): tables efcms-prod-alpha (with a few ef-cms shaped items) and
efcms-prod-big, the Glue job ferry-refresh-table, the bucket prod-documents.
Test (account 222222222222): tables efcms-test-alpha and efcms-test-big with streams, their stream
consumers streams_test_blue (enabled) and streams_test_green (disabled), the deploy table
efcms-deploy-test, the bucket test-documents.
ferry's own account (123456789012): the masking key secret ferry/masking-key.

Re-running is safe: what exists is left as it is.

Usage: python infra/local/seed.py --endpoint http://127.0.0.1:PORT
"""

import argparse
import json

import boto3
from botocore.exceptions import ClientError

REGION = "us-east-1"
PROD = "111111111111"
TEST = "222222222222"


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


def seed(endpoint):
    prod, test, own = clients(endpoint, PROD), clients(endpoint, TEST), clients(endpoint, None)

    ddb = prod("dynamodb")
    table(ddb, "efcms-prod-alpha", stream=True)
    table(ddb, "efcms-prod-big", stream=False)
    for item in items():
        ddb.put_item(TableName="efcms-prod-alpha", Item=item)
    exists_ok(lambda: prod("glue").create_job(
        Name="ferry-refresh-table", Role=f"arn:aws:iam::{PROD}:role/ferry-glue",
        Command={"Name": "glueetl", "ScriptLocation": "s3://ferry-glue-scripts/refresh_table.py"},
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    seed(parser.parse_args().endpoint)
