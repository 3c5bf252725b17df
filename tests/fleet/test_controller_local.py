"""The fleet controller end to end on `local` hosts: the real runner on each host (its own deployment root
and install root), the real history, and for the traffic tests a real HAProxy."""

from __future__ import annotations

import fcntl
import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from controller_support import (
    DRAINED,
    MAINTENANCE,
    Gate,
    Haproxy,
    InThread,
    LocalFleet,
    barrier,
    intervals,
    most_at_once,
    query_state_hook,
)

from agent_shim.fleet.contracts import FAILED, INTERRUPTED, SKIPPED, STOPPED, SUCCEEDED
from appspec_tools.cli import main

pytestmark = [pytest.mark.fleet, pytest.mark.slow]
ABCD = ("a", "b", "c", "d")


def cli(*argv: str):
    out, err = io.StringIO(), io.StringIO()
    code = main(["fleet", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


def statuses(deployment) -> dict:
    return {name: outcome.status for name, outcome in deployment.hosts.items()}


# Minimum healthy hosts on a real fleet ---------------------------------------------------------------------
def test_half_at_a_time_keeps_two_of_four_in_flight_at_most_in_order(tmp_path):
    fleet = LocalFleet(tmp_path, ABCD, deployment_config="CodeDeployDefault.HalfAtATime")
    # a and b wait for each other in ApplicationStart: proof that two are in flight together
    run = fleet.deploy("v1", ApplicationStart=barrier(fleet.out, "pair", ["a", "b"]))
    d = run.deployment
    assert d.status == SUCCEEDED and statuses(d) == dict.fromkeys(ABCD, SUCCEEDED)
    assert [host for batch in d.batches for host in batch] == list(ABCD)
    assert d.batches[0] == ["a", "b"]
    spans = intervals(d)
    assert most_at_once(spans) == 2
    assert spans["c"][0] >= min(spans["a"][1], spans["b"][1])  # c waited for a slot
    assert [fleet.installed(h) for h in ABCD] == ["v1"] * 4
    with fleet.history() as history:
        recorded = history.load(d.deployment_id)
    assert recorded.status == SUCCEEDED and recorded.batches == d.batches
    events = [e.event for e in recorded.hosts["a"].events]
    assert events == [
        "ApplicationStop",
        "DownloadBundle",
        "BeforeInstall",
        "Install",
        "AfterInstall",
        "ApplicationStart",
        "ValidateService",
    ]  # no load balancer: the six traffic events are left out


def test_unhealthy_hosts_go_first(tmp_path):
    fleet = LocalFleet(tmp_path, ABCD, deployment_config="CodeDeployDefault.AllAtOnce")
    fleet.fail("ValidateService", "c")
    assert fleet.deploy("v1").deployment.status == SUCCEEDED  # AllAtOnce: one success is enough
    fleet.heal()
    fleet.write_group(deployment_config="CodeDeployDefault.HalfAtATime")
    d = fleet.deploy("v2").deployment
    assert d.batches[0][0] == "c" and d.status == SUCCEEDED


def test_one_at_a_time_stops_at_the_first_failure(tmp_path):
    fleet = LocalFleet(tmp_path, ABCD)
    fleet.fail("AfterInstall", "b")
    d = fleet.deploy("v1").deployment
    assert d.status == FAILED
    assert statuses(d) == {"a": SUCCEEDED, "b": FAILED, "c": SKIPPED, "d": SKIPPED}
    assert d.batches == [["a"], ["b"]]
    assert "AfterInstall" in d.hosts["b"].reason and "exit code 3" in d.hosts["b"].reason
    assert fleet.host_deployments("c") == [] and fleet.host_deployments("d") == []  # never touched
    assert most_at_once(intervals(d)) == 1


def test_one_at_a_time_a_failure_on_the_last_host_still_succeeds(tmp_path):
    fleet = LocalFleet(tmp_path, ABCD)
    fleet.fail("ApplicationStart", "d")
    d = fleet.deploy("v1").deployment
    assert d.status == SUCCEEDED and statuses(d)["d"] == FAILED
    with fleet.history() as history:
        assert history.last_good("App", "web") == d.deployment_id


def test_all_at_once_starts_every_host_together_and_needs_one_success(tmp_path):
    fleet = LocalFleet(tmp_path, ABCD, deployment_config="CodeDeployDefault.AllAtOnce")
    fleet.fail("ApplicationStart", "a", "b", "c")
    d = fleet.deploy("v1", BeforeInstall=barrier(fleet.out, "all", ABCD)).deployment
    assert d.batches == [list(ABCD)] and most_at_once(intervals(d)) == 4
    assert d.status == SUCCEEDED
    fleet.fail("ApplicationStart", "d")
    assert fleet.deploy("v2").deployment.status == FAILED  # no success at all


def test_a_minimum_of_three_of_four_goes_one_by_one(tmp_path):
    fleet = LocalFleet(
        tmp_path, ABCD, deployment_config={"minimum_healthy_hosts": {"type": "HOST_COUNT", "value": 3}}
    )
    fleet.fail("ValidateService", "b")
    d = fleet.deploy("v1").deployment
    assert d.status == FAILED and statuses(d) == {"a": SUCCEEDED, "b": FAILED, "c": SKIPPED, "d": SKIPPED}
    assert "one more host offline would leave fewer than 3 healthy" in d.message
    fleet.heal()
    fleet.fail("ValidateService", "a")
    again = fleet.deploy("v2").deployment
    assert again.batches == [["b"], ["c"], ["d"], ["a"]]  # unhealthy (failed or never deployed) first
    assert again.status == SUCCEEDED and statuses(again)["a"] == FAILED  # the last-host exception


def test_a_minimum_not_below_the_host_count_fails_at_once_without_touching_a_host(tmp_path):
    fleet = LocalFleet(tmp_path, ("a", "b"), deployment_config="CodeDeployDefault.HalfAtATime")
    fleet.names = ["a"]
    fleet.write_group()  # HalfAtATime of 1 host: m = ceil(0.5) = 1
    d = fleet.deploy("v1").deployment
    assert d.status == FAILED and statuses(d) == {"a": SKIPPED} and d.batches == []
    assert fleet.host_deployments("a") == []


# Rollback, stop, sync, the lock ---------------------------------------------------------------------------
def test_automatic_rollback_redeploys_the_last_good_revision_to_the_hosts_that_received_the_new_one(tmp_path):
    fleet = LocalFleet(tmp_path, ABCD, auto_rollback=True)
    first = fleet.deploy("v1").deployment
    before = {h: fleet.host_deployments(h) for h in ABCD}
    fleet.fail("ValidateService", "b", version="v2")
    run = fleet.deploy("v2")
    failed, rollback = run.deployment, run.rollback
    assert failed.status == FAILED and statuses(failed) == {
        "a": SUCCEEDED,
        "b": FAILED,
        "c": SKIPPED,
        "d": SKIPPED,
    }
    assert rollback is not None and rollback.status == SUCCEEDED
    assert (rollback.creator, rollback.rollback_of) == ("codeDeployRollback", failed.deployment_id)
    assert rollback.revision_checksum == first.revision_checksum
    assert list(rollback.hosts) == ["b", "a"]  # only the hosts that received v2, the unhealthy one first
    assert [fleet.installed(h) for h in ABCD] == ["v1"] * 4
    assert fleet.host_deployments("c") == before["c"] and fleet.host_deployments("d") == before["d"]
    assert len(fleet.host_deployments("a")) == len(before["a"]) + 2  # v2, then the rollback
    with fleet.history() as history:
        assert history.last_good("App", "web") == rollback.deployment_id
        assert history.holder("App", "web") is None


def test_manual_rollback_of_a_successful_deployment_goes_back_to_the_revision_before_it(tmp_path):
    fleet = LocalFleet(tmp_path, ("a", "b"))
    fleet.deploy("v1")
    second = fleet.deploy("v2").deployment
    assert [fleet.installed(h) for h in "ab"] == ["v2", "v2"]
    code, out, err = cli("rollback", "--group", str(fleet.group_path))
    assert code == 0, err
    assert f"rollback of {second.deployment_id}" in out or second.deployment_id in out
    assert [fleet.installed(h) for h in "ab"] == ["v1", "v1"]
    code, _, err = cli("rollback", second.deployment_id, "--group", str(fleet.group_path))
    assert code == 2 and "only the group's latest deployment" in err


def test_without_a_good_revision_there_is_nothing_to_roll_back_to(tmp_path):
    fleet = LocalFleet(tmp_path, ("a",), auto_rollback=True)
    fleet.fail("ApplicationStart", "a")
    run = fleet.deploy("v1")
    assert run.rollback is None and any("no earlier successful deployment" in n for n in run.notes)
    with fleet.history() as history:
        assert history.holder("App", "web") is None


def test_stop_lets_the_host_in_flight_finish_and_skips_the_rest(tmp_path):
    fleet = LocalFleet(tmp_path, ("a", "b", "c"))
    gate = Gate(tmp_path / "gates")
    running = InThread(
        lambda: fleet.deploy("v1", ApplicationStart=f'[ "$HOST_NAME" = a ] && {{\n{gate.hold}}}\n')
    )
    try:
        gate.wait_reached()
        code, out, err = cli("stop", "--group", str(fleet.group_path))
        assert code == 0, err
        assert "stop requested" in out
    finally:
        gate.release()
        gate.close()
    d = running.join().deployment
    assert d.status == STOPPED
    assert statuses(d) == {"a": SUCCEEDED, "b": SKIPPED, "c": SKIPPED}
    assert cli("stop", "--group", str(fleet.group_path))[0] == 1  # nothing in progress any more


def test_one_deployment_per_group_at_a_time(tmp_path):
    fleet = LocalFleet(tmp_path, ("a",))
    gate = Gate(tmp_path / "gates")
    running = InThread(lambda: fleet.deploy("v1", BeforeInstall=gate.hold))
    try:
        gate.wait_reached()
        code, _, err = cli("deploy", "--group", str(fleet.group_path), "--bundle", str(fleet.revision("v2")))
        assert code == 2 and "is busy" in err and "is in progress" in err
    finally:
        gate.release()
        gate.close()
    assert running.join().deployment.status == SUCCEEDED


def test_sync_gives_a_new_host_the_last_good_revision(tmp_path):
    fleet = LocalFleet(tmp_path, ("a", "b"))
    code, _, err = cli("sync", "a", "--group", str(fleet.group_path))
    assert code == 1 and "no successful deployment" in err
    good = fleet.deploy("v1").deployment
    fleet.fail("ApplicationStart", "b")
    assert fleet.deploy("v2").deployment.status == SUCCEEDED  # b, the last host, failed
    fleet.add_host("new")
    code, out, err = cli("sync", "new", "--group", str(fleet.group_path), "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    assert document["deployment"]["hosts"]
    assert fleet.installed("new") == "v2"  # the group's last good revision is v2's
    assert fleet.installed("a") == "v2" and good.status == SUCCEEDED
    code, _, err = cli("sync", "nobody", "--group", str(fleet.group_path))
    assert code == 2 and "not in deployment group" in err


def test_plan_shows_order_batches_and_what_each_host_runs_without_changing_anything(tmp_path):
    fleet = LocalFleet(tmp_path, ABCD, deployment_config="CodeDeployDefault.HalfAtATime")
    fleet.fail("ApplicationStart", "c")
    fleet.write_group(deployment_config="CodeDeployDefault.AllAtOnce")
    fleet.deploy("v1")
    fleet.write_group(deployment_config="CodeDeployDefault.HalfAtATime")
    deployments = {h: fleet.host_deployments(h) for h in ABCD}
    code, out, err = cli("plan", "--group", str(fleet.group_path), "--bundle", str(fleet.revision("v2")))
    assert code == 0, err
    assert "at least 2 of 4 hosts healthy, up to 2 at a time" in out
    assert "batch 1: c, a" in out and "batch 2: b, d" in out
    assert "c: this machine; Unhealthy, Unknown revision" in out
    assert "a: this machine; Healthy, Current revision" in out
    assert "ApplicationStop → DownloadBundle → BeforeInstall → Install" in out
    assert "--deployment-group web" in out and "dry run" in out
    assert {h: fleet.host_deployments(h) for h in ABCD} == deployments
    code, out, _ = cli("plan", "--group", str(fleet.group_path), "--format", "json")
    assert code == 0 and json.loads(out)["batches"] == [["c", "a"], ["b", "d"]]


def test_plan_puts_the_load_balancers_events_between_the_traffic_hooks(tmp_path):
    fleet = LocalFleet(tmp_path, ("a", "b"))
    lb = {"type": "haproxy", "socket": str(tmp_path / "haproxy.sock"), "backend": "web"}
    fleet.write_group(load_balancer=lb)
    code, out, err = cli("plan", "--group", str(fleet.group_path), "--bundle", str(fleet.revision("v1")))
    assert code == 0, err
    assert "BeforeBlockTraffic → [BlockTraffic] → AfterBlockTraffic → ApplicationStop → DownloadBundle" in out
    assert "ValidateService → BeforeAllowTraffic → [AllowTraffic] → AfterAllowTraffic\n" in out
    assert "in 3 steps of one host deployment" in out and "--with-load-balancer" not in out
    fleet.write_group(
        deployment_config="CodeDeployDefault.AllAtOnce", blue_green={"blue": ["a"], "green": ["b"]}
    )
    code, out, err = cli("plan", "--group", str(fleet.group_path), "--format", "json")
    plan = json.loads(out)
    assert plan["hosts"][0]["steps"][-1] == "BeforeAllowTraffic → [AllowTraffic] → AfterAllowTraffic"
    assert plan["blue_green"]["switch"] == [
        "BeforeAllowTraffic → [AllowTraffic] → AfterAllowTraffic on b",
        "BeforeBlockTraffic → [BlockTraffic] → AfterBlockTraffic on a",
    ]


def test_plan_refuses_a_revision_with_lint_errors(tmp_path):
    fleet = LocalFleet(tmp_path, ("a",))
    revision = fleet.revision("v1")
    (revision / "appspec.yml").write_text(
        (revision / "appspec.yml").read_text().replace("os: linux", "os: Linux")
    )
    code, out, _ = cli("plan", "--group", str(fleet.group_path), "--bundle", str(revision))
    assert code == 1 and "error" in out
    code, _, err = cli("deploy", "--group", str(fleet.group_path), "--bundle", str(revision))
    assert code == 1 and "nothing was deployed" in err and fleet.host_deployments("a") == []


def test_a_revision_with_a_setuid_file_is_refused_before_any_host_since_hosts_deploy_safe(tmp_path):
    fleet = LocalFleet(tmp_path, ("a",))
    revision = fleet.revision("v1")
    tool = revision / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o4755)
    code, _, err = cli("deploy", "--group", str(fleet.group_path), "--bundle", str(revision))
    assert code == 1 and "entry tool has the setuid bit" in err and "--safe" in err, err
    assert fleet.host_deployments("a") == []


def test_a_bundle_that_is_not_an_archive_is_an_input_error_named_once(tmp_path):
    fleet = LocalFleet(tmp_path, ("a",))
    fake = tmp_path / "notzip.zip"
    fake.write_text("not a zip\n")
    for verb in ("plan", "deploy", "check"):
        code, out, err = cli(verb, "--group", str(fleet.group_path), "--bundle", str(fake))
        assert code == 2, (verb, err)  # as `appspec lint notzip.zip`: not a revision at all
        assert err.count(str(fake)) == 1 and len(err.splitlines()) == 1, err
    assert fleet.host_deployments("a") == []


def test_history_and_show_list_the_deployments(tmp_path):
    fleet = LocalFleet(tmp_path, ("a", "b"))
    first = fleet.deploy("v1").deployment
    code, out, _ = cli("history", "--group", str(fleet.group_path))
    assert code == 0 and first.deployment_id in out and "2/2 ok" in out
    code, out, _ = cli("show", first.deployment_id, "--group", str(fleet.group_path), "--format", "json")
    assert code == 0 and json.loads(out)["deployment_id"] == first.deployment_id
    assert cli("show", "--group", str(fleet.group_path))[0] == 2


# A killed controller ----------------------------------------------------------------------------------------
def test_a_killed_controller_reads_as_interrupted_and_rollback_works_from_it(tmp_path):
    fleet = LocalFleet(tmp_path, ("a", "b"))
    fleet.deploy("v1")
    gate = Gate(tmp_path / "gates")
    revision = fleet.revision("v2", ApplicationStart=f'[ "$HOST_NAME" = a ] && {{\n{gate.hold}}}\n')
    controller = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "appspec_tools",
            "fleet",
            "deploy",
            "--group",
            str(fleet.group_path),
            "--bundle",
            str(revision),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        gate.wait_reached()
        _wait_recorded(fleet, "a", "ApplicationStart")  # the controller has written down where a is
        controller.send_signal(signal.SIGKILL)
        controller.wait(timeout=30)
        code, out, _ = cli("status", "--group", str(fleet.group_path))
        assert code == 0 and "interrupted during ApplicationStart" in out
    finally:
        gate.release()
        gate.close()
    _wait_host_lock_free(tmp_path / "hosts" / "a" / "root")  # the orphaned runner ends on its own
    with fleet.history() as history:
        interrupted = history.load(history.deployment_ids("App", "web")[0])
    assert interrupted.status == INTERRUPTED and statuses(interrupted) == {"a": INTERRUPTED, "b": SKIPPED}
    code, out, err = cli("rollback", "--group", str(fleet.group_path))
    assert code == 0, err + out
    assert fleet.installed("a") == "v1" and fleet.installed("b") == "v1"


def _wait_recorded(fleet: LocalFleet, host: str, event: str, timeout: float = 30.0) -> None:
    """Wait until the controller (another process) has recorded `event` as the host's current one."""
    deadline = time.monotonic() + timeout
    with fleet.history() as history:
        while True:
            running = history.holder("App", "web")
            rows = history.database.rows(  # the column an interruption's reason is made of
                "SELECT current_event FROM host_results WHERE deployment_id=? AND host=?", (running, host)
            )
            if rows and rows[0]["current_event"] == event:
                return
            assert time.monotonic() < deadline, f"the controller never recorded {host} in {event}"
            time.sleep(0.02)


def _wait_host_lock_free(root: Path, timeout: float = 60.0) -> None:
    """Wait for the host runner's flock to be released: the process holding it exits on its own (its
    controller is gone) and there is nothing to be notified by."""
    path = root / "deployment-instructions" / "web.lock"
    deadline = time.monotonic() + timeout
    while True:
        with open(path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
        assert time.monotonic() < deadline, "the orphaned runner kept the host lock"
        time.sleep(0.05)


# Traffic, with a real HAProxy ---------------------------------------------------------------------------------
def test_each_host_is_drained_between_the_block_hooks_and_put_back_between_the_allow_hooks(
    tmp_path, haproxy_binary
):
    haproxy = Haproxy(tmp_path, ("a", "b"), haproxy_binary)
    try:
        fleet = LocalFleet(tmp_path, ("a", "b"))
        fleet.extra_environment = {"HAPROXY_SOCKET": haproxy.socket}
        fleet.write_group(load_balancer={"type": "haproxy", "socket": haproxy.socket, "backend": "web"})
        assert fleet.deploy("v1").deployment.status == SUCCEEDED
        d = fleet.deploy("v2", BeforeInstall=query_state_hook()).deployment
        assert d.status == SUCCEEDED, d.message
        for host in ("a", "b"):
            events = [e.event for e in d.hosts[host].events]
            assert events == [  # CodeDeploy's order: the load balancer's work between the traffic hooks
                "BeforeBlockTraffic",
                "BlockTraffic",
                "AfterBlockTraffic",
                "ApplicationStop",
                "DownloadBundle",
                "BeforeInstall",
                "Install",
                "AfterInstall",
                "ApplicationStart",
                "ValidateService",
                "BeforeAllowTraffic",
                "AllowTraffic",
                "AfterAllowTraffic",
            ]
            assert int((fleet.out / f"state-BeforeInstall-{host}").read_text()) & DRAINED  # drained meanwhile
            assert haproxy.admin_state(host) & DRAINED == 0  # and back in service
        ran = fleet.ran("a")  # the traffic hooks ran (the Block ones from v1, the last successful install)
        assert ran.index("BeforeBlockTraffic") < ran.index("AfterBlockTraffic") < ran.index("ApplicationStop")
        assert ran[-2:] == ["BeforeAllowTraffic", "AfterAllowTraffic"]
    finally:
        haproxy.stop()


def version_hook(event: str) -> str:
    """sh lines: record which revision's script ran at `event` on this host, in $OUT/version-<host>."""
    return f'echo "{event} $VERSION $DEPLOYMENT_ID" >> "$OUT/version-$HOST_NAME"\n'


TRAFFIC_HOOKS = ("BeforeBlockTraffic", "AfterBlockTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")


def versions(fleet: LocalFleet, host: str) -> list:
    path = fleet.out / f"version-{host}"
    lines = path.read_text().splitlines() if path.exists() else []
    path.unlink(missing_ok=True)
    return [tuple(line.split()) for line in lines]


def blue_green_fleet(tmp_path, haproxy, auto_rollback=False, **blue_green) -> LocalFleet:
    """a, b blue and c, d green behind `haproxy`, AllAtOnce; the hooks can read HAProxy's state."""
    fleet = LocalFleet(
        tmp_path, ABCD, deployment_config="CodeDeployDefault.AllAtOnce", auto_rollback=auto_rollback
    )
    fleet.extra_environment = {"HAPROXY_SOCKET": haproxy.socket}
    fleet.write_group(
        load_balancer={"type": "haproxy", "socket": haproxy.socket, "backend": "web", "healthy_timeout": 20},
        blue_green={"blue": ["a", "b"], "green": ["c", "d"], **blue_green},
    )
    return fleet


def test_blue_green_runs_the_traffic_trios_and_rollback_switches_back_without_redeploying(
    tmp_path, haproxy_binary
):
    haproxy = Haproxy(tmp_path, ABCD, haproxy_binary)
    try:
        fleet = blue_green_fleet(tmp_path, haproxy, keep_blue_seconds=3600)
        hooks = {event: version_hook(event) for event in TRAFFIC_HOOKS}
        # every server starts in service; the replacements are taken out before their deployment
        d = fleet.deploy("v1", BeforeInstall=query_state_hook(), **hooks).deployment
        assert d.status == SUCCEEDED, d.message
        assert d.style == "BLUE_GREEN" and d.batches == [["c", "d"], ["a", "b"]]
        assert [fleet.installed(h) for h in ABCD] == [None, None, "v1", "v1"]  # only green was deployed to
        assert all(int((fleet.out / f"state-BeforeInstall-{h}").read_text()) & DRAINED for h in "cd")
        assert [e.event for e in d.hosts["c"].events][-4:] == [
            "ValidateService",
            "BeforeAllowTraffic",
            "AllowTraffic",
            "AfterAllowTraffic",
        ]
        assert [e.event for e in d.hosts["a"].events] == [
            "BeforeBlockTraffic",
            "BlockTraffic",
            "AfterBlockTraffic",
        ]
        assert all(haproxy.admin_state(h) & (DRAINED | MAINTENANCE) == 0 for h in "cd")
        assert all(haproxy.admin_state(h) & DRAINED for h in "ab")
        green_id = d.hosts["c"].host_deployment_id
        assert versions(fleet, "c") == [  # the new revision's scripts, in the same host deployment
            ("BeforeAllowTraffic", "v1", green_id),
            ("AfterAllowTraffic", "v1", green_id),
        ]
        assert versions(fleet, "a") == []  # blue never had a revision: its Block hooks are a no-op

        second = fleet.deploy("v2", **hooks).deployment  # green serves: blue is the replacement set
        assert second.status == SUCCEEDED and second.batches == [["a", "b"], ["c", "d"]]
        assert [h for h, _, _ in versions(fleet, "a")] == ["BeforeAllowTraffic", "AfterAllowTraffic"]
        assert [(h, v) for h, v, _ in versions(fleet, "c")] == [  # the originals' own last revision
            ("BeforeBlockTraffic", "v1"),
            ("AfterBlockTraffic", "v1"),
        ]
        deployments = {h: fleet.host_deployments(h) for h in ABCD}
        code, out, err = cli("rollback", "--group", str(fleet.group_path))
        assert code == 0, err + out
        assert all(haproxy.admin_state(h) & (DRAINED | MAINTENANCE) == 0 for h in "cd")
        assert all(haproxy.admin_state(h) & DRAINED for h in "ab")
        # the trios swap: the originals allow traffic with their last successful install's scripts (v1),
        # the replacements block it with their most recent install's (v2); nothing is redeployed
        assert [(h, v) for h, v, _ in versions(fleet, "c")] == [
            ("BeforeAllowTraffic", "v1"),
            ("AfterAllowTraffic", "v1"),
        ]
        assert [(h, v) for h, v, _ in versions(fleet, "a")] == [
            ("BeforeBlockTraffic", "v2"),
            ("AfterBlockTraffic", "v2"),
        ]
        assert [fleet.installed(h) for h in ABCD] == ["v2", "v2", "v1", "v1"]
        assert {h: len(fleet.host_deployments(h)) - len(deployments[h]) for h in ABCD} == dict.fromkeys(
            ABCD, 1
        )
        with fleet.history() as history:
            assert history.group_state("App", "web")["live_set"] == "green"
        fleet.write_group(blue_green={"blue": ["a", "b"], "green": ["c", "d"], "keep_blue_seconds": 0})
        third = fleet.deploy("v3").deployment  # green serves again: blue is the replacement set again
        assert third.status == SUCCEEDED and third.batches[0] == ["a", "b"]
        code, _, err = cli("rollback", "--group", str(fleet.group_path))
        assert code == 1 and "keep_blue_seconds" in err  # the originals are retired: no switch back
    finally:
        haproxy.stop()


def test_blue_green_a_failed_allow_hook_switches_traffic_back_to_the_originals(tmp_path, haproxy_binary):
    haproxy = Haproxy(tmp_path, ABCD, haproxy_binary)
    try:
        fleet = blue_green_fleet(tmp_path, haproxy, auto_rollback=True)
        assert fleet.deploy("v1").deployment.status == SUCCEEDED  # green (c, d) serves v1
        fleet.fail("AfterAllowTraffic", "b", version="v2")  # b is in service when its last hook fails
        run = fleet.deploy("v2")
        assert run.deployment.status == FAILED and "b" in run.deployment.message
        assert run.rollback is not None and run.rollback.status == SUCCEEDED, (
            run.rollback and run.rollback.message
        )
        assert all(haproxy.admin_state(h) & DRAINED for h in "ab"), "both replacements are out again"
        assert all(haproxy.admin_state(h) & (DRAINED | MAINTENANCE) == 0 for h in "cd")
        assert {h: o.status for h, o in run.rollback.hosts.items()} == {"a": SUCCEEDED, "b": SUCCEEDED}
    finally:
        haproxy.stop()


def test_blue_green_deploys_nothing_when_a_replacement_cannot_be_taken_out_of_the_load_balancer(
    tmp_path, haproxy_binary
):
    haproxy = Haproxy(tmp_path, ABCD, haproxy_binary)
    try:
        fleet = blue_green_fleet(tmp_path, haproxy)
        document = json.loads(fleet.group_path.read_text())
        document["hosts"][3]["lb_server"] = "no-such-server"  # d: not a server of the backend
        fleet.group_path.write_text(json.dumps(document))
        d = fleet.deploy("v1").deployment
        assert d.status == FAILED
        assert "cannot take the replacement hosts out of the load balancer: d:" in d.message
        assert "nothing was deployed" in d.message
        assert {o.status for o in d.hosts.values()} == {SKIPPED}
        assert all(fleet.host_deployments(h) == [] for h in ABCD)
    finally:
        haproxy.stop()


def test_jsonl_prints_each_event_as_it_happens_then_the_result(tmp_path):
    fleet = LocalFleet(tmp_path, ("a",))
    code, out, err = cli(
        "deploy", "--group", str(fleet.group_path), "--bundle", str(fleet.revision("v1")), "--format", "jsonl"
    )
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert {r["type"] for r in records[:-1]} == {"event-start", "event"}
    assert records[0]["event"] == "ApplicationStop" and records[0]["host"] == "a"
    assert records[-1]["type"] == "result" and records[-1]["deployment"]["status"] == SUCCEEDED
    assert records[-1]["rollback"] is None


# The timeline picture -------------------------------------------------------------------------------------
def test_timeline_writes_an_svg_of_the_deployment_and_an_html_page_for_show(tmp_path):
    import xml.etree.ElementTree as ET

    fleet = LocalFleet(tmp_path, ("a", "b"))
    svg_path = tmp_path / "report" / "deploy.svg"
    svg_path.parent.mkdir()
    group = str(fleet.group_path)
    code, out, err = cli(
        "deploy", "--group", group, "--bundle", str(fleet.revision("v1")), "--timeline", str(svg_path)
    )
    assert code == 0, err + out
    assert f"timeline: {svg_path}" in out
    texts = [e.text for e in ET.fromstring(svg_path.read_text()).iter() if e.text]
    assert "a" in texts and "b" in texts and any("ApplicationStart" in t for t in texts)
    with fleet.history() as history:
        deployment_id = history.deployment_ids("App", "web")[0]
    page = tmp_path / "report" / "show.html"
    code, out, err = cli("show", deployment_id, "--group", group, "--timeline", str(page), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["timeline"] == str(page)
    assert page.read_text().lstrip().lower().startswith("<!doctype html") and "<svg" in page.read_text()


@pytest.mark.parametrize(
    "name, complaint",
    [("deploy.png", "name an .svg picture or an .html page"), ("missing/deploy.svg", "does not exist")],
)
def test_a_timeline_that_cannot_be_written_is_refused_before_anything_is_deployed(tmp_path, name, complaint):
    fleet = LocalFleet(tmp_path, ("a",))
    bundle = str(fleet.revision("v1"))
    code, out, err = cli(
        "deploy", "--group", str(fleet.group_path), "--bundle", bundle, "--timeline", str(tmp_path / name)
    )
    assert code == 2 and complaint in err and "Traceback" not in err
    assert fleet.installed("a") is None and fleet.host_deployments("a") == []


def test_check_and_the_preflight_flags(tmp_path):
    fleet = LocalFleet(tmp_path, ("a", "b"))
    group = str(fleet.group_path)
    code, out, err = cli("check", "--group", group)
    assert code == 0 and out.startswith("check: 2 of 2 hosts of deployment group web answer"), err
    assert "nothing was changed" in out and fleet.host_deployments("a") == []
    code, _, err = cli("status", "--group", group, "--connect")
    assert code == 2 and err == (
        "appspec fleet status: unrecognized arguments: --connect (see `appspec fleet status --help`)\n"
    )
    code, _, err = cli("plan", "--group", group, "--no-preflight")
    assert code == 2 and "appspec fleet plan: unrecognized arguments: --no-preflight" in err
    code, out, _ = cli("plan", "--group", group, "--connect")
    assert code == 0 and "preflight: no problem; 2 host(s) answered over SSH" in out


def test_quiet_leaves_out_the_live_view_and_keeps_the_result(tmp_path):
    fleet = LocalFleet(tmp_path, ("a", "b"))
    code, out, err = cli(
        "deploy", "--group", str(fleet.group_path), "--bundle", str(fleet.revision("v1")), "-q"
    )
    assert code == 0, err
    assert "host a started" not in out and "DownloadBundle" not in out
    assert out.splitlines()[0].split() == ["HOST", "BATCH", "STATUS", "DURATION", "LAST", "EVENT", "REASON"]
    assert "succeeded in" in out.splitlines()[-1]
