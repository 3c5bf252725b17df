"""The composite GitHub Action (action.yml): its lint step, run here with bash as the runner runs it,
annotates findings with `--format github` and fails the step on errors (on warnings with `strict`)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
REVISIONS = ROOT / "tests" / "fixtures" / "revisions"


def lint_step() -> dict:
    (step,) = [s for s in ACTION["runs"]["steps"] if s.get("name") == "appspec lint"]
    return step


def run_step(tmp_path: Path, **inputs: str) -> subprocess.CompletedProcess:
    """The step's script with its inputs as the runner passes them (defaults for the others)."""
    values = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
    values.update(inputs)
    env = dict(os.environ)
    for name, template in lint_step()["env"].items():
        env[name] = values[template.strip("${} ").split(".", 1)[1]]
    if shutil.which("appspec") is None:  # the installed console script, else the module
        shim = tmp_path / "bin" / "appspec"
        shim.parent.mkdir()
        shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m appspec_tools "$@"\n')
        shim.chmod(0o755)
        env["PATH"] = f"{shim.parent}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", lint_step()["run"]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_the_action_is_composite_and_installs_the_package_before_linting():
    assert ACTION["runs"]["using"] == "composite"
    assert set(ACTION["inputs"]) >= {"paths", "strict", "version", "args"}
    names = [step.get("name") for step in ACTION["runs"]["steps"]]
    assert names.index("Install appspec-tools") < names.index("appspec lint")


def test_a_missing_script_is_an_error_annotation_and_fails_the_step(tmp_path):
    out = run_step(tmp_path, paths=str(REVISIONS / "missing-script"))
    assert out.returncode == 1, out.stderr
    assert out.stdout.startswith("::error file=") and "REV010" in out.stdout


@pytest.mark.parametrize("strict, code", [("false", 0), ("true", 1)])
def test_strict_makes_a_warning_fail_the_step(tmp_path, strict, code):
    revision = tmp_path / "rev"
    revision.mkdir()
    (revision / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: 4000\n"
    )
    (revision / "a.sh").write_text("#!/bin/sh\nexit 0\n")
    (revision / "a.sh").chmod(0o755)
    out = run_step(tmp_path, paths=str(revision), strict=strict)
    assert out.returncode == code, out.stderr
    assert "::warning file=" in out.stdout


def test_paths_and_args_take_several_words(tmp_path):
    paths = f"{REVISIONS / 'clean'}\n{REVISIONS / 'missing-script'}"
    out = run_step(tmp_path, paths=paths, args="--disable REV010 --no-config")
    assert (out.returncode, out.stdout.count("::")) == (0, 0), out.stdout + out.stderr
