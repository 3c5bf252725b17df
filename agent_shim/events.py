"""One lifecycle event's record and its JSON lines, defined once for the host runner and the fleet controller.

`appspec deploy --format jsonl` writes an `event-start` line when an event begins, an `event` line (the
record) when it ends, and one `result` line; the controller reads the same lines back (fleet/stream.py)
and stores the records (fleet/history). The strings on the wire are CodeDeploy's and never change, so a
controller reads the lines of an older runner and the events of an older history file. Host side: this
module is in the runner zipapp, so it imports nothing from `agent_shim.fleet`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any, Dict, Mapping, Optional, Type, TypeVar

EVENT_START, EVENT, RESULT = "event-start", "event", "result"  # the `type` of each JSON line


class WireError(ValueError):
    """A JSON line that is not one of the runner's records."""


class EventStatus(str, Enum):
    """A lifecycle event's status, with CodeDeploy's strings (a `str`, so it compares, formats and
    serializes as the string itself)."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SKIPPED = "Skipped"
    IN_PROGRESS = "InProgress"

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def parse(cls, text: object) -> EventStatus:
        try:
            return cls(text)
        except ValueError:
            names = ", ".join(status.value for status in cls)
            raise WireError(f"unknown lifecycle event status {text!r} (expected one of {names})") from None


R = TypeVar("R", bound="EventRecord")


@dataclass
class EventRecord:
    """A finished lifecycle event (or, with InProgress, one that has begun): CodeDeploy's diagnostics."""

    event: str
    status: EventStatus
    started: float  # epoch seconds
    duration: float  # seconds
    error_code: int = 0  # the agent's codes: 1 ScriptMissing … 5 UnknownError (DESIGN.md)
    error_name: str = ""
    script_name: str = ""
    message: str = ""
    log_tail: str = ""

    def to_wire(self) -> Dict[str, Any]:
        """The record's fields, in order, as the `event` line carries them (a subclass's too); plain JSON
        values, the status as its string."""
        values = {field.name: getattr(self, field.name) for field in fields(self)}
        return {**values, "status": str(self.status)}

    @classmethod
    def from_wire(cls: Type[R], record: Mapping[str, Any], **context: Any) -> R:
        """The record of an `event` line; `context` fills the fields a subclass adds (the fleet's host).
        Missing or null values read as their defaults, as older runners may leave them out."""
        return cls(
            **context,
            event=str(record.get("event", "")),
            status=EventStatus.parse(record.get("status", "")),
            started=float(record.get("started") or 0.0),
            duration=float(record.get("duration") or 0.0),
            error_code=int(record.get("error_code") or 0),
            error_name=str(record.get("error_name") or ""),
            script_name=str(record.get("script_name") or ""),
            message=str(record.get("message") or ""),
            log_tail=str(record.get("log_tail") or ""),
        )


def event_start_line(deployment_id: str, event: str, at: float) -> str:
    return json_line({"type": EVENT_START, "deployment_id": deployment_id, "event": event, "time": at})


def event_line(deployment_id: str, record: EventRecord, kind: str = EVENT) -> str:
    return json_line({"type": kind, "deployment_id": deployment_id, **record.to_wire()})


def result_line(result: Mapping[str, Any]) -> str:
    return json_line({"type": RESULT, **result})


def read_line(text: str) -> Optional[Dict[str, Any]]:
    """The JSON object a line holds; None for anything else (a shell's or Python's own output)."""
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def started_at(record: Mapping[str, Any]) -> float:
    """When an `event-start` line's event began (its reader's clock if the line does not say)."""
    return float(record.get("time") or time.time())


def json_line(record: Mapping[str, Any]) -> str:
    return json.dumps(record) + "\n"
