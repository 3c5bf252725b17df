"""Hosts staged ahead of their turn (connection, runner and revision upload) in the SSH slots the rolling
window leaves free: the `Staging` bookkeeping on its own, then inside a real deployment of `local` hosts."""

from __future__ import annotations

import threading
import time
from typing import Dict, List

import pytest
from controller_support import LocalFleet

from agent_shim.fleet.commands import load_balancer_for, transport_factory
from agent_shim.fleet.contracts import SUCCEEDED, HostSpec
from agent_shim.fleet.controller import Controller
from agent_shim.fleet.history import History
from agent_shim.fleet.revisions import prepare_revision
from agent_shim.fleet.staging import StagedHost, Staging


class Connection:
    """What a stager opens: closed once, by whoever ends up holding it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


class Stager:
    def __init__(self, fail: tuple = (), hold: float = 0.0) -> None:
        self.fail = set(fail)
        self.hold = hold
        self.calls: List[str] = []
        self.opened: Dict[str, List[Connection]] = {}
        self.lock = threading.Lock()
        self.busy = self.most_busy = 0

    def __call__(self, spec: HostSpec) -> StagedHost:
        with self.lock:
            self.calls.append(spec.name)
            self.busy += 1
            self.most_busy = max(self.most_busy, self.busy)
        try:
            time.sleep(self.hold)
            if spec.name in self.fail:
                raise OSError(f"ssh {spec.name}: connection refused")
            connection = Connection(spec.name)
            with self.lock:
                self.opened.setdefault(spec.name, []).append(connection)
            return StagedHost(connection, "runner.pyz", "revision.tgz")  # type: ignore[arg-type]
        finally:
            with self.lock:
                self.busy -= 1


def specs(*names: str) -> List[HostSpec]:
    return [HostSpec(name, "local") for name in names]


def settle(staging: Staging) -> None:
    for future in list(staging.ahead.values()):
        future.exception(timeout=10)


def test_hosts_after_the_first_window_are_staged_in_order_within_the_slots():
    stager = Stager(hold=0.05)
    hosts = specs("a", "b", "c", "d", "e", "f")
    staging = Staging(stager, hosts, slots=2)
    staging.begin(skip=2)  # a and b start at once: not staged
    settle(staging)
    assert stager.calls == ["c", "d"]
    assert sorted(staging.ahead) == ["c", "d"]
    staged = staging.take(hosts[2])
    assert staged.transport.name == "c"
    settle(staging)
    assert stager.calls == ["c", "d", "e"], "taking c freed a slot for the next host in order"
    assert stager.most_busy <= 2
    staging.close()


def test_a_host_not_staged_is_prepared_at_its_turn():
    stager = Stager()
    hosts = specs("a", "b", "c")
    staging = Staging(stager, hosts, slots=0)
    staging.begin(skip=1)
    assert stager.calls == []
    assert staging.take(hosts[0]).transport.name == "a"
    assert stager.calls == ["a"]
    staging.close()


def test_a_failed_staging_is_tried_again_at_the_hosts_turn():
    stager = Stager(fail=("b",))
    hosts = specs("a", "b")
    staging = Staging(stager, hosts, slots=1)
    staging.begin(skip=1)
    settle(staging)
    with pytest.raises(OSError, match="connection refused"):
        staging.take(hosts[1])
    assert stager.calls == ["b", "b"]
    stager.fail.clear()
    staging.close()


def test_close_closes_the_connections_of_hosts_never_taken():
    stager = Stager()
    hosts = specs("a", "b", "c")
    staging = Staging(stager, hosts, slots=2)
    staging.begin(skip=1)
    settle(staging)
    taken = staging.take(hosts[1])
    staging.close()
    assert stager.opened["c"][0].closed == 1, "staged for a turn that never came: closed"
    assert taken.transport.closed == 0, "the deployment that took it closes it"
    assert staging.take(hosts[0]).transport.name == "a", "after close, a host is prepared at its turn"


def test_close_while_staging_closes_the_connection_when_it_arrives():
    stager = Stager(hold=0.3)
    hosts = specs("a", "b")
    staging = Staging(stager, hosts, slots=1)
    staging.begin(skip=1)
    time.sleep(0.05)  # b is being staged
    staging.close()
    deadline = time.monotonic() + 5
    while "b" not in stager.opened and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.05)
    assert stager.opened["b"][0].closed == 1


# Inside a deployment ---------------------------------------------------------------------------------------
class RecordingTransports:
    """The group's real transports, with the time each host's upload and run began."""

    def __init__(self, group) -> None:
        self.make = transport_factory(group)
        self.uploaded: Dict[str, float] = {}
        self.ran: Dict[str, float] = {}

    def __call__(self, spec: HostSpec):
        transport = self.make(spec)
        upload, run = transport.prepare, transport.run_deployment

        def prepare(*args, **kwargs):
            self.uploaded[spec.name] = time.time()
            return upload(*args, **kwargs)

        def run_deployment(*args, **kwargs):
            self.ran.setdefault(spec.name, time.time())
            return run(*args, **kwargs)

        transport.prepare, transport.run_deployment = prepare, run_deployment
        return transport


def deploy(fleet: LocalFleet, transports_for=RecordingTransports):
    group = fleet.group
    transports = transports_for(group)
    with History(group.history_path) as history:
        revision = prepare_revision(str(fleet.revision("v1", BeforeInstall="sleep 0.5")), None, history)
        run = Controller(group, history, transports, load_balancer_for(group), poll=0.05).deploy(revision)
    return run.deployment, transports


def half_at_a_time(tmp_path, ssh_slots: int):
    """Hosts a-d, HalfAtATime: (fleet, deployment, transports, when the first of a and b finished)."""
    fleet = LocalFleet(
        tmp_path, "abcd", deployment_config="CodeDeployDefault.HalfAtATime", max_parallel_ssh=ssh_slots
    )
    deployment, seen = deploy(fleet)
    assert deployment.status == SUCCEEDED
    first_done = min(deployment.hosts[h].started + deployment.hosts[h].duration for h in "ab")
    return fleet, deployment, seen, first_done


@pytest.mark.fleet
def test_the_next_batch_is_uploaded_while_the_first_one_deploys(tmp_path):
    fleet, deployment, seen, first_done = half_at_a_time(tmp_path, ssh_slots=4)
    for host in "cd":
        assert seen.uploaded[host] < first_done, f"{host} was staged while a and b deployed"
        assert deployment.hosts[host].started >= first_done - 0.01, "its lifecycle still waited for a slot"
    assert [fleet.installed(h) for h in "abcd"] == ["v1"] * 4


@pytest.mark.fleet
def test_no_staging_without_free_ssh_slots(tmp_path):
    _, _, seen, first_done = half_at_a_time(tmp_path, ssh_slots=2)
    for host in "cd":
        assert seen.uploaded[host] >= first_done - 0.01, "both SSH slots were the window's"
