#!/usr/bin/env python3
"""End-to-end check of the behaviour fixes in moto_server.py.

Run with an interpreter that has ``moto[server]==5.2.5`` and ``boto3``:

    python infra/local/check_moto_patches.py

Starts the launcher on a free port, exercises DynamoDB streams, Lambda event
source mappings on a stream, Glue failure injection, Glue BatchStopJobRun, the
DynamoDB write delay (and that the server keeps serving during it), STS account
isolation and the --exit-with-parent watch, prints what moto answers, and exits
non-zero if any check fails.  The server is stopped at the end.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any, Callable

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

LAUNCHER = Path(__file__).resolve().parent / "moto_server.py"
REGION = "us-east-1"
FAILURES: list[str] = []


def check(condition: bool, label: str, detail: Any = "") -> bool:
    status = "ok  " if condition else "FAIL"
    suffix = f" -- {detail}" if detail not in ("", None) else ""
    print(f"[{status}] {label}{suffix}")
    if not condition:
        FAILURES.append(label)
    return condition


def info(label: str, value: Any) -> None:
    print(f"[info] {label}: {value}")


def error_of(call: Callable[[], Any]) -> tuple[str | None, str | None, int | None]:
    """Run call; return (code, message, http status) of a ClientError, or Nones."""
    try:
        call()
    except ClientError as exc:
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return err.get("Code"), err.get("Message"), status
    return None, None, None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(endpoint: str, proc: subprocess.Popen | None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"launcher exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"moto server at {endpoint} not ready after {timeout}s")


def moto_api(endpoint: str, path: str, payload: dict[str, Any]) -> None:
    req = urllib.request.Request(
        f"{endpoint}{path}",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        resp.read()


def client(endpoint: str, service: str, **creds: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=creds.get("key", "testing"),
        aws_secret_access_key=creds.get("secret", "testing"),
        aws_session_token=creds.get("token"),
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


# --------------------------------------------------------------------------


def check_dynamodb_streams(endpoint: str) -> str:
    ddb = client(endpoint, "dynamodb")
    table = "stream-cycle"
    created = ddb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    first_arn = created.get("LatestStreamArn")
    check(bool(first_arn), "create table with stream returns LatestStreamArn", first_arn)
    ddb.put_item(TableName=table, Item={"pk": {"S": "before-disable"}})

    ddb.update_table(TableName=table, StreamSpecification={"StreamEnabled": False})
    desc = ddb.describe_table(TableName=table)["Table"]
    check("StreamSpecification" not in desc, "after disable StreamSpecification is absent")
    info("LatestStreamArn after disable", desc.get("LatestStreamArn"))

    code, msg, status = error_of(
        lambda: ddb.put_item(TableName=table, Item={"pk": {"S": "after-disable"}})
    )
    check(code is None, "put_item after stream disable succeeds", msg and f"{code} {status}: {msg}")
    code, msg, status = error_of(
        lambda: ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "after-disable"}},
            UpdateExpression="SET n = :n",
            ExpressionAttributeValues={":n": {"N": "1"}},
        )
    )
    check(code is None, "update_item after stream disable succeeds", msg and f"{code} {status}: {msg}")
    code, msg, status = error_of(
        lambda: ddb.delete_item(TableName=table, Key={"pk": {"S": "before-disable"}})
    )
    check(code is None, "delete_item after stream disable succeeds", msg and f"{code} {status}: {msg}")

    code, msg, _ = error_of(
        lambda: ddb.update_table(TableName=table, StreamSpecification={"StreamEnabled": False})
    )
    check(code == "ValidationException", "disable twice -> ValidationException", f"{code}: {msg}")

    code, msg, _ = error_of(
        lambda: ddb.update_table(
            TableName=table,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
    )
    check(code is None, "re-enable stream after disable succeeds", msg and f"{code}: {msg}")
    desc = ddb.describe_table(TableName=table)["Table"]
    second_arn = desc.get("LatestStreamArn")
    check(
        bool(second_arn) and second_arn != first_arn,
        "re-enable yields a new LatestStreamArn",
        f"{first_arn} -> {second_arn}",
    )
    check(
        desc.get("StreamSpecification") == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        "StreamSpecification reflects the re-enable",
        desc.get("StreamSpecification"),
    )

    code, msg, status = error_of(
        lambda: ddb.put_item(TableName=table, Item={"pk": {"S": "after-reenable"}})
    )
    check(code is None, "put_item after re-enable succeeds", msg and f"{code} {status}: {msg}")

    streams = client(endpoint, "dynamodbstreams")
    described = streams.describe_stream(StreamArn=second_arn)["StreamDescription"]
    shard_id = described["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=second_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]
    check(keys == ["after-reenable"], "new stream holds only post-re-enable writes", keys)

    code, msg, _ = error_of(
        lambda: ddb.update_table(
            TableName=table,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
    )
    check(
        code == "ValidationException"
        and msg == f"Table already has an enabled stream: TableName: {table}",
        "enable while enabled -> ValidationException",
        f"{code}: {msg}",
    )

    # Disable -> disable again -> enable once more: the cycle can repeat.
    ddb.update_table(TableName=table, StreamSpecification={"StreamEnabled": False})
    code, msg, _ = error_of(
        lambda: ddb.update_table(TableName=table, StreamSpecification={"StreamEnabled": False})
    )
    check(
        code == "ValidationException" and msg == f"Table has no stream to disable: TableName: {table}",
        "disable while disabled -> ValidationException",
        f"{code}: {msg}",
    )
    ddb.update_table(
        TableName=table,
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )
    third_arn = ddb.describe_table(TableName=table)["Table"].get("LatestStreamArn")
    check(third_arn not in (first_arn, second_arn), "second re-enable yields yet another ARN", third_arn)

    # Table that never had a stream.
    ddb.create_table(
        TableName="no-stream",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    code, msg, _ = error_of(
        lambda: ddb.update_table(TableName="no-stream", StreamSpecification={"StreamEnabled": False})
    )
    check(code == "ValidationException", "disable on never-streamed table -> ValidationException", msg)
    code, msg, _ = error_of(
        lambda: ddb.update_table(TableName="no-stream", StreamSpecification={"StreamEnabled": True})
    )
    check(code == "ValidationException", "enable without StreamViewType -> ValidationException", msg)
    code, msg, _ = error_of(
        lambda: ddb.update_table(
            TableName="no-stream",
            StreamSpecification={"StreamEnabled": False, "StreamViewType": "KEYS_ONLY"},
        )
    )
    check(code == "ValidationException", "disable with StreamViewType -> ValidationException", msg)
    return third_arn


def check_event_source_mappings(endpoint: str, table: str, stream_arn: str) -> None:
    iam = client(endpoint, "iam")
    lam = client(endpoint, "lambda")
    ddb = client(endpoint, "dynamodb")
    role_arn = iam.create_role(
        RoleName="esm-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("bootstrap", "#!/bin/sh\nexit 0\n")
    function_arn = lam.create_function(
        FunctionName="stream-consumer",
        Runtime="provided.al2023",
        Role=role_arn,
        Handler="bootstrap",
        Code={"ZipFile": buf.getvalue()},
    )["FunctionArn"]
    info("function", function_arn)

    created = lam.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName="stream-consumer",
        StartingPosition="LATEST",
        BatchSize=10,
    )
    uuid = created["UUID"]
    state_create = created.get("State")
    info("ESM State on create", state_create)
    info("ESM StartingPosition on create", created.get("StartingPosition"))
    info("ESM StateTransitionReason on create", created.get("StateTransitionReason"))

    disabled = lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    state_disable = disabled.get("State")
    info("ESM State returned by update(Enabled=False)", state_disable)
    info("ESM State from get after disable", lam.get_event_source_mapping(UUID=uuid).get("State"))

    enabled = lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    state_enable = enabled.get("State")
    info("ESM State returned by update(Enabled=True)", state_enable)
    info("ESM State from get after enable", lam.get_event_source_mapping(UUID=uuid).get("State"))

    check(
        bool(state_create) and bool(state_disable) and bool(state_enable),
        "ESM reports a State on create / disable / enable",
        f"{state_create} / {state_disable} / {state_enable}",
    )
    check(state_disable != state_enable, "ESM State changes between disable and enable")

    listed = lam.list_event_source_mappings(EventSourceArn=stream_arn)["EventSourceMappings"]
    check([m["UUID"] for m in listed] == [uuid], "list_event_source_mappings by stream ARN")

    # Is StartingPosition required for a stream mapping?
    try:
        no_pos = lam.create_event_source_mapping(
            EventSourceArn=stream_arn, FunctionName="stream-consumer"
        )
        info(
            "create without StartingPosition",
            f"accepted, StartingPosition defaulted to {no_pos.get('StartingPosition')}",
        )
        lam.delete_event_source_mapping(UUID=no_pos["UUID"])
    except ClientError as exc:
        info("create without StartingPosition", f"rejected: {exc.response['Error']}")

    # Does moto check that the stream exists?
    bogus = stream_arn.rsplit("/stream/", 1)[0] + "/stream/1999-01-01T00:00:00.000"
    code, msg, status = error_of(
        lambda: lam.create_event_source_mapping(
            EventSourceArn=bogus, FunctionName="stream-consumer", StartingPosition="LATEST"
        )
    )
    info("create on unknown stream ARN", f"{code} ({status}): {msg}" if code else "accepted")

    # Writes while a mapping is attached (moto tries to invoke the function).
    started = time.monotonic()
    code, msg, status = error_of(
        lambda: ddb.put_item(TableName=table, Item={"pk": {"S": "with-esm"}})
    )
    check(
        code is None,
        "put_item with an ESM attached succeeds",
        f"{time.monotonic() - started:.2f}s" + (f"; {code} {status}: {msg}" if code else ""),
    )

    check_mapping_transitions(lam, uuid)

    deleted = lam.delete_event_source_mapping(UUID=uuid)
    info("ESM State returned by delete", deleted.get("State"))


def check_mapping_transitions(lam: Any, uuid: str) -> None:
    """Tags on a mapping, and a mapping tagged emu-settle-reads that takes reads to settle."""
    arn = lam.get_event_source_mapping(UUID=uuid)["EventSourceMappingArn"]
    lam.tag_resource(Resource=arn, Tags={"emu-settle-reads": "3", "ferry:paused-by": "run-1"})
    tags = lam.list_tags(Resource=arn)["Tags"]
    check(tags.get("ferry:paused-by") == "run-1", "ESM tags: TagResource then ListTags", tags)
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    answered = lam.update_event_source_mapping(UUID=uuid, Enabled=False).get("State")
    code, _, _ = error_of(lambda: lam.update_event_source_mapping(UUID=uuid, Enabled=True))
    reads = [lam.get_event_source_mapping(UUID=uuid)["State"] for _ in range(3)]
    check(
        [answered, code, *reads]
        == ["Disabling", "ResourceInUseException", "Disabling", "Disabling", "Disabled"],
        "ESM tagged emu-settle-reads=3: Disabling for 3 answers, busy meanwhile, then Disabled",
        f"{answered} / {code} / {reads}",
    )
    lam.untag_resource(Resource=arn, TagKeys=["emu-settle-reads", "ferry:paused-by"])
    check(lam.list_tags(Resource=arn)["Tags"] == {}, "ESM tags: UntagResource")


def set_glue_transition(endpoint: str, times: int | None) -> None:
    if times is None:
        moto_api(endpoint, "/moto-api/state-manager/unset-transition", {"model_name": "glue::job_run"})
    else:
        moto_api(
            endpoint,
            "/moto-api/state-manager/set-transition",
            {"model_name": "glue::job_run", "transition": {"progression": "manual", "times": times}},
        )


def poll_run(glue: Any, job: str, run_id: str, limit: int = 20) -> tuple[list[str], dict[str, Any]]:
    states: list[str] = []
    run: dict[str, Any] = {}
    for _ in range(limit):
        run = glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]
        states.append(run["JobRunState"])
        if run["JobRunState"] not in ("STARTING", "RUNNING", "STOPPING", "WAITING"):
            break
    return states, run


def check_glue(endpoint: str) -> None:
    glue = client(endpoint, "glue")
    set_glue_transition(endpoint, 3)
    try:
        glue.create_job(
            Name="failing-job",
            Role="arn:aws:iam::123456789012:role/glue",
            Command={"Name": "glueetl", "ScriptLocation": "s3://bucket/script.py"},
            DefaultArguments={"--emu-final-state": "FAILED", "--emu-error-message": "boom"},
        )
        run_id = glue.start_job_run(JobName="failing-job")["JobRunId"]
        states, run = poll_run(glue, "failing-job", run_id)
        print(f"[info] failing-job states: {' -> '.join(states)}")
        check(
            states[-1] == "FAILED" and run.get("ErrorMessage") == "boom",
            "job with DefaultArguments FAILED ends FAILED with ErrorMessage 'boom'",
            f"{states[-1]} / {run.get('ErrorMessage')!r}",
        )
        check(states.count("RUNNING") >= 2, "failing run reports RUNNING for several polls")
        check(
            len(states) >= 4 and all(s in ("STARTING", "RUNNING") for s in states[:-1]),
            "failing run passes through non-final states first",
        )
        listed = glue.get_job_runs(JobName="failing-job")["JobRuns"]
        check(
            listed[0].get("ErrorMessage") == "boom",
            "get_job_runs carries ErrorMessage too",
            listed[0].get("ErrorMessage"),
        )

        glue.create_job(
            Name="plain-job",
            Role="arn:aws:iam::123456789012:role/glue",
            Command={"Name": "glueetl", "ScriptLocation": "s3://bucket/script.py"},
        )
        run_id = glue.start_job_run(JobName="plain-job")["JobRunId"]
        states, run = poll_run(glue, "plain-job", run_id)
        print(f"[info] plain-job states: {' -> '.join(states)}")
        check(
            states[-1] == "SUCCEEDED" and "ErrorMessage" not in run,
            "job without the argument ends SUCCEEDED",
            states[-1],
        )

        # Run-level argument, no message -> default message.
        run_id = glue.start_job_run(
            JobName="plain-job", Arguments={"--emu-final-state": "timeout"}
        )["JobRunId"]
        states, run = poll_run(glue, "plain-job", run_id)
        print(f"[info] plain-job run-arg states: {' -> '.join(states)}")
        check(
            states[-1] == "TIMEOUT" and run.get("ErrorMessage") == "Injected failure",
            "run Arguments inject TIMEOUT with default message",
            f"{states[-1]} / {run.get('ErrorMessage')!r}",
        )

        # A run argument overrides a failing job default.
        run_id = glue.start_job_run(
            JobName="failing-job", Arguments={"--emu-final-state": "SUCCEEDED"}
        )["JobRunId"]
        states, run = poll_run(glue, "failing-job", run_id)
        check(states[-1] == "SUCCEEDED", "run argument SUCCEEDED overrides job default", states[-1])
    finally:
        set_glue_transition(endpoint, None)

    # Default (immediate) progression goes straight to the injected state.
    run_id = glue.start_job_run(JobName="failing-job")["JobRunId"]
    run = glue.get_job_run(JobName="failing-job", RunId=run_id)["JobRun"]
    check(
        run["JobRunState"] == "FAILED" and run.get("ErrorMessage") == "boom",
        "immediate progression ends FAILED",
        run["JobRunState"],
    )


def start_runs(glue: Any, job: str, count: int, **kwargs: Any) -> list[str]:
    return [glue.start_job_run(JobName=job, **kwargs)["JobRunId"] for _ in range(count)]


def check_glue_stop(endpoint: str) -> None:
    """BatchStopJobRun: STOPPING for N reads then STOPPED; finished or unknown runs are errors."""
    glue = client(endpoint, "glue")
    glue.create_job(
        Name="stoppable-job",
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": "s3://bucket/script.py"},
        ExecutionProperty={"MaxConcurrentRuns": 10},
    )
    set_glue_transition(endpoint, 2)
    try:
        running, untouched, injected = start_runs(glue, "stoppable-job", 3, Arguments={"--ferry_run_id": "run-a"})
        glue.get_job_run(JobName="stoppable-job", RunId=running)  # STARTING -> ...
        before = glue.get_job_run(JobName="stoppable-job", RunId=running)["JobRun"]["JobRunState"]
        done = start_runs(glue, "plain-job", 1)[0]
        done_states, _ = poll_run(glue, "plain-job", done)
        answer = glue.batch_stop_job_run(JobName="stoppable-job", JobRunIds=[running, "jr_unknown"])
        check(
            [s["JobRunId"] for s in answer["SuccessfulSubmissions"]] == [running]
            and answer["SuccessfulSubmissions"][0]["JobName"] == "stoppable-job",
            "BatchStopJobRun: running run is a successful submission",
            f"{before} -> {answer['SuccessfulSubmissions']}",
        )
        errors = answer["Errors"]
        check(
            [(e["JobRunId"], e["ErrorDetail"]["ErrorCode"]) for e in errors]
            == [("jr_unknown", "InvalidInputException")],
            "BatchStopJobRun: unknown run id -> Errors with InvalidInputException",
            errors,
        )
        states, run = poll_run(glue, "stoppable-job", running)
        info("stopped run states", " -> ".join(states))
        check(states == ["STOPPING", "STOPPING", "STOPPED"], "stopped run: STOPPING for 2 reads, then STOPPED", states)
        check(
            run.get("CompletedOn") is not None and run["CompletedOn"] >= run["StartedOn"]
            and "ErrorMessage" not in run,
            "stopped run has CompletedOn and no ErrorMessage",
            run.get("CompletedOn"),
        )
        check(
            glue.get_job_run(JobName="stoppable-job", RunId=untouched)["JobRun"]["JobRunState"] == "STARTING",
            "BatchStopJobRun leaves other runs alone",
        )
        again = glue.batch_stop_job_run(JobName="stoppable-job", JobRunIds=[running])
        detail = again["Errors"][0]["ErrorDetail"] if again["Errors"] else {}
        check(
            not again["SuccessfulSubmissions"] and detail.get("ErrorCode") == "InvalidInputException"
            and "terminal state" in detail.get("ErrorMessage", ""),
            "stopping a STOPPED run -> InvalidInputException (terminal state)",
            detail,
        )
        answer = glue.batch_stop_job_run(JobName="plain-job", JobRunIds=[done])
        check(
            done_states[-1] == "SUCCEEDED" and [e["JobRunId"] for e in answer["Errors"]] == [done],
            "stopping a SUCCEEDED run -> Errors",
            answer["Errors"],
        )
        set_glue_transition(endpoint, None)  # immediate: would finish anything still running
        listed = {r["Id"]: r for r in glue.get_job_runs(JobName="stoppable-job")["JobRuns"]}
        check(
            listed[running]["JobRunState"] == "STOPPED" and listed[untouched]["JobRunState"] == "SUCCEEDED",
            "stopped run stays STOPPED when the progression changes",
            {k[:8]: v["JobRunState"] for k, v in listed.items()},
        )
        check(
            listed[running].get("Arguments", {}).get("--ferry_run_id") == "run-a",
            "GetJobRuns shows the run's Arguments",
        )

        # Injected failure: stopped before it fails -> STOPPED without ErrorMessage; not stopped -> FAILED.
        glue.create_job(
            Name="stoppable-failing-job",
            Role="arn:aws:iam::123456789012:role/glue",
            Command={"Name": "glueetl", "ScriptLocation": "s3://bucket/script.py"},
            DefaultArguments={"--emu-final-state": "FAILED", "--emu-error-message": "boom"},
            ExecutionProperty={"MaxConcurrentRuns": 10},
        )
        set_glue_transition(endpoint, 1)
        failing = start_runs(glue, "stoppable-failing-job", 2)
        glue.batch_stop_job_run(JobName="stoppable-failing-job", JobRunIds=[failing[0]])
        stopping = glue.batch_stop_job_run(JobName="stoppable-failing-job", JobRunIds=[failing[0]])
        check(
            len(stopping["SuccessfulSubmissions"]) == 1 and not stopping["Errors"],
            "stopping a STOPPING run again is a successful submission",
            stopping["Errors"],
        )
        stopped_states, stopped = poll_run(glue, "stoppable-failing-job", failing[0])
        failed_states, failed = poll_run(glue, "stoppable-failing-job", failing[1])
        check(
            stopped_states == ["STOPPING", "STOPPED"] and "ErrorMessage" not in stopped,
            "failing run stopped early: STOPPING (1 read at times=1), then STOPPED, no ErrorMessage",
            stopped_states,
        )
        check(
            failed_states[-1] == "FAILED" and failed.get("ErrorMessage") == "boom",
            "failure injection still works next to stopped runs",
            f"{failed_states} / {failed.get('ErrorMessage')!r}",
        )
    finally:
        set_glue_transition(endpoint, None)

    code, _, _ = error_of(lambda: glue.batch_stop_job_run(JobName="no-such-job", JobRunIds=["jr_x"]))
    check(code == "EntityNotFoundException", "BatchStopJobRun on an unknown job -> EntityNotFoundException", code)
    # Immediate progression: a run never read is already finished when the stop arrives.
    run_id = start_runs(glue, "stoppable-job", 1)[0]
    answer = glue.batch_stop_job_run(JobName="stoppable-job", JobRunIds=[run_id])
    info("stop under immediate progression", answer["Errors"] or answer["SuccessfulSubmissions"])


def timed(call: Callable[[], Any]) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def check_write_delay(endpoint: str) -> None:
    """A table tagged ferry-local:write-delay-ms makes its writes slow, and only its writes."""
    ddb = client(endpoint, "dynamodb")
    arns = {}
    for name in ("slow-table", "fast-table"):
        arns[name] = ddb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )["TableDescription"]["TableArn"]
    ddb.tag_resource(ResourceArn=arns["slow-table"], Tags=[{"Key": "ferry-local:write-delay-ms", "Value": "400"}])
    put = lambda table, key: ddb.put_item(TableName=table, Item={"pk": {"S": key}})  # noqa: E731
    batch = lambda table: ddb.batch_write_item(RequestItems={table: [  # noqa: E731
        {"PutRequest": {"Item": {"pk": {"S": f"b{i}"}}}} for i in range(25)]})
    delete = lambda table: ddb.delete_item(TableName=table, Key={"pk": {"S": "b0"}})  # noqa: E731
    slow = {"PutItem": timed(lambda: put("slow-table", "a")), "BatchWriteItem": timed(lambda: batch("slow-table")),
            "DeleteItem": timed(lambda: delete("slow-table"))}
    fast = {"PutItem": timed(lambda: put("fast-table", "a")), "BatchWriteItem": timed(lambda: batch("fast-table")),
            "DeleteItem": timed(lambda: delete("fast-table"))}
    fmt = lambda d: {k: f"{v:.2f}s" for k, v in d.items()}  # noqa: E731
    check(all(0.4 <= v < 1.5 for v in slow.values()), "tagged table: each write request sleeps 400 ms once", fmt(slow))
    check(all(v < 0.3 for v in fast.values()), "untagged table: writes are not delayed", fmt(fast))
    check(ddb.scan(TableName="slow-table")["Count"] == 25, "delayed writes are applied")

    # While a slow write sleeps, the server answers others, and the write is not applied yet.
    glue, s3 = client(endpoint, "glue"), client(endpoint, "s3")
    s3.create_bucket(Bucket="write-delay-check")
    writer = threading.Thread(target=lambda: put("slow-table", "late"))
    started = time.monotonic()
    writer.start()
    time.sleep(0.1)
    meanwhile = {
        "GetJobRuns": timed(lambda: glue.get_job_runs(JobName="stoppable-job")),
        "S3 ListObjectsV2": timed(lambda: s3.list_objects_v2(Bucket="write-delay-check")),
    }
    seen_early = "Item" in ddb.get_item(TableName="slow-table", Key={"pk": {"S": "late"}})
    during = time.monotonic() - started
    writer.join()
    total = time.monotonic() - started
    check(
        all(v < 0.2 for v in meanwhile.values()) and during < 0.4,
        "other requests are answered while a delayed write sleeps (threaded server)",
        f"{fmt(meanwhile)}, write took {total:.2f}s",
    )
    check(not seen_early, "the delayed item is not visible before the sleep ends")
    check("Item" in ddb.get_item(TableName="slow-table", Key={"pk": {"S": "late"}}), "and is there afterwards")

    ddb.untag_resource(ResourceArn=arns["slow-table"], TagKeys=["ferry-local:write-delay-ms"])
    elapsed = timed(lambda: put("slow-table", "untagged"))
    check(elapsed < 0.3, "untagging removes the delay at once", f"{elapsed:.2f}s")


def check_account_isolation(endpoint: str) -> None:
    sts = client(endpoint, "sts")
    creds = sts.assume_role(
        RoleArn="arn:aws:iam::222222222222:role/x", RoleSessionName="isolation"
    )["Credentials"]
    other = dict(key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"])
    identity = client(endpoint, "sts", **other).get_caller_identity()
    check(identity["Account"] == "222222222222", "assumed credentials map to 222222222222", identity["Arn"])
    default_account = client(endpoint, "sts").get_caller_identity()["Account"]
    info("default credentials account", default_account)

    ddb_other = client(endpoint, "dynamodb", **other)
    ddb_default = client(endpoint, "dynamodb")
    ddb_other.create_table(
        TableName="other-account-table",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    other_tables = ddb_other.list_tables()["TableNames"]
    default_tables = ddb_default.list_tables()["TableNames"]
    check("other-account-table" in other_tables, "table visible to its own account", other_tables)
    check("other-account-table" not in default_tables, "table invisible to default account", default_tables)
    code, _, _ = error_of(lambda: ddb_default.describe_table(TableName="other-account-table"))
    check(code == "ResourceNotFoundException", "describe from default account -> ResourceNotFound", code)
    check("stream-cycle" not in other_tables, "default account's tables invisible to 222222222222")


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _pid_alive(pid)


def check_parent_watch() -> None:
    """A launcher whose parent exits must exit too."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # The helper plays the test harness: start the launcher, wait until it
    # serves, then die without cleaning up.
    helper = (
        "import subprocess, sys, time, urllib.request\n"
        f"p = subprocess.Popen([sys.executable, {str(LAUNCHER)!r}, '--port', '{port}', "
        "'--exit-with-parent'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "for _ in range(300):\n"
        "    try:\n"
        f"        urllib.request.urlopen('{endpoint}/moto-api/', timeout=1); break\n"
        "    except OSError:\n"
        "        time.sleep(0.1)\n"
        "print(p.pid, flush=True)\n"
    )
    out = subprocess.run([sys.executable, "-c", helper], capture_output=True, text=True, check=True)
    pid = int(out.stdout.strip())
    try:
        check(_wait_gone(pid, 5), "--exit-with-parent: orphaned launcher exits", f"pid {pid}")
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            check(False, "--exit-with-parent: port no longer served")
        except OSError:
            pass
    finally:
        if _pid_alive(pid):
            os.kill(pid, 9)

    # --parent-pid naming a process that is not the parent: exit at once.
    proc = subprocess.Popen(
        [sys.executable, str(LAUNCHER), "--port", str(free_port()), "--exit-with-parent",
         "--parent-pid", str(os.getpid() + 1_000_000)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        code = proc.wait(timeout=10)
        check(code == 0, "--parent-pid mismatch: launcher exits immediately", f"exit {code}")
    except subprocess.TimeoutExpired:
        check(False, "--parent-pid mismatch: launcher exits immediately")
        proc.kill()
        proc.wait()


def main() -> int:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"moto_server_check_{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(LAUNCHER), "--port", str(port), "--exit-with-parent"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(endpoint, proc)
        info("endpoint", endpoint)
        steps: list[tuple[str, Callable[[], Any]]] = []
        stream_arn: dict[str, str] = {}
        steps.append(("dynamodb streams", lambda: stream_arn.setdefault("arn", check_dynamodb_streams(endpoint))))
        steps.append(
            ("event source mappings", lambda: check_event_source_mappings(endpoint, "stream-cycle", stream_arn["arn"]))
        )
        steps.append(("glue", lambda: check_glue(endpoint)))
        steps.append(("glue batch stop", lambda: check_glue_stop(endpoint)))
        steps.append(("dynamodb write delay", lambda: check_write_delay(endpoint)))
        steps.append(("account isolation", lambda: check_account_isolation(endpoint)))
        steps.append(("parent watch", check_parent_watch))
        for name, step in steps:
            print(f"== {name}")
            try:
                step()
            except Exception as exc:  # report and continue with the next area
                check(False, f"{name}: unexpected error", repr(exc))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if FAILURES:
        print(f"\n{len(FAILURES)} check(s) failed (server log: {log_path}):")
        for label in FAILURES:
            print(f"  - {label}")
        return 1
    print("\nall checks passed")
    try:
        log_path.unlink()
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
