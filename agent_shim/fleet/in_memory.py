"""Hosts and a load balancer that exist only in this process: no processes, no sockets.

`InMemoryFleet` implements the controller's `HostTransport` (per host) and `LoadBalancer` protocols
(contracts.py) for the controller, blue/green, rollback and scheduling tests and bench/fleet_scale.py:
a host "runs" the runner's events of the step it is given (`--events`, or the whole lifecycle) and
streams them as the real runner does; a hook fails when the test says so, can be held in flight until
the test lets it go (`hold`: threading events, no sleeps), and can take a fixed simulated time. The real
sshd/HAProxy fleet (simulated.py) stays the end-to-end subject.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Set, Tuple

from agent_shim.fleet.config import deployment_config
from agent_shim.fleet.contracts import (
    FAILED,
    IN_PROGRESS,
    SUCCEEDED,
    EventSink,
    HostEvent,
    HostOutcome,
    HostSpec,
)
from agent_shim.fleet.group import BlueGreen, DeploymentGroup, LoadBalancerSettings
from agent_shim.fleet.revisions import Revision
from agent_shim.layout import new_deployment_id
from agent_shim.plan import default_events

WHOLE_LIFECYCLE = tuple(default_events(with_load_balancer=False))
MEMORY_LB = "in-memory"  # the load-balancer type of an in-memory group (not a group-file kind)


@dataclass
class Hold:
    """A hook held in flight: `reached` is set when it starts; it ends once `release` is set."""

    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


def make_revision(folder: str, version: str) -> Revision:
    """A revision archive of a few bytes (the revision store needs a real file for rollbacks and syncs)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{version}.tgz")
    with open(path, "w") as handle:
        handle.write(version)
    return Revision(version, path, "tgz", hashlib.sha256(version.encode()).hexdigest())


class InMemoryFleet:
    """Hosts named `names`; `ran[host]` is every event it went through, the load balancer's included."""

    def __init__(self, names: Sequence[str], hook_seconds: float = 0.0) -> None:
        self.names = list(names)
        self.hook_seconds = hook_seconds  # every hook's simulated duration (a real wait, per host)
        self.lock = threading.Lock()
        self.failures: Dict[Tuple[str, str], str] = {}  # (host, event) → the failure's message
        self.unreachable: Set[str] = set()
        self.holds: Dict[Tuple[str, str], Hold] = {}
        self.ran: Dict[str, List[str]] = {name: [] for name in self.names}
        self.installed: Dict[str, str] = {}  # host → the checksum of the revision it installed last
        self.running: Set[str] = set()
        self.most_running = 0
        self.lb = InMemoryLoadBalancer(self)

    def group(
        self,
        config: str = "CodeDeployDefault.OneAtATime",
        load_balancer: bool = True,
        blue_green: Optional[Tuple[Sequence[str], Sequence[str]]] = None,
        **settings: object,
    ) -> DeploymentGroup:
        """A deployment group of these hosts, as the group file would give it."""
        return DeploymentGroup(
            application="App",
            name="web",
            hosts=[HostSpec(name, f"{name}.in-memory") for name in self.names],
            config=deployment_config(config),
            load_balancer=LoadBalancerSettings(MEMORY_LB if load_balancer else "none"),
            blue_green=BlueGreen(tuple(blue_green[0]), tuple(blue_green[1])) if blue_green else None,
            **settings,  # type: ignore[arg-type]
        )

    def fail(self, event: str, *hosts: str, message: str = "script failed") -> None:
        for host in hosts:
            self.failures[(host, event)] = message

    def heal(self) -> None:
        self.failures.clear()
        self.unreachable.clear()

    def hold(self, host: str, event: str) -> Hold:
        """Hold the host's next `event` in flight until the returned hold is released."""
        self.holds[(host, event)] = hold = Hold()
        return hold

    def transport_for(self, spec: HostSpec) -> InMemoryTransport:
        return InMemoryTransport(self, spec)

    def note(self, host: str, event: str) -> None:
        with self.lock:
            self.ran.setdefault(host, []).append(event)

    def runs(self, host: str, starting: bool) -> None:
        """Count the hosts whose runner runs at once."""
        with self.lock:
            if starting:
                self.running.add(host)
                self.most_running = max(self.most_running, len(self.running))
            else:
                self.running.discard(host)


class InMemoryTransport:
    """One in-memory host, reached as the SSH transport reaches a real one."""

    def __init__(self, fleet: InMemoryFleet, spec: HostSpec) -> None:
        self.fleet = fleet
        self.spec = spec

    def _answer(self) -> None:
        if self.spec.name in self.fleet.unreachable:
            raise OSError(f"ssh {self.spec.name} ({self.spec.address}): connecting: connection refused")

    def ensure_runner(self, zipapp_path: str, checksum: str) -> str:
        self._answer()
        return "runner.pyz"

    def upload_revision(self, bundle_path: str, checksum: str) -> str:
        self._answer()
        return f"revisions/{checksum}"

    def prepare(
        self, zipapp_path: str, runner_checksum: str, bundle_path: str, checksum: str
    ) -> Tuple[str, str]:
        return self.ensure_runner(zipapp_path, runner_checksum), self.upload_revision(bundle_path, checksum)

    def check(self, zipapp_path: str, runner_checksum: str, bundle_path: str, checksum: str) -> None:
        self._answer()

    def run_deployment(
        self, runner_path: str, arguments: Sequence[str], on_event: EventSink, timeout: float
    ) -> HostOutcome:
        events = _option(arguments, "--events")
        outcome = HostOutcome(self.spec.name, SUCCEEDED, started=time.time())
        outcome.host_deployment_id = _option(arguments, "--deployment-id") or new_deployment_id(local=False)
        self.fleet.runs(self.spec.name, starting=True)
        try:
            for event in events.split(",") if events else WHOLE_LIFECYCLE:
                done = self._event(event, _option(arguments, "--bundle"), on_event, timeout)
                outcome.events.append(done)
                if done.status == FAILED:
                    outcome.status, outcome.reason = FAILED, f"{event} failed: {done.message}"
                    break
        finally:
            self.fleet.runs(self.spec.name, starting=False)
        outcome.duration = time.time() - outcome.started
        return outcome

    def _event(self, event: str, bundle: str, on_event: EventSink, timeout: float) -> HostEvent:
        name, fleet = self.spec.name, self.fleet
        started = time.time()
        on_event(HostEvent(name, event, IN_PROGRESS, started, 0.0))
        fleet.note(name, event)
        hold = fleet.holds.pop((name, event), None)
        if hold is not None:
            hold.reached.set()
            hold.release.wait(timeout)
        if fleet.hook_seconds:
            time.sleep(fleet.hook_seconds)
        failure = fleet.failures.get((name, event))
        done = HostEvent(name, event, FAILED if failure else SUCCEEDED, started, time.time() - started)
        if failure:
            done.error_code, done.error_name, done.message = 4, "ScriptFailed", failure
        elif event == "Install":
            fleet.installed[name] = bundle.rsplit("/", 1)[-1]
        on_event(done)
        return done

    def close(self) -> None:
        pass


def _option(arguments: Sequence[str], option: str) -> str:
    words = list(arguments)
    return words[words.index(option) + 1] if option in words else ""


class InMemoryLoadBalancer:
    """Which hosts take traffic; a test can make it refuse a host's BlockTraffic or AllowTraffic."""

    def __init__(self, fleet: InMemoryFleet) -> None:
        self.fleet = fleet
        self.serving: Dict[str, bool] = {}  # hosts never touched serve
        self.refusals: Dict[Tuple[str, str], str] = {}  # (host, BlockTraffic|AllowTraffic) → its answer

    def refuse(self, event: str, host: str, answer: str = "the load balancer refused") -> None:
        self.refusals[(host, event)] = answer

    def _move(self, host: HostSpec, event: str, serving: bool) -> Optional[str]:
        self.fleet.note(host.name, event)
        answer = self.refusals.get((host.name, event))
        if answer is None:
            self.serving[host.name] = serving
        return answer

    def block(self, host: HostSpec, timeout: float) -> Optional[str]:
        return self._move(host, "BlockTraffic", False)

    def allow(self, host: HostSpec, timeout: float) -> Optional[str]:
        return self._move(host, "AllowTraffic", True)

    def healthy(self, hosts: Sequence[HostSpec]) -> Dict[str, bool]:
        return {host.name: self.serving.get(host.name, True) for host in hosts}

    def check(self, hosts: Sequence[HostSpec]) -> List[Tuple[str, str]]:
        return []

    def takes_traffic(self) -> List[str]:
        return [name for name in self.fleet.names if self.serving.get(name, True)]
