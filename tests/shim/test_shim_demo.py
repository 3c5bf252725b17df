"""`appspec demo`: the README's main job — the sample app deployed into one folder, checked over HTTP,
then stopped and removed by `appspec demo --stop`."""

import argparse
import io
import os
import socket
import subprocess
import sys
import urllib.request

import pytest

from agent_shim import demo


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def appspec(*args, timeout=180, env=None):
    return subprocess.run(
        [sys.executable, "-m", "appspec_tools", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def installed_deployment_id(folder):
    """The deployment the shim recorded as the group's last successful install: ROOT/GROUP/DEPLOYMENT_ID."""
    pointer = (
        folder / "deployment-root" / "deployment-instructions" / "sample-app-demo_last_successful_install"
    )
    return os.path.basename(pointer.read_text())


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
        deployment_id = installed_deployment_id(folder)
    finally:
        stopped = appspec("demo", "--stop", str(folder), timeout=60)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert (
        f"ApplicationStop of deployment {deployment_id}, application sample-app, "
        "group sample-app-demo (sample-app-demo)" in stopped.stdout
    )
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


@pytest.mark.parametrize("port", ["65536", "99999"])
def test_a_port_outside_1_to_65535_is_a_usage_error_and_creates_nothing(tmp_path, port):
    temp, folder = tmp_path / "tmp", tmp_path / "new" / "demo"
    temp.mkdir()
    env = dict(os.environ, TMPDIR=str(temp))
    for where in ([], ["--dir", str(folder)]):
        result = appspec("demo", "--port", port, *where, timeout=30, env=env)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1, result.stderr
        assert f"--port {port}" in result.stderr and "1 to 65535" in result.stderr
        assert "internal error" not in result.stderr
        assert list(temp.iterdir()) == [] and not (tmp_path / "new").exists()


def no_free_port(preferred):
    raise OSError("no free port on 127.0.0.1")


def refuse_to_deploy(request, on_event=None):
    raise AssertionError("the demo deployed although it could not be prepared")


def run_demo(**options):
    args = argparse.Namespace(stop=None, port=8080, dir=None)
    vars(args).update(options)
    out, err = io.StringIO(), io.StringIO()
    return demo.run(args, out, err), out.getvalue(), err.getvalue()


@pytest.fixture
def unpreparable(monkeypatch, tmp_path):
    """The demo fails after it made its folder and before it deploys; temporary folders go to tmp_path/tmp."""
    monkeypatch.setattr(demo, "free_port", no_free_port)
    monkeypatch.setattr(demo, "deploy", refuse_to_deploy)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))


def test_a_failure_before_the_deployment_removes_the_temporary_folder(unpreparable, tmp_path):
    code, _, err = run_demo()
    assert code == 2
    assert err.count("\n") == 1 and "no free port" in err
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_failure_before_the_deployment_removes_the_dir_it_created(unpreparable, tmp_path):
    code, _, err = run_demo(dir=str(tmp_path / "new" / "demo"))
    assert code == 2 and "no free port" in err
    assert not (tmp_path / "new").exists()


def test_a_failure_before_the_deployment_keeps_a_dir_that_existed(unpreparable, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    code, _, err = run_demo(dir=str(mine))
    assert code == 2 and f"{mine} was kept" in err
    assert [p.name for p in mine.iterdir()] == ["keep.txt"]
