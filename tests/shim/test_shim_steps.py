"""A deployment run in steps (`--deployment-id` + `--exact-events`), as the fleet controller runs it so
that the load balancer's BlockTraffic and AllowTraffic happen between the traffic hooks."""

import os
import subprocess
import sys

import pytest

TRAFFIC_ORDER = [
    "BeforeBlockTraffic",
    "AfterBlockTraffic",
    "ApplicationStop",
    "BeforeInstall",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
]
STEPS = [
    "BeforeBlockTraffic",
    "AfterBlockTraffic,ApplicationStop,DownloadBundle,BeforeInstall,Install,AfterInstall,ApplicationStart,"
    "ValidateService,BeforeAllowTraffic",
    "AfterAllowTraffic",
]


def deploy(*args, root):
    argv = [
        sys.executable,
        "-m",
        "appspec_tools",
        "deploy",
        "--root",
        str(root),
        "--file-exists-behavior",
        "OVERWRITE",
    ]
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=60)


@pytest.fixture
def revision(tmp_path):
    folder = tmp_path / "rev"
    folder.mkdir()
    record = tmp_path / "order.txt"
    hooks = "".join(f"  {event}:\n    - location: hook.sh\n" for event in TRAFFIC_ORDER)
    (folder / "appspec.yml").write_text(f"version: 0.0\nos: linux\nhooks:\n{hooks}")
    (folder / "hook.sh").write_text(f'#!/bin/sh\necho "$LIFECYCLE_EVENT $DEPLOYMENT_ID" >> {record}\n')
    (folder / "hook.sh").chmod(0o755)
    return folder, record


def test_three_steps_run_every_traffic_hook_in_codedeploys_order_in_one_deployment(revision, tmp_path):
    folder, record = revision
    root = tmp_path / "root"
    assert deploy("--bundle", str(folder), "--with-load-balancer", root=root).returncode == 0
    record.write_text("")
    for step in STEPS:
        result = deploy(
            "--bundle",
            str(folder),
            "--deployment-id",
            "d-STEPS0001",
            "--events",
            step,
            "--exact-events",
            root=root,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    lines = record.read_text().splitlines()
    assert lines == [f"{event} d-STEPS0001" for event in TRAFFIC_ORDER]
    log = (root / "default-local-deployment-group" / "d-STEPS0001" / "logs" / "scripts.log").read_text()
    assert [line.split(" - ")[1] for line in log.splitlines() if "LifecycleEvent - " in line] == TRAFFIC_ORDER


def test_a_step_before_the_download_is_not_remembered_as_a_good_revision(revision, tmp_path):
    folder, _ = revision
    root = tmp_path / "root"
    result = deploy(
        "--bundle",
        str(folder),
        "--deployment-id",
        "d-STEPS0002",
        "--events",
        "BeforeBlockTraffic",
        "--exact-events",
        root=root,
    )
    assert result.returncode == 0
    record = (
        root / "deployment-instructions" / "default-local-deployment-group_last_successful_deployment.json"
    )
    assert not record.exists()


def test_exact_events_need_events_and_keep_the_stop_events_first(revision, tmp_path):
    folder, _ = revision
    root = tmp_path / "root"
    result = deploy("--bundle", str(folder), "--exact-events", root=root)
    assert result.returncode == 2 and "--exact-events needs --events" in result.stderr
    result = deploy(
        "--bundle", str(folder), "--events", "BeforeInstall,ApplicationStop", "--exact-events", root=root
    )
    assert result.returncode == 2 and "must come before" in result.stderr
    assert not os.path.exists(root / "default-local-deployment-group")


def versioned(tmp_path, version, fail_at=""):
    """A revision whose hooks record `<event> <version>`; `fail_at` fails that event."""
    folder = tmp_path / version
    folder.mkdir()
    record = tmp_path / "versions.txt"
    hooks = "".join(f"  {event}:\n    - location: hook.sh\n" for event in TRAFFIC_ORDER)
    (folder / "appspec.yml").write_text(f"version: 0.0\nos: linux\nhooks:\n{hooks}")
    fail = f'[ "$LIFECYCLE_EVENT" = "{fail_at}" ] && exit 4\n' if fail_at else ""
    (folder / "hook.sh").write_text(
        f'#!/bin/sh\necho "$LIFECYCLE_EVENT {version}" >> {record}\n{fail}exit 0\n'
    )
    (folder / "hook.sh").chmod(0o755)
    return folder, record


def test_a_blue_green_rollback_takes_the_block_hooks_from_the_most_recent_install(tmp_path):
    root = tmp_path / "root"
    good, record = versioned(tmp_path, "v1")
    broken, _ = versioned(tmp_path, "v2", fail_at="BeforeInstall")
    assert deploy("--bundle", str(good), root=root).returncode == 0
    assert deploy("--bundle", str(broken), root=root).returncode == 1  # downloaded, never installed
    record.write_text("")
    rollback = ("--creator", "codeDeployRollback", "--deployment-type", "BLUE_GREEN")

    def step(event, deployment_id, *options):
        events = ("--deployment-id", deployment_id, "--events", event, "--exact-events")
        return deploy("--bundle", str(good), *events, *options, root=root)

    for number, event in enumerate(["BeforeBlockTraffic", "BeforeAllowTraffic", "ApplicationStop"]):
        result = step(event, f"d-BGROLL00{number}", *rollback)
        assert result.returncode == 0, result.stdout + result.stderr
    assert step("BeforeBlockTraffic", "d-INPLACE00").returncode == 0
    in_place = step("BeforeAllowTraffic", "d-INPLACE01")
    assert in_place.returncode == 1 and "did not find an AppSpec file" in in_place.stdout
    # AGENT-FACTS §2: in a blue/green rollback BeforeBlockTraffic runs the most recent install's script (v2,
    # downloaded but never installed), BeforeAllowTraffic and ApplicationStop the last successful one's (v1);
    # in place, BeforeBlockTraffic takes the last successful install, and BeforeAllowTraffic, in a
    # deployment with no archive of its own, finds no AppSpec
    assert record.read_text().splitlines() == [
        "BeforeBlockTraffic v2",
        "BeforeAllowTraffic v1",
        "ApplicationStop v1",
        "BeforeBlockTraffic v1",
    ]
