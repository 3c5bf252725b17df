"""The runner's standard output as `HostEvent`s: its JSON lines (`--format jsonl`), whichever transport
carries them (SSH or a local process)."""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

from agent_shim.events import EVENT, EVENT_START, RESULT, read_line, started_at
from agent_shim.fleet.contracts import FAILED, IN_PROGRESS, SUCCEEDED, EventSink
from agent_shim.fleet.events import HostEvent, HostOutcome

PID_MARKER = "appspec-runner-pid "  # the remote shell's first line: the pid a timeout stops
STDERR_LINES = 20


class RunnerStream:
    """The runner's stdout, split into JSON lines: `event-start` and `event` go to the sink as they come
    (a start as an InProgress `HostEvent`), `result` is kept for the outcome."""

    def __init__(self, host: str, on_event: EventSink) -> None:
        self.host = host
        self.on_event = on_event
        self.buffer = b""
        self.error_buffer = b""
        self.events: List[HostEvent] = []
        self.current: Optional[str] = None
        self.result: Optional[Dict[str, Any]] = None
        self.pid: Optional[int] = None
        self.stderr_tail: List[str] = []
        self.other: List[str] = []

    def feed(self, data: bytes) -> None:
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            self.line(line.decode("utf-8", "replace").strip())

    def feed_stderr(self, data: bytes) -> None:
        self.error_buffer += data
        *lines, self.error_buffer = self.error_buffer.split(b"\n")
        for line in lines:
            if line.strip():
                self.stderr_tail = (self.stderr_tail + [line.decode("utf-8", "replace").strip()])[
                    -STDERR_LINES:
                ]

    def flush(self) -> None:
        if self.buffer.strip():
            self.line(self.buffer.decode("utf-8", "replace").strip())
        self.buffer = b""
        self.feed_stderr(b"\n")

    def during(self) -> str:
        return f" during {self.current}" if self.current else ""

    def line(self, text: str) -> None:
        if text.startswith(PID_MARKER):
            self.pid = int(text[len(PID_MARKER) :]) if text[len(PID_MARKER) :].isdigit() else None
            return
        record = read_line(text)
        if record is None:
            self._other(text)
            return
        kind = record.get("type")
        if kind == EVENT_START:
            self.current = str(record.get("event", ""))
            self.on_event(HostEvent(self.host, self.current, IN_PROGRESS, started_at(record), 0.0))
        elif kind == EVENT:
            try:
                event = HostEvent.from_wire(record, host=self.host)
            except (TypeError, ValueError):  # WireError is a ValueError
                self._other(text)  # not a record this controller can read: kept for the failure's tail
                return
            self.current = None
            self.events.append(event)
            self.on_event(event)
        elif kind == RESULT:
            self.result = record

    def _other(self, text: str) -> None:
        if text:
            self.other = (self.other + [text])[-STDERR_LINES:]

    def finish(self, outcome: HostOutcome) -> HostOutcome:
        outcome.events = list(self.events)
        outcome.duration = time.time() - outcome.started
        if self.result is not None:
            result = self.result
            outcome.status = SUCCEEDED if result.get("status") == SUCCEEDED else FAILED
            outcome.host_deployment_id = str(result.get("deployment_id") or "")
            failed = next((e for e in self.events if e.status == FAILED), None)
            if outcome.status == FAILED:
                message = str(result.get("message") or "the deployment failed").strip()
                outcome.reason = message.splitlines()[0] if message else "the deployment failed"
                outcome.log_tail = failed.log_tail if failed else "\n".join(result.get("lint") or [])
        elif not outcome.log_tail:
            outcome.log_tail = "\n".join(self.other + self.stderr_tail)
        return outcome
