"""validate_service.py run like the agent runs it, against the real sample app and small fake servers."""

from __future__ import annotations

import re

import hookkit
import pytest
from conftest import HOOKS, free_port, run_hook

SCRIPT = HOOKS / "validate_service.py"
FAST = {"HEALTH_INTERVAL": "0.1", "HEALTH_TIMEOUT": "0.1", "HEALTH_START_GRACE": "0", "HEALTH_DEADLINE": "10"}

pytestmark = pytest.mark.slow


def validate(hook_env, **settings):
    return run_hook(SCRIPT, hook_env(**{**FAST, **settings}), timeout=20)


def probes(result):
    return re.findall(r"^validate_service: probe \d+: (.+) in \d+ ms", result.stdout, re.MULTILINE)


def test_healthy_sample_app_passes_after_the_healthy_threshold(sample_app, hook_env):
    _, port = sample_app.start()
    result = validate(hook_env, APP_PORT=port, HEALTH_EXPECT_BODY="ok")
    assert result.returncode == 0, result
    assert probes(result) == ["status 200", "status 200"]
    assert "healthy after 2 probes" in result.stdout


def test_stopped_app_fails_on_the_unhealthy_threshold(hook_env):
    result = validate(hook_env, APP_PORT=free_port())
    assert result.returncode == hookkit.EXIT_HEALTH, result
    assert probes(result) == ["connection refused", "connection refused"]
    assert "unhealthy: 2 consecutive failed probes" in result.stderr
    assert "last: connection refused" in result.stderr


def test_slow_start_within_the_grace_passes(sample_app, hook_env):
    _, port = sample_app.start(SAMPLE_APP_STARTUP_DELAY=0.6)
    result = validate(hook_env, APP_PORT=port, HEALTH_START_GRACE=5)
    assert result.returncode == 0, result
    seen = probes(result)
    assert seen[0].startswith("status 503") and seen[-2:] == ["status 200", "status 200"]
    assert "not counted: starting, within HEALTH_START_GRACE" in result.stdout


def test_slow_start_beyond_the_grace_fails(sample_app, hook_env):
    _, port = sample_app.start(SAMPLE_APP_STARTUP_DELAY=30)
    result = validate(hook_env, APP_PORT=port, HEALTH_START_GRACE=0.3)
    assert result.returncode == hookkit.EXIT_HEALTH, result
    assert "status 503" in result.stderr
    assert result.elapsed < 5


def test_app_that_goes_down_after_answering_fails_without_waiting_for_the_grace(fake_server, hook_env):
    server = fake_server(lambda n: (200, "ok") if n == 1 else (503, "down"))
    result = validate(hook_env, HEALTH_URL=server.url, HEALTH_START_GRACE=60, HEALTH_HEALTHY_THRESHOLD=3)
    assert result.returncode == hookkit.EXIT_HEALTH, result
    assert len(probes(result)) == 3
    assert "last: status 503" in result.stderr


def test_flapping_app_fails_at_the_deadline(fake_server, hook_env):
    server = fake_server(lambda n: (200, "ok") if n % 2 else (503, "busy"))
    result = validate(hook_env, HEALTH_URL=server.url, HEALTH_DEADLINE=1, HEALTH_UNHEALTHY_THRESHOLD=3)
    assert result.returncode == hookkit.EXIT_HEALTH, result
    assert "not healthy within HEALTH_DEADLINE=1s" in result.stderr
    assert "flapping" in result.stderr
    assert 0.9 < result.elapsed < 5


def test_server_that_never_answers_is_cut_at_the_per_request_timeout(silent_server, hook_env):
    result = validate(
        hook_env,
        APP_PORT=silent_server,
        HEALTH_INTERVAL=0.5,
        HEALTH_TIMEOUT=0.3,
        HEALTH_UNHEALTHY_THRESHOLD=2,
    )
    assert result.returncode == hookkit.EXIT_HEALTH, result
    assert probes(result) == ["timeout after 0.3s", "timeout after 0.3s"]
    latencies = [int(ms) for ms in re.findall(r"timeout after 0.3s in (\d+) ms", result.stdout)]
    assert all(250 <= ms < 1000 for ms in latencies), latencies
    assert result.elapsed < 5


def test_500s_fail_with_the_status(fake_server, hook_env):
    server = fake_server(lambda n: (500, "boom"))
    result = validate(hook_env, HEALTH_URL=server.url)
    assert result.returncode == hookkit.EXIT_HEALTH, result
    assert "last: status 500 (success codes 200)" in result.stderr


def test_wrong_body_fails_with_a_body_mismatch(sample_app, hook_env):
    _, port = sample_app.start()
    result = validate(hook_env, APP_PORT=port, HEALTH_EXPECT_BODY="ready")
    assert result.returncode == hookkit.EXIT_HEALTH, result
    assert "body mismatch: 'ready' not in 'ok\\n'" in result.stderr


def test_success_code_ranges_accept_204(fake_server, hook_env):
    server = fake_server(lambda n: (204, ""))
    assert validate(hook_env, HEALTH_URL=server.url).returncode == hookkit.EXIT_HEALTH
    result = validate(hook_env, HEALTH_URL=server.url, HEALTH_SUCCESS_CODES="200-299")
    assert result.returncode == 0, result


def test_config_file_beside_the_script_is_read_and_environment_wins(sample_app, tmp_path, hook_env):
    _, port = sample_app.start()
    revision = tmp_path / "revision"
    (revision / "scripts").mkdir(parents=True)
    (revision / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    for name in ("validate_service.py", "hookkit.py"):
        target = revision / "scripts" / name
        target.write_bytes((HOOKS / name).read_bytes())
        target.chmod(0o755)
    (revision / "hooks.env").write_text(
        f"APP_PORT={port}\nHEALTH_INTERVAL=0.1\nHEALTH_TIMEOUT=0.1\nHEALTH_HEALTHY_THRESHOLD=5\n"
    )
    env = hook_env(HEALTH_HEALTHY_THRESHOLD=3)
    del env["HOOKS_CONFIG"]
    result = run_hook(revision / "scripts" / "validate_service.py", env, timeout=20)
    assert result.returncode == 0, result
    assert f"config file {revision / 'hooks.env'}" in result.stdout
    assert "healthy after 3 probes" in result.stdout
