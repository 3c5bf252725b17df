"""The sample app end to end through the shim: deployed, redeployed (ApplicationStop runs the previous
revision's script), a broken revision rolled back, and the `appspec deploy --check-url` command. Real
processes on a free 127.0.0.1 port; the `sample_host` fixture always stops the app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from shim_support import SAMPLE_APP, alive, wait_for

pytestmark = pytest.mark.slow


def events(result):
    return [(e.event, e.status) for e in result.events]


def test_the_sample_app_deploys_and_serves(sample_host):
    result = sample_host.deploy(SAMPLE_APP)
    assert result.succeeded, (result.message, result.events[-1:])
    assert events(result) == [
        ("BeforeBlockTraffic", "Skipped"),
        ("AfterBlockTraffic", "Skipped"),
        ("ApplicationStop", "Skipped"),
        ("DownloadBundle", "Succeeded"),
        ("BeforeInstall", "Succeeded"),
        ("Install", "Succeeded"),
        ("AfterInstall", "Succeeded"),
        ("ApplicationStart", "Succeeded"),
        ("ValidateService", "Succeeded"),
        ("BeforeAllowTraffic", "Skipped"),
        ("AfterAllowTraffic", "Skipped"),
    ]
    page = sample_host.get("/")
    assert page.status_code == 200
    assert page.text.strip() == f"sample-app 1.0.0 (deployment {result.deployment_id})"
    health = sample_host.get("/health")
    assert (health.status_code, health.text.strip()) == (200, "ok")
    assert (sample_host.app_dir / "VERSION").read_text().strip() == "1.0.0"
    assert (sample_host.app_dir / "app" / "server.py").stat().st_mode & 0o111, "exec bit kept by Install"
    log = Path(result.deployment_dir, "logs", "scripts.log").read_text()
    for event in ("BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"):
        assert f"LifecycleEvent - {event}\n" in log
    assert "LifecycleEvent - ApplicationStop" not in log


def test_a_redeploy_stops_the_old_app_with_the_previous_revisions_script(sample_host):
    first = sample_host.deploy(SAMPLE_APP)
    assert first.succeeded, first.message
    old_pid = sample_host.remember_pid()
    second = sample_host.deploy(SAMPLE_APP)
    assert second.succeeded, second.message
    new_pid = sample_host.remember_pid()
    assert old_pid != new_pid and not alive(old_pid)
    assert ("ApplicationStop", "Succeeded") in events(second)
    log = Path(second.deployment_dir, "logs", "scripts.log").read_text()
    assert "LifecycleEvent - ApplicationStop\n" in log
    # the previous revision's script ran: hookkit names the config file beside it
    assert f"config file {first.deployment_dir}/deployment-archive/hooks.env" in log
    assert f"ApplicationStop of deployment {second.deployment_id}" in log, (
        "with this deployment's environment"
    )
    assert sample_host.get("/").text.strip() == f"sample-app 1.0.0 (deployment {second.deployment_id})"


def break_revision(sample_host) -> Path:
    """A copy of the sample whose health check can never pass (the body never contains the text)."""
    broken = sample_host.copy_sample("broken")
    (broken / "VERSION").write_text("2.0.0-broken\n")
    env = (
        (broken / "hooks.env").read_text().replace("HEALTH_EXPECT_BODY=ok", "HEALTH_EXPECT_BODY=never-there")
    )
    assert "never-there" in env
    (broken / "hooks.env").write_text(env)
    return broken


def test_a_broken_revision_fails_validation_and_the_rollback_restores_the_service(sample_host):
    good = sample_host.deploy(SAMPLE_APP)
    assert good.succeeded, good.message
    result = sample_host.deploy(break_revision(sample_host), rollback=True)
    failed = result.failed_event
    assert (failed.event, failed.error_code, failed.error_name) == ("ValidateService", 4, "ScriptFailed")
    assert "Script at specified location: scripts/validate_service.py failed with exit code" in failed.message
    assert Path(good.deployment_dir, "deployment-archive", "appspec.yml").is_file(), (
        "previous revision intact"
    )
    rollback = result.rollback
    assert rollback is not None and rollback.succeeded, rollback and rollback.message
    assert rollback.creator == "codeDeployRollback"
    assert good.deployment_id in rollback.bundle
    assert (sample_host.app_dir / "VERSION").read_text().strip() == "1.0.0"
    assert sample_host.get("/").text.strip() == f"sample-app 1.0.0 (deployment {rollback.deployment_id})"
    assert sample_host.get("/health").status_code == 200
    assert sample_host.layout.last_successful_install(sample_host.GROUP) == rollback.deployment_dir
    # the rollback's ApplicationStop ran the broken revision's script (the last one installed) and stopped it
    log = Path(rollback.deployment_dir, "logs", "scripts.log").read_text()
    assert f"config file {result.deployment_dir}/deployment-archive/hooks.env" in log


def test_a_broken_revision_without_rollback_leaves_the_previous_revision_for_the_next_deploy(sample_host):
    good = sample_host.deploy(SAMPLE_APP)
    broken = sample_host.deploy(break_revision(sample_host))
    assert good.succeeded and broken.failed_event.event == "ValidateService" and broken.rollback is None
    assert (sample_host.app_dir / "VERSION").read_text().strip() == "2.0.0-broken"
    fixed = sample_host.deploy(SAMPLE_APP)
    assert fixed.succeeded, fixed.message
    assert sample_host.get("/").text.strip() == f"sample-app 1.0.0 (deployment {fixed.deployment_id})"


def test_the_deploy_command_checks_the_url_after_success(sample_host):
    env = dict(os.environ, **sample_host.settings)
    command = [
        sys.executable,
        "-m",
        "appspec_tools",
        "deploy",
        "--bundle",
        str(SAMPLE_APP),
        "--root",
        str(sample_host.root),
        "--install-root",
        str(sample_host.install_root),
        "--deployment-group",
        sample_host.GROUP,
        "--check-url",
        sample_host.url("/health"),
    ]
    try:
        process = subprocess.run(
            command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
        )
    finally:
        sample_host.remember_pid()
    assert process.returncode == 0, process.stdout + process.stderr
    assert f"GET {sample_host.url('/health')}: 200 ok" in process.stdout
    assert "Traceback" not in process.stdout + process.stderr


def test_the_fixture_teardown_stops_the_app(sample_host, tmp_path):
    machine = type(sample_host)(tmp_path / "another-host")
    try:
        assert machine.deploy(SAMPLE_APP).succeeded
        pid = machine.remember_pid()
        assert alive(pid)
    finally:
        machine.stop()
    wait_for(lambda: not alive(pid), timeout=10, what="the sample app to stop")
