"""The one scheduling rule (scheduling.schedule through group_state.schedule_for) as the controller
applies it to in-memory hosts: how many run at once, who goes first, and the dry run showing the same."""

from __future__ import annotations

from memory_support import memory_fleet_fixture  # noqa: F401 - the fixture

from agent_shim.fleet import dryrun
from agent_shim.fleet.contracts import FAILED, SUCCEEDED
from agent_shim.fleet.group_state import schedule_for


def test_one_at_a_time_never_runs_two_hosts_at_once(memory_fleet):
    fleet = memory_fleet(["a", "b", "c", "d", "e"])
    run = fleet.deploy("v1")
    assert run.deployment.status == SUCCEEDED
    assert run.deployment.batches == [["a"], ["b"], ["c"], ["d"], ["e"]]
    assert fleet.fleet.most_running == 1


def test_half_at_a_time_starts_half_the_hosts_and_no_more_while_they_run(memory_fleet):
    fleet = memory_fleet(["a", "b", "c", "d"], config="CodeDeployDefault.HalfAtATime")
    holds = [fleet.fleet.hold(name, "ApplicationStart") for name in ("a", "b")]
    deploying = fleet.deploy_in_background("v1")
    for hold in holds:
        assert hold.reached.wait(10)
    assert fleet.fleet.ran["c"] == [] and fleet.fleet.ran["d"] == []
    for hold in holds:
        hold.release.set()
    deployment = deploying.finish().deployment
    assert deployment.status == SUCCEEDED and deployment.batches[0] == ["a", "b"]
    assert fleet.fleet.most_running == 2


def test_hosts_whose_last_deployment_failed_go_first(memory_fleet):
    fleet = memory_fleet(["a", "b", "c"], config="CodeDeployDefault.AllAtOnce")
    fleet.fleet.fail("AfterInstall", "c")
    assert fleet.statuses(fleet.deploy("v1").deployment)["c"] == FAILED
    fleet.fleet.heal()
    order = schedule_for(fleet.group, fleet.history, ["a", "b", "c"]).order
    assert order == ("c", "a", "b")
    assert fleet.deploy("v2").deployment.batches == [["c", "a", "b"]]


def test_a_host_left_out_of_the_load_balancer_goes_first_and_costs_no_capacity(memory_fleet):
    fleet = memory_fleet(["a", "b", "c"])
    fleet.fleet.lb.serving["c"] = False
    fleet.history.set_traffic("App", "web", "c", "out", "d-EARLIER00", "BlockTraffic")
    plan = schedule_for(fleet.group, fleet.history, ["a", "b", "c"])
    assert plan.order[0] == "c" and plan.down == ("c",) and plan.minimum == 2
    assert plan.window().start_next() == ["c"], "c costs nothing, a would leave fewer than 2 healthy"
    run = fleet.deploy("v2")
    assert run.deployment.batches[0] == ["c"]
    assert any(
        note.startswith("c: out of the load balancer since an earlier deployment") for note in run.notes
    )


def test_the_dry_run_shows_the_order_and_batches_the_deployment_runs(memory_fleet):
    fleet = memory_fleet(["a", "b", "c"])
    fleet.history.set_traffic("App", "web", "b", "out", "d-EARLIER00", "BlockTraffic")
    plan = dryrun.build_plan(fleet.controller(), None, None)
    run = fleet.deploy("v1")
    assert [host["host"] for host in plan["hosts"]] == list(run.deployment.hosts)
    assert plan["batches"] == run.deployment.batches == [["b"], ["a"], ["c"]]


def test_a_blue_green_replacement_set_is_scheduled_as_a_fleet_of_its_own(memory_fleet):
    fleet = memory_fleet(
        ["a", "b", "c", "d"], config="CodeDeployDefault.HalfAtATime", blue_green=(["a", "b"], ["c", "d"])
    )
    fleet.history.set_traffic("App", "web", "d", "out", "d-EARLIER00", "BlockTraffic")
    plan = schedule_for(fleet.group, fleet.history, ["c", "d"], replacement_set=True)
    assert plan.order == ("c", "d") and plan.minimum == 1 and plan.down == ()
