"""SELinux contexts at Install, as the agent's ChangeContextCommand runs them: semanage then restorecon on
the real path, the range normalised; a host without the tools fails the Install, as the agent's `system`
does there; a context without a range crashes the agent as it writes the install instructions, after the
previous install's cleanup and before any copy (and `safe` finds that before the cleanup)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from agent_shim.layout import LOCAL_GROUP_ID

HEAD = "version: 0.0\nos: linux\n"


def context_revision(host, name: str, context: str):
    appspec = (
        f"{HEAD}files:\n  - source: app\n    destination: {host.dest}\npermissions:\n"
        f"  - object: {host.dest}\n    type: [file]\n    context:\n{context}"
    )
    return host.revision(name, appspec=appspec, content={"app/index.html": name})


def without_selinux_tools(monkeypatch) -> None:
    """This host's PATH, less any folder that has semanage or restorecon."""
    kept = [
        folder
        for folder in os.environ.get("PATH", "").split(os.pathsep)
        if not any(os.path.exists(os.path.join(folder, tool)) for tool in ("semanage", "restorecon"))
    ]
    monkeypatch.setenv("PATH", os.pathsep.join(kept))
    assert shutil.which("semanage") is None and shutil.which("restorecon") is None


def recording_tools(host, monkeypatch) -> Path:
    """semanage and restorecon that record their arguments and succeed, first on PATH."""
    tools = host.tmp / "tools"
    tools.mkdir()
    for tool in ("semanage", "restorecon"):
        script = tools / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{host.out}/selinux"\n')
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    return host.out / "selinux"


def test_a_context_runs_semanage_then_restorecon_with_the_agents_arguments(host, monkeypatch):
    calls = recording_tools(host, monkeypatch)
    context = "      name: system_u\n      type: httpd_sys_content_t\n      range: s0-s0:c3,c1,c2\n"
    result = host.deploy(context_revision(host, "r", context))
    assert result.succeeded, result.message
    target = os.path.realpath(host.dest / "index.html")
    assert calls.read_text().splitlines() == [
        f"semanage fcontext -a -s system_u -t httpd_sys_content_t -r s0:c1.c3 {target}",
        f"restorecon -v {target}",
    ]
    assert f"semanage\0{target}" in host.cleanup_lines()
    instructions = json.loads(
        Path(host.layout.instructions_dir, f"{LOCAL_GROUP_ID}-install.json").read_text()
    )
    (entry,) = [i for i in instructions["instructions"] if i["type"] == "semanage"]
    assert entry["context"] == {
        "user": "system_u",
        "role": None,
        "type": "httpd_sys_content_t",
        "range": "s0:c1.c3",
    }


def test_a_host_without_the_selinux_tools_fails_the_install(host, monkeypatch):
    without_selinux_tools(monkeypatch)
    context = "      type: httpd_sys_content_t\n      range: s0\n"
    event = host.deploy(context_revision(host, "r", context)).failed_event
    assert (event.event, event.error_code) == ("Install", 5)
    target = os.path.realpath(host.dest / "index.html")
    assert re.fullmatch(
        "The deployment failed because the application specification file contains an error in the settings for "
        "the context parameter. Update the permissions section of the AppSpec file, and then try again. Failed "
        f"command: semanage fcontext -a -t httpd_sys_content_t -r s0 {re.escape(target)}. "
        r"Exit code: pid \d+ exit 127",
        event.message,
    ), event.message


def test_a_context_without_a_range_crashes_install_after_the_cleanup_as_the_agent_does(host):
    first = host.revision("first", files=[("app", str(host.dest))], content={"app/old.html": "old"})
    assert host.deploy(first).succeeded
    result = host.deploy(context_revision(host, "second", "      type: httpd_sys_content_t\n"))
    event = result.failed_event
    assert (event.event, event.error_code) == ("Install", 5)
    assert event.message == "undefined method `get_range' for nil:NilClass"
    assert any("PERM021" in line for line in result.lint)
    assert any(
        "removes the previous install's files before it finds this problem" in w for w in result.warnings
    )
    assert not (host.dest / "old.html").exists(), "the previous install's cleanup ran first"
    assert not (host.dest / "index.html").exists(), "nothing was copied"
    install_file = Path(host.layout.instructions_dir, f"{LOCAL_GROUP_ID}-install.json")
    assert install_file.read_text() == "" and host.cleanup_lines() == []


def test_safe_finds_a_context_without_a_range_before_the_cleanup(host):
    first = host.revision("first", files=[("app", str(host.dest))], content={"app/old.html": "old"})
    assert host.deploy(first).succeeded
    second = context_revision(host, "second", "      type: httpd_sys_content_t\n")
    # lint refuses it before any event (PERM021 is an error); without lint, Install's own check does
    refused = host.deploy(second, safe=True)
    assert not refused.succeeded and not refused.events and "1 AppSpec error" in refused.message
    assert any("PERM021" in line for line in refused.lint)
    assert (host.dest / "old.html").read_text() == "old"
    from agent_shim import install as installer
    from appspec_tools.model.build import build
    from appspec_tools.source import read_source

    archive = host.tmp / "archive"
    shutil.copytree(second, archive)
    spec = build(read_source((archive / "appspec.yml").read_bytes(), "appspec.yml").root, "ec2")
    instructions = host.layout.instructions_dir
    try:
        installer.install(str(archive), instructions, LOCAL_GROUP_ID, spec, "DISALLOW", safe=True)
    except installer.InstallError as exc:
        assert str(exc) == "undefined method `get_range' for nil:NilClass"
    else:
        raise AssertionError("safe install did not refuse the context without a range")
    assert (host.dest / "old.html").read_text() == "old", "safe keeps the running revision's files"
    assert host.cleanup_lines(), "and its cleanup file"
