"""The controller's side of the lifecycle-event record: `HostEvent` is the runner's `EventRecord` plus the
host it happened on, and `HostOutcome` one host's part of a fleet deployment. Both are re-exported by
contracts.py, where the rest of the fleet finds them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

from agent_shim.events import EVENT, EVENT_START, EventRecord, EventStatus, event_line


@dataclass
class OnHost:
    host: str


@dataclass
class HostEvent(EventRecord, OnHost):
    """A lifecycle event on a host, as the runner's `event` JSON line reports it, or one the controller
    itself performs (BlockTraffic / AllowTraffic through the load balancer). `OnHost` is the last base so
    that `host` is the first field: `HostEvent(host, event, status, started, duration, ...)`."""


def host_event_line(deployment_id: str, event: HostEvent) -> str:
    """The controller's own `--format jsonl` line for a host's event: the runner's `event` line with the
    host first, typed `event-start` while the event is in progress."""
    return event_line(deployment_id, event, EVENT_START if event.status == EventStatus.IN_PROGRESS else EVENT)


@dataclass
class HostOutcome:
    host: str
    status: str  # Succeeded, Failed, Skipped, Interrupted (InProgress and Pending while it runs)
    reason: str = ""  # one line: why it failed (script + error, SSH failure, timeout, LB)
    events: List[HostEvent] = field(default_factory=list)
    started: float = 0.0
    duration: float = 0.0
    host_deployment_id: str = ""  # the runner's own `d-…` id on that host
    log_tail: str = ""
