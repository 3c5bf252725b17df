"""`appspec init`: what it writes lints clean (a warning the values ask for is printed, only an error
refuses) and rehearses under `appspec deploy --install-root`, scripts are exact copies of hooks/, nothing is
overwritten without --force, prompts on a terminal, one-line usage errors."""

from __future__ import annotations

import configparser
import http.client
import importlib.util
import io
import json
import os
import pty
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support import read_terminal

from appspec_tools import scaffold
from appspec_tools.cli import main
from appspec_tools.problem import Severity
from appspec_tools.rules import all_rules

ROOT = Path(__file__).resolve().parent.parent
HOOKS = ROOT / "hooks"
TASK = "arn:aws:ecs:us-east-1:111122223333:task-definition/web:7"
SUBNETS = "subnet-0123456789abcdef0,subnet-0fedcba9876543210"
GROUPS = "sg-0123456789abcdef0"
TARGET_GROUP = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web/0123456789abcdef"
HAPROXY = [
    "--haproxy-socket",
    "/run/haproxy/admin.sock",
    "--haproxy-backends",
    "web",
    "--haproxy-server",
    "h1",
]
LAMBDA = ["--function-name", "orders", "--alias", "live", "--current-version", "3", "--target-version", "4"]
ECS = ["--task-definition", TASK, "--container-name", "web", "--container-port", "8080"]


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out, err)
    return code, out.getvalue(), err.getvalue()


def load_hookkit():
    spec = importlib.util.spec_from_file_location("init_test_hookkit", HOOKS / "hookkit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lint_findings(directory: Path) -> list:
    code, out, err = run(["lint", "--no-config", "-f", "json", str(directory)])
    assert err == "" and code in (0, 1), err
    return json.loads(out)["problems"]


def written(directory: Path) -> set:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


EC2_CASES = {
    "defaults": [],
    "every-hook-traffic-events-elbv2": ["--hooks", "all", "--target-group-arns", TARGET_GROUP],
    "every-hook-app-events-haproxy": ["--hooks", "all", "--lb-events", "app", *HAPROXY],
    "lb-hooks-only-traffic": ["--hooks", "deregister,register", "--target-group-arns", TARGET_GROUP],
    "lb-hooks-only-app": ["--hooks", "drain,register", "--lb-events", "app", *HAPROXY],
    "runas-and-aliases": ["--hooks", "application_stop,before-install,install.py,start", "--runas", "webapp"],
    "systemd-unit": ["--hooks", "stop,start,validate", "--systemd-unit", "web.service", "--port", "9000"],
    "validate-only-with-health-url": ["--hooks", "validate", "--health-url", "http://127.0.0.1:81/ready"],
    "no-hooks": ["--hooks", "none"],
    "disallow": ["--file-exists-behavior", "DISALLOW"],
    "overwrite-lowercase-flag": ["--file-exists-behavior", "overwrite", "--runas", "deploy"],
    "retain": ["--file-exists-behavior", "RETAIN", "--hooks", "all", "--lb-events", "app"],
    "source-folder": ["--source", "app", "--destination", "/srv/web", "--start-command", "python3 -m web"],
    "quoted-start-command": ["--start-command", '"/opt/my app/run" --port ${APP_PORT} "x"'],
}
ECS_CASES = {
    "minimal": ECS,
    "everything": [
        *ECS,
        "--platform-version",
        "1.4.0",
        "--subnets",
        SUBNETS,
        "--security-groups",
        GROUPS,
        "--assign-public-ip",
        "enabled",
        "--capacity-provider",
        "FARGATE:1:1",
        "--capacity-provider",
        "FARGATE_SPOT:3",
        "--hook",
        "BeforeInstall=prepare",
        "--hook",
        "AfterAllowTestTraffic=smoke-test",
        "--hook",
        "AfterAllowTraffic=notify",
    ],  # fmt: skip
    "network-default-public-ip": [*ECS, "--subnets", SUBNETS, "--security-groups", GROUPS],
}
LAMBDA_CASES = {
    "minimal": LAMBDA,
    "hooks": [*LAMBDA, "--hook", "BeforeAllowTraffic=pre-check", "--hook", "AfterAllowTraffic=post-check"],
    "arn": ["--function-name", "arn:aws:lambda:us-east-1:111122223333:function:orders", *LAMBDA[2:]],
}
CASES = (
    [pytest.param("ec2", argv, id=f"ec2-{name}") for name, argv in EC2_CASES.items()]
    + [pytest.param("ecs", argv, id=f"ecs-{name}") for name, argv in ECS_CASES.items()]
    + [pytest.param("lambda", argv, id=f"lambda-{name}") for name, argv in LAMBDA_CASES.items()]
)


@pytest.mark.parametrize("platform, argv", CASES)
def test_what_init_writes_lints_with_zero_findings(tmp_path, platform, argv):
    (tmp_path / "app").mkdir()
    code, out, err = run(["init", str(tmp_path), "--yes", "--platform", platform, *argv])
    assert (code, err) == (0, ""), err
    assert lint_findings(tmp_path) == []
    assert "1 file checked, no problems" in out
    files = written(tmp_path)
    assert all(f"wrote {tmp_path / name}" in out for name in files)
    if platform != "ec2":
        assert files == {"appspec.yaml"}
        return
    scripts = {name for name in files if name.startswith("scripts/")}
    for name in scripts - {"scripts/hooks.env"}:
        copy, original = tmp_path / name, HOOKS / Path(name).name
        assert copy.read_bytes() == original.read_bytes(), name
        executable = name not in ("scripts/hookkit.py", "scripts/loadbalancer.py")
        assert copy.stat().st_mode & 0o777 == (0o755 if executable else 0o644), name
    if "--hooks" in argv and argv[argv.index("--hooks") + 1] == "none":
        assert files == {"appspec.yml"}


def test_defaults_wire_stop_after_install_start_validate_with_their_config(tmp_path):
    code, out, _ = run(["init", str(tmp_path / "shop")])  # not a terminal: no prompts, the defaults
    assert code == 0
    spec = yaml.safe_load((tmp_path / "shop" / "appspec.yml").read_text())
    assert spec["files"] == [{"source": "/", "destination": "/opt/shop"}]
    hooks = {event: [s["location"] for s in scripts] for event, scripts in spec["hooks"].items()}
    assert hooks == {
        "ApplicationStop": ["scripts/application_stop.py"],
        "AfterInstall": ["scripts/after_install.py"],
        "ApplicationStart": ["scripts/application_start.py"],
        "ValidateService": ["scripts/validate_service.py"],
    }
    assert all(sum(s["timeout"] for s in scripts) <= 3600 for scripts in spec["hooks"].values())
    assert written(tmp_path / "shop") == {
        "appspec.yml",
        "scripts/application_stop.py",
        "scripts/after_install.py",
        "scripts/application_start.py",
        "scripts/validate_service.py",
        "scripts/hookkit.py",
        "scripts/hooks.env",
    }
    assert "next: set APP_START_COMMAND in scripts/hooks.env" in out


@pytest.mark.parametrize(
    "lb_events, expected",
    [
        (None, {"BeforeBlockTraffic": ["deregister_from_lb"], "AfterAllowTraffic": ["register_with_lb"]}),
        (
            "app",
            {
                "ApplicationStop": ["deregister_from_lb", "application_stop"],
                "ValidateService": ["validate_service", "register_with_lb"],
            },
        ),
    ],
)
def test_load_balancer_hooks_in_traffic_or_app_events(tmp_path, lb_events, expected):
    argv = ["init", str(tmp_path), "--hooks", "stop,validate,deregister,register", *HAPROXY]
    assert run(argv + (["--lb-events", lb_events] if lb_events else []))[0] == 0
    spec = yaml.safe_load((tmp_path / "appspec.yml").read_text())
    hooks = {e: [Path(s["location"]).stem for s in scripts] for e, scripts in spec["hooks"].items()}
    assert {e: hooks[e] for e in expected} == expected
    assert (tmp_path / "scripts" / "loadbalancer.py").read_bytes() == (HOOKS / "loadbalancer.py").read_bytes()


def test_traffic_hooks_note_is_answered_in_the_file_not_hidden_elsewhere(tmp_path):
    """HOOK017 asks whether the group has a load balancer; --lb-events traffic answers yes in a comment."""
    run(["init", str(tmp_path), "--hooks", "register", "--target-group-arns", TARGET_GROUP])
    text = (tmp_path / "appspec.yml").read_text()
    assert "# appspec-lint: disable-file=HOOK017" in text and "has a load balancer" in text
    run(["init", str(tmp_path), "--force", "--hooks", "register", "--lb-events", "app", *HAPROXY])
    assert "appspec-lint" not in (tmp_path / "appspec.yml").read_text()


def test_hooks_env_holds_the_flags_and_reads_back_with_hookkit(tmp_path):
    command = '"/opt/my app/run" --port ${APP_PORT} "x"'
    argv = ["init", str(tmp_path), "--hooks", "all", "--destination", "/srv/web/", "--port", "9000"]
    argv += ["--start-command", command, "--health-url", "http://127.0.0.1:9000/ready"]
    argv += ["--target-group-arns", TARGET_GROUP, "--lb-events", "app"]
    assert run(argv)[0] == 0
    hookkit = load_hookkit()
    text = (tmp_path / "scripts" / "hooks.env").read_text()
    values, warnings = hookkit.parse_config_text(text, "hooks.env")
    assert warnings == []
    assert values == {
        "APP_DIR": "${INSTALL_ROOT:-}/srv/web",
        "APP_PORT": "9000",
        "APP_START_COMMAND": command,
        "HEALTH_URL": "http://127.0.0.1:9000/ready",
        "TARGET_GROUP_ARNS": TARGET_GROUP,
    }
    script = tmp_path / "scripts" / "application_start.py"
    assert hookkit.find_config_file(str(script), {}) == str(tmp_path / "scripts" / "hooks.env")


def test_app_dir_follows_install_root_like_the_sample_app(tmp_path):
    """`appspec deploy --install-root I` installs under I and gives the hooks INSTALL_ROOT=I; a real host
    has no INSTALL_ROOT. The destination itself is taken literally, a `$` included."""
    assert run(["init", str(tmp_path), "--destination", "/srv/$web"])[0] == 0
    hookkit = load_hookkit()
    path = str(tmp_path / "scripts" / "hooks.env")
    values, _ = hookkit.parse_config_text(Path(path).read_text(), path)
    assert hookkit.Config(values, {}, path).app_dir() == "/srv/$web"
    assert hookkit.Config(values, {"INSTALL_ROOT": "/tmp/i"}, path).app_dir() == "/tmp/i/srv/$web"


def test_missing_start_command_and_load_balancer_are_left_as_commented_to_dos(tmp_path):
    code, out, _ = run(["init", str(tmp_path), "--hooks", "start,register"])
    assert code == 0
    values, _ = load_hookkit().parse_config_text((tmp_path / "scripts" / "hooks.env").read_text(), "x")
    assert "APP_START_COMMAND" not in values and "TARGET_GROUP_ARNS" not in values
    assert "next: set APP_START_COMMAND" in out and "next: set TARGET_GROUP_ARNS" in out


def test_refuses_to_overwrite_without_force_and_writes_nothing(tmp_path):
    (tmp_path / "appspec.yml").write_text("mine\n")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "hookkit.py").write_text("mine\n")
    code, out, err = run(["init", str(tmp_path)])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "--force" in err
    assert f"{tmp_path / 'appspec.yml'}, {tmp_path / 'scripts' / 'hookkit.py'}" in err
    assert written(tmp_path) == {"appspec.yml", "scripts/hookkit.py"}
    assert (tmp_path / "appspec.yml").read_text() == "mine\n"


def test_force_overwrites(tmp_path):
    (tmp_path / "appspec.yml").write_text("mine\n")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "hookkit.py").write_text("mine\n")
    os.chmod(tmp_path / "scripts" / "hookkit.py", 0o600)
    code, out, _ = run(["init", str(tmp_path), "--force"])
    assert code == 0 and f"wrote {tmp_path / 'appspec.yml'}" in out
    assert (tmp_path / "scripts" / "hookkit.py").read_bytes() == (HOOKS / "hookkit.py").read_bytes()
    assert (tmp_path / "scripts" / "hookkit.py").stat().st_mode & 0o777 == 0o644
    assert lint_findings(tmp_path) == []


def test_an_existing_appspec_under_another_name_is_the_one_replaced(tmp_path):
    (tmp_path / "appspec.yaml").write_text("version: 0.0\nos: linux\n")
    code, _, err = run(["init", str(tmp_path), "--hooks", "none"])
    assert code == 2 and "appspec.yaml" in err
    assert run(["init", str(tmp_path), "--hooks", "none", "--force"])[0] == 0
    assert written(tmp_path) == {"appspec.yaml"} and lint_findings(tmp_path) == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--platform", "ecs"], "--platform ecs needs --task-definition, --container-name, --container-port"),
        (
            ["--platform", "lambda", "--function-name", "f"],
            "needs --alias, --current-version, --target-version",
        ),
        (["--platform", "ecs", "--port", "80", *ECS], "--port is for --platform ec2, not ecs"),
        (["--task-definition", TASK], "--task-definition is for --platform ecs, not ec2"),
        (["--hook", "BeforeInstall=f"], "--hook is for --platform ecs or lambda"),
        (["--hooks", "stop,strat"], "unknown hook 'strat' (did you mean start?)"),
        (["--port", "70000"], "'70000' is not a TCP port"),
        (["--destination", "opt/app"], "'opt/app' is not an absolute path"),
        (["--source", "missing"], "'missing' is not in"),
        (["--hooks", "stop", "--health-url", "http://h/"], "--health-url is used by the validate hook"),
        (["--hooks", "stop", "--lb-events", "app"], "--lb-events is used by the deregister or register hook"),
        (["--runas", "web user"], "'web user' is not a user name"),
        (["--platform", "ecs", *ECS[:-1], "0"], "'0' is not a TCP port"),
        (["--platform", "ecs", *ECS, "--subnets", SUBNETS], "--subnets and --security-groups go together"),
        (["--platform", "ecs", *ECS, "--capacity-provider", "FARGATE:x"], "NAME[:WEIGHT[:BASE]]"),
        (
            ["--platform", "lambda", *LAMBDA, "--hook", "BeforeAllowTrafic=f"],
            "(did you mean BeforeAllowTraffic?)",
        ),
        (["--platform", "lambda", *LAMBDA[:-1], "latest"], "LMB007"),
        (
            ["--platform", "ecs", "--task-definition", "arn:aws:ecs:xx:1:task-definition/web", *ECS[2:]],
            "ECS007",
        ),
        (["--start-command", "a\nb"], "hooks.env values are one line"),
    ],
)
def test_usage_errors_are_one_line_exit_2_and_write_nothing(tmp_path, argv, message):
    code, out, err = run(["init", str(tmp_path), "--yes", *argv])
    assert (code, out) == (2, "")
    assert err.startswith("appspec init") and err.count("\n") == 1, err
    assert message in err
    assert written(tmp_path) == set()


@pytest.mark.parametrize(
    "argv, severity, rule_id, written_as",
    [
        (["--destination", "/var/www/app"], "info", "FILE009", "destination: /var/www/app"),
        (
            ["--platform", "ecs", "--task-definition", "web", *ECS[2:]],
            "info",
            "ECS009",
            "TaskDefinition: web",
        ),
        (["--platform", "lambda", *LAMBDA[:-1], "3"], "warning", "LMB008", "TargetVersion: '3'"),
    ],
)
def test_a_finding_is_written_as_asked_and_printed_on_stderr_as_lint_words_it(
    tmp_path, argv, severity, rule_id, written_as
):
    code, out, err = run(["init", str(tmp_path), *argv])
    assert code == 0, err
    (appspec,) = (p for p in tmp_path.iterdir() if p.name.startswith("appspec."))
    assert written_as in appspec.read_text()
    lint_code, lint_out, _ = run(["lint", "--no-config", str(tmp_path)])
    *lint_lines, lint_summary = lint_out.splitlines()
    assert lint_code == 0 and len(lint_lines) == 1 and f" {severity} {rule_id} " in lint_lines[0]
    assert err.splitlines() == lint_lines
    assert lint_summary in out.splitlines()


def test_init_refuses_exactly_what_lint_fails_on(tmp_path, monkeypatch):
    """The severity is the rule's own: FILE009 raised to an error fails lint of what init wrote before,
    and then stops init."""
    argv = ["--hooks", "none", "--destination", "/var/www/app"]
    assert run(["init", str(tmp_path / "warned"), *argv])[0] == 0
    assert run(["lint", "--no-config", str(tmp_path / "warned")])[0] == 0
    rule = all_rules()["FILE009"]
    monkeypatch.setitem(all_rules(), "FILE009", rule._replace(severity=Severity.ERROR))
    assert run(["lint", "--no-config", str(tmp_path / "warned")])[0] == 1
    code, out, err = run(["init", str(tmp_path / "refused"), *argv])
    assert (code, out) == (2, "") and err.count("\n") == 1 and "fail lint: FILE009" in err
    assert not (tmp_path / "refused").exists()


def test_a_file_in_place_of_the_folder_is_a_usage_error(tmp_path):
    (tmp_path / "scripts").write_text("")
    code, _, err = run(["init", str(tmp_path)])
    assert code == 2 and "a directory or file is in the way" in err
    code, _, err = run(["init", str(tmp_path / "scripts")])
    assert code == 2 and "is not a directory" in err


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_session_asks_for_what_the_flags_leave_out(tmp_path, monkeypatch):
    (tmp_path / "app").mkdir()
    answers = [
        "",
        "app",
        "",
        "stop,start,validate,nope",
        "stop,start,validate",
        "99999",
        "9000",
        "python3 -m web",
        "",
        "",
    ]
    monkeypatch.setattr(sys, "stdin", Terminal("\n".join(answers) + "\n"))
    out = Terminal()
    code = main(["init", str(tmp_path)], out, io.StringIO())
    assert code == 0, out.getvalue()
    shown = out.getvalue()
    assert "Platform (ec2, ecs, lambda) [ec2]: " in shown
    assert f"Install them to (APP_DIR) [/opt/{tmp_path.name.lower()}]: " in shown
    assert "unknown hook 'nope'" in shown and "'99999' is not a TCP port" in shown
    assert "Health check URL [http://127.0.0.1:9000/health]: " in shown
    spec = yaml.safe_load((tmp_path / "appspec.yml").read_text())
    assert spec["files"] == [{"source": "app", "destination": f"/opt/{tmp_path.name.lower()}"}]
    assert list(spec["hooks"]) == ["ApplicationStop", "ApplicationStart", "ValidateService"]
    env = (tmp_path / "scripts" / "hooks.env").read_text()
    assert (
        "APP_PORT=9000\n" in env and "APP_START_COMMAND=python3 -m web\n" in env and "HEALTH_URL" not in env
    )
    assert lint_findings(tmp_path) == []


def test_terminal_session_for_ecs_requires_the_required_values(tmp_path, monkeypatch):
    answers = ["ecs", TASK, "", "web", "80", "", "AfterAllowTestTraffic=smoke, BeforeInstall=prep"]
    monkeypatch.setattr(sys, "stdin", Terminal("\n".join(answers) + "\n"))
    out = Terminal()
    assert main(["init", str(tmp_path)], out, io.StringIO()) == 0, out.getvalue()
    assert "Container name (required): " in out.getvalue() and "a value is required" in out.getvalue()
    spec = yaml.safe_load((tmp_path / "appspec.yaml").read_text())
    assert spec["Hooks"] == [{"AfterAllowTestTraffic": "smoke"}, {"BeforeInstall": "prep"}]
    assert lint_findings(tmp_path) == []


def test_end_of_input_at_a_prompt_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdin", Terminal("lambda\norders\n"))
    err = io.StringIO()
    assert main(["init", str(tmp_path)], Terminal(), err) == 2
    assert err.getvalue() == "appspec init: no answer for 'Alias' (end of input); pass --alias\n"
    assert written(tmp_path) == set()


def test_yes_never_asks_even_on_a_terminal(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdin", Terminal(""))
    out = Terminal()
    assert main(["init", str(tmp_path), "--no-input"], out, io.StringIO()) == 0
    assert "[" not in out.getvalue() and (tmp_path / "appspec.yml").is_file()


def test_a_real_terminal_session_through_a_pty(tmp_path):
    answers = ["", "", "/opt/shop", "start", "", "python3 -m shop", "shop"]
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "appspec_tools", "init", str(tmp_path)],
        stdin=terminal, stdout=terminal, stderr=terminal, cwd=ROOT, close_fds=True,
    )  # fmt: skip
    os.close(terminal)
    os.write(controller, ("\n".join(answers) + "\n\x04").encode())  # ^D: end of input rather than a hang
    transcript = read_terminal(controller)
    assert process.wait(timeout=60) == 0, transcript
    text = transcript.decode()
    assert "Hooks (deregister, stop" in text and "Run the hooks as user (runas) [none]: " in text
    spec = yaml.safe_load((tmp_path / "appspec.yml").read_text())
    assert spec["hooks"] == {
        "ApplicationStart": [{"location": "scripts/application_start.py", "timeout": 180, "runas": "shop"}]
    }
    assert lint_findings(tmp_path) == []


def test_hook_sources_are_the_files_of_hooks():
    for name in ("hookkit.py", "loadbalancer.py", *(c.script for c in scaffold.HOOK_CHOICES)):
        assert scaffold.hook_source(name) == (HOOKS / name).read_bytes(), name


def test_hooks_are_package_data_of_the_wheel_and_no_package_is_left_out():
    """setup.cfg lists packages explicitly (hooks/ is mapped to appspec_tools.bundled_hooks): a new
    subpackage must be added there, or the wheel would miss it."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    options = config["options"]
    listed = set(options["packages"].split())
    package_dir = dict(
        (part.strip() for part in line.split("=")) for line in options["package_dir"].strip().splitlines()
    )
    assert package_dir == {"appspec_tools.bundled_hooks": "hooks", "agent_shim.sample_app": "sample_app"}
    assert config["options.package_data"]["appspec_tools.bundled_hooks"].strip() == "*.py"
    found = {
        str(Path(folder).relative_to(ROOT)).replace(os.sep, ".")
        for top in ("appspec_tools", "agent_shim")
        for folder, _, files in os.walk(ROOT / top)
        if "__init__.py" in files
    }
    missing, stale = sorted(found - listed), sorted(listed - found - set(package_dir))
    assert (missing, stale) == ([], []), f"setup.cfg [options] packages: add {missing}, remove {stale}"


def test_configure_parser_imports_nothing_heavy():
    """cli builds every subparser at each start: init's must not load yaml, the model or the linter."""
    code = (
        "import argparse, sys, appspec_tools; before = set(sys.modules); "
        "from appspec_tools import scaffold; scaffold.configure_parser(argparse.ArgumentParser()); "
        "new = set(sys.modules) - before; "
        "print(sorted(m for m in new if m.split('.')[0] in ('appspec_tools', 'agent_shim', 'yaml', 'jsonschema')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    small = str(
        [
            "appspec_tools.agent_names",
            "appspec_tools.errors",
            "appspec_tools.fileio",
            "appspec_tools.init_files",
            "appspec_tools.init_values",
            "appspec_tools.scaffold",
        ]
    )
    assert result.stdout.strip() == small  # constants, a few classes, one writer: nothing they import


@pytest.mark.slow
def test_the_built_package_carries_the_hooks_and_init_writes_them_from_there(tmp_path):
    """build_py is what a wheel (`pip wheel .`) packs: hooks/ lands in appspec_tools/bundled_hooks/, and an
    installed copy without the source tree's hooks/ writes the same bytes."""
    source, installed = tmp_path / "source", tmp_path / "site"
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("appspec_tools", "agent_shim", "hooks", "sample_app"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    build = [
        sys.executable,
        "-c",
        "import setuptools; setuptools.setup()",
        "-q",
        "build_py",
        "-d",
        str(installed),
    ]
    subprocess.run(build, check=True, capture_output=True, cwd=source)
    bundled = installed / "appspec_tools" / "bundled_hooks"
    assert {p.name for p in bundled.iterdir()} == {p.name for p in HOOKS.glob("*.py")}
    environ = {**os.environ, "PYTHONPATH": str(installed)}
    revision = tmp_path / "revision"
    argv = [
        sys.executable,
        "-m",
        "appspec_tools",
        "init",
        str(revision),
        "--hooks",
        "all",
        "--lb-events",
        "app",
    ]
    result = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, env=environ)
    assert result.returncode == 0, result.stderr
    where = [sys.executable, "-c", "import appspec_tools.scaffold as s; print(s.__file__)"]
    assert subprocess.run(where, capture_output=True, text=True, cwd=tmp_path, env=environ).stdout.startswith(
        str(installed)
    )
    for path in HOOKS.glob("*.py"):
        assert (revision / "scripts" / path.name).read_bytes() == path.read_bytes(), path.name


# -- rehearsing what init wrote: `appspec deploy --root R --install-root I`, as docs/deploy.md describes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rehearse(revision: Path, tmp_path: Path, **environ: str) -> dict:
    """One `appspec deploy` of the revision folder without root: its JSON report."""
    argv = [sys.executable, "-m", "appspec_tools", "deploy", "--bundle", str(revision), "--format", "json"]
    argv += ["--root", str(tmp_path / "root"), "--install-root", str(tmp_path / "install")]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **environ}
    result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    report = json.loads(result.stdout)
    assert result.returncode == (0 if report["status"] == "Succeeded" else 1), result.stderr
    return report


def pids_in(pidfile: Path) -> list:
    return [int(word) for word in pidfile.read_text().split()] if pidfile.exists() else []


def stop_app(pid: int) -> None:
    """SIGKILL the app's session (application_start gives it one of its own), if that pid is still it."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            if b"app/server.py" in handle.read():
                os.killpg(pid, signal.SIGKILL)
    except (OSError, ProcessLookupError):
        pass


def health(port: int) -> tuple:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)  # no proxy from the environment
    try:
        connection.request("GET", "/health")
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def failure(report: dict) -> str:
    return "\n".join([report["message"], *(e["log_tail"] for e in report["events"] if e["log_tail"])])


def statuses(report: dict) -> dict:
    return {event["event"]: event["status"] for event in report["events"]}


TRAFFIC_HOOKS = ("BeforeBlockTraffic", "AfterBlockTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")


@pytest.mark.slow
def test_an_app_init_configured_deploys_unchanged_under_install_root_and_passes_its_health_check(tmp_path):
    """A repository with an app serving /health (the sample app's server), init with its start command,
    then two rehearsals: the second runs the first's ApplicationStop."""
    revision, port = tmp_path / "shop", free_port()
    (revision / "app").mkdir(parents=True)
    shutil.copy(ROOT / "sample_app" / "app" / "server.py", revision / "app" / "server.py")
    command = "python3 app/server.py --port ${APP_PORT}"
    argv = ["init", str(revision), "--yes", "--port", str(port), "--start-command", command]
    assert run(argv)[0] == 0
    pidfile = tmp_path / "install" / "opt" / "shop" / "run" / "app.pid"
    # Deployment environment, not revision files: a quick health check and no drain on stop.
    quick = {"HEALTH_INTERVAL": "0.2", "HEALTH_TIMEOUT": "0.2", "SAMPLE_APP_DRAIN_SECONDS": "0"}
    started = []
    try:
        for number in (1, 2):
            report = rehearse(revision, tmp_path, **quick)
            started += pids_in(pidfile)
            assert report["status"] == "Succeeded", failure(report)
            assert statuses(report) == {
                **dict.fromkeys(TRAFFIC_HOOKS, "Skipped"),  # codedeploy-local runs them; init writes none
                "ApplicationStop": "Skipped" if number == 1 else "Succeeded",
                "DownloadBundle": "Succeeded",
                "BeforeInstall": "Skipped",
                "Install": "Succeeded",
                "AfterInstall": "Succeeded",
                "ApplicationStart": "Succeeded",
                "ValidateService": "Succeeded",
            }
            log = (Path(report["deployment_dir"]) / "logs" / "scripts.log").read_text()
            assert f"validate_service: probing http://127.0.0.1:{port}/health" in log
            assert health(port) == (200, b"ok\n")
        assert started[0] != started[1]
        assert (tmp_path / "install" / "opt" / "shop" / "appspec.yml").is_file()
    finally:
        for pid in set(started + pids_in(pidfile)):
            stop_app(pid)


@pytest.mark.slow
def test_a_fresh_folder_rehearses_up_to_the_start_command_init_asks_for(tmp_path):
    """Init's defaults in an empty folder: nothing to start yet, which init says (`next: set
    APP_START_COMMAND`); the rehearsal installs under INSTALL_ROOT and stops exactly there."""
    code, out, _ = run(["init", str(tmp_path / "fresh")])
    assert code == 0 and "next: set APP_START_COMMAND in scripts/hooks.env" in out
    report = rehearse(tmp_path / "fresh", tmp_path)
    events = {event["event"]: event for event in report["events"]}
    assert events["AfterInstall"]["status"] == "Succeeded", failure(report)
    assert events["ApplicationStart"]["status"] == "Failed"
    assert "APP_START_COMMAND is not set" in events["ApplicationStart"]["log_tail"]
    assert (tmp_path / "install" / "opt" / "fresh" / "scripts" / "hooks.env").is_file()
