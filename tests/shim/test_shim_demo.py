"""`appspec demo`: the README's main job — the sample app deployed into one folder, checked over HTTP,
then stopped and removed by `appspec demo --stop`."""

import socket
import subprocess
import sys
import urllib.request

import pytest


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def appspec(*args, timeout=180):
    return subprocess.run(
        [sys.executable, "-m", "appspec_tools", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.slow
def test_demo_deploys_the_sample_app_checks_it_and_stop_removes_it(tmp_path):
    port, folder = free_port(), tmp_path / "demo"
    result = appspec("demo", "--port", str(port), "--dir", str(folder))
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"GET http://127.0.0.1:{port}/health: 200" in result.stdout
        assert f"appspec demo --stop {folder}" in result.stdout
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            assert response.status == 200
    finally:
        stopped = appspec("demo", "--stop", str(folder), timeout=60)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not folder.exists()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)


def test_stop_refuses_a_folder_that_is_not_a_demo_and_removes_nothing(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = appspec("demo", "--stop", str(tmp_path), timeout=30)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "not a demo folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "keep.txt").exists()
