"""End to end, blue/green on 4 simulated hosts behind HAProxy: each deployment goes to the idle set and
switches traffic to it (the AllowTraffic trio on the replacements, then the BlockTraffic trio on the
originals); a rollback switches back. Under steady load, no request fails across the switches."""

from __future__ import annotations

import time

import pytest

pytestmark = [pytest.mark.fleet, pytest.mark.slow]

BLUE, GREEN = ["h1", "h2"], ["h3", "h4"]


def serving(fleet):
    healthy = fleet.load_balancer().healthy(fleet.specs)
    return sorted(name for name, ok in healthy.items() if ok)


def test_blue_green_switches_traffic_and_switches_back(fleet, sample_bundles, load, cli):
    group = fleet.write_group_file(
        deployment_config="CodeDeployDefault.AllAtOnce",
        blue_green={"blue": BLUE, "green": GREEN, "keep_blue_seconds": 3600},
    )
    first = cli.fleet("deploy", "--group", group, "--bundle", sample_bundles["v1"].path)
    assert first.code == 0, first.stderr
    live, idle = serving(fleet), BLUE
    assert live == GREEN  # green was deployed to; blue, which had nothing, is out of the load balancer
    assert cli.versions(fleet, live) == dict.fromkeys(live, "1.0.0")

    traffic = load(fleet.url, rate=25, limit=120)
    time.sleep(1)
    switching = time.time()
    second = cli.fleet("deploy", "--group", group, "--bundle", sample_bundles["v2"].path)
    switched = time.time()
    assert second.code == 0, second.stderr
    assert second.deployment["style"] == "BLUE_GREEN"
    assert serving(fleet) == idle  # the replacements serve, the originals are out
    assert cli.versions(fleet, idle) == dict.fromkeys(idle, "2.0.0")
    assert cli.versions(fleet, live) == dict.fromkeys(live, "1.0.0")  # kept for keep_blue_seconds
    time.sleep(1)

    back_at = time.time()
    back = cli.fleet("rollback", "--group", group)
    back_done = time.time()
    time.sleep(1)
    traffic.stop()
    assert back.code == 0, back.stderr
    assert back.result["deployment"]["rollback_of"] == second.deployment["deployment_id"]
    assert serving(fleet) == live
    assert traffic.failures == []
    assert traffic.rate_achieved() >= 20

    def versions(start, end):
        return set(cli.seen([r for r in traffic.results if start <= r[0] < end]))

    assert versions(0, switching) == {"1.0.0"}
    assert versions(switched, back_at) == {"2.0.0"}  # both sets serve only during a switch
    assert versions(back_done, float("inf")) == {"1.0.0"}
