"""End to end, after the fact: a fifth host joins and is synced to the group's last good revision; a
controller killed mid-deploy leaves a record that `status` reports and `rollback` repairs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.fleet, pytest.mark.slow]

FOUR = ["h1", "h2", "h3", "h4"]


def test_a_fifth_host_is_synced_to_the_last_good_revision(fleet, sample_bundles, cli):
    group = fleet.write_group_file(deployment_config="CodeDeployDefault.AllAtOnce")
    assert cli.fleet("deploy", "--group", group, "--bundle", sample_bundles["v2"].path).code == 0
    fleet.add_host()
    group = fleet.write_group_file(deployment_config="CodeDeployDefault.AllAtOnce")
    synced = cli.fleet("sync", "h5", "--group", group)
    assert synced.code == 0, synced.stderr
    assert synced.statuses() == {"h5": "Succeeded"}
    assert cli.versions(fleet) == dict.fromkeys([*FOUR, "h5"], "2.0.0")
    assert fleet.load_balancer().healthy(fleet.specs) == dict.fromkeys([*FOUR, "h5"], True)


def test_a_killed_controller_is_reported_and_rolled_back(fleet, sample_bundles, cli):
    group = fleet.write_group_file(deployment_config="CodeDeployDefault.AllAtOnce")
    assert cli.fleet("deploy", "--group", group, "--bundle", sample_bundles["v1"].path).code == 0
    group = fleet.write_group_file(deployment_config="CodeDeployDefault.OneAtATime")
    controller = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "appspec_tools",
            "fleet",
            "deploy",
            "--group",
            group,
            "--bundle",
            sample_bundles["v2"].path,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        lines = []
        for line in controller.stdout:  # the live view: kill it once the second host is under way
            lines.append(line)
            if "host" in line and "started (batch 2)" in line:
                break
        time.sleep(0.5)
    finally:
        os.killpg(controller.pid, signal.SIGKILL)
        controller.wait(timeout=10)
    assert any("started (batch 2)" in line for line in lines), "".join(lines)

    status = cli.fleet("status", "--group", group)
    assert status.code == 0, status.stderr
    record = status.result
    assert record["status"] == "Interrupted", record
    assert record["hosts"][record["batches"][0][0]]["status"] == "Succeeded"
    in_flight = record["batches"][1][0]
    assert record["hosts"][in_flight]["status"] in ("Interrupted", "InProgress", "Failed")

    rolled = cli.fleet("rollback", "--group", group)
    assert rolled.code == 0, rolled.stderr
    assert rolled.result["deployment"]["rollback_of"] == record["deployment_id"]
    assert cli.versions(fleet) == dict.fromkeys(FOUR, "1.0.0")
    assert fleet.load_balancer().healthy(fleet.specs) == dict.fromkeys(FOUR, True)
