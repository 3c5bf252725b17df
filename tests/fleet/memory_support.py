"""Helpers of the in-memory controller tests: a group of in-memory hosts (agent_shim.fleet.in_memory),
the real History in a temporary folder, and the real Controller over them."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Sequence

import pytest

from agent_shim.fleet.contracts import FleetDeployment
from agent_shim.fleet.controller import Controller
from agent_shim.fleet.history import History
from agent_shim.fleet.in_memory import InMemoryFleet, make_revision
from agent_shim.fleet.recorder import FleetRun
from agent_shim.fleet.revisions import Revision
from agent_shim.plan import default_events

TRAFFIC_EVENTS = ("BlockTraffic", "AllowTraffic")
LIFECYCLE = default_events(with_load_balancer=False)  # ApplicationStop … ValidateService, one runner step


def trio(event: str) -> List[str]:
    """Before<event>, <event> (the load balancer's), After<event>."""
    return [f"Before{event}", event, f"After{event}"]


class Deploying:
    """A deployment running in a thread while the test looks and acts (holds, `controller.stop_signal`)."""

    def __init__(self, controller: Controller, revision: Revision) -> None:
        self.controller = controller
        self.runs: List[FleetRun] = []
        self.thread = threading.Thread(
            target=lambda: self.runs.append(controller.deploy(revision)), daemon=True
        )
        self.thread.start()

    def finish(self, timeout: float = 30.0) -> FleetRun:
        self.thread.join(timeout)
        assert self.runs, "the deployment did not end"
        return self.runs[0]


class MemoryDeployments:
    """In-memory hosts `names`, a history in `tmp` and a controller made for each deployment."""

    def __init__(self, tmp: Path, names: Sequence[str], **group: Any) -> None:
        self.tmp = tmp
        self.fleet = InMemoryFleet(names)
        self.group = self.fleet.group(**group)
        self.history = History(str(tmp / "state" / "history.sqlite"))
        self.views: List[Any] = []

    def controller(self) -> Controller:
        return Controller(self.group, self.history, self.fleet.transport_for, self.fleet.lb, poll=0.01)

    def deploy(self, version: str) -> FleetRun:
        return self.controller().deploy(make_revision(str(self.tmp / "revisions"), version))

    def deploy_in_background(self, version: str) -> Deploying:
        return Deploying(self.controller(), make_revision(str(self.tmp / "revisions"), version))

    def statuses(self, deployment: FleetDeployment) -> Dict[str, str]:
        return {name: str(outcome.status) for name, outcome in deployment.hosts.items()}

    def hooks(self, host: str) -> List[str]:
        """The host's events but the load balancer's."""
        return [event for event in self.fleet.ran[host] if event not in TRAFFIC_EVENTS]

    def version_on(self, host: str) -> str:
        """The version a host installed last (make_revision's checksum back to its version)."""
        import hashlib

        checksum = self.fleet.installed.get(host, "")
        for version in ("v1", "v2", "v3"):
            if hashlib.sha256(version.encode()).hexdigest() == checksum:
                return version
        return ""

    def close(self) -> None:
        self.history.close()


@pytest.fixture(name="memory_fleet")
def memory_fleet_fixture(tmp_path: Path) -> Iterator[Callable[..., MemoryDeployments]]:
    """`memory_fleet(names, **group)`: in-memory deployments in the test's folder, closed after it."""
    made: List[MemoryDeployments] = []

    def factory(names: Sequence[str], **group: Any) -> MemoryDeployments:
        made.append(MemoryDeployments(tmp_path, names, **group))
        return made[-1]

    yield factory
    for deployments in made:
        deployments.close()
