"""A failed BlockTraffic or AllowTraffic fails the host, on `local` hosts behind a real HAProxy whose
health check a test can make fail: in a rolling deployment, in `sync`, in a blue/green switch and in its
switch back. The host's event carries error code 5 and the load balancer's answer, the host counts
against the minimum healthy hosts, the revision never becomes the group's last good one, and the traffic
record says which hosts serve."""

from __future__ import annotations

import io
import json

import pytest
from controller_support import DRAINED, MAINTENANCE, Haproxy, LocalFleet

from agent_shim.fleet.contracts import FAILED, SKIPPED, SUCCEEDED
from appspec_tools.cli import main

pytestmark = [pytest.mark.fleet, pytest.mark.slow]
ABCD = ("a", "b", "c", "d")


def cli(*argv: str):
    out, err = io.StringIO(), io.StringIO()
    code = main(["fleet", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def haproxy(tmp_path, haproxy_binary):
    server = Haproxy(tmp_path, ABCD, haproxy_binary)
    yield server
    server.stop()


def behind(fleet: LocalFleet, haproxy: Haproxy, **settings) -> LocalFleet:
    fleet.write_group(
        load_balancer={"type": "haproxy", "socket": haproxy.socket, "backend": "web", "healthy_timeout": 20},
        health_check=Haproxy.HEALTH_CHECK,  # the same check HAProxy runs: the adapter's verdict agrees
        **settings,
    )
    return fleet


def last_good(fleet: LocalFleet) -> str:
    with fleet.history() as history:
        return history.group_state("App", "web")["last_good"]


def traffic(fleet: LocalFleet) -> dict:
    with fleet.history() as history:
        return {h: r.state for h, r in history.traffic("App", "web").items()}


def test_a_failed_allow_traffic_fails_the_host_stops_the_rollout_and_is_never_last_good(tmp_path, haproxy):
    fleet = behind(LocalFleet(tmp_path, ABCD), haproxy)
    good = fleet.deploy("v1").deployment
    assert good.status == SUCCEEDED
    haproxy.fail_health("a")  # the host's own hooks pass; the load balancer's check does not
    d = fleet.deploy("v2").deployment
    assert d.status == FAILED and d.batches == [["a"]]
    assert {h: o.status for h, o in d.hosts.items()} == {
        "a": FAILED,
        "b": SKIPPED,
        "c": SKIPPED,
        "d": SKIPPED,
    }
    allow = d.hosts["a"].events[-1]
    assert (allow.event, allow.status, allow.error_code, allow.error_name) == (
        "AllowTraffic",
        FAILED,
        5,
        "UnknownError",
    )
    assert "web/a failed its health check" in allow.message and "HTTP status 500" in allow.message
    assert d.hosts["a"].reason.startswith("AllowTraffic failed: ")
    assert last_good(fleet) == good.deployment_id
    assert haproxy.admin_state("a") & DRAINED, "taken back out of the load balancer"
    assert traffic(fleet) == {"a": "out", "b": "in", "c": "in", "d": "in"}
    assert fleet.installed("a") == "v2" and fleet.installed("b") == "v1"


def test_a_failed_allow_traffic_triggers_the_automatic_rollback(tmp_path, haproxy):
    fleet = behind(LocalFleet(tmp_path, ABCD), haproxy, auto_rollback=True)
    good = fleet.deploy("v1").deployment
    haproxy.fail_health("a")
    run = fleet.deploy("v2")
    assert run.deployment.status == FAILED
    assert run.rollback is not None and list(run.rollback.hosts) == ["a"]
    # a's check still fails, so the rollback's own AllowTraffic fails too: said, not hidden
    assert run.rollback.status == FAILED and "AllowTraffic failed" in run.rollback.hosts["a"].reason
    haproxy.fail_health("a", False)
    code, out, err = cli("sync", "a", "--group", str(fleet.group_path), "--format", "json")
    assert code == 0, err + out
    assert fleet.installed("a") == "v1"
    with fleet.history() as history:  # the sync of v1 is the last good one now; v2 never was
        checksum = history.row(last_good(fleet))["revision_checksum"]
        assert checksum == history.row(good.deployment_id)["revision_checksum"]
    assert traffic(fleet) == dict.fromkeys(ABCD, "in")


def test_sync_fails_when_its_allow_traffic_fails(tmp_path, haproxy):
    fleet = behind(LocalFleet(tmp_path, ("a", "b")), haproxy)
    assert fleet.deploy("v1").deployment.status == SUCCEEDED
    haproxy.fail_health("b")
    code, out, err = cli("sync", "b", "--group", str(fleet.group_path), "--format", "json")
    assert code == 1, err
    host = json.loads(out)["deployment"]["hosts"]["b"]
    assert host["status"] == FAILED and host["reason"].startswith(
        "AllowTraffic failed: web/b failed its health check"
    )
    code, out, _ = cli("status", "--group", str(fleet.group_path), "--format", "json")
    problems = json.loads(out)["traffic"]["problems"]
    assert len(problems) == 1 and problems[0].startswith("b is out of the load balancer since BlockTraffic")
    assert "appspec fleet sync b" in problems[0]


def test_a_failed_block_traffic_fails_the_host_before_anything_is_deployed(tmp_path, haproxy):
    fleet = behind(LocalFleet(tmp_path, ("a", "b")), haproxy)
    assert fleet.deploy("v1").deployment.status == SUCCEEDED
    haproxy.set_state("a", "maint")  # an operator's maintenance: HAProxy refuses nothing, but
    # `del server` leaves no server to drain: the load balancer answers no
    from agent_shim.fleet.lb import haproxy_command

    assert haproxy_command(haproxy.socket, "del server web/a").strip() == "Server deleted."
    d = fleet.deploy("v2").deployment
    assert d.status == FAILED and d.hosts["a"].status == FAILED and d.hosts["b"].status == SKIPPED
    assert [e.event for e in d.hosts["a"].events] == ["BeforeBlockTraffic", "BlockTraffic"]
    assert "HAProxy refused" in d.hosts["a"].reason
    assert fleet.installed("a") == "v1"


def blue_green(tmp_path, haproxy, **settings) -> LocalFleet:
    fleet = LocalFleet(tmp_path, ABCD, deployment_config="CodeDeployDefault.AllAtOnce")
    return behind(fleet, haproxy, blue_green={"blue": ["a", "b"], "green": ["c", "d"]}, **settings)


def test_blue_green_a_replacement_failing_the_load_balancer_check_fails_the_switch(tmp_path, haproxy):
    fleet = blue_green(tmp_path, haproxy, auto_rollback=True)
    assert fleet.deploy("v1").deployment.status == SUCCEEDED  # green (c, d) serves v1
    good = last_good(fleet)
    haproxy.fail_health("a")
    run = fleet.deploy("v2")
    d = run.deployment
    assert d.status == FAILED and "the traffic switch failed on a" in d.message
    assert d.hosts["a"].events[-1].event == "AllowTraffic" and d.hosts["a"].events[-1].error_code == 5
    assert {h: d.hosts[h].status for h in ("c", "d")} == {"c": SKIPPED, "d": SKIPPED}  # never drained
    assert run.rollback is not None and run.rollback.status == SUCCEEDED
    assert last_good(fleet) == good
    assert all(haproxy.admin_state(h) & DRAINED for h in "ab")
    assert all(haproxy.admin_state(h) & (DRAINED | MAINTENANCE) == 0 for h in "cd")
    assert traffic(fleet) == {"a": "out", "b": "out", "c": "in", "d": "in"}


def test_blue_green_a_failed_switch_without_rollback_says_which_hosts_serve(tmp_path, haproxy):
    fleet = blue_green(tmp_path, haproxy)
    assert fleet.deploy("v1").deployment.status == SUCCEEDED
    haproxy.fail_health("a")
    run = fleet.deploy("v2")
    assert run.deployment.status == FAILED
    assert any(
        note.startswith("traffic is split: b (new revision) and c, d (previous) serve") for note in run.notes
    )
    code, out, err = cli("rollback", "--group", str(fleet.group_path))
    assert code == 0, err + out
    assert traffic(fleet) == {"a": "out", "b": "out", "c": "in", "d": "in"}


def test_blue_green_a_switch_back_whose_allow_traffic_fails_is_a_failed_rollback(tmp_path, haproxy):
    fleet = blue_green(tmp_path, haproxy)
    assert fleet.deploy("v1").deployment.status == SUCCEEDED
    assert fleet.deploy("v2").deployment.status == SUCCEEDED  # blue (a, b) serves v2
    haproxy.fail_health("c")
    code, out, err = cli("rollback", "--group", str(fleet.group_path), "--format", "json")
    assert code == 1, err
    rollback = json.loads(out)["deployment"]
    assert rollback["status"] == FAILED and rollback["hosts"]["c"]["status"] == FAILED
    assert "AllowTraffic failed" in rollback["hosts"]["c"]["reason"]
    assert traffic(fleet)["c"] == "out" and traffic(fleet)["a"] == "in"  # blue still serves


def test_the_group_health_check_reaches_every_hook_as_its_default(tmp_path):
    fleet = LocalFleet(tmp_path, ("a",))
    fleet.write_group(
        health_check={"path": "/ready", "interval": 1, "timeout": 0.5, "success_codes": "200,204"}
    )
    hook = 'echo "$HOOKS_DEFAULT_HEALTH_PATH $HOOKS_DEFAULT_HEALTH_SUCCESS_CODES $HOOKS_DEFAULT_HEALTH_TIMEOUT" > "$OUT/defaults"\n'
    assert fleet.deploy("v1", ValidateService=hook).deployment.status == SUCCEEDED
    assert (fleet.out / "defaults").read_text().split() == ["/ready", "200,204", "0.5"]
