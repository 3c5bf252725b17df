"""application_start.py and application_stop.py against the real sample app, run like the agent runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import hookkit
import pytest
from conftest import HOOKS, SAMPLE_APP, free_port, listening, run_hook, wait_for

START = HOOKS / "application_start.py"
STOP = HOOKS / "application_stop.py"

pytestmark = pytest.mark.slow


@pytest.fixture
def app_dir(tmp_path: Path):
    """An installed copy of the sample app; whatever the test started is killed afterwards."""
    directory = tmp_path / "opt" / "sample-app"
    (directory / "app").mkdir(parents=True)
    (directory / "app" / "server.py").write_bytes((SAMPLE_APP / "app" / "server.py").read_bytes())
    (directory / "VERSION").write_text("2.0.0\n")
    yield directory
    pidfile = directory / "run" / "app.pid"
    if pidfile.exists():
        pid = int(pidfile.read_text())
        if hookkit.process_alive(pid):
            os.killpg(pid, 9)


@pytest.fixture
def app_settings(app_dir):
    port = free_port()
    return {
        "APP_DIR": app_dir,
        "APP_PORT": port,
        "APP_START_COMMAND": f"{sys.executable} app/server.py --port ${{APP_PORT}}",
        "APP_START_TIMEOUT": 10,
        "APP_STOP_TIMEOUT": 5,
        "APP_ENV_FILE": "app.env",
    }


def running_pid(app_dir: Path) -> int:
    return int((app_dir / "run" / "app.pid").read_text())


def test_start_returns_promptly_and_the_daemon_keeps_running_detached(app_dir, app_settings, hook_env):
    result = run_hook(START, hook_env(**app_settings), timeout=15)
    assert result.returncode == 0, result
    assert result.closed and result.elapsed < 5  # the agent's wait for stdout/stderr EOF ended
    pid = running_pid(app_dir)
    assert hookkit.process_alive(pid) and listening(app_settings["APP_PORT"])
    assert os.getsid(pid) == pid  # own session: the agent's SIGTERM to the hook's group does not reach it
    fds = {n: os.readlink(f"/proc/{pid}/fd/{n}") for n in (0, 1, 2)}
    assert fds == {0: "/dev/null", 1: str(app_dir / "log" / "app.log"), 2: str(app_dir / "log" / "app.log")}
    assert f"listening on 127.0.0.1:{app_settings['APP_PORT']}" in result.stdout


def test_start_twice_keeps_the_same_pid(app_dir, app_settings, hook_env):
    assert run_hook(START, hook_env(**app_settings)).returncode == 0
    pid = running_pid(app_dir)
    again = run_hook(START, hook_env(**app_settings))
    assert again.returncode == 0, again
    assert f"with the same pid {pid}: nothing to do" in again.stdout
    assert running_pid(app_dir) == pid


def test_the_app_gets_the_rendered_environment_file(app_dir, app_settings, hook_env):
    (app_dir / "app.env").write_text("SAMPLE_APP_DEPLOYMENT_ID=d-FROMENVFILE\n")
    assert run_hook(START, hook_env(**app_settings)).returncode == 0
    with open(f"/proc/{running_pid(app_dir)}/environ", "rb") as handle:
        assert b"SAMPLE_APP_DEPLOYMENT_ID=d-FROMENVFILE" in handle.read().split(b"\0")


def test_start_fails_with_the_log_tail_when_the_app_exits_early(app_dir, app_settings, hook_env):
    settings = dict(app_settings, APP_START_COMMAND=f"{sys.executable} app/server.py --port not-a-port")
    result = run_hook(START, hook_env(**settings))
    assert result.returncode == hookkit.EXIT_APP, result
    assert "the app exited with code 2 before listening" in result.stderr
    assert "  | " in result.stderr and "invalid int value: 'not-a-port'" in result.stderr
    assert not (app_dir / "run" / "app.pid").exists()


def test_start_fails_and_stops_the_app_when_it_never_listens(app_dir, app_settings, hook_env):
    settings = dict(app_settings, APP_START_COMMAND="sleep 30", APP_START_TIMEOUT=0.5)
    result = run_hook(START, hook_env(**settings))
    assert result.returncode == hookkit.EXIT_APP, result
    assert "did not listen" in result.stderr and "APP_START_TIMEOUT=0.5s; stopped it" in result.stderr
    assert not (app_dir / "run" / "app.pid").exists()


def test_start_refuses_a_port_taken_by_someone_else(sample_app, app_settings, hook_env):
    _, port = sample_app.start()
    result = run_hook(START, hook_env(**dict(app_settings, APP_PORT=port)))
    assert result.returncode == hookkit.EXIT_APP, result
    assert "already in use by a process not recorded in" in result.stderr


def test_missing_program_is_a_config_error(app_settings, hook_env):
    result = run_hook(START, hook_env(**dict(app_settings, APP_START_COMMAND="/nonexistent/app")))
    assert result.returncode == hookkit.EXIT_CONFIG, result
    assert "program '/nonexistent/app' not found" in result.stderr


def test_stop_is_graceful_and_the_app_drains(app_dir, app_settings, hook_env):
    settings = dict(app_settings, APP_ENV_SAMPLE_APP_DRAIN_SECONDS=0.2)
    (app_dir / "app.env").write_text("SAMPLE_APP_DRAIN_SECONDS=0.2\n")
    assert run_hook(START, hook_env(**settings)).returncode == 0
    pid = running_pid(app_dir)
    result = run_hook(STOP, hook_env(**settings))
    assert result.returncode == 0, result
    assert f"pid {pid} exited after" in result.stdout and "SIGKILL" not in result.stdout
    assert not hookkit.process_alive(pid) and not (app_dir / "run" / "app.pid").exists()
    log = (app_dir / "log" / "app.log").read_text()
    assert "/health now 503" in log and "sample-app stopped" in log


def test_stop_with_nothing_running_succeeds_twice(app_settings, hook_env):
    for _ in range(2):
        result = run_hook(STOP, hook_env(**app_settings))
        assert result.returncode == 0, result
        assert "nothing to stop" in result.stdout


def test_stale_pidfile_of_a_dead_process_is_ignored(app_dir, app_settings, hook_env):
    dead = subprocess.Popen(["true"])
    dead.wait()
    (app_dir / "run").mkdir()
    (app_dir / "run" / "app.pid").write_text(f"{dead.pid}\n")
    result = run_hook(STOP, hook_env(**app_settings))
    assert result.returncode == 0, result
    assert f"stale pidfile {app_dir / 'run' / 'app.pid'}: pid {dead.pid} is not running" in result.stdout


def test_pid_reused_by_another_program_is_left_alone(app_dir, app_settings, hook_env):
    other = subprocess.Popen(["sleep", "30"])
    try:
        (app_dir / "run").mkdir()
        pidfile = app_dir / "run" / "app.pid"
        pidfile.write_text(f"{other.pid}\n")
        an_hour_ago = time.time() - 3600
        os.utime(pidfile, (an_hour_ago, an_hour_ago))  # written long before that process started
        result = run_hook(STOP, hook_env(**app_settings))
        assert result.returncode == 0, result
        assert "belongs to a program started after the pidfile was written" in result.stdout
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_stop_kills_a_process_that_ignores_sigterm_after_the_grace(app_dir, app_settings, hook_env):
    code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\ntime.sleep(60)"
    stubborn = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert stubborn.stdout.readline() == b"up\n"  # SIGTERM is ignored from here on
        (app_dir / "run").mkdir()
        (app_dir / "run" / "app.pid").write_text(f"{stubborn.pid}\n")
        result = run_hook(STOP, hook_env(**dict(app_settings, APP_STOP_TIMEOUT=0.5)), timeout=15)
        assert result.returncode == 0, result
        assert f"pid {stubborn.pid} still running after 0.5s: sending SIGKILL" in result.stdout
        assert stubborn.wait(timeout=5) == -9
        assert 0.5 <= result.elapsed < 5
    finally:
        if stubborn.poll() is None:
            stubborn.kill()
        stubborn.wait()
        stubborn.stdout.close()


def test_systemd_unit_is_ignored_where_systemd_does_not_run(app_dir, app_settings, hook_env):
    if os.path.isdir(hookkit.SYSTEMD_RUN_DIR):
        pytest.skip("systemd runs here: the unit would really be started")
    result = run_hook(START, hook_env(**dict(app_settings, APP_SYSTEMD_UNIT="sample-app.service")))
    assert result.returncode == 0, result
    assert "but systemd is not running here" in result.stdout
    wait_for(lambda: listening(app_settings["APP_PORT"]), what="the app")


FAKE_SYSTEMCTL = """#!/bin/sh
echo "$*" >> "$SYSTEMCTL_LOG"
case "$1" in
  is-active) cat "$SYSTEMCTL_STATE" ;;
  start) echo active > "$SYSTEMCTL_STATE" ;;
  stop) echo inactive > "$SYSTEMCTL_STATE" ;;
esac
"""


@pytest.fixture
def fake_systemd(tmp_path, monkeypatch):
    """systemd 'running' (a stand-in run dir) with a systemctl on PATH that records its calls."""
    run_dir = tmp_path / "run-systemd-system"
    run_dir.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(FAKE_SYSTEMCTL)
    (bin_dir / "systemctl").chmod(0o755)
    state = tmp_path / "state"
    state.write_text("inactive\n")
    calls = tmp_path / "calls"
    monkeypatch.setattr(hookkit, "SYSTEMD_RUN_DIR", str(run_dir))
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("SYSTEMCTL_STATE", str(state))
    monkeypatch.setenv("SYSTEMCTL_LOG", str(calls))
    return lambda: calls.read_text().splitlines() if calls.exists() else []


def test_systemd_unit_is_started_and_stopped_when_systemd_runs(fake_systemd, fake_server, capsys):
    import application_start
    import application_stop

    server = fake_server(lambda n: (200, "ok"))  # the 'unit' listening on its port
    config = hookkit.Config({}, {"APP_SYSTEMD_UNIT": "sample-app.service", "APP_PORT": str(server.port)})
    log = hookkit.HookLog("test")
    application_start.main(config, log)
    application_stop.main(config, log)
    application_stop.main(config, log)
    assert fake_systemd() == [
        "start sample-app.service",
        "is-active sample-app.service",
        "stop sample-app.service",
        "is-active sample-app.service",
    ]
    assert "unit sample-app.service is inactive: nothing to stop" in capsys.readouterr().out
