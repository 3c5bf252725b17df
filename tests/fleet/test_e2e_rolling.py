"""End to end on 4 simulated hosts behind HAProxy, through `appspec fleet deploy --group`: a rolling
HalfAtATime deployment under steady load drops no request, and the deployment configurations stop,
go on or fail as CodeDeploy's minimum-healthy-hosts rule says."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.fleet, pytest.mark.slow]

HALF, ONE, ALL = (
    "CodeDeployDefault.HalfAtATime",
    "CodeDeployDefault.OneAtATime",
    "CodeDeployDefault.AllAtOnce",
)


@pytest.fixture
def on_v1(fleet, sample_bundles, cli):
    """Four hosts serving v1 through HAProxy; `group(config, **settings)` writes the group file."""

    def group(config: str, **settings) -> str:
        return fleet.write_group_file(deployment_config=config, **settings)

    first = cli.fleet("deploy", "--group", group(ALL), "--bundle", sample_bundles["v1"].path)
    assert first.code == 0, first.stderr
    assert cli.versions(fleet) == dict.fromkeys(["h1", "h2", "h3", "h4"], "1.0.0")
    return group


def test_half_at_a_time_under_load_drops_no_request(fleet, on_v1, sample_bundles, load, cli):
    traffic = load(fleet.url, rate=25, limit=120)
    done = cli.fleet("deploy", "--group", on_v1(HALF), "--bundle", sample_bundles["v2"].path)
    traffic.stop()
    assert done.code == 0, done.stderr
    assert done.deployment["status"] == "Succeeded"
    assert [len(batch) for batch in done.deployment["batches"]][:1] == [2]  # at most half at a time
    assert cli.versions(fleet) == dict.fromkeys(["h1", "h2", "h3", "h4"], "2.0.0")
    assert traffic.rate_achieved() >= 20 and len(traffic.results) >= 100
    assert traffic.failures == []
    assert cli.seen(traffic.results)[0] == "1.0.0" and cli.seen(traffic.results)[-1] == "2.0.0"
    assert fleet.load_balancer().healthy(fleet.specs) == dict.fromkeys(["h1", "h2", "h3", "h4"], True)


def test_a_broken_revision_stops_and_the_rollback_restores_every_host(fleet, on_v1, sample_bundles, cli):
    done = cli.fleet(
        "deploy", "--group", on_v1(HALF, auto_rollback=True), "--bundle", sample_bundles["broken"].path
    )
    assert done.code == 1
    statuses = done.statuses()
    assert done.deployment["status"] == "Failed"
    assert sorted(statuses.values()) == ["Failed", "Failed", "Skipped", "Skipped"]  # 2 of 4 must stay healthy
    failed = [name for name, status in statuses.items() if status == "Failed"]
    assert "ValidateService" in done.deployment["hosts"][failed[0]]["reason"]
    rollback = done.result["rollback"]
    assert rollback["status"] == "Succeeded" and rollback["rollback_of"] == done.deployment["deployment_id"]
    assert sorted(rollback["hosts"]) == sorted(failed)
    assert cli.versions(fleet) == dict.fromkeys(["h1", "h2", "h3", "h4"], "1.0.0")
    assert fleet.load_balancer().healthy(fleet.specs) == dict.fromkeys(["h1", "h2", "h3", "h4"], True)


def test_one_at_a_time_stops_at_the_first_failure(fleet, on_v1, sample_bundles, cli):
    done = cli.fleet("deploy", "--group", on_v1(ONE), "--bundle", sample_bundles["broken"].path)
    assert done.code == 1 and done.deployment["status"] == "Failed"
    assert [len(batch) for batch in done.deployment["batches"]] == [1]
    first = done.deployment["batches"][0][0]
    assert done.statuses() == {
        name: ("Failed" if name == first else "Skipped") for name in ["h1", "h2", "h3", "h4"]
    }
    assert {n: v for n, v in cli.versions(fleet).items() if n != first} == dict.fromkeys(
        {"h1", "h2", "h3", "h4"} - {first}, "1.0.0"
    )


def test_a_dead_host_is_refused_before_anything_changes(fleet, on_v1, sample_bundles, cli):
    fleet.kill_host("h3")
    group = on_v1(ALL, host_timeout=60)
    done = cli.fleet("deploy", "--group", group, "--bundle", sample_bundles["v2"].path)
    assert done.code == 2 and done.result == {}
    lines = done.stderr.splitlines()
    assert len(lines) == 2 and "Traceback" not in done.stderr
    assert lines[0].startswith(f"{group}:") and ": host h3: ssh 10.213." in lines[0] or "127.0.1." in lines[0]
    assert "is sshd running there?" in lines[0] and "nothing was deployed" in lines[1]
    assert cli.versions(fleet, ["h1", "h2", "h4"]) == dict.fromkeys(["h1", "h2", "h4"], "1.0.0")
    history = cli.fleet("history", "--group", group)
    assert len(history.result) == 1  # only v1's deployment: the refused one was never recorded


def test_all_at_once_without_preflight_succeeds_while_one_host_is_down(fleet, on_v1, sample_bundles, cli):
    fleet.kill_host("h3")
    group = on_v1(ALL, host_timeout=60)
    done = cli.fleet("deploy", "--group", group, "--bundle", sample_bundles["v2"].path, "--no-preflight")
    assert done.code == 0, done.stderr
    assert done.deployment["batches"] == [["h1", "h2", "h3", "h4"]] or len(done.deployment["batches"]) == 1
    assert done.statuses() == {"h1": "Succeeded", "h2": "Succeeded", "h3": "Failed", "h4": "Succeeded"}
    assert (
        "h3" in done.deployment["hosts"]["h3"]["reason"]
        and "refused" in done.deployment["hosts"]["h3"]["reason"]
    )
    assert cli.versions(fleet, ["h1", "h2", "h4"]) == dict.fromkeys(["h1", "h2", "h4"], "2.0.0")


def test_minimum_healthy_three_of_four_goes_one_by_one_and_stops_at_a_dead_host(
    fleet, on_v1, sample_bundles, cli
):
    three = {"minimum_healthy_hosts": {"type": "HOST_COUNT", "value": 3}}
    done = cli.fleet("deploy", "--group", on_v1(three), "--bundle", sample_bundles["v2"].path)
    assert done.code == 0, done.stderr
    assert [len(batch) for batch in done.deployment["batches"]] == [1, 1, 1, 1]
    assert cli.versions(fleet) == dict.fromkeys(["h1", "h2", "h3", "h4"], "2.0.0")

    fleet.kill_host("h3")
    again = cli.fleet(
        "deploy", "--group", on_v1(three), "--bundle", sample_bundles["v1"].path, "--no-preflight"
    )
    assert again.code == 1 and again.deployment["status"] == "Failed"
    statuses = again.statuses()
    assert statuses["h3"] == "Failed" and list(statuses.values()).count("Failed") == 1
    assert list(statuses.values()).count("Skipped") == 4 - 1 - list(statuses.values()).count("Succeeded")
