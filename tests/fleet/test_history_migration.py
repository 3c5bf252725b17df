"""A history file written before schema versions opens with today's `History` and reads as it did."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from agent_shim.fleet.config import CURRENT, HEALTHY, OLD, UNHEALTHY, UNKNOWN, HostHealth
from agent_shim.fleet.contracts import FAILED, INTERRUPTED, SKIPPED, SUCCEEDED
from agent_shim.fleet.history import History
from agent_shim.fleet.history.database import SCHEMA_V0, SCHEMA_VERSION

pytestmark = pytest.mark.fleet
V0 = Path(__file__).resolve().parents[1] / "fixtures" / "history" / "v0.sql"


@pytest.fixture
def old_file(tmp_path: Path) -> str:
    path = tmp_path / "state" / "history.sqlite"
    path.parent.mkdir()
    database = sqlite3.connect(str(path))
    database.executescript(SCHEMA_V0)
    database.executescript(V0.read_text(encoding="utf-8"))
    database.close()
    return str(path)


def _version(path: str) -> int:
    database = sqlite3.connect(path)
    try:
        return int(database.execute("PRAGMA user_version").fetchone()[0])
    finally:
        database.close()


def test_an_old_file_is_migrated_once_to_the_current_version(old_file):
    assert _version(old_file) == 0
    History(old_file).close()
    assert _version(old_file) == SCHEMA_VERSION >= 1
    History(old_file).close()  # a second opening finds nothing to do
    assert _version(old_file) == SCHEMA_VERSION


def test_an_old_files_details_read_as_before(old_file):
    with History(old_file) as history:
        assert history.details("d-OLD000001") == {
            "archive": "/state/revisions/sum1.tgz",
            "bundle_type": "tgz",
            "origin": "s3://bucket/rev1.tgz",
            "roles": {},
            "switched": False,
        }
        blue_green = history.deployment_details("d-OLD000002")
        assert (blue_green.roles, blue_green.live_before, blue_green.switched, blue_green.kept_until) == (
            {"c": "replacement", "a": "original"},
            "blue",
            True,
            1_700_003_600.0,
        )
        assert (blue_green.archive, blue_green.bundle_type) == ("/state/revisions/sum2.tgz", "zip")
        assert history.details("d-OLD000003")["origin"] == ""  # recorded before origins were


def test_an_old_files_deployments_hosts_and_events_load(old_file):
    with History(old_file) as history:
        assert history.deployment_ids("App", "web") == ["d-OLD000003", "d-OLD000002", "d-OLD000001"]
        first = history.load("d-OLD000001")
        assert (first.status, first.batches, first.message) == (
            SUCCEEDED,
            [["a"], ["b"]],
            "1 of 2 hosts failed",
        )
        b = first.hosts["b"]
        assert (b.status, b.reason, b.host_deployment_id, b.log_tail) == (
            FAILED,
            "AfterInstall failed: exit 3",
            "d-HOSTB0001",
            "line 1\nline 2",
        )
        assert [(e.event, e.status) for e in b.events] == [
            ("ApplicationStop", SKIPPED),
            ("Install", SUCCEEDED),
            ("AfterInstall", FAILED),
        ]
        failed = b.events[-1]
        assert (failed.error_code, failed.error_name, failed.script_name, failed.message) == (
            4,
            "ScriptFailed",
            "scripts/after.sh",
            "exit 3",
        )
        assert history.installed_revisions("App", "web") == {"a": "rev1.tgz", "b": "rev1.tgz"}
        assert history.traffic("App", "web")["b"].state == "out"
        state = history.group_state("App", "web")
        assert (state["last_good"], state["live_set"]) == ("d-OLD000002", "green")
        assert history.host_health("App", "web", ["a", "b", "c"]) == {
            "a": HostHealth(HEALTHY, OLD),  # the original of the blue/green deployment keeps rev1
            "b": HostHealth(UNHEALTHY, UNKNOWN),  # its only attempt failed
            "c": HostHealth(HEALTHY, CURRENT),
        }


def test_an_old_files_deployment_left_in_progress_by_a_lost_controller_reads_as_interrupted(old_file):
    with History(old_file) as history:
        assert history.holder("App", "web") == "d-OLD000003"
        notes = history.reconcile("App", "web")
        assert notes and "d-OLD000003" in notes[0]
        interrupted = history.load("d-OLD000003")
        assert interrupted.status == INTERRUPTED
        assert (interrupted.hosts["c"].status, interrupted.hosts["c"].reason) == (
            INTERRUPTED,
            "interrupted during ApplicationStart",
        )
        assert interrupted.hosts["d"].status == SKIPPED
        assert history.holder("App", "web") is None


def test_controllers_opening_an_old_file_together_migrate_it_once(old_file):
    errors = []

    def open_it() -> None:
        try:
            History(old_file).close()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and _version(old_file) == SCHEMA_VERSION
