#!/usr/bin/env python3
"""Start a local moto server (moto 5.2.5) with a few behaviour fixes applied.

Usage:
    python infra/local/moto_server.py --port PORT [--host 127.0.0.1]
        [--exit-with-parent [--parent-pid PID]]

Readiness: poll ``GET http://HOST:PORT/moto-api/`` until it answers 200.

What is changed compared to a stock ``moto_server``:

1. DynamoDB ``Table.set_stream_specification``
   Stock moto keeps the old stream shard after a stream is disabled while the
   table's stream specification loses its ``StreamViewType``; every later write
   then fails with HTTP 500 (KeyError while recording the stream event).
   Here, disabling marks the specification disabled and detaches the shard, so
   writes go through without producing stream records.  ``LatestStreamArn`` /
   ``LatestStreamLabel`` keep pointing at the last stream, as they do on AWS.
   Enabling always creates a fresh shard with a new stream label (and therefore
   a new ``LatestStreamArn``).

2. DynamoDB ``DynamoDBBackend.update_table_streams``
   Stock moto refuses to re-enable a stream on any table that ever had one
   (``ResourceInUseException: Cannot enable stream``) and treats
   ``{StreamEnabled: false, StreamViewType: X}`` as an enable request.  Here the
   checks follow what DynamoDB answers (all ``ValidationException``):
     - enable while a stream is enabled:
       ``Table already has an enabled stream: TableName: <name>``
     - disable while no stream is enabled:
       ``Table has no stream to disable: TableName: <name>``
     - enable without a view type:
       ``One or more parameter values were invalid: If stream is being enabled
       then UpdateViewType is required``
     - disable with a view type:
       ``One or more parameter values were invalid: If stream is being
       disabled, then UpdateViewType must not be specified``

3. Glue ``FakeJobRun`` failure injection
   A job run whose effective arguments (job ``DefaultArguments`` merged with the
   run's ``Arguments`` and ``NonOverridableArguments``, exactly as moto merges
   them) contain ``--emu-final-state`` set to ``FAILED``, ``ERROR``, ``TIMEOUT``
   or ``STOPPED`` still walks STARTING -> RUNNING under moto's state manager,
   but ends in that state instead of SUCCEEDED.  Once it is there,
   ``GetJobRun``/``GetJobRuns`` report ``ErrorMessage``: the value of
   ``--emu-error-message`` if given, else ``Injected failure``.  Any other
   value (including ``SUCCEEDED``) leaves the run untouched, so a run argument
   can override a failing job default.

4. DynamoDB ``StreamShard.add``
   Stock moto hands every stream record straight to the Lambda functions whose
   event source mappings read the stream (enabled or not), by starting a
   container; with no container runtime each write pays for a failed attempt,
   and the records are then dropped from the shard.  Here records are kept in
   the shard (``GetRecords`` sees them) and never delivered: the consumers in
   ferry's local worlds are stand-ins whose mappings ferry pauses and resumes.

5. Lambda event source mappings that take time to settle
   Stock moto switches a mapping between Enabled and Disabled at once.  A
   mapping tagged ``emu-settle-reads`` = N instead answers ``Disabling`` (or
   ``Enabling``) after an ``UpdateEventSourceMapping`` that changes
   ``Enabled``: the update's own answer and the next N - 1 reads of it say so,
   and then the settled state.  While it is moving, an update is refused with
   ``ResourceInUseException``, as Lambda does.  Untagged mappings are
   untouched.

6. Glue ``BatchStopJobRun`` (missing from stock moto)
   ``{"JobName", "JobRunIds": [...]}`` answers ``SuccessfulSubmissions``
   (``JobName``, ``JobRunId``) and ``Errors`` (``JobName``, ``JobRunId``,
   ``ErrorDetail`` with ``ErrorCode`` / ``ErrorMessage``), as Glue does.  A
   run that is STARTING, RUNNING or WAITING is stopped: it reports STOPPING
   for the next N reads (``GetJobRun`` / ``GetJobRuns``; N is the ``times`` of
   a manual ``glue::job_run`` progression, 1 under any other progression) and
   then STOPPED, with ``CompletedOn`` / ``LastModifiedOn`` set when it gets
   there.  A stopped run stays STOPPED whatever the state manager says later
   and never carries an injected ``ErrorMessage``.  Stopping a run that is
   already STOPPING is a successful submission that changes nothing.  A run
   in a terminal state (SUCCEEDED, FAILED, STOPPED, ERROR, TIMEOUT) or an
   unknown run id goes into ``Errors`` with ``InvalidInputException``; an
   unknown job fails the whole call with ``EntityNotFoundException``.  The
   stop itself is not a read: it does not move any run along.

7. DynamoDB write delay
   A table tagged ``ferry-local:write-delay-ms`` = N (integer milliseconds)
   makes every ``PutItem``, ``DeleteItem`` and ``BatchWriteItem`` that writes
   to it sleep N ms before the write is applied (once per request; a batch
   naming several tagged tables sleeps for the largest N).  The tag is read
   on every request, so tagging or untagging takes effect at once.  The
   server is threaded (werkzeug ``threaded=True``; moto only locks while it
   picks a backend), so other requests are served during the sleep.  Other
   writes (``UpdateItem``, ``TransactWriteItems``) are not delayed.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import Any

EXPECTED_MOTO_VERSION = "5.2.5"

FINAL_STATE_ARG = "--emu-final-state"
ERROR_MESSAGE_ARG = "--emu-error-message"
DEFAULT_INJECTED_ERROR = "Injected failure"
INJECTABLE_FINAL_STATES = frozenset({"FAILED", "ERROR", "TIMEOUT", "STOPPED"})

_INVALID_PARAMS = "One or more parameter values were invalid: "

SETTLE_READS_TAG = "emu-settle-reads"

STOPPABLE_RUN_STATES = frozenset({"STARTING", "RUNNING", "WAITING"})
TERMINAL_RUN_STATES = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "ERROR", "TIMEOUT"})

WRITE_DELAY_TAG = "ferry-local:write-delay-ms"

# Taken before the (slow) moto imports, so a parent that dies during start-up
# is still noticed.
_PARENT_AT_START = os.getppid()


# --------------------------------------------------------------------------
# DynamoDB streams
# --------------------------------------------------------------------------


def _patch_dynamodb_streams() -> None:
    from moto.core.utils import utcnow
    from moto.dynamodb.exceptions import MockValidationException
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard, Table

    for owner, name in (
        (Table, "set_stream_specification"),
        (DynamoDBBackend, "update_table_streams"),
    ):
        if not callable(getattr(owner, name, None)):
            raise RuntimeError(f"moto layout changed: {owner.__name__}.{name} is missing")

    def _fresh_stream_label(previous: str | None) -> str:
        label = utcnow().isoformat()
        # Two enables inside the same microsecond must still give distinct ARNs.
        while label == previous:
            time.sleep(0.001)
            label = utcnow().isoformat()
        return label

    def set_stream_specification(self: Any, streams: dict[str, Any] | None) -> None:
        # Same notion of "enabled" as moto's own CreateTable handling, so
        # table creation behaves exactly as before.
        wants_stream = bool(
            streams and (streams.get("StreamEnabled") or streams.get("StreamViewType"))
        )
        if wants_stream:
            spec = dict(streams or {})
            spec["StreamEnabled"] = True
            self.stream_specification = spec
            self.latest_stream_label = _fresh_stream_label(
                getattr(self, "latest_stream_label", None)
            )
            self.stream_shard = StreamShard(self.account_id, self)
        else:
            self.stream_specification = {"StreamEnabled": False}
            # No shard -> writes skip stream recording instead of failing.
            # latest_stream_label is left as is: DescribeTable keeps showing the
            # last LatestStreamArn/LatestStreamLabel after a disable.
            self.stream_shard = None

    def update_table_streams(self: Any, table: Any, stream_specification: dict[str, Any]) -> None:
        enable = bool(stream_specification.get("StreamEnabled"))
        view_type = stream_specification.get("StreamViewType")
        current = table.stream_specification or {}
        currently_enabled = bool(current.get("StreamEnabled")) and table.stream_shard is not None

        if enable:
            if not view_type:
                raise MockValidationException(
                    _INVALID_PARAMS + "If stream is being enabled then UpdateViewType is required"
                )
            if currently_enabled:
                raise MockValidationException(
                    f"Table already has an enabled stream: TableName: {table.name}"
                )
        else:
            if view_type:
                raise MockValidationException(
                    _INVALID_PARAMS
                    + "If stream is being disabled, then UpdateViewType must not be specified"
                )
            if not currently_enabled:
                raise MockValidationException(
                    f"Table has no stream to disable: TableName: {table.name}"
                )
        table.set_stream_specification(
            {"StreamEnabled": True, "StreamViewType": view_type}
            if enable
            else {"StreamEnabled": False}
        )

    Table.set_stream_specification = set_stream_specification
    DynamoDBBackend.update_table_streams = update_table_streams


# --------------------------------------------------------------------------
# Glue job run failure injection
# --------------------------------------------------------------------------


def _patch_glue_job_runs() -> None:
    from moto.glue.models import FakeJobRun

    stock_init = FakeJobRun.__init__
    stock_as_dict = FakeJobRun.as_dict

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        stock_init(self, *args, **kwargs)
        self.injected_final_state = None
        self.injected_error_message = None
        arguments = self.arguments or {}
        wanted = str(arguments.get(FINAL_STATE_ARG, "")).strip().upper()
        if wanted not in INJECTABLE_FINAL_STATES:
            return
        # Replace only the terminal hop; the run keeps its initial state and
        # the STARTING -> RUNNING step, so every state-manager progression
        # mode (immediate, manual, time) still walks through RUNNING.
        self._transitions = [
            (src, wanted if dst == "SUCCEEDED" else dst) for src, dst in self._transitions
        ]
        self.injected_final_state = wanted
        message = arguments.get(ERROR_MESSAGE_ARG)
        self.injected_error_message = (
            str(message) if message not in (None, "") else DEFAULT_INJECTED_ERROR
        )

    def as_dict(self: Any) -> dict[str, Any]:
        # The stock method reads `status` once (which may progress the run);
        # decide on ErrorMessage from that same reading.
        result = stock_as_dict(self)
        final = getattr(self, "injected_final_state", None)
        if final is not None and result.get("JobRunState") == final:
            result["ErrorMessage"] = self.injected_error_message
        return result

    FakeJobRun.__init__ = __init__
    FakeJobRun.as_dict = as_dict


# --------------------------------------------------------------------------
# Glue BatchStopJobRun
# --------------------------------------------------------------------------


def _stopping_reads() -> int:
    """How many reads a stopped run reports STOPPING: the manual progression's `times`, else 1."""
    from moto.moto_api import state_manager

    transition = state_manager.get_transition("glue::job_run")
    if transition.get("progression") == "manual":
        return max(1, int(transition.get("times") or 1))
    return 1


def _stop_run(run: Any) -> tuple[bool, str]:
    """Stops `run` if it is still going; returns (submitted, error message)."""
    state = run.status
    if state == "STOPPING":
        return True, ""
    if state in STOPPABLE_RUN_STATES:
        from moto.core.utils import utcnow

        run.emu_stop = {"reads": 0, "stopping_reads": _stopping_reads()}
        run.modified_on = utcnow()
        return True, ""
    if state in TERMINAL_RUN_STATES:
        return False, (
            f"Job run {run.job_run_id} of job {run.job_name} is already in a terminal state "
            f"({state}) and cannot be stopped"
        )
    return False, f"Job run {run.job_run_id} of job {run.job_name} cannot be stopped in state {state}"


def _patch_glue_stop_job_runs() -> None:
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.glue.exceptions import InvalidInputException
    from moto.glue.models import FakeJobRun, GlueBackend
    from moto.glue.responses import GlueResponse
    from moto.moto_api._internal.managed_state_model import ManagedState

    if hasattr(GlueBackend, "batch_stop_job_run") or hasattr(GlueResponse, "batch_stop_job_run"):
        raise RuntimeError("moto layout changed: Glue now has batch_stop_job_run of its own")
    stock_status = ManagedState.status
    stock_advance = ManagedState.advance
    # The failure-injection version: applied before this patch.
    injected_as_dict = FakeJobRun.as_dict

    def status(self: Any) -> str | None:
        stop = getattr(self, "emu_stop", None)
        if stop is None:
            return stock_status.fget(self)
        if stop["reads"] <= stop["stopping_reads"]:
            return "STOPPING"
        if self._status != "STOPPED":
            self._status = "STOPPED"
            self.completed_on = self.modified_on = utcnow()
        return "STOPPED"

    def advance(self: Any) -> None:
        stop = getattr(self, "emu_stop", None)
        if stop is None:
            stock_advance(self)
        else:
            stop["reads"] += 1

    def as_dict(self: Any) -> dict[str, Any]:
        result = injected_as_dict(self)
        if getattr(self, "emu_stop", None) is not None:
            result.pop("ErrorMessage", None)
        return result

    def batch_stop_job_run(
        self: Any, job_name: str, run_ids: list[str]
    ) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
        if not 1 <= len(run_ids) <= 25:
            raise InvalidInputException("BatchStopJobRun", "JobRunIds must name 1 to 25 job runs")
        runs = {run.job_run_id: run for run in self.get_job(job_name).job_runs}
        submitted: list[dict[str, str]] = []
        errors: list[dict[str, Any]] = []
        for run_id in run_ids:
            run = runs.get(run_id)
            if run is None:
                ok, message = False, f"Job run {run_id} not found for job {job_name}"
            else:
                ok, message = _stop_run(run)
            if ok:
                submitted.append({"JobName": job_name, "JobRunId": run_id})
            else:
                errors.append({
                    "JobName": job_name,
                    "JobRunId": run_id,
                    "ErrorDetail": {"ErrorCode": "InvalidInputException", "ErrorMessage": message},
                })
        return submitted, errors

    def batch_stop_job_run_action(self: Any) -> Any:
        submitted, errors = self.glue_backend.batch_stop_job_run(
            self._get_param("JobName"), list(self._get_param("JobRunIds") or [])
        )
        return ActionResult({"SuccessfulSubmissions": submitted, "Errors": errors})

    batch_stop_job_run_action.__name__ = "batch_stop_job_run"
    FakeJobRun.status = property(status, stock_status.fset)
    FakeJobRun.advance = advance
    FakeJobRun.as_dict = as_dict
    GlueBackend.batch_stop_job_run = batch_stop_job_run
    GlueResponse.batch_stop_job_run = batch_stop_job_run_action


# --------------------------------------------------------------------------
# DynamoDB write delay
# --------------------------------------------------------------------------


def _write_delay_ms(backend: Any, table_names: list[str]) -> int:
    """The largest ferry-local:write-delay-ms among the named tables (0 when none is tagged)."""
    delays = [0]
    for name in table_names:
        try:
            table = backend.get_table(name)
        except Exception:  # unknown table: the stock handler answers the error
            continue
        value = {tag["Key"]: tag["Value"] for tag in (table.tags or [])}.get(WRITE_DELAY_TAG)
        try:
            delays.append(int(value))
        except (TypeError, ValueError):
            continue
    return max(delays)


def _patch_dynamodb_write_delay() -> None:
    from moto.dynamodb.responses import DynamoHandler

    def delayed(stock: Any, tables_of: Any) -> Any:
        def action(self: Any) -> Any:
            # self.body is the parsed request (DynamoHandler.call_action sets it).
            delay = _write_delay_ms(self.dynamodb_backend, tables_of(self.body or {}))
            if delay > 0:
                time.sleep(delay / 1000)
            return stock(self)

        action.__name__ = stock.__name__
        return action

    for name, tables_of in (
        ("put_item", lambda body: [body.get("TableName")]),
        ("delete_item", lambda body: [body.get("TableName")]),
        ("batch_write_item", lambda body: list(body.get("RequestItems") or {})),
    ):
        stock = getattr(DynamoHandler, name, None)
        if not callable(stock):
            raise RuntimeError(f"moto layout changed: DynamoHandler.{name} is missing")
        setattr(DynamoHandler, name, delayed(stock, tables_of))


# --------------------------------------------------------------------------
# Launcher
# --------------------------------------------------------------------------


def _exit_when_parent_dies(original_parent: int, poll_seconds: float = 0.5) -> None:
    if os.getppid() != original_parent:
        os._exit(0)

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != original_parent:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _patch_stream_delivery() -> None:
    from moto.dynamodb.models.table import StreamRecord as TableStreamRecord
    from moto.dynamodb.models.table import StreamShard

    def add(self: Any, old: Any, new: Any) -> None:
        view_type = self.table.stream_specification["StreamViewType"]
        if old is None:
            event_name = "INSERT"
        elif new is None:
            event_name = "REMOVE"
        else:
            event_name = "MODIFY"
        seq = len(self.items) + self.starting_sequence_number
        self.items.append(TableStreamRecord(self.table, view_type, event_name, old, new, seq))

    StreamShard.add = add


def _patch_mapping_transitions() -> None:
    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.models import EventSourceMapping, LambdaBackend

    stock_update = LambdaBackend.update_event_source_mapping
    stock_configuration = EventSourceMapping.get_configuration

    def update_event_source_mapping(self: Any, uuid: str, spec: dict[str, Any]) -> Any:
        esm = self.get_event_source_mapping(uuid)
        moving = getattr(esm, "emu_transition", None)
        if moving:
            raise LambdaClientError(
                "ResourceInUseException",
                f"Cannot update the event source mapping {uuid}: it is in state {moving[0]}",
            )
        before = esm.enabled if esm is not None else None
        result = stock_update(self, uuid, spec)
        reads = int((esm.tags if esm is not None else {}).get(SETTLE_READS_TAG, "0") or 0)
        if esm is not None and reads > 0 and esm.enabled != before:
            esm.emu_transition = ["Enabling" if esm.enabled else "Disabling", reads]
        return result

    def get_configuration(self: Any) -> dict[str, Any]:
        config = stock_configuration(self)
        moving = getattr(self, "emu_transition", None)
        if moving:
            config["State"] = moving[0]
            moving[1] -= 1
            if moving[1] <= 0:
                self.emu_transition = None
        return config

    LambdaBackend.update_event_source_mapping = update_event_source_mapping
    EventSourceMapping.get_configuration = get_configuration


def apply_patches() -> None:
    try:
        from importlib.metadata import version

        installed = version("moto")
    except Exception:  # pragma: no cover - metadata missing is not fatal
        installed = "unknown"
    if installed != EXPECTED_MOTO_VERSION:
        sys.stderr.write(
            f"moto_server.py: patches target moto {EXPECTED_MOTO_VERSION}, "
            f"found {installed}\n"
        )
    _patch_dynamodb_streams()
    _patch_glue_job_runs()
    _patch_glue_stop_job_runs()  # after _patch_glue_job_runs: wraps its as_dict
    _patch_dynamodb_write_delay()
    _patch_stream_delivery()
    _patch_mapping_transitions()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="terminate as soon as the launching process goes away",
    )
    parser.add_argument(
        "--parent-pid",
        type=int,
        default=None,
        help="with --exit-with-parent: the pid the launcher must be a child of "
        "(default: its parent pid at start-up); closes the window where the "
        "parent dies before the watch starts",
    )
    args = parser.parse_args(argv)

    if args.exit_with_parent:
        _exit_when_parent_dies(
            args.parent_pid if args.parent_pid is not None else _PARENT_AT_START
        )

    apply_patches()

    from moto import server

    server.main(["--host", args.host, "--port", str(args.port)])


if __name__ == "__main__":
    main()
