"""What a team gets from the registry: the wheel and the sdist built from a copy of this tree (`python -m
build`), their contents, pytest run from the unpacked sdist, and the base install in a fresh venv, where
lint and the demo work and the fleet and AWS commands name the extra they need."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOT_SOURCE = ("__pycache__", "*.py[cod]", ".git", "build", "dist", "*.egg-info", ".*_cache", ".hypothesis")
EXTRA_ONLY = ("fabric", "paramiko", "invoke", "boto3", "botocore", "jsonschema", "requests")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The sdist and the wheel, built from a copy of the tree (the tree itself stays clean)."""
    pytest.importorskip("build", reason="the test extra installs `build`")
    work = tmp_path_factory.mktemp("packaging")
    source, out = work / "source", work / "dist"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_SOURCE), symlinks=True)
    command = [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(source)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def wheel_of(dist: Path) -> Path:
    return next(dist.glob("appspec_tools-*.whl"))


def sdist_of(dist: Path) -> Path:
    return next(dist.glob("appspec_tools-*.tar.gz"))


def test_the_wheel_carries_types_license_sample_app_and_hooks(dist):
    with zipfile.ZipFile(wheel_of(dist)) as wheel:
        modes = {info.filename: info.external_attr >> 16 for info in wheel.infolist()}
        metadata = next(wheel.read(n).decode() for n in modes if n.endswith(".dist-info/METADATA"))
    names = set(modes)
    assert {"appspec_tools/py.typed", "agent_shim/py.typed"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)
    app = {n[len("agent_shim/sample_app/") :] for n in names if n.startswith("agent_shim/sample_app/")}
    assert app == {
        p.relative_to(REPO / "sample_app").as_posix() for p in (REPO / "sample_app").rglob("*") if p.is_file()
    }
    assert (
        modes["agent_shim/sample_app/scripts/application_start.py"] & stat.S_IXUSR
    )  # the hooks stay runnable
    hooks = {n.rsplit("/", 1)[1] for n in names if n.startswith("appspec_tools/bundled_hooks/")}
    assert hooks == {p.name for p in (REPO / "hooks").glob("*.py")}
    base = [
        line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert sorted(line.split()[1].split(">")[0] for line in base) == ["PyYAML", "pathspec", "shtab"]
    for label in ("Source", "Documentation", "Issues"):
        assert f"Project-URL: {label}, https://github.com/appspec-tools/appspec-tools" in metadata


def test_the_sdist_has_the_test_tree_with_modes_and_bytes_intact(dist):
    with tarfile.open(sdist_of(dist)) as sdist:
        members = {m.name.split("/", 1)[1]: m for m in sdist.getmembers() if "/" in m.name}
        crlf = sdist.extractfile(
            next(m for n, m in members.items() if n.endswith("crlf-shebang/scripts/start_server.sh"))
        )
        assert crlf is not None and b"\r\n" in crlf.read()
    for path in ("LICENSE", "tests/conftest.py", "tests/support.py", "sample_app/appspec.yml", "docs/cli.md",
                 "bench/lint_bench.py", "hooks/hookkit.py"):  # fmt: skip
        assert path in members, path
    for folder in ("tests/fixtures/", "tests/fleet/", "tests/hooks/", "tests/shim/"):
        assert any(name.startswith(folder) for name in members), folder
    executable = [
        path.relative_to(REPO).as_posix()
        for folder in ("tests", "sample_app", "hooks")
        for path in (REPO / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.stat().st_mode & stat.S_IXUSR
    ]
    assert len(executable) > 10, executable  # the fixtures' scripts, the sample app's, the hooks
    for path in executable:
        assert members[path].mode & stat.S_IXUSR, path
    assert not [name for name in members if "__pycache__" in name or name.endswith(".pyc")]


def test_pytest_runs_from_the_unpacked_sdist(dist, tmp_path):
    with tarfile.open(sdist_of(dist)) as sdist:
        sdist.extractall(tmp_path)
    tree = next(tmp_path.glob("appspec_tools-*"))
    environ = {**os.environ, "PYTHONPATH": str(tree)}  # the sdist's code, before the editable install
    where = [sys.executable, "-c", "import appspec_tools; print(appspec_tools.__file__)"]
    assert subprocess.run(where, capture_output=True, text=True, cwd=tree, env=environ).stdout.startswith(
        str(tree)
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_bundle.py",
        "tests/test_revision.py",
        "tests/test_appspecignore.py",
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tree, env=environ, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout.splitlines()[-1]


@pytest.fixture(scope="module")
def base_venv(dist, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed without extras (its dependencies come from the registry)."""
    venv = tmp_path_factory.mktemp("base-install") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    result = subprocess.run([*pip, str(wheel_of(dist))], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return venv


def appspec(venv: Path, *argv, cwd: Path) -> subprocess.CompletedProcess:
    command = [str(venv / "bin" / "appspec"), *map(str, argv)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=300)


def test_the_base_install_has_no_fleet_or_aws_dependency(base_venv, tmp_path):
    listing = subprocess.run([str(base_venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    installed = {entry["name"].lower() for entry in json.loads(listing)}
    assert {"appspec-tools", "pyyaml", "pathspec", "shtab"} <= installed
    assert installed.isdisjoint(EXTRA_ONLY), sorted(installed & set(EXTRA_ONLY))


def test_lint_and_completion_work_and_fleet_and_aws_name_their_extra(base_venv, tmp_path):
    linted = appspec(base_venv, "lint", REPO / "sample_app", cwd=tmp_path)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    completion = appspec(base_venv, "completion", "bash", cwd=tmp_path).stdout
    assert "complete -o bashdefault -F _shtab_appspec appspec" in completion
    group = tmp_path / "group.yml"
    group.write_text("application: web\nhosts: [web-1]\n")
    for argv, extra in (
        (["fleet", "plan", "--group", group], "fleet"),
        (["push", REPO / "sample_app", "--s3", "s3://bucket/", "--application", "web"], "aws"),
        (["aws", "list", "--application", "web", "--deployment-group", "prod"], "aws"),
    ):
        result = appspec(base_venv, *argv, cwd=tmp_path)
        command = f"appspec {argv[0]}"
        expected = f"{command}: needs the '{extra}' extra: pip install 'appspec-tools[{extra}]'\n"
        assert (result.returncode, result.stderr, result.stdout) == (2, expected, ""), argv


def test_the_demo_runs_from_the_installed_wheel_and_stops(base_venv, tmp_path):
    folder = tmp_path / "demo"
    started = appspec(base_venv, "demo", "--dir", folder, "--port", "18080", cwd=tmp_path)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "The sample app runs at http://127.0.0.1:" in started.stdout
        archive = next((folder / "deployment-root").glob("*/*/deployment-archive"))
        assert (archive / "appspec.yml").read_bytes() == (REPO / "sample_app" / "appspec.yml").read_bytes()
    finally:
        stopped = appspec(base_venv, "demo", "--stop", folder, cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert f"stopped; removed {folder}" in stopped.stdout and not folder.exists()
