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
