"""The Glue job's helpers, without Spark: arguments, guards, connector options, clearing, masking."""

import json
import pickle
import sys

import pytest

import refresh_table as job

RULES = {
    "key_secret_arn": "arn:aws:secretsmanager:eu-west-1:111111111111:secret:ferry/masking-key",
    "domain": "example.invalid",
    "attributes": ["email"],
    "embedded": [{"prefix": "user-email", "delimiter": "|"}],
    "detect_all": False,
}


def argv(**overrides):
    values = {
        "JOB_ID": "j_1",
        "ferry_run_id": "run-1",
        "source_table": "efcms-prod-alpha",
        "source_region": "us-east-1",
        "target_table": "efcms-test-alpha",
        "target_region": "us-east-1",
        "target_account_id": "222222222222",
        "copy_mode": "replace",
        "target_role_arn": "arn:aws:iam::222222222222:role/ferry-target",
        "masking_rules": json.dumps(RULES),
    }
    values.update(overrides)
    out = ["refresh_table.py"]
    for name, value in values.items():
        if value is not None:
            out += [f"--{name}", value]
    return out[1:]


def test_spark_is_not_needed_to_import_the_job():
    assert "pyspark" not in sys.modules and "awsglue" not in sys.modules


def test_raw_args_reads_pairs_flags_and_equals_forms():
    assert job.raw_args(["--a", "1", "--flag", "--b=x=y", "stray", "--c", "{\"k\": 1}"]) == {
        "a": "1",
        "flag": "",
        "b": "x=y",
        "c": "{\"k\": 1}",
    }


def test_valid_arguments_with_defaults():
    args = job.parse_args(argv())
    assert args.copy_mode == "replace"
    assert args.target_role_arn == "arn:aws:iam::222222222222:role/ferry-target"
    assert args.masking.embedded == [("user-email", "|")]
    assert (args.read_percent, args.write_percent) == (job.DEFAULT_READ_PERCENT, job.DEFAULT_WRITE_PERCENT)
    assert (args.workers, args.worker_type) == (10, "G.1X")


def test_optional_arguments_may_be_absent():
    args = job.parse_args(argv(target_role_arn=None, masking_rules=None, read_percent="1.0", workers="4"))
    assert args.target_role_arn is None and args.masking is None
    assert args.read_percent == 1.0 and args.workers == 4


def test_every_problem_is_reported_at_once():
    with pytest.raises(job.ArgsError) as err:
        job.parse_args(
            argv(
                source_table=None,
                target_region="mars",
                target_account_id="42",
                copy_mode="overwrite",
                read_percent="2",
                write_percent="fast",
                workers="1",
                worker_type="G.9X",
                masking_rules='{"domain": "example.invalid"}',
            )
        )
    message = str(err.value)
    for problem in (
        "--source_table: is required",
        "--target_region: 'mars' is not an AWS region",
        "--target_account_id: '42' is not a 12-digit account id",
        "--copy_mode: must be replace or merge",
        "--read_percent: must be a number from 0.1 to 1.5, found '2'",
        "--write_percent: must be a number from 0.1 to 1.5, found 'fast'",
        "--workers: must be a whole number from 2 to 1000",
        "--worker_type: must be one of",
        "--masking_rules: masking.",
    ):
        assert problem in message, problem
    assert message.startswith("invalid job arguments (")


def test_the_target_role_must_be_in_the_target_account():
    with pytest.raises(job.ArgsError, match="the role is in account 333333333333"):
        job.parse_args(argv(target_role_arn="arn:aws:iam::333333333333:role/x"))
    with pytest.raises(job.ArgsError, match="is not an IAM role ARN"):
        job.parse_args(argv(target_role_arn="ferry-target"))


@pytest.mark.parametrize("workers, worker_type, splits", [(10, "G.1X", 36), (2, "G.1X", 4), (20, "G.2X", 152), (5, "G.8X", 128)])
def test_read_splits_is_one_per_task_slot(workers, worker_type, splits):
    assert job.read_splits(workers, worker_type) == splits


def test_connector_options():
    args = job.parse_args(argv(read_percent="0.25", write_percent="0.75", workers="6"))
    assert job.source_options(args) == {
        "dynamodb.input.tableName": "efcms-prod-alpha",
        "dynamodb.region": "us-east-1",
        "dynamodb.throughput.read.percent": "0.25",
        "dynamodb.splits": "20",
    }
    assert job.sink_options(args) == {
        "dynamodb.output.tableName": "efcms-test-alpha",
        "dynamodb.region": "us-east-1",
        "dynamodb.throughput.write.percent": "0.75",
        "dynamodb.output.retry": str(job.WRITE_RETRIES),
        "dynamodb.sts.roleArn": "arn:aws:iam::222222222222:role/ferry-target",
        "dynamodb.sts.roleSessionName": "ferry-run-1",
    }
    own = job.parse_args(argv(target_role_arn=None))
    assert "dynamodb.sts.roleArn" not in job.sink_options(own)


def test_copying_a_table_onto_itself_is_refused():
    args = job.parse_args(argv(target_account_id="111111111111", target_table="efcms-prod-alpha", target_role_arn=None))
    with pytest.raises(job.RefusedError, match="onto itself"):
        job.check_target(args, own_account="111111111111", write_account="111111111111")


def test_same_account_other_table_and_other_account_same_name_are_allowed():
    other_table = job.parse_args(argv(target_account_id="111111111111", target_role_arn=None))
    job.check_target(other_table, own_account="111111111111", write_account="111111111111")
    same_name = job.parse_args(argv(target_table="efcms-prod-alpha"))
    job.check_target(same_name, own_account="111111111111", write_account="222222222222")


def test_writing_with_credentials_of_another_account_is_refused():
    args = job.parse_args(argv())
    with pytest.raises(job.RefusedError, match="act in account 111111111111, not in --target_account_id 222222222222"):
        job.check_target(args, own_account="111111111111", write_account="111111111111")


def test_session_name_and_secret_region():
    assert job.session_name("run 1/ä") == "ferry-run-1--"
    assert len(job.session_name("x" * 100)) == 64
    assert job.secret_region(RULES["key_secret_arn"], "us-east-1") == "eu-west-1"
    assert job.secret_region("ferry/masking-key", "us-east-1") == "us-east-1"


def test_key_from_secret_refuses_binary_and_empty_without_showing_values():
    assert job.key_from_secret({"SecretString": "k — ü"}) == "k — ü".encode()
    with pytest.raises(job.ArgsError, match="no SecretString") as err:
        job.key_from_secret({"SecretBinary": b"binary-secret-value"})
    assert "binary-secret-value" not in str(err.value)
    with pytest.raises(job.ArgsError, match="empty"):
        job.key_from_secret({"SecretString": ""})


class FakeTable:
    """A DynamoDB client double: paged segment scans and a BatchWriteItem that leaves some
    deletes unprocessed on its first calls."""

    def __init__(self, items, page_size=7, unprocessed_calls=1):
        self.items = {(i["pk"]["S"], i["sk"]["S"]): i for i in items}
        self.page_size = page_size
        self.unprocessed_calls = unprocessed_calls
        self.scans = []
        self.batches = []

    def scan(self, **request):
        self.scans.append(request)
        assert request["ProjectionExpression"] == "#k0, #k1"
        assert request["ExpressionAttributeNames"] == {"#k0": "pk", "#k1": "sk"}
        keys = sorted(k for k in self.items if hash(k) % request["TotalSegments"] == request["Segment"])
        start = request.get("ExclusiveStartKey")
        if start:
            keys = [k for k in keys if k > (start["pk"]["S"], start["sk"]["S"])]
        page = keys[: self.page_size]
        out = {"Items": [{"pk": {"S": k[0]}, "sk": {"S": k[1]}, "data": {"S": "x"}} for k in page]}
        if len(keys) > self.page_size:
            out["LastEvaluatedKey"] = {"pk": {"S": page[-1][0]}, "sk": {"S": page[-1][1]}}
        return out

    def batch_write_item(self, RequestItems):
        ((table, requests),) = RequestItems.items()
        assert len(requests) <= 25
        self.batches.append(len(requests))
        keep = []
        if self.unprocessed_calls > 0 and len(requests) > 1:
            self.unprocessed_calls -= 1
            keep = requests[:1]
            requests = requests[1:]
        for r in requests:
            key = r["DeleteRequest"]["Key"]
            assert set(key) == {"pk", "sk"}
            del self.items[(key["pk"]["S"], key["sk"]["S"])]
        return {"UnprocessedItems": {table: keep} if keep else {}}


def test_clear_segment_deletes_every_item_of_its_segment():
    items = [{"pk": {"S": f"p{i}"}, "sk": {"S": f"s{i}"}} for i in range(130)]
    client = FakeTable(items)
    sleeps = []
    total = 3
    deleted = sum(job.clear_segment(client, "t", ["pk", "sk"], s, total, sleep=sleeps.append) for s in range(total))
    assert deleted == 130
    assert client.items == {}
    assert sleeps, "an unprocessed delete was retried after a pause"
    assert all(r["TableName"] == "t" and r["TotalSegments"] == 3 for r in client.scans)


def test_delete_batch_gives_up_after_max_attempts():
    class Stuck:
        def batch_write_item(self, RequestItems):
            return {"UnprocessedItems": RequestItems}

    with pytest.raises(RuntimeError, match="2 deletes on 't' stayed unprocessed after 3 attempts"):
        job.delete_batch(Stuck(), "t", [{"pk": {"S": "a"}}, {"pk": {"S": "b"}}], sleep=lambda _: None, max_attempts=3)


def test_key_names_come_from_describe_table():
    response = {"Table": {"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]}}
    assert job.key_names(response) == ["pk", "sk"]


def test_record_masker_masks_plain_records_and_counts(monkeypatch):
    import ferry_masking

    rules = ferry_masking.MaskingRules.from_dict(RULES)
    rules_json = job.rules_json(rules)
    monkeypatch.setitem(job._PROCESS_MASKERS, rules_json, ferry_masking.Masker(b"super-secret-key-value", rules))

    class Counter:
        value = 0

        def add(self, n):
            self.value += n

    counter = Counter()
    masker = job.RecordMasker(rules_json, "us-east-1", counter)
    record = {"pk": "user-email|A@b.com", "email": "a@b.com", "n": 3, "contact": {"email": "c@d.com"}}
    out = masker(record)
    assert out is record
    assert out["pk"] == "user-email|" + out["email"]
    assert out["contact"]["email"].endswith("@example.invalid") and out["n"] == 3
    assert counter.value == 3
    # What Spark ships to executors carries the rules, never the key.
    assert b"super-secret-key-value" not in pickle.dumps(job.RecordMasker(rules_json, "us-east-1"))


def test_every_plain_value_survives_the_encoded_form_with_its_type():
    from decimal import Decimal

    record = {
        "pk": "user-email|0f@example.invalid",
        "n": 3,
        "big": 12345678901234567890123,
        "f": 0.1,
        "d": Decimal("1.50"),
        "yes": True,
        "none": None,
        "raw": b"\x00\xff",
        "buffer": bytearray(b"\x01\x02"),
        "list": [1, "a", {"$map": "looks like a tag"}],
        "tuple": ("a", 2),
        "set": {"b", "a"},
        "frozen": frozenset({1, 2}),
        "map": {"inner": {"deeper": [b"x", Decimal("2")]}},
    }
    back = job.decode_value(json.loads(json.dumps(job.encode_value(record))))
    assert back == record
    for name, value in record.items():
        assert type(back[name]) is type(value), name
    assert type(back["map"]["inner"]["deeper"][0]) is bytes
    with pytest.raises(TypeError, match="object"):
        job.encode_value({"x": object()})


def test_records_whose_masked_keys_meet_share_one_target_key():
    import ferry_masking

    rules = ferry_masking.MaskingRules.from_dict(RULES)
    masker = ferry_masking.Masker(b"k", rules)
    keyed = job.KeyedRecord(["pk", "sk"], "Example.INVALID")
    rows = []
    for pk, name in [("user-email|Alice@Example.com", "upper"), ("user-email|alice@example.com", "lower")]:
        record, _ = masker.mask_record({"pk": pk, "sk": "user", "name": name})
        rows.append(keyed(record))
    assert rows[0]["__key"] == rows[1]["__key"]
    assert rows[0]["__guard"] and rows[1]["__guard"]
    assert rows[0]["__record"] != rows[1]["__record"]
    masked_pk = json.loads(rows[0]["__key"])["pk"]
    assert masked_pk.startswith("user-email|") and masked_pk.endswith("@example.invalid")
    assert "alice" not in rows[0]["__key"].lower()
    assert job.record_of(rows[1]) == {"pk": masked_pk, "sk": "user", "name": "lower"}
    case = {"pk": "case|1", "sk": "case", "email": "0f@example.invalid"}
    assert not keyed(case)["__guard"], "only a key holding a masked address can collide"
    assert pickle.loads(pickle.dumps(keyed))(case) == keyed(case), "Spark can ship it"
