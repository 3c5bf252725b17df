"""before_install.py and after_install.py run like the agent runs them."""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from pathlib import Path

import hookkit
import pytest
from conftest import HOOKS, run_hook

BEFORE = HOOKS / "before_install.py"
AFTER = HOOKS / "after_install.py"


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """APP_DIR holding a previous release plus the usual leftovers."""
    app = tmp_path / "opt" / "app"
    (app / "static" / "img").mkdir(parents=True)
    (app / "server.py").write_text("print('v1')\n")
    (app / ".DS_Store").write_bytes(b"\0")
    (app / "static" / "img" / ".DS_Store").write_bytes(b"\0")
    (app / "static" / "img" / "logo.png").write_bytes(b"png")
    (app / "log").mkdir()
    (app / "log" / "app.log").write_text("old log\n")
    return app


def test_free_space_below_the_threshold_fails_with_code_6(installed, hook_env):
    result = run_hook(BEFORE, hook_env(APP_DIR=installed, MIN_FREE_MB=10**12))
    assert result.returncode == hookkit.EXIT_PREREQUISITE, result
    assert "MiB free on the file system of" in result.stderr and "lower MIN_FREE_MB" in result.stderr


def test_backup_once_per_deployment_and_keep_n(installed, tmp_path, hook_env):
    backups = tmp_path / "backups"
    for number in range(1, 5):
        env = hook_env(
            APP_DIR=installed, BACKUP_DIR=backups, BACKUP_KEEP=2, DEPLOYMENT_ID=f"d-00000000{number}"
        )
        assert run_hook(BEFORE, env).returncode == 0
        rerun = run_hook(BEFORE, env)
        assert rerun.returncode == 0 and "already holds this deployment's backup" in rerun.stdout
    kept = sorted(p.name for p in backups.iterdir())
    assert [name.rsplit("-", 1)[1] for name in kept] == ["000000003.tar.gz", "000000004.tar.gz"]
    with tarfile.open(backups / kept[-1]) as archive:
        assert "app/server.py" in archive.getnames()


def test_backup_inside_app_dir_does_not_back_up_itself(installed, hook_env):
    assert run_hook(BEFORE, hook_env(APP_DIR=installed, BACKUP_DIR="backups")).returncode == 0
    [backup] = (installed / "backups").iterdir()
    with tarfile.open(backup) as archive:
        assert not [name for name in archive.getnames() if "backups" in name]


def test_first_deployment_has_nothing_to_back_up_or_clean(tmp_path, hook_env):
    app = tmp_path / "opt" / "new-app"
    result = run_hook(BEFORE, hook_env(APP_DIR=app, BACKUP_DIR=tmp_path / "b", CLEAN_GLOBS="**/.DS_Store"))
    assert result.returncode == 0, result
    assert "nothing installed yet" in result.stdout and app.is_dir()


def test_clean_globs_remove_leftovers_that_would_trip_disallow(installed, hook_env):
    result = run_hook(BEFORE, hook_env(APP_DIR=installed, CLEAN_GLOBS="**/.DS_Store"))
    assert result.returncode == 0, result
    assert not list(installed.rglob(".DS_Store"))
    assert (installed / "static" / "img" / "logo.png").exists()
    assert "clean: 2 path(s) removed" in result.stdout


def test_clean_destination_keeps_logs_pidfile_and_clean_keep(installed, hook_env):
    (installed / "run").mkdir()
    (installed / "run" / "app.pid").write_text("1\n")
    (installed / "data").mkdir()
    result = run_hook(BEFORE, hook_env(APP_DIR=installed, CLEAN_DESTINATION="true", CLEAN_KEEP="data"))
    assert result.returncode == 0, result
    assert sorted(p.name for p in installed.iterdir()) == ["data", "log", "run"]


def test_clean_destination_refuses_a_system_directory(hook_env):
    result = run_hook(BEFORE, hook_env(APP_DIR="/opt", CLEAN_DESTINATION="yes"))
    assert result.returncode == hookkit.EXIT_CONFIG, result
    assert "would empty a system directory" in result.stderr


def test_environment_file_from_template_and_app_env_settings(installed, hook_env):
    (installed / "app.env.template").write_text(
        "DEPLOYMENT=${DEPLOYMENT_ID}\nGROUP=${DEPLOYMENT_GROUP_NAME}\nREGION=${REGION:-eu-west-1}\nPRICE=$$5\n"
    )
    env = hook_env(
        APP_DIR=installed, APP_ENV_TEMPLATE="app.env.template", APP_ENV_GREETING="hello ${APPLICATION_NAME}"
    )
    result = run_hook(AFTER, env)
    assert result.returncode == 0, result
    target = installed / "app.env"
    assert target.read_text() == (
        "DEPLOYMENT=d-TEST00001\nGROUP=SampleGroup\nREGION=eu-west-1\nPRICE=$5\nGREETING=hello SampleApp\n"
    )
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    for skipped in ("python dependencies: skipped", "node dependencies: skipped", "ownership: skipped"):
        assert skipped in result.stdout
    assert hookkit.read_env_file(str(target))["GREETING"] == "hello SampleApp"


def test_template_with_an_unset_variable_names_it(installed, hook_env):
    (installed / "t.env").write_text("A=1\nB=${DATABASE_URL}\n")
    result = run_hook(AFTER, hook_env(APP_DIR=installed, APP_ENV_TEMPLATE="t.env"))
    assert result.returncode == hookkit.EXIT_CONFIG, result
    assert f"{installed / 't.env'}:2: ${{DATABASE_URL}} is not set" in result.stderr


def fake_npm(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text('#!/bin/sh\necho "$PWD $*" > npm-called\n')
    npm.chmod(0o755)
    return bin_dir


def test_npm_ci_runs_in_app_dir_when_package_json_is_present(installed, tmp_path, hook_env):
    (installed / "package.json").write_text("{}")
    (installed / "package-lock.json").write_text("{}")
    env = hook_env(APP_DIR=installed, NPM_ARGS="--omit=dev")
    env["PATH"] = f"{fake_npm(tmp_path)}:{env['PATH']}"
    result = run_hook(AFTER, env)
    assert result.returncode == 0, result
    assert (installed / "npm-called").read_text() == f"{installed} ci --omit=dev\n"


def test_package_json_without_lockfile_fails_with_code_7(installed, hook_env):
    (installed / "package.json").write_text("{}")
    result = run_hook(AFTER, hook_env(APP_DIR=installed))
    assert result.returncode == hookkit.EXIT_INSTALL, result
    assert "npm ci needs a lockfile" in result.stderr


def test_package_json_without_npm_fails_with_code_6(installed, hook_env, tmp_path):
    (installed / "package.json").write_text("{}")
    (installed / "package-lock.json").write_text("{}")
    env = hook_env(APP_DIR=installed)
    python_dir = tmp_path / "pybin"
    python_dir.mkdir()
    (python_dir / "python3").symlink_to(shutil.which("python3"))
    env["PATH"] = f"{python_dir}:/nonexistent"
    result = run_hook(AFTER, env)
    assert result.returncode == hookkit.EXIT_PREREQUISITE, result
    assert "npm is not installed" in result.stderr


@pytest.mark.slow
def test_requirements_txt_gets_a_virtual_environment(installed, hook_env):
    (installed / "requirements.txt").write_text("# no dependencies\n")
    env = hook_env(APP_DIR=installed, PIP_ARGS="--no-index")
    first = run_hook(AFTER, env, timeout=120)
    assert first.returncode == 0, first
    assert (installed / ".venv" / "bin" / "python").exists()
    second = run_hook(AFTER, env, timeout=120)
    assert second.returncode == 0 and "reusing virtual environment" in second.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_app_owner_is_applied_recursively(installed, hook_env):
    result = run_hook(AFTER, hook_env(APP_DIR=installed, APP_OWNER="nobody"))
    assert result.returncode == 0, result
    nobody = __import__("pwd").getpwnam("nobody")
    assert {p.stat().st_uid for p in [installed, *installed.rglob("*")]} == {nobody.pw_uid}


def test_unknown_owner_is_a_config_error_before_any_work(installed, hook_env):
    (installed / "package.json").write_text("{}")
    result = run_hook(AFTER, hook_env(APP_DIR=installed, APP_OWNER="no-such-user-xyz"))
    assert result.returncode == hookkit.EXIT_CONFIG, result
    assert "APP_OWNER=no-such-user-xyz: no user 'no-such-user-xyz'" in result.stderr
