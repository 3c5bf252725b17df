"""The host runner zipapp: reproducible bytes, only the host side inside, and a deployment run by a
python3 that has no site-packages (`-I -S`), like a bare host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

from agent_shim.fleet.runner import build_runner, build_runner_bytes, file_checksum


def read(path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def test_the_zipapp_is_reproducible(tmp_path):
    first = build_runner(str(tmp_path / "a"))
    second = build_runner(str(tmp_path / "b"))
    assert first.checksum == second.checksum == file_checksum(first.path)
    assert read(first.path) == read(second.path) == build_runner_bytes()
    assert os.path.basename(first.path) == f"runner-{first.checksum[:16]}.pyz"
    assert build_runner(str(tmp_path / "a")) == first  # cached by content
    other_process = subprocess.run(
        [sys.executable, "-c", "from agent_shim.fleet.runner import build_runner_bytes as b; import sys; "
         "sys.stdout.buffer.write(b())"],
        capture_output=True, env={**os.environ, "PYTHONHASHSEED": "12345"},
    )  # fmt: skip
    assert other_process.stdout == read(first.path)  # marshal output does not depend on the process


def test_the_zipapp_holds_the_host_side_only(tmp_path):
    runner = build_runner(str(tmp_path))
    assert read(runner.path)[:2] == b"#!"
    with zipfile.ZipFile(runner.path) as archive:
        names = archive.namelist()
        infos = archive.infolist()
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert "__main__.py" in names and "agent_shim/deployment.py" in names and "appspec_tools/cli.py" in names
    assert "yaml/__init__.py" in names
    assert not [n for n in names if n.startswith("agent_shim/fleet/") or not n.endswith((".py", ".pyc"))]
    sources = {n for n in names if n.endswith(".py")}
    assert {n[:-1] for n in names if n.endswith(".pyc")} == sources - {"__main__.py"}  # bytecode beside each


def test_the_bytecode_is_used_and_a_stale_one_is_ignored(tmp_path):
    runner = build_runner(str(tmp_path))
    code = "import appspec_tools.cli as m; print(m.__spec__.origin)"
    loaded = bare_python("-c", f"import sys; sys.path.insert(0, {runner.path!r}); {code}", cwd=str(tmp_path))
    assert loaded.stdout.strip().endswith("appspec_tools/cli.pyc")
    stale = tmp_path / "stale.pyz"
    with zipfile.ZipFile(runner.path) as source, zipfile.ZipFile(stale, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info, b"\0\0\0\0" + data[4:] if info.filename.endswith(".pyc") else data)
    helped = bare_python(str(stale), "deploy", "--help", cwd=str(tmp_path))  # another magic number: the .py
    assert helped.returncode == 0 and "--format" in helped.stdout


def bare_python(*arguments: str, cwd: str) -> subprocess.CompletedProcess:
    """python3 without site-packages or the environment's PYTHON* variables: only the zipapp's modules."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": cwd}
    return subprocess.run(
        [sys.executable, "-I", "-S", *arguments], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_the_zipapp_runs_without_site_packages(tmp_path):
    runner = build_runner(str(tmp_path / "cache"))
    assert bare_python("-c", "import yaml", cwd=str(tmp_path)).returncode != 0  # really no PyYAML
    helped = bare_python(runner.path, "deploy", "--help", cwd=str(tmp_path))
    assert helped.returncode == 0 and "--format" in helped.stdout


def test_the_zipapp_runs_a_deployment_without_site_packages(tmp_path):
    revision = tmp_path / "revision"
    (revision / "scripts").mkdir(parents=True)
    (revision / "site").mkdir()
    (revision / "site" / "index.html").write_text("hello\n")
    (revision / "scripts" / "start.sh").write_text("#!/bin/sh\necho started $DEPLOYMENT_GROUP_NAME\n")
    (revision / "scripts" / "start.sh").chmod(0o755)
    (revision / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nfiles:\n  - source: site\n    destination: /srv/site\n"
        "hooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n"
    )
    runner = build_runner(str(tmp_path / "cache"))
    done = bare_python(
        runner.path, "deploy", "--bundle", str(revision), "--deployment-group", "web",
        "--root", str(tmp_path / "root"), "--install-root", str(tmp_path / "install"), "--format", "jsonl",
        cwd=str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert records[-1]["type"] == "result" and records[-1]["status"] == "Succeeded"
    events = [r["event"] for r in records if r["type"] == "event"]
    assert events[-4:] == ["ApplicationStart", "ValidateService", "BeforeAllowTraffic", "AfterAllowTraffic"]
    assert (tmp_path / "install" / "srv" / "site" / "index.html").read_text() == "hello\n"
