"""Blue/green by the real controller and history over in-memory hosts and load balancer: the switch, the
sets swapping roles, a failed replacement, a refused BlockTraffic undone by auto_rollback, a stop during
the switch, and the rollback that moves traffic back without redeploying."""

from __future__ import annotations

from memory_support import (
    LIFECYCLE,
    memory_fleet_fixture,  # noqa: F401 - the fixture
    trio,
)

from agent_shim.fleet.contracts import FAILED, SKIPPED, STOPPED, SUCCEEDED
from agent_shim.fleet.group_state import serving_sets
from agent_shim.plan import BLUE_GREEN, ROLLBACK_CREATOR

REPLACEMENT = ["BlockTraffic", *LIFECYCLE, *trio("AllowTraffic")]  # taken out first: no hooks
ORIGINAL = trio("BlockTraffic")
SETS = (["a", "b"], ["c", "d"])


def test_a_deployment_moves_traffic_to_the_replacements_and_drains_the_originals(memory_fleet):
    fleet = memory_fleet("abcd", blue_green=SETS)
    run = fleet.deploy("v1")
    assert run.deployment.status == SUCCEEDED and run.deployment.style == BLUE_GREEN
    assert fleet.fleet.ran["c"] == REPLACEMENT and fleet.fleet.ran["a"] == ORIGINAL
    assert fleet.fleet.lb.takes_traffic() == ["c", "d"]
    sets = serving_sets(fleet.group, fleet.history)
    assert (sets.live, sets.serving, sets.idle) == ("green", ("c", "d"), ("a", "b"))
    assert fleet.version_on("c") == "v1" and fleet.version_on("a") == ""


def test_the_next_deployment_goes_to_the_other_set(memory_fleet):
    fleet = memory_fleet("abcd", blue_green=SETS)
    fleet.deploy("v1")
    second = fleet.deploy("v2").deployment
    assert second.status == SUCCEEDED
    assert fleet.version_on("a") == "v2" and fleet.version_on("c") == "v1"
    assert fleet.fleet.lb.takes_traffic() == ["a", "b"]
    assert serving_sets(fleet.group, fleet.history).live == "blue"


def test_a_failed_replacement_leaves_traffic_on_the_originals(memory_fleet):
    fleet = memory_fleet("abcd", blue_green=SETS)
    fleet.fleet.fail("ValidateService", "c")
    run = fleet.deploy("v1")
    assert run.deployment.status == FAILED
    assert fleet.statuses(run.deployment) == {"c": FAILED, "d": SKIPPED, "a": SKIPPED, "b": SKIPPED}
    assert run.deployment.hosts["a"].reason == "traffic never left the original hosts"
    assert run.deployment.message.endswith("; traffic stays on the original hosts (blue)")
    assert fleet.fleet.lb.takes_traffic() == ["a", "b"]
    assert fleet.fleet.ran["a"] == []


def test_a_refused_block_traffic_with_auto_rollback_puts_traffic_back_on_the_originals(memory_fleet):
    fleet = memory_fleet("abcd", blue_green=SETS, auto_rollback=True)
    fleet.fleet.lb.refuse("BlockTraffic", "a", "a is stuck")
    run = fleet.deploy("v1")
    assert run.deployment.status == FAILED and run.deployment.message == "the traffic switch failed on a"
    assert run.rollback is not None and run.rollback.creator == ROLLBACK_CREATOR
    assert run.rollback.status == SUCCEEDED
    assert fleet.fleet.lb.takes_traffic() == ["a", "b"]
    assert serving_sets(fleet.group, fleet.history).live == "blue"


def test_a_stop_during_the_switch_lets_the_trios_in_flight_finish_then_switches_back(memory_fleet):
    fleet = memory_fleet("abcd", blue_green=SETS)
    hold = fleet.fleet.hold("c", "BeforeAllowTraffic")
    deploying = fleet.deploy_in_background("v1")
    assert hold.reached.wait(10)
    deploying.controller.stop_signal.set()
    hold.release.set()
    run = deploying.finish()
    assert run.deployment.status == STOPPED
    assert fleet.fleet.ran["c"][-6:] == REPLACEMENT[-3:] + ORIGINAL, "its trio finished, then the switch back"
    assert fleet.fleet.ran["a"] == [], "the originals were never blocked"
    assert run.rollback is not None and sorted(run.rollback.hosts) == ["c", "d"]
    assert fleet.fleet.lb.takes_traffic() == ["a", "b"]


def test_a_rollback_switches_traffic_back_without_redeploying(memory_fleet):
    fleet = memory_fleet("abcd", blue_green=SETS)
    first = fleet.deploy("v1").deployment
    installs = fleet.fleet.ran["c"].count("Install")
    run = fleet.controller().rollback(first.deployment_id)
    assert run.rollback is not None and run.rollback.status == SUCCEEDED
    assert run.rollback.style == BLUE_GREEN and run.rollback.batches == [["a", "b"], ["c", "d"]]
    assert fleet.fleet.lb.takes_traffic() == ["a", "b"]
    assert fleet.fleet.ran["a"][-3:] == ["BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"]
    assert fleet.fleet.ran["c"].count("Install") == installs
    assert serving_sets(fleet.group, fleet.history).live == "blue"


def test_the_hosts_a_deployment_touches_are_the_replacements_in_deployment_order_then_the_originals(
    memory_fleet,
):
    fleet = memory_fleet("abcd", blue_green=SETS, config="CodeDeployDefault.AllAtOnce")
    fleet.fleet.fail("ValidateService", "d")
    assert fleet.deploy("v1").deployment.status == SUCCEEDED  # c is enough: traffic moves to green
    fleet.fleet.heal()
    assert fleet.deploy("v2").deployment.status == SUCCEEDED  # back to blue; d failed last time
    assert [spec.name for spec in fleet.controller().planned_hosts()] == ["d", "c", "a", "b"]
