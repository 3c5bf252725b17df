"""The pure parts of hooks/hookkit.py, the scripts' shape, and the docs that must match them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import hookkit
import pytest
from conftest import DOCS, HOOKS, run_hook
from hypothesis import given
from hypothesis import strategies as st

SCRIPTS = sorted(p for p in HOOKS.glob("*.py") if p.name not in ("hookkit.py", "loadbalancer.py"))


# --- success codes -------------------------------------------------------------------------------------


def test_success_codes_accept_lists_and_ranges_like_elb():
    codes = hookkit.SuccessCodes.parse("200, 204,300-302")
    assert [c for c in (199, 200, 201, 204, 300, 301, 302, 303) if c in codes] == [200, 204, 300, 301, 302]
    assert str(codes) == "200,204,300-302"


@pytest.mark.parametrize("text", ["", "abc", "200-", "299-200", "99", "600", "200,,x", "2OO"])
def test_bad_success_codes_are_a_config_error_naming_the_setting(text):
    with pytest.raises(hookkit.ConfigError, match="HEALTH_SUCCESS_CODES"):
        hookkit.SuccessCodes.parse(text)


@given(st.integers(100, 599), st.integers(100, 599), st.integers(0, 1000))
def test_a_range_contains_exactly_its_codes(low, high, code):
    low, high = min(low, high), max(low, high)
    assert (code in hookkit.SuccessCodes.parse(f"{low}-{high}")) == (low <= code <= high)


# --- health tracker (ELB thresholds with a start grace) -------------------------------------------------


def feed(tracker, outcomes, start=0.0, step=1.0):
    verdicts = []
    for index, ok in enumerate(outcomes):
        verdicts.append(tracker.observe(ok, start + index * step))
    return verdicts


def test_failures_during_start_grace_do_not_count():
    tracker = hookkit.HealthTracker(2, 2, grace_end=10)
    assert feed(tracker, [False] * 5 + [True, True])[-1] == hookkit.HEALTHY


def test_failures_count_after_the_grace_period():
    tracker = hookkit.HealthTracker(2, 2, grace_end=2.5)
    assert feed(tracker, [False] * 5) == ["pending"] * 4 + ["unhealthy"]  # t=0,1,2 in grace; 3 and 4 count


def test_failures_count_at_once_after_the_first_success():
    tracker = hookkit.HealthTracker(3, 2, grace_end=100)
    assert feed(tracker, [True, False, False]) == ["pending", "pending", "unhealthy"]


def test_flapping_never_reaches_the_healthy_threshold():
    tracker = hookkit.HealthTracker(2, 2, grace_end=0)
    assert set(feed(tracker, [True, False] * 10)) == {"pending"}
    assert tracker.changes == 19


# --- config file, lookup and precedence -----------------------------------------------------------------


def test_config_text_allows_comments_export_and_quotes():
    values, warnings = hookkit.parse_config_text(
        '# comment\n\nexport APP_PORT=8080\nAPP_START_COMMAND=\'python3 app.py --x "y"\'\nHEALTH_PATH="/ready"\n',
        "hooks.env",
    )
    assert values == {
        "APP_PORT": "8080",
        "APP_START_COMMAND": 'python3 app.py --x "y"',
        "HEALTH_PATH": "/ready",
    }
    assert warnings == []


def test_malformed_config_line_names_file_and_line():
    with pytest.raises(hookkit.ConfigError, match=r"hooks.env:2: expected KEY=VALUE"):
        hookkit.parse_config_text("APP_PORT=1\nthis is not a setting\n", "hooks.env")


def test_unknown_setting_warns_with_the_nearest_name():
    _, warnings = hookkit.parse_config_text("HEALTH_INTERVALL=3\nAPP_ENV_FOO=bar\n", "hooks.env")
    assert warnings == ["hooks.env:1: unknown setting HEALTH_INTERVALL (did you mean HEALTH_INTERVAL?)"]


def test_environment_wins_over_file_which_wins_over_default():
    config = hookkit.Config({"HEALTH_INTERVAL": "3", "HEALTH_TIMEOUT": "1"}, {"HEALTH_TIMEOUT": "0.5"})
    assert config.get("HEALTH_INTERVAL") == "3"
    assert config.get("HEALTH_TIMEOUT") == "0.5"
    assert config.get("HEALTH_HEALTHY_THRESHOLD") == "2"
    assert (config.origin("HEALTH_TIMEOUT"), config.origin("HEALTH_INTERVAL")) == (
        "environment",
        "config file",
    )


@pytest.mark.parametrize(
    ("environ", "file_values", "value", "origin"),
    [
        (
            {"HEALTH_PATH": "/env", "HOOKS_DEFAULT_HEALTH_PATH": "/group"},
            {"HEALTH_PATH": "/file"},
            "/env",
            "environment",
        ),
        ({"HOOKS_DEFAULT_HEALTH_PATH": "/group"}, {"HEALTH_PATH": "/file"}, "/file", "config file"),
        (
            {"HOOKS_DEFAULT_HEALTH_PATH": "/group"},
            {},
            "/group",
            "group default (HOOKS_DEFAULT_HEALTH_PATH)",
        ),
        ({}, {}, "/health", "default"),
    ],
)
def test_group_default_sits_between_the_config_file_and_the_built_in_default(
    environ, file_values, value, origin
):
    config = hookkit.Config(file_values, environ)
    assert (config.get("HEALTH_PATH"), config.origin("HEALTH_PATH")) == (value, origin)


def test_group_default_works_for_any_named_setting():
    config = hookkit.Config({}, {"HOOKS_DEFAULT_APP_STOP_TIMEOUT": "45", "HOOKS_DEFAULT_APP_PORT": "9000"})
    assert (config.number("APP_STOP_TIMEOUT"), config.port()) == (45, 9000)
    assert config.origin("APP_PORT") == "group default (HOOKS_DEFAULT_APP_PORT)"


def test_an_empty_group_default_falls_through_to_the_built_in_default():
    config = hookkit.Config({}, {"HOOKS_DEFAULT_HEALTH_PATH": "", "HOOKS_DEFAULT_HEALTH_EXPECT_BODY": ""})
    assert (config.get("HEALTH_PATH"), config.origin("HEALTH_PATH")) == ("/health", "default")
    assert config.get("HEALTH_EXPECT_BODY") is None


def test_references_in_a_group_default_expand():
    config = hookkit.Config(
        {"APP_PORT": "8080", "HEALTH_PATH": "/ready"},
        {
            "APP_HOST": "10.0.0.5",
            "HOOKS_DEFAULT_HEALTH_URL": "http://${APP_HOST}:${APP_PORT}${HEALTH_PATH}?lb=1",
        },
    )
    assert config.get("HEALTH_URL") == "http://10.0.0.5:8080/ready?lb=1"


def test_group_defaults_are_not_app_env_passthrough():
    config = hookkit.Config(
        {"APP_ENV_FROM_FILE": "1"}, {"HOOKS_DEFAULT_APP_ENV_INJECTED": "x", "HOOKS_DEFAULT_HEALTH_PATH": "/g"}
    )
    assert config.with_prefix(hookkit.APP_ENV_PREFIX) == {"FROM_FILE": "1"}
    assert config.get("APP_ENV_INJECTED") is None


def test_references_expand_with_defaults_and_dollar_escape():
    config = hookkit.Config(
        {"APP_PORT": "8080", "APP_START_COMMAND": "run --port ${APP_PORT} --id ${X:-none} $$HOME"}, {}
    )
    assert config.get("APP_START_COMMAND") == "run --port 8080 --id none $HOME"
    assert config.get("HEALTH_URL") == "http://127.0.0.1:8080/health"


def test_missing_reference_names_the_variable_to_set():
    with pytest.raises(
        hookkit.ConfigError, match=r"HEALTH_URL uses \$\{APP_PORT\}, which is not set; set APP_PORT"
    ):
        hookkit.Config({}, {}).get("HEALTH_URL")


def test_reference_loop_is_reported():
    with pytest.raises(hookkit.ConfigError, match="refers to itself"):
        hookkit.Config({"APP_DIR": "${APP_HOST}", "APP_HOST": "${APP_DIR}"}, {}).get("APP_DIR")


def test_relative_paths_resolve_against_app_dir():
    config = hookkit.Config({"APP_DIR": "/srv/app"}, {"APP_LOG_FILE": "/var/log/app.log"})
    assert config.path("APP_PIDFILE") == "/srv/app/run/app.pid"
    assert config.path("APP_LOG_FILE") == "/var/log/app.log"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("APP_PORT", "http", "APP_PORT='http' is not a whole number"),
        ("APP_PORT", "70000", "APP_PORT=70000 is not a TCP port"),
        ("APP_DIR", "relative/dir", "APP_DIR=relative/dir is not absolute"),
    ],
)
def test_bad_values_name_the_setting(name, value, message):
    config = hookkit.Config({}, {name: value})
    with pytest.raises(hookkit.ConfigError, match=re.escape(message)):
        config.port("APP_PORT") if name == "APP_PORT" else config.app_dir()


def make_revision(root: Path) -> Path:
    (root / "scripts").mkdir(parents=True)
    (root / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    script = root / "scripts" / "validate_service.py"
    script.write_text("")
    return script


def test_config_file_lookup_order(tmp_path):
    script = make_revision(tmp_path / "rev")
    assert hookkit.find_config_file(str(script), {}) is None
    (tmp_path / "rev" / "hooks.env").write_text("")
    assert hookkit.find_config_file(str(script), {}) == str(tmp_path / "rev" / "hooks.env")
    (tmp_path / "rev" / "scripts" / "hooks.env").write_text("")
    assert hookkit.find_config_file(str(script), {}) == str(tmp_path / "rev" / "scripts" / "hooks.env")
    explicit = tmp_path / "elsewhere.env"
    explicit.write_text("")
    assert hookkit.find_config_file(str(script), {"HOOKS_CONFIG": str(explicit)}) == str(explicit)


def test_hooks_config_pointing_nowhere_is_a_config_error(tmp_path):
    with pytest.raises(hookkit.ConfigError, match="HOOKS_CONFIG=.*no such file"):
        hookkit.find_config_file(str(tmp_path / "x.py"), {"HOOKS_CONFIG": str(tmp_path / "missing.env")})


# --- group defaults reach validate_service -------------------------------------------------------------

FAST_HEALTH = {"HEALTH_INTERVAL": "0.1", "HEALTH_TIMEOUT": "0.1", "HEALTH_START_GRACE": "0"}


@pytest.mark.slow
def test_validate_service_probes_the_group_default_health_path(sample_app, hook_env):
    _, port = sample_app.start()
    assert run_hook(HOOKS / "validate_service.py", hook_env(**FAST_HEALTH, APP_PORT=port)).returncode == 0
    env = hook_env(**FAST_HEALTH, APP_PORT=port, HOOKS_DEFAULT_HEALTH_PATH="/healthz")
    result = run_hook(HOOKS / "validate_service.py", env, timeout=20)
    assert result.returncode == hookkit.EXIT_HEALTH, result
    assert f"probing http://127.0.0.1:{port}/healthz " in result.stdout
    assert "last: status 404 (success codes 200)" in result.stderr


@pytest.mark.slow
def test_hooks_env_overrides_the_group_default_health_path(sample_app, hook_env, tmp_path):
    _, port = sample_app.start()
    config = tmp_path / "hooks.env"
    config.write_text("HEALTH_PATH=/health\n")
    env = hook_env(**FAST_HEALTH, APP_PORT=port, HOOKS_DEFAULT_HEALTH_PATH="/healthz", HOOKS_CONFIG=config)
    result = run_hook(HOOKS / "validate_service.py", env, timeout=20)
    assert result.returncode == 0, result
    assert f"probing http://127.0.0.1:{port}/health " in result.stdout


# --- scripts: shape, --help, one-line config errors ----------------------------------------------------


def test_there_is_one_script_per_hook():
    assert [p.stem for p in SCRIPTS] == [
        "after_install",
        "application_start",
        "application_stop",
        "before_install",
        "deregister_from_lb",
        "register_with_lb",
        "validate_service",
    ]


@pytest.mark.parametrize("path", sorted(HOOKS.glob("*.py")), ids=lambda p: p.name)
def test_hook_files_are_python38_lf_and_scripts_are_executable(path):
    data = path.read_bytes()
    assert b"\r\n" not in data
    ast.parse(data.decode(), feature_version=(3, 8))  # no match, no 3.9+ syntax
    if path in SCRIPTS:
        assert data.startswith(b"#!/usr/bin/env python3\n")
        assert path.stat().st_mode & 0o111 == 0o111


def test_only_the_elbv2_path_imports_something_outside_the_standard_library():
    for path in HOOKS.glob("*.py"):
        tree = ast.parse(path.read_text())
        top = {n.names[0].name.split(".")[0] for n in tree.body if isinstance(n, ast.Import)}
        top |= {n.module.split(".")[0] for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
        assert top <= set(__import__("sys").stdlib_module_names) | {
            "hookkit",
            "loadbalancer",
            "__future__",
        }, path


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_every_script_has_help_with_settings_and_exit_codes(script, hook_env):
    result = run_hook(script, hook_env(), args=["--help"], timeout=10)
    assert result.returncode == 0, result
    first_line = ast.get_docstring(ast.parse(script.read_text())).splitlines()[0]
    assert first_line in result.stdout
    assert "exit codes:" in result.stdout and "settings (environment variables" in result.stdout
    assert "then HOOKS_DEFAULT_NAME in the environment (the deployment group's default)" in result.stdout


@pytest.mark.parametrize(
    ("script", "settings", "message"),
    [
        ("validate_service", {}, "HEALTH_URL uses ${APP_PORT}, which is not set; set APP_PORT"),
        (
            "validate_service",
            {"APP_PORT": "8080", "HEALTH_INTERVAL": "1", "HEALTH_TIMEOUT": "3"},
            "HEALTH_TIMEOUT=3",
        ),
        (
            "validate_service",
            {"APP_PORT": "8080", "HEALTH_SUCCESS_CODES": "2xx"},
            "HEALTH_SUCCESS_CODES='2xx'",
        ),
        ("application_start", {"APP_DIR": "/tmp", "APP_PORT": "1"}, "APP_START_COMMAND is not set"),
        ("application_stop", {}, "APP_DIR is not set; set it to the install destination"),
        (
            "application_stop",
            {"APP_DIR": "/tmp", "APP_STOP_TIMEOUT": "soon"},
            "APP_STOP_TIMEOUT='soon' is not a number",
        ),
        ("before_install", {"APP_DIR": "opt/app"}, "APP_DIR=opt/app is not absolute"),
        ("deregister_from_lb", {}, "no load balancer configured"),
        ("register_with_lb", {"HAPROXY_SOCKET": "/tmp/x.sock"}, "HAPROXY_BACKENDS is not set"),
        ("register_with_lb", {"TARGET_GROUP_ARNS": "my-group"}, "TARGET_GROUP_ARNS entry 'my-group'"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(script, settings, message, hook_env):
    result = run_hook(HOOKS / f"{script}.py", hook_env(**settings), timeout=10)
    assert result.returncode == hookkit.EXIT_CONFIG, result
    assert "Traceback" not in result.output
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{script}: FAILED (exit 2): ") and message in line


def test_an_unknown_argument_is_a_usage_error(hook_env):
    result = run_hook(HOOKS / "validate_service.py", hook_env(APP_PORT=1), args=["--port", "80"], timeout=10)
    assert result.returncode == 2
    assert "unrecognized arguments: --port 80" in result.stderr and "Traceback" not in result.output


# --- docs/hooks.md matches the code --------------------------------------------------------------------


def doc_text() -> str:
    return (DOCS / "hooks.md").read_text()


def test_exit_code_table_in_docs_matches_the_code():
    names = {
        value: name
        for name, value in vars(hookkit).items()
        if name.startswith("EXIT_") and isinstance(value, int)
    }
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \| (.+?) \|$", doc_text(), flags=re.MULTILINE)
    assert [(int(code), name, meaning) for code, name, meaning in rows] == [
        (code, names[code], meaning) for code, meaning in hookkit.EXIT_CODES
    ]


def test_every_setting_is_documented_with_its_default():
    text = doc_text()
    for setting in hookkit.SETTINGS.values():
        default = "—" if setting.default is None else f"`{setting.default}`"
        row = rf"^\| `{re.escape(setting.name)}` \| {re.escape(default)} \| {re.escape(setting.doc)} \|$"
        assert re.search(row, text, re.MULTILINE), f"docs/hooks.md has no row {setting.name} | {default}"
