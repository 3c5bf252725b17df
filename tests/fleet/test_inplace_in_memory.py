"""In-place deployments, rollbacks and syncs by the real controller and history over in-memory hosts and
load balancer (no processes, no sockets): CodeDeploy's order of events, the load balancer's failures,
automatic and manual rollback, a stop while a host is in flight."""

from __future__ import annotations

from memory_support import (
    LIFECYCLE,
    memory_fleet_fixture,  # noqa: F401 - the fixture
    trio,
)

from agent_shim.fleet.contracts import FAILED, SKIPPED, STOPPED, SUCCEEDED
from agent_shim.plan import ROLLBACK_CREATOR

WITH_LB = [*trio("BlockTraffic"), *LIFECYCLE, *trio("AllowTraffic")]


def test_each_host_runs_codedeploys_order_with_the_load_balancers_steps_between_its_hooks(memory_fleet):
    fleet = memory_fleet(["a", "b"])
    run = fleet.deploy("v1")
    assert run.deployment.status == SUCCEEDED
    assert fleet.fleet.ran["a"] == WITH_LB and fleet.fleet.ran["b"] == WITH_LB
    assert fleet.version_on("a") == "v1"
    assert [e.event for e in run.deployment.hosts["a"].events] == WITH_LB


def test_without_a_load_balancer_the_lifecycle_is_one_step_with_no_traffic_events(memory_fleet):
    fleet = memory_fleet(["a"], load_balancer=False)
    assert fleet.deploy("v1").deployment.status == SUCCEEDED
    assert fleet.fleet.ran["a"] == [e for e in WITH_LB if "Traffic" not in e]


def test_a_refused_allow_traffic_fails_the_host_takes_it_back_out_and_stops_the_rollout(memory_fleet):
    fleet = memory_fleet(["a", "b", "c"])
    fleet.fleet.lb.refuse("AllowTraffic", "a", "a failed its health check")
    run = fleet.deploy("v1")
    a = run.deployment.hosts["a"]
    assert run.deployment.status == FAILED
    assert (
        a.reason
        == "AllowTraffic failed: a failed its health check; the host was taken back out of the load balancer"
    )
    assert a.events[-1].event == "AllowTraffic" and a.events[-1].error_code == 5
    assert fleet.statuses(run.deployment) == {"a": FAILED, "b": SKIPPED, "c": SKIPPED}
    assert fleet.history.traffic("App", "web")["a"].state == "out"
    assert "AfterAllowTraffic" not in fleet.fleet.ran["a"]


def test_auto_rollback_redeploys_the_last_good_revision_to_the_hosts_the_failure_reached(memory_fleet):
    fleet = memory_fleet(["a", "b", "c", "d"], config="CodeDeployDefault.HalfAtATime", auto_rollback=True)
    assert fleet.deploy("v1").deployment.status == SUCCEEDED
    fleet.fleet.fail("ValidateService", "a", "b")
    run = fleet.deploy("v2")
    assert run.deployment.status == FAILED
    assert run.rollback is not None and run.rollback.creator == ROLLBACK_CREATOR
    assert run.rollback.rollback_of == run.deployment.deployment_id
    reached = [n for n, o in run.deployment.hosts.items() if o.status != SKIPPED]
    assert sorted(run.rollback.hosts) == sorted(reached)
    fleet.fleet.heal()
    assert {n: fleet.version_on(n) for n in "abcd"} == {"a": "v1", "b": "v1", "c": "v1", "d": "v1"}
    assert fleet.history.last_good("App", "web") != run.deployment.deployment_id


def test_a_host_that_cannot_be_reached_fails_alone_and_is_not_rolled_back(memory_fleet):
    fleet = memory_fleet(["a", "b"], config="CodeDeployDefault.AllAtOnce", auto_rollback=True)
    assert fleet.deploy("v1").deployment.status == SUCCEEDED
    fleet.fleet.unreachable.add("a")
    fleet.fleet.fail("ApplicationStart", "b")
    run = fleet.deploy("v2")
    assert run.deployment.hosts["a"].reason.startswith("cannot prepare the host: ssh a (a.in-memory)")
    assert run.rollback is not None and list(run.rollback.hosts) == ["b"]


def test_a_stop_while_a_host_is_in_flight_lets_it_finish_and_skips_the_others(memory_fleet):
    fleet = memory_fleet(["a", "b", "c"])
    hold = fleet.fleet.hold("a", "ApplicationStart")
    deploying = fleet.deploy_in_background("v1")
    assert hold.reached.wait(10)
    deploying.controller.stop_signal.set()
    hold.release.set()
    deployment = deploying.finish().deployment
    assert deployment.status == STOPPED
    assert fleet.statuses(deployment) == {"a": SUCCEEDED, "b": SKIPPED, "c": SKIPPED}
    assert deployment.hosts["b"].reason == "not attempted: the deployment was stopped"
    assert fleet.fleet.ran["b"] == []


def test_a_manual_rollback_redeploys_the_revision_before_the_latest(memory_fleet):
    fleet = memory_fleet(["a", "b"])
    fleet.deploy("v1")
    second = fleet.deploy("v2").deployment
    assert fleet.version_on("a") == "v2"
    run = fleet.controller().rollback(second.deployment_id)
    assert run.rollback is not None and run.rollback.status == SUCCEEDED
    assert fleet.version_on("a") == "v1" and fleet.version_on("b") == "v1"


def test_sync_gives_one_host_the_last_good_revision_even_in_a_half_at_a_time_group(memory_fleet):
    fleet = memory_fleet(["a", "b", "c", "d"], config="CodeDeployDefault.HalfAtATime")
    fleet.deploy("v1")
    fleet.fleet.installed.pop("d")
    run = fleet.controller().sync("d")  # m' = max(0, 2 − 3 untouched hosts) = 0: d alone may go
    assert run.deployment.status == SUCCEEDED and list(run.deployment.hosts) == ["d"]
    assert fleet.version_on("d") == "v1"
    assert fleet.fleet.ran["d"][-3:] == ["BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"]
