"""One deployment per deployment group at a time (AGENT-FACTS §6), groups side by side on one host, and a
killed deployment whose lock the kernel releases. A hook held on a FIFO gate proves a deployment is in
flight; no sleeps are used to synchronise."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

import pytest
from shim_support import REPO, alive, kill_group_or_pid, wait_for

from agent_shim.deployment import DeploymentResult
from agent_shim.lock import GroupLocked


def deploy_in_thread(host, bundle, **kwargs):
    box: dict = {}

    def work() -> None:
        try:
            box["result"] = host.deploy(bundle, **kwargs)
        except BaseException as exc:  # reported by the test
            box["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, box


def test_a_second_deployment_to_a_busy_group_is_refused_with_one_line(host):
    gate = host.gate()
    held = host.revision("held", hooks={"BeforeInstall": gate.hold})
    thread, box = deploy_in_thread(host, held, deployment_id="d-HELDHELD1")
    gate.wait_reached()
    try:
        with pytest.raises(GroupLocked) as info:
            host.deploy(host.revision("other"))
        message = str(info.value)
        assert "\n" not in message
        assert "deployment group default-local-deployment-group is busy" in message
        assert "d-HELDHELD1" in message and str(os.getpid()) in message
    finally:
        gate.release()
        thread.join(20)
    assert box["result"].succeeded, box
    assert host.deploy(host.revision("other")).succeeded, "the lock is free again"


def test_two_groups_on_one_host_deploy_independently_and_at_once(host):
    gate = host.gate()
    dest_a, dest_b = host.tmp / "dest-a", host.tmp / "dest-b"
    rev_a = host.revision(
        "a", files=[("app", str(dest_a))], content={"app/x": "a"}, hooks={"BeforeInstall": gate.hold}
    )
    rev_b = host.revision("b", files=[("app", str(dest_b))], content={"app/x": "b"})
    thread, box = deploy_in_thread(host, rev_a, group_name="group-a")
    gate.wait_reached()
    try:
        in_b = host.deploy(rev_b, group_name="group-b")
        assert in_b.succeeded, in_b.message
    finally:
        gate.release()
        thread.join(20)
    in_a: DeploymentResult = box["result"]
    assert in_a.succeeded, box
    assert host.pointer("last_successful_install", "group-a") == in_a.deployment_dir
    assert host.pointer("last_successful_install", "group-b") == in_b.deployment_dir
    assert host.cleanup_lines("group-a") == [str(dest_a), str(dest_a / "x")]
    assert host.cleanup_lines("group-b") == [str(dest_b), str(dest_b / "x")]


def test_another_group_installing_the_same_file_hits_disallow(host):
    rev = host.revision("r", files=[("app", str(host.dest))], content={"app/x": "1"})
    assert host.deploy(rev, group_name="group-a").succeeded
    other = host.deploy(rev, group_name="group-b")
    assert other.failed_event.event == "Install"
    assert other.failed_event.message == (
        f"The deployment failed because a specified file already exists at this location: {host.dest / 'x'}"
    )


def test_a_killed_deployment_releases_its_lock_and_the_next_one_warns(host):
    gate = host.gate()
    rev = host.revision("r", hooks={"BeforeInstall": f'if [ -n "$HOLD" ]; then\n{gate.hold}fi'})
    env = dict(os.environ, OUT=str(host.out), HOLD="1", PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        [sys.executable, "-m", "appspec_tools", "deploy", "--bundle", str(rev), "--root", str(host.root)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        gate.wait_reached()
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    hook = gate.hook_pid()
    assert alive(hook), "the killed deployment's hook lives on in its own process group"
    result = host.deploy(rev)  # the orphan must not hold the lock: it inherited no descriptor of it
    assert result.succeeded, result.message
    kill_group_or_pid(hook)
    wait_for(lambda: not alive(hook), timeout=5, what="the orphaned hook to die")
    assert any(
        re.search(
            rf"previous deployment d-\S+ of this group was interrupted \(pid {process.pid} is gone\)", w
        )
        for w in result.warnings
    ), result.warnings
