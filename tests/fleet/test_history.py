"""The SQLite history: what it records, the group lock, and what a SIGKILLed controller leaves behind."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import fields
from pathlib import Path

import pytest

from agent_shim.fleet.config import CURRENT, HEALTHY, OLD, UNHEALTHY, UNKNOWN, HostHealth
from agent_shim.fleet.contracts import (
    FAILED,
    IN_PROGRESS,
    INTERRUPTED,
    PENDING,
    SKIPPED,
    SUCCEEDED,
    FleetDeployment,
    HostEvent,
    HostOutcome,
)
from agent_shim.fleet.history import GroupBusy, History, controller_alive, this_controller
from appspec_tools.cli import main

pytestmark = pytest.mark.fleet
REPO = Path(__file__).resolve().parents[2]


def deployment(
    deployment_id: str, hosts=("a", "b", "c"), checksum: str = "sum1", started: float = 0.0
) -> FleetDeployment:
    return FleetDeployment(
        deployment_id=deployment_id,
        application="App",
        group="web",
        revision="rev.tgz",
        revision_checksum=checksum,
        config="CodeDeployDefault.OneAtATime",
        status=IN_PROGRESS,
        started=started or time.time(),
        hosts={h: HostOutcome(h, PENDING) for h in hosts},
    )


def finish(history: History, d: FleetDeployment, results: dict) -> None:
    for host, status in results.items():
        history.host_started(d.deployment_id, host, time.time())
        history.host_finished(d.deployment_id, HostOutcome(host, status, started=time.time(), duration=0.1))
    d.status = SUCCEEDED if all(s == SUCCEEDED for s in results.values()) else FAILED
    d.finished = time.time()
    history.finish(d, last_good=d.status == SUCCEEDED)


@pytest.fixture
def history(tmp_path):
    with History(str(tmp_path / "state" / "history.sqlite")) as opened:
        yield opened


def test_a_deployment_round_trips_with_its_hosts_and_events(history):
    d = deployment("d-AAAAAAAAA")
    history.begin(d, {"archive": "/x/rev.tgz", "bundle_type": "tgz"})
    history.host_started(d.deployment_id, "a", 100.0)
    history.record_event(d.deployment_id, HostEvent("a", "BlockTraffic", IN_PROGRESS, 100.0, 0.0))
    history.record_event(d.deployment_id, HostEvent("a", "BlockTraffic", SUCCEEDED, 100.0, 0.5))
    history.record_event(
        d.deployment_id,
        HostEvent("a", "ApplicationStart", FAILED, 101.0, 1.0, 4, "ScriptFailed", "s.sh", "exit 3", "tail"),
    )
    history.host_finished(
        d.deployment_id, HostOutcome("a", FAILED, "ApplicationStart failed", started=100.0, duration=2.0)
    )
    d.batches = [["a"]]
    d.status, d.finished, d.message = FAILED, 103.0, "1 host failed"
    history.finish(d, last_good=False)
    loaded = history.load(d.deployment_id)
    assert (loaded.status, loaded.message, loaded.batches, loaded.finished) == (
        FAILED,
        "1 host failed",
        [["a"]],
        103.0,
    )
    assert list(loaded.hosts) == ["a", "b", "c"]
    a = loaded.hosts["a"]
    assert (a.status, a.reason, a.duration) == (FAILED, "ApplicationStart failed", 2.0)
    assert [(e.event, e.status) for e in a.events] == [
        ("BlockTraffic", SUCCEEDED),
        ("ApplicationStart", FAILED),
    ]
    assert a.events[1].error_name == "ScriptFailed" and a.events[1].log_tail == "tail"
    assert loaded.hosts["b"].status == PENDING
    assert history.details(d.deployment_id)["archive"] == "/x/rev.tgz"
    assert history.holder("App", "web") is None


def test_the_events_table_has_a_column_for_each_field_of_the_event_record(history):
    """A field added to the record needs a migration of the table: this fails until it has one."""
    columns = [row["name"] for row in history.database.rows("PRAGMA table_info(events)")]
    assert columns == ["id", "deployment_id", *(field.name for field in fields(HostEvent))]


def test_blue_green_details_are_typed_and_a_name_that_is_not_one_is_refused(history):
    d = deployment("d-BLUEGREEN", hosts=("g1", "b1"))
    history.begin(
        d, {"archive": "/x/rev.tgz", "bundle_type": "tgz", "roles": {"g1": "replacement", "b1": "original"}}
    )
    history.set_details(d.deployment_id, live_before="blue")
    history.set_details(d.deployment_id, switched=True, kept_until=1234.5)
    details = history.deployment_details(d.deployment_id)
    assert (details.roles, details.live_before, details.switched, details.kept_until) == (
        {"g1": "replacement", "b1": "original"},
        "blue",
        True,
        1234.5,
    )
    assert history.details(d.deployment_id)["kept_until"] == 1234.5
    with pytest.raises(TypeError, match="not a deployment detail: colour"):
        history.set_details(d.deployment_id, colour="green")
    with pytest.raises(TypeError, match="not a deployment detail: colour"):
        history.begin(deployment("d-REFUSED00", hosts=("x",)), {"colour": "green"})


def test_details_not_set_read_as_their_defaults(history):
    d = deployment("d-INPLACE00")
    history.begin(d, {"archive": "/x/rev.tgz", "bundle_type": "tgz"})
    details = history.details(d.deployment_id)
    assert (
        "live_before" not in details and "kept_until" not in details
    )  # `.get(name, default)` reads the default
    assert (details["origin"], details["roles"], details["switched"]) == ("", {}, False)


def test_one_deployment_per_group_at_a_time(history):
    history.begin(deployment("d-FIRST0000"))
    with pytest.raises(GroupBusy, match="d-FIRST0000 is in progress"):
        history.begin(deployment("d-SECOND000"))
    other = deployment("d-OTHER0000")
    other.group = "api"
    history.begin(other)  # another group is independent
    with pytest.raises(KeyError):
        history.load("d-SECOND000")  # the refused one left no trace


def test_an_automatic_rollback_takes_over_the_lock_of_its_own_deployment(history):
    failed = deployment("d-FAILED000")
    history.begin(failed)
    history.finish(failed, last_good=False, release=False)
    history.begin(deployment("d-ROLLBACK0"), successor_of="d-FAILED000")
    assert history.holder("App", "web") == "d-ROLLBACK0"


def test_a_lock_whose_controller_is_gone_is_released_and_its_deployment_marked_interrupted(history):
    d = deployment("d-GONE00000")
    history.begin(d)
    history.host_started(d.deployment_id, "a", time.time())
    history.record_event(d.deployment_id, HostEvent("a", "Install", IN_PROGRESS, time.time(), 0.0))
    _controller_gone(history)
    notes = history.begin(deployment("d-NEXT00000"))
    assert notes and "d-GONE00000" in notes[0] and "interrupted" in notes[0]
    gone = history.load("d-GONE00000")
    assert gone.status == INTERRUPTED
    assert (gone.hosts["a"].status, gone.hosts["a"].reason) == (INTERRUPTED, "interrupted during Install")
    assert gone.hosts["b"].status == SKIPPED


def test_an_interruption_names_the_event_in_progress_not_one_that_finished(history):
    d = deployment("d-EVENTS000")
    history.begin(d)
    for host in ("a", "b"):
        history.host_started(d.deployment_id, host, time.time())
    history.record_event(d.deployment_id, HostEvent("a", "BlockTraffic", IN_PROGRESS, 100.0, 0.0))
    history.record_event(d.deployment_id, HostEvent("a", "BlockTraffic", SUCCEEDED, 100.0, 0.5))
    history.record_event(d.deployment_id, HostEvent("b", "Install", IN_PROGRESS, 100.0, 0.0))
    _controller_gone(history)
    assert history.reconcile("App", "web")
    hosts = history.load(d.deployment_id).hosts
    assert [(hosts[h].status, hosts[h].reason) for h in "ab"] == [
        (INTERRUPTED, "interrupted"),
        (INTERRUPTED, "interrupted during Install"),
    ]


def _controller_gone(history: History) -> None:
    """Every deployment and lock of the file now names a controller that has exited (another
    connection writes it, as another controller's would)."""
    dead = json.dumps(dict(this_controller(), pid=_dead_pid()))
    with sqlite3.connect(history.path) as other:
        other.execute("UPDATE deployments SET controller=?", (dead,))
        other.execute("UPDATE groups SET lock_controller=? WHERE lock_deployment IS NOT NULL", (dead,))
    other.close()


def test_a_reused_pid_is_not_mistaken_for_the_controller():
    me = this_controller()
    assert controller_alive(me)
    assert not controller_alive(dict(me, start="1"))  # same pid, another process start time
    assert not controller_alive(dict(me, pid=_dead_pid()))
    assert controller_alive(dict(me, host="another-machine", pid=_dead_pid()))  # cannot tell: assume alive


def test_stop_is_a_flag_on_a_deployment_in_progress(history):
    d = deployment("d-STOPME000")
    history.begin(d)
    assert not history.stop_requested(d.deployment_id)
    assert history.request_stop(d.deployment_id) and history.stop_requested(d.deployment_id)
    finish(history, d, {"a": SUCCEEDED})
    assert not history.request_stop(d.deployment_id)


def test_last_good_and_host_health_follow_codedeploys_bookkeeping(history):
    first = deployment("d-FIRST0000", checksum="v1", started=1.0)
    history.begin(first)
    finish(history, first, {"a": SUCCEEDED, "b": SUCCEEDED, "c": SUCCEEDED})
    second = deployment("d-SECOND000", checksum="v2", started=2.0)
    history.begin(second)
    finish(history, second, {"a": SUCCEEDED, "b": FAILED})  # c not attempted
    assert history.last_good("App", "web") == "d-FIRST0000"  # a failed deployment changes nothing
    health = history.host_health("App", "web", ["a", "b", "c", "new"])
    assert health == {
        "a": HostHealth(HEALTHY, OLD),  # v2 installed, but the group's revision is still v1
        "b": HostHealth(UNHEALTHY, CURRENT),  # its last attempt failed; v1 is still its revision
        "c": HostHealth(HEALTHY, CURRENT),
        "new": HostHealth(UNHEALTHY, UNKNOWN),  # never deployed
    }
    third = deployment("d-THIRD0000", checksum="v2", started=3.0)
    history.begin(third)
    finish(history, third, {"b": SUCCEEDED, "c": SUCCEEDED, "a": SUCCEEDED})
    assert history.last_good("App", "web") == "d-THIRD0000"
    assert history.last_good("App", "web", before="d-THIRD0000") == "d-FIRST0000"
    assert history.deployment_ids("App", "web") == ["d-THIRD0000", "d-SECOND000", "d-FIRST0000"]


def test_the_revision_store_keeps_one_copy_per_content(history, tmp_path):
    archive = tmp_path / "rev.tgz"
    archive.write_bytes(b"bytes")
    stored = history.store_revision(str(archive), "abc", ".tgz")
    archive.write_bytes(b"changed later")
    assert (
        Path(stored).read_bytes() == b"bytes"
        and history.store_revision(str(archive), "abc", ".tgz") == stored
    )


# A killed controller -----------------------------------------------------------------------------------
CHILD = """
import sys, time
sys.path.insert(0, {repo!r})
from agent_shim.fleet.contracts import *
from agent_shim.fleet.history import History
history = History({path!r})
d = FleetDeployment("d-KILLED000", "App", "web", "rev.tgz", "sum", "CodeDeployDefault.OneAtATime", IN_PROGRESS,
                    time.time(), hosts={{h: HostOutcome(h, PENDING) for h in ("a", "b", "c")}})
history.begin(d, {{"archive": "", "bundle_type": "tgz"}})
history.host_started(d.deployment_id, "a", time.time())
history.record_event(d.deployment_id, HostEvent("a", "ApplicationStop", SUCCEEDED, time.time(), 0.1))
history.host_finished(d.deployment_id, HostOutcome("a", SUCCEEDED, started=time.time(), duration=1.0))
history.host_started(d.deployment_id, "b", time.time())
history.record_event(d.deployment_id, HostEvent("b", "ApplicationStart", IN_PROGRESS, time.time(), 0.0))
n = 0
while True:  # keep writing until killed: every committed line was announced
    history.record_event(d.deployment_id, HostEvent("b", "Tick", SUCCEEDED, time.time(), float(n)))
    print("committed", n, flush=True)
    n += 1
"""


def _run_child(tmp_path: Path, after: int) -> int:
    path = str(tmp_path / "history.sqlite")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(repo=str(REPO), path=path)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        last = -1
        for line in child.stdout:  # the child tells us each commit; no sleeping
            last = int(line.split()[1])
            if last >= after:
                break
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return last


@pytest.mark.slow
def test_a_sigkilled_controller_leaves_a_consistent_record_that_reads_as_interrupted(tmp_path):
    committed = _run_child(tmp_path, after=25)
    database = sqlite3.connect(str(tmp_path / "history.sqlite"))
    assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    ticks = database.execute("SELECT COUNT(*) FROM events WHERE event='Tick'").fetchone()[0]
    database.close()
    assert ticks >= committed + 1  # everything announced is there
    with History(str(tmp_path / "history.sqlite")) as history:
        assert history.load("d-KILLED000").status == IN_PROGRESS  # as the controller left it
        notes = history.reconcile("App", "web")
        assert notes and "d-KILLED000" in notes[0]
        d = history.load("d-KILLED000")
        assert d.status == INTERRUPTED
        assert [d.hosts[h].status for h in "abc"] == [SUCCEEDED, INTERRUPTED, SKIPPED]
        assert d.hosts["b"].reason == "interrupted during ApplicationStart"
        assert history.holder("App", "web") is None
        history.begin(deployment("d-AFTER0000"))  # the group is free again


@pytest.mark.slow
def test_status_shows_the_interrupted_deployment_and_each_hosts_last_state(tmp_path):
    _run_child(tmp_path, after=0)
    group = tmp_path / "group.yml"
    group.write_text(
        textwrap.dedent(
            """\
            application: App
            deployment_group: web
            history: history.sqlite
            hosts: [a, b, c]
            """
        )
    )
    out, err = io.StringIO(), io.StringIO()
    assert main(["fleet", "status", "--group", str(group)], out, err) == 0, err.getvalue()
    text = out.getvalue()
    assert "d-KILLED000" in text and "interrupted" in text.lower()
    assert "interrupted during ApplicationStart" in text


def _dead_pid() -> int:
    """A pid that certainly names no process now: a child that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stored_revisions_no_longer_needed_are_pruned(history, tmp_path):
    archive = tmp_path / "rev.tgz"
    kept = []
    for number in range(3):
        archive.write_bytes(f"revision {number}".encode())
        stored = history.store_revision(str(archive), f"sum{number}", ".tgz")
        d = deployment(f"d-PRUNE000{number}", checksum=f"sum{number}", started=float(number + 1))
        history.begin(d, {"archive": stored, "bundle_type": "tgz"})
        finish(history, d, {"a": SUCCEEDED if number == 0 else FAILED})
        kept.append(stored)
    removed = history.prune_revisions(keep=1)
    assert removed == [kept[1]]  # kept: the last good (0) and the most recent (2)
    assert os.path.exists(kept[0]) and os.path.exists(kept[2])
