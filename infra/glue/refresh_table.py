"""ferry's Glue job: copy one DynamoDB table into a lower environment, masking emails on the way.

``start-glue`` starts this job in the SOURCE account (where ``source-account.yaml`` deploys it) with:

    --ferry_run_id       the ferry run (lets start-glue find this run again)
    --source_table       table in this account          --source_region  its region
    --target_table       table in the target account    --target_region  its region
    --target_account_id  the account the target table lives in
    --copy_mode          replace | merge
    --target_role_arn    (optional) role in the target account to write through
    --masking_rules      (optional) ferry's MaskingSpec as JSON; the key is read from Secrets Manager
                         (``key_secret_arn``) with this job's own credentials
    --read_percent       (optional, 0.1-1.5, default 0.5) share of the source's read capacity
    --write_percent      (optional, 0.1-1.5, default 0.5) share of the target's write capacity
    --workers            (optional, default 10) the job's NumberOfWorkers, to size the read splits
    --worker_type        (optional, default G.1X) the job's WorkerType, to size the read splits

What it does:

1. Validates every argument (all problems reported at once), then refuses to run when the target
   is the source itself (same account and same table name), or when the credentials it would
   write with do not act in ``--target_account_id``.
2. ``replace`` only: clears the target table (see :func:`clear_segment` for the trade-off).
3. Reads the source with Glue's DynamoDB connector in ``dynamodb.splits`` parallel segments, masks
   every record with ``ferry_masking`` (plain-value form: the connector gives records as dicts and
   lists), keeps one record per target key (see :func:`one_per_target_key`), and writes them with
   the connector through ``dynamodb.sts.roleArn``.

Masked-key collisions: masking lower-cases addresses, so source keys that differ only in case
(``user-email|Alice@x``, ``user-email|alice@x``) become one target key. Written as they come, two
such records in one batch make DynamoDB refuse the batch (and the job) on every re-run, and in two
batches the last one silently wins. Records whose key holds a masked address are therefore grouped
by target key before the write; the record whose encoded form sorts first is kept (the same one on
every run), the others are counted and the first masked keys logged. The log names target keys
only, which are masked; no source value is ever logged.

Type fidelity: Glue's DynamoDB connector has no set type, so string, number and binary sets
arrive as lists and are written back as lists (``L``). ferry's ``copy-table`` engine (a Lambda that
uses the DynamoDB API directly) keeps every type; pick it for tables whose sets matter.

Everything but :func:`main` is plain Python, tested without Spark (``infra/glue/tests``).
``ferry_masking.py`` is shipped next to this script with ``--extra-py-files``.
"""

import base64
import decimal
import json
import re
import sys
import time
from dataclasses import dataclass
from typing import Optional

import ferry_masking

DEFAULT_READ_PERCENT = 0.5
DEFAULT_WRITE_PERCENT = 0.5
DEFAULT_WORKERS = 10
DEFAULT_WORKER_TYPE = "G.1X"
#: Retries of a throttled batch write inside Glue's DynamoDB writer (the connector's default is 10).
WRITE_RETRIES = 30
#: Masked target keys the job names in its log when records collide on them.
COLLIDED_KEYS_SHOWN = 10
#: Spark task slots per executor, by worker type (Glue 3.0 and later: one per vCPU).
SLOTS_PER_EXECUTOR = {"G.1X": 4, "G.2X": 8, "G.4X": 16, "G.8X": 32}

REQUIRED_ARGS = (
    "ferry_run_id",
    "source_table",
    "source_region",
    "target_table",
    "target_region",
    "target_account_id",
    "copy_mode",
)
OPTIONAL_ARGS = (
    "target_role_arn",
    "masking_rules",
    "read_percent",
    "write_percent",
    "workers",
    "worker_type",
)

_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_ACCOUNT = re.compile(r"\d{12}")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}")


class ArgsError(ValueError):
    """The job arguments are invalid; the message lists every problem."""


class RefusedError(RuntimeError):
    """The job refuses to write (it would write the source, or the wrong account)."""


@dataclass(frozen=True)
class JobArgs:
    """The validated job arguments."""

    ferry_run_id: str
    source_table: str
    source_region: str
    target_table: str
    target_region: str
    target_account_id: str
    copy_mode: str
    target_role_arn: Optional[str]
    masking: Optional[ferry_masking.MaskingRules]
    read_percent: float
    write_percent: float
    workers: int
    worker_type: str


def raw_args(argv):
    """Every ``--name value`` (or ``--name=value``) pair in ``argv``; a flag without a value maps to
    ``""``. Glue adds its own arguments (``--JOB_ID``, ``--TempDir``, ...): they are kept too."""
    found = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if not token.startswith("--"):
            continue
        name, eq, value = token[2:].partition("=")
        if not eq:
            if i < len(argv) and not argv[i].startswith("--"):
                value = argv[i]
                i += 1
            else:
                value = ""
        found[name] = value
    return found


def _percent(raw, name, default, problems):
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = None
    if value is None or not 0.1 <= value <= 1.5:
        problems.append(f"--{name}: must be a number from 0.1 to 1.5, found '{raw}'")
        return default
    return value


def parse_args(argv):
    """Validates the job's arguments; raises :class:`ArgsError` naming every problem."""
    raw = raw_args(argv)
    problems = []
    for name in REQUIRED_ARGS:
        if not raw.get(name, "").strip():
            problems.append(f"--{name}: is required")

    def check(name, pattern, what):
        value = raw.get(name, "")
        if value and not pattern.fullmatch(value):
            problems.append(f"--{name}: '{value}' is not {what}")

    check("source_table", _TABLE, "a DynamoDB table name")
    check("target_table", _TABLE, "a DynamoDB table name")
    check("source_region", _REGION, "an AWS region")
    check("target_region", _REGION, "an AWS region")
    check("target_account_id", _ACCOUNT, "a 12-digit account id")
    mode = raw.get("copy_mode", "")
    if mode and mode not in ("replace", "merge"):
        problems.append(f"--copy_mode: must be replace or merge, found '{mode}'")

    role = raw.get("target_role_arn") or None
    if role is not None:
        match = _ROLE_ARN.fullmatch(role)
        if match is None:
            problems.append(f"--target_role_arn: '{role}' is not an IAM role ARN")
        elif raw.get("target_account_id") and match.group(1) != raw["target_account_id"]:
            problems.append(
                f"--target_role_arn: the role is in account {match.group(1)}, not in"
                f" --target_account_id {raw['target_account_id']}"
            )

    masking = None
    if raw.get("masking_rules"):
        try:
            masking = ferry_masking.MaskingRules.from_json(raw["masking_rules"])
        except ferry_masking.RulesError as err:
            problems.append(f"--masking_rules: {err}")

    read_percent = _percent(raw.get("read_percent"), "read_percent", DEFAULT_READ_PERCENT, problems)
    write_percent = _percent(raw.get("write_percent"), "write_percent", DEFAULT_WRITE_PERCENT, problems)

    workers = DEFAULT_WORKERS
    if raw.get("workers"):
        try:
            workers = int(raw["workers"])
        except ValueError:
            workers = 0
        if not 2 <= workers <= 1000:
            problems.append(f"--workers: must be a whole number from 2 to 1000, found '{raw['workers']}'")
            workers = DEFAULT_WORKERS
    worker_type = raw.get("worker_type") or DEFAULT_WORKER_TYPE
    if worker_type not in SLOTS_PER_EXECUTOR:
        problems.append(
            f"--worker_type: must be one of {', '.join(SLOTS_PER_EXECUTOR)}, found '{worker_type}'"
        )
        worker_type = DEFAULT_WORKER_TYPE

    if problems:
        raise ArgsError(f"invalid job arguments ({len(problems)}): " + "; ".join(problems))
    return JobArgs(
        ferry_run_id=raw["ferry_run_id"],
        source_table=raw["source_table"],
        source_region=raw["source_region"],
        target_table=raw["target_table"],
        target_region=raw["target_region"],
        target_account_id=raw["target_account_id"],
        copy_mode=mode,
        target_role_arn=role,
        masking=masking,
        read_percent=read_percent,
        write_percent=write_percent,
        workers=workers,
        worker_type=worker_type,
    )


def read_splits(workers, worker_type=DEFAULT_WORKER_TYPE):
    """``dynamodb.splits``: one per Spark task slot, (workers - 1) executors (one runs the driver)."""
    return max(1, (workers - 1) * SLOTS_PER_EXECUTOR[worker_type])


def check_target(args, own_account, write_account):
    """Refuses to write the source table, or into an account other than ``--target_account_id``.

    ``own_account`` is the account this job runs in; ``write_account`` the one its write
    credentials act in (the target role's, or the job's own when there is no target role).
    """
    if args.target_account_id == own_account and args.target_table == args.source_table:
        raise RefusedError(
            f"refusing to copy '{args.source_table}' onto itself: --target_account_id is the account"
            f" this job runs in ({own_account}) and --target_table equals --source_table"
        )
    if write_account != args.target_account_id:
        how = f"role {args.target_role_arn}" if args.target_role_arn else "this job's own credentials"
        raise RefusedError(
            f"refusing to write: {how} act in account {write_account}, not in --target_account_id"
            f" {args.target_account_id}"
        )


def source_options(args):
    """Connection options of Glue's DynamoDB reader."""
    return {
        "dynamodb.input.tableName": args.source_table,
        "dynamodb.region": args.source_region,
        "dynamodb.throughput.read.percent": str(args.read_percent),
        "dynamodb.splits": str(read_splits(args.workers, args.worker_type)),
    }


def sink_options(args):
    """Connection options of Glue's DynamoDB writer."""
    options = {
        "dynamodb.output.tableName": args.target_table,
        "dynamodb.region": args.target_region,
        "dynamodb.throughput.write.percent": str(args.write_percent),
        "dynamodb.output.retry": str(WRITE_RETRIES),
    }
    if args.target_role_arn:
        options["dynamodb.sts.roleArn"] = args.target_role_arn
        options["dynamodb.sts.roleSessionName"] = session_name(args.ferry_run_id)
    return options


def session_name(run_id):
    """A valid ``RoleSessionName`` (2-64 of ``[\\w+=,.@-]``) derived from the run id."""
    cleaned = re.sub(r"[^\w+=,.@-]", "-", f"ferry-{run_id}", flags=re.ASCII)
    return cleaned[:64]


def secret_region(secret_arn, default):
    """The region named in a Secrets Manager ARN (``default`` when it names none)."""
    parts = secret_arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else default


def key_from_secret(response):
    """The masking key in a ``GetSecretValue`` response: the UTF-8 bytes of ``SecretString``.

    Never puts the value in an error."""
    text = response.get("SecretString")
    if text is None:
        raise ArgsError(
            "masking.key_secret_arn: the secret has no SecretString (binary secrets are not"
            " supported): store the masking key as text"
        )
    if not text:
        raise ArgsError("masking.key_secret_arn: the secret's SecretString is empty")
    return text.encode("utf-8")


# -- replace mode: clearing the target -------------------------------------------------------------


def key_names(describe_table_response):
    """The key attribute names of a table, from a ``DescribeTable`` response."""
    return [k["AttributeName"] for k in describe_table_response["Table"]["KeySchema"]]


def delete_batch(client, table, keys, sleep=time.sleep, max_attempts=12):
    """Deletes ``keys`` (at most 25) with ``BatchWriteItem``, retrying unprocessed ones with
    exponential backoff; raises when some are still unprocessed after ``max_attempts``."""
    requests = [{"DeleteRequest": {"Key": key}} for key in keys]
    for attempt in range(max_attempts):
        if not requests:
            return
        response = client.batch_write_item(RequestItems={table: requests})
        requests = response.get("UnprocessedItems", {}).get(table, [])
        if requests:
            sleep(min(20.0, 0.05 * 2**attempt))
    if requests:
        raise RuntimeError(f"{len(requests)} deletes on '{table}' stayed unprocessed after {max_attempts} attempts")


def clear_segment(client, table, names, segment, total_segments, sleep=time.sleep):
    """Deletes every item of one parallel-scan segment of ``table``; returns how many.

    Trade-off of clearing first (``replace``): the target must end equal to the masked source, and
    masking can change keys (``pk = user-email|<address>``), so stale target items cannot be found
    from the source's keys. Clearing the target before copying is the simplest way to converge:
    it costs one key-only scan and one delete per target item, and the target is empty or partial
    until the copy finishes (ferry pauses the target's stream consumers meanwhile; a failed run is
    fixed by running again, which clears again). The alternatives were worse here: deleting and
    re-creating the table changes its stream ARN and needs table-level permissions in the target
    account; diffing source and target keys after the copy keeps the target populated but needs a
    full join of both key sets.
    """
    projection = ", ".join(f"#k{i}" for i in range(len(names)))
    attribute_names = {f"#k{i}": name for i, name in enumerate(names)}
    deleted = 0
    start_key = None
    batch = []
    while True:
        request = {
            "TableName": table,
            "Segment": segment,
            "TotalSegments": total_segments,
            "ProjectionExpression": projection,
            "ExpressionAttributeNames": attribute_names,
        }
        if start_key:
            request["ExclusiveStartKey"] = start_key
        page = client.scan(**request)
        for item in page.get("Items", []):
            batch.append({name: item[name] for name in names})
            if len(batch) == 25:
                delete_batch(client, table, batch, sleep)
                deleted += len(batch)
                batch = []
        start_key = page.get("LastEvaluatedKey")
        if not start_key:
            break
    if batch:
        delete_batch(client, table, batch, sleep)
        deleted += len(batch)
    return deleted


def target_session(args, boto3_module):
    """A boto3 session acting in the target: through the target role, or with the job's own
    credentials when there is none."""
    if not args.target_role_arn:
        return boto3_module.Session(region_name=args.target_region)
    sts = boto3_module.client("sts", region_name=args.target_region)
    credentials = sts.assume_role(
        RoleArn=args.target_role_arn, RoleSessionName=session_name(args.ferry_run_id)
    )["Credentials"]
    return boto3_module.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=args.target_region,
    )


def _clear_partition(args, names, total_segments, counter):
    """Spark task body: clears the segments of one partition through its own assumed role."""

    def run(segments):
        import boto3
        from botocore.config import Config

        client = target_session(args, boto3).client(
            "dynamodb", config=Config(retries={"mode": "adaptive", "max_attempts": 10})
        )
        for segment in segments:
            counter.add(clear_segment(client, args.target_table, names, segment, total_segments))

    return run


class RecordMasker:
    """``Map.apply`` function: masks one plain record. Picklable; the key is fetched once per Python
    worker process (with the job's own credentials), never shipped inside Spark tasks."""

    def __init__(self, rules_json, default_region, counter=None):
        self.rules_json = rules_json
        self.default_region = default_region
        self.counter = counter
        self.__name__ = "mask_record"  # for Spark and Glue code that names the function it runs

    def __call__(self, record):
        masker = _process_masker(self.rules_json, self.default_region)
        _, changed = masker.mask_record(record)
        if changed and self.counter is not None:
            self.counter.add(changed)
        return record


_PROCESS_MASKERS = {}


def _process_masker(rules_json, default_region):
    masker = _PROCESS_MASKERS.get(rules_json)
    if masker is None:
        import boto3

        rules = ferry_masking.MaskingRules.from_json(rules_json)
        client = boto3.client(
            "secretsmanager", region_name=secret_region(rules.key_secret_arn, default_region)
        )
        key = key_from_secret(client.get_secret_value(SecretId=rules.key_secret_arn))
        masker = _PROCESS_MASKERS[rules_json] = ferry_masking.Masker(key, rules)
    return masker


# -- masked-key collisions: one record per target key ---------------------------------------------


def encode_value(value):
    """A JSON-ready form of a plain record value that :func:`decode_value` turns back into an equal
    value of the same type. Glue's records hold ``str``, ``int``, ``float``, ``Decimal``, ``bool``,
    ``None``, ``bytes``/``bytearray``, lists, tuples, sets and dicts; JSON has no form for some of
    them, so those are tagged (``{"$bytes": base64}``, ``{"$map": {...}}``, ...)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, decimal.Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, (bytes, bytearray)):
        tag = "$bytearray" if isinstance(value, bytearray) else "$bytes"
        return {tag: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {"$map": {name: encode_value(child) for name, child in value.items()}}
    if isinstance(value, list):
        return [encode_value(child) for child in value]
    if isinstance(value, tuple):
        return {"$tuple": [encode_value(child) for child in value]}
    if isinstance(value, (set, frozenset)):
        tag = "$frozenset" if isinstance(value, frozenset) else "$set"
        return {tag: [encode_value(child) for child in sorted(value, key=repr)]}
    raise TypeError(f"a record value of type {type(value).__name__} has no encoded form")


_DECODERS = {
    "$decimal": decimal.Decimal,
    "$bytes": lambda text: base64.b64decode(text),
    "$bytearray": lambda text: bytearray(base64.b64decode(text)),
    "$map": lambda children: {name: decode_value(child) for name, child in children.items()},
    "$tuple": lambda children: tuple(decode_value(child) for child in children),
    "$set": lambda children: {decode_value(child) for child in children},
    "$frozenset": lambda children: frozenset(decode_value(child) for child in children),
}


def decode_value(value):
    """The value :func:`encode_value` encoded."""
    if isinstance(value, list):
        return [decode_value(child) for child in value]
    if not isinstance(value, dict):
        return value
    ((tag, inner),) = value.items()
    return _DECODERS[tag](inner)


def _canonical(value):
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class KeyedRecord:
    """``Map.apply`` function after masking: one record as three plain columns, ``__key`` (its
    target key), ``__guard`` (the key holds a masked address, so other records may share it) and
    ``__record`` (the whole record, encoded). With only these columns the frame can go through a
    Spark DataFrame for the grouping without Spark re-typing any attribute. Picklable."""

    def __init__(self, key_names, domain):
        self.key_names = list(key_names)
        self.at_domain = "@" + ferry_masking.ascii_lower(domain)
        self.__name__ = "keyed_record"  # for Spark and Glue code that names the function it runs

    def __call__(self, record):
        key = {name: encode_value(record.get(name)) for name in self.key_names}
        guard = any(
            isinstance(record.get(name), str) and self.at_domain in ferry_masking.ascii_lower(record[name])
            for name in self.key_names
        )
        return {"__key": _canonical(key), "__guard": guard, "__record": _canonical(encode_value(record))}


def record_of(row):
    """``Map.apply`` function: the record a :class:`KeyedRecord` row carries, as it was."""
    return decode_value(json.loads(row["__record"]))


def one_per_target_key(glue, frame, names, domain):  # pragma: no cover - needs Spark
    """Keeps one record per target key among records whose key holds a masked address (the one
    whose encoded form sorts first); returns ``(frame, records dropped, first masked keys)``.
    Records whose key holds no masked address are unique already (source keys are) and are not
    shuffled. The encoded frame is persisted, so the source is read once."""
    from awsglue.dynamicframe import DynamicFrame
    from awsglue.transforms import Map
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    rows = Map.apply(frame=frame, f=KeyedRecord(names, domain)).toDF()
    if "__guard" not in rows.columns:  # an empty source
        return frame, 0, []
    rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
    first = Window.partitionBy("__key").orderBy("__record")
    ranked = rows.filter(F.col("__guard")).withColumn("__n", F.row_number().over(first))
    dropped = ranked.filter(F.col("__n") > 1)
    count = dropped.count()
    shown = [
        row["__key"]
        for row in dropped.select("__key").distinct().orderBy("__key").limit(COLLIDED_KEYS_SHOWN).collect()
    ]
    kept = (
        rows.filter(~F.col("__guard"))
        .select("__record")
        .unionByName(ranked.filter(F.col("__n") == 1).select("__record"))
    )
    return Map.apply(frame=DynamicFrame.fromDF(kept, glue, "one_per_target_key"), f=record_of), count, shown


def rules_json(rules):
    """The canonical JSON of validated masking rules (the key of the per-process masker cache)."""
    return json.dumps(
        {
            "key_secret_arn": rules.key_secret_arn,
            "domain": rules.domain,
            "attributes": rules.attributes,
            "embedded": [{"prefix": p, "delimiter": d} for p, d in rules.embedded],
            "detect_all": rules.detect_all,
        },
        sort_keys=True,
    )


def main(argv):  # pragma: no cover - needs a Glue runtime
    """The Spark part: guard, clear (replace), read, mask, write."""
    import boto3
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.transforms import Map
    from pyspark.context import SparkContext

    args = parse_args(argv)
    raw = raw_args(argv)
    sc = SparkContext.getOrCreate()
    glue = GlueContext(sc)
    log = glue.get_logger()
    job = Job(glue)
    job.init(raw.get("JOB_NAME", "ferry-refresh-table"), raw)

    own_account = boto3.client("sts", region_name=args.source_region).get_caller_identity()["Account"]
    target = target_session(args, boto3)
    write_account = target.client("sts").get_caller_identity()["Account"]
    check_target(args, own_account, write_account)
    # Fail before any write when the key cannot be read.
    masker_json = rules_json(args.masking) if args.masking else None
    if masker_json:
        _process_masker(masker_json, args.source_region)

    splits = read_splits(args.workers, args.worker_type)
    log.info(
        f"ferry run {args.ferry_run_id}: {args.source_table} ({own_account}) -> {args.target_table}"
        f" ({args.target_account_id}), mode {args.copy_mode}, {splits} splits,"
        f" masking {'on' if masker_json else 'off'}"
    )

    names = key_names(target.client("dynamodb").describe_table(TableName=args.target_table))
    if args.copy_mode == "replace":
        deleted = sc.accumulator(0)
        sc.parallelize(range(splits), splits).foreachPartition(
            _clear_partition(args, names, splits, deleted)
        )
        log.info(f"cleared {deleted.value} items from {args.target_table}")

    frame = glue.create_dynamic_frame.from_options(
        connection_type="dynamodb", connection_options=source_options(args)
    )
    masked = sc.accumulator(0)
    collisions, collided = 0, []
    if masker_json:
        frame = Map.apply(frame=frame, f=RecordMasker(masker_json, args.source_region, masked))
        frame, collisions, collided = one_per_target_key(glue, frame, names, args.masking.domain)
    glue.write_dynamic_frame_from_options(
        frame=frame, connection_type="dynamodb", connection_options=sink_options(args)
    )
    log.info(f"copied {args.source_table} to {args.target_table}; {masked.value} string values masked")
    if collisions:
        log.warn(
            f"{collisions} source items not written: another item had their masked target key (source"
            f" keys that differ only in case); first keys: {', '.join(collided)}"
        )
    job.commit()


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
