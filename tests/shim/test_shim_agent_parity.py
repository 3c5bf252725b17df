"""One test per row of docs/deploy.md's "Where we differ": by default `appspec deploy` ends as the
agent's local deployer does (outcome, event, error code, message, installed files, owners and modes);
`safe=True` (`--safe`, the fleet's host runner) turns on each protection the agent lacks."""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from shim_support import Hook, tar_info, tar_members

APPSPEC = b"version: 0.0\nos: linux\n"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")


def failed(result):
    assert not result.succeeded, "expected a failure"
    return result.failed_event


# Lifecycle events the AppSpec does not know -------------------------------------------------------------


def custom_hook_revision(host):
    return host.revision(
        "r",
        hooks={"MyCustomEvent": 'echo ran > "$OUT/custom"', "BeforeInstall": 'echo ran > "$OUT/before"'},
    )


def test_a_hook_for_an_unknown_event_fails_install_with_the_agents_message(host):
    result = host.deploy(custom_hook_revision(host))
    event = failed(result)
    assert (event.event, event.error_code, event.script_name) == ("Install", 5, "")
    assert event.message == 'appspec.yml file contains unknown lifecycle events: ["MyCustomEvent"]'
    assert (host.out / "before").exists(), "BeforeInstall ran first, as in the agent"


def test_a_hook_for_a_custom_event_runs_when_the_event_is_asked_for(host):
    result = host.deploy(custom_hook_revision(host), events=["MyCustomEvent"])
    assert result.succeeded, result.message
    assert [e.event for e in result.events] == ["DownloadBundle", "Install", "MyCustomEvent"]
    assert (host.out / "custom").exists()


def test_a_custom_event_that_is_not_a_hook_fails_install_and_safe_refuses_it_first(host):
    rev = host.revision("r", hooks={"BeforeInstall": "true"})
    event = failed(host.deploy(rev, events=["Bogus"]))
    assert (event.event, event.error_code) == ("Install", 5)
    assert event.message == (
        "You specified a lifecycle event which is not a default one and doesn't exist in your appspec.yml "
        "file: Bogus"
    )
    refused = host.deploy(rev, events=["Bogus"], safe=True)
    assert refused.events == [] and refused.input_error


def test_a_step_of_a_fleet_deployment_has_no_codedeploy_local_event_check(host):
    """The service's agent runs the events it is sent and never checks hook names."""
    result = host.deploy(
        custom_hook_revision(host), events=["DownloadBundle", "Install"], exact_events=True, safe=True
    )
    assert result.succeeded, result.message


# A missing script ----------------------------------------------------------------------------------------


def test_a_missing_after_install_script_fails_at_after_install_with_code_1(host):
    rev = host.revision(
        "r",
        files=[("app", str(host.dest))],
        content={"app/v.txt": "1"},
        hooks={"BeforeInstall": 'echo ran > "$OUT/before"', "AfterInstall": "true"},
    )
    (rev / "scripts" / "AfterInstall-1.sh").unlink()
    result = host.deploy(rev)
    event = failed(result)
    script = Path(result.deployment_dir) / "deployment-archive" / "scripts" / "AfterInstall-1.sh"
    assert (event.event, event.error_code) == ("AfterInstall", 1)
    assert event.message == f"Script does not exist at specified location: {script}"
    assert (host.out / "before").exists() and (host.dest / "v.txt").read_text() == "1"
    assert any("REV" in line for line in result.lint), "the lint said so before the first event"

    refused = host.deploy(rev, safe=True)
    assert refused.events == [] and "AppSpec error" in refused.message


# Owners, modes and symlinks ------------------------------------------------------------------------------


@as_root
@pytest.mark.parametrize("prefix", ["", "myapp/"])  # tar, or Python's tarfile when a folder is stripped
def test_archive_owners_are_kept_as_root_like_tar_xp_and_safe_installs_them_as_root(host, prefix):
    members = []
    for name, kind in (
        ("appspec.yml", tarfile.REGTYPE),
        ("data", tarfile.DIRTYPE),
        ("data/f", tarfile.REGTYPE),
    ):
        info = tar_info(prefix + name, kind, mode=0o755 if kind == tarfile.DIRTYPE else 0o644)
        info.uid, info.gid, info.uname, info.gname = 4242, 4343, "", ""
        members.append((info, APPSPEC if name == "appspec.yml" else b"x"))
    bundle = tar_members(host.tmp / "owned.tgz", members, mode="w:gz")
    for safe, owner in ((False, (4242, 4343)), (True, (0, 0))):
        result = host.deploy(bundle, safe=safe)
        assert result.succeeded, result.message
        archive = Path(result.deployment_dir) / "deployment-archive"
        for path in (archive / "data", archive / "data" / "f"):
            info = os.lstat(path)
            assert (info.st_uid, info.st_gid) == owner, (safe, path)


def test_a_folder_revision_is_copied_like_cp_r_modes_under_the_umask_and_new_times(host):
    rev = host.revision(
        "r", files=[("app", str(host.dest))], content={"app/open.sh": "#!/bin/sh\n", "app/f": "x"}
    )
    (rev / "app" / "open.sh").chmod(0o777)
    (rev / "app" / "f").chmod(0o666)
    (rev / "app" / "sub").mkdir(mode=0o700)
    os.utime(rev / "app" / "f", (1_600_000_000, 1_600_000_000))
    old = os.umask(0o022)
    try:
        result = host.deploy(rev)
    finally:
        os.umask(old)
    assert result.succeeded, result.message
    modes = {name: stat.S_IMODE(os.lstat(host.dest / name).st_mode) for name in ("open.sh", "f", "sub")}
    assert modes == {"open.sh": 0o755, "f": 0o644, "sub": 0o755}
    assert os.stat(host.dest / "f").st_mtime > 1_600_000_000 + 86400, "the copy has a new time"


@as_root
def test_a_permissions_owner_on_a_symlink_changes_its_target_and_safe_changes_the_link(host):
    nobody = pwd.getpwnam("nobody")
    for safe in (False, True):
        dest = host.tmp / f"dest-{safe}"
        rev = host.revision(
            f"r-{safe}",
            files=[("app", str(dest))],
            content={"app/real.txt": "x"},
            extra=f"permissions:\n  - object: {dest}\n    pattern: link.txt\n    owner: nobody\n",
        )
        (rev / "app" / "link.txt").symlink_to("real.txt")
        result = host.deploy(rev, safe=safe, group_name=f"g-{safe}")
        assert result.succeeded, result.message
        link, target = os.lstat(dest / "link.txt"), os.stat(dest / "real.txt")
        if safe:
            assert (link.st_uid, target.st_uid) == (nobody.pw_uid, 0)
        else:
            assert (link.st_uid, target.st_uid) == (0, nobody.pw_uid)


def test_a_permissions_owner_that_does_not_exist_is_rubys_message(host):
    rev = host.revision(
        "r",
        files=[("app", str(host.dest))],
        content={"app/a.txt": "x"},
        extra=f"permissions:\n  - object: {host.dest}\n    owner: no-such-user-4242\n",
    )
    event = failed(host.deploy(rev))
    assert (event.event, event.error_code, event.message) == (
        "Install",
        5,
        "can't find user for no-such-user-4242",
    )


# What a script sees and prints ---------------------------------------------------------------------------


@pytest.mark.parametrize("locale, fails", [("C", False), ("C.UTF-8", True)])
def test_a_scripts_invalid_utf8_is_logged_as_printed_and_fails_it_under_a_utf8_locale(
    host, monkeypatch, locale, fails
):
    """The agent's Ruby reads output in its locale's encoding; under UTF-8, `strip` of the line for the
    deployments log raises ArgumentError and the script fails with code 4 once it has exited."""
    monkeypatch.setenv("LC_ALL", locale)
    rev = host.revision("r", hooks={"BeforeInstall": r"printf 'caf\351\n'; echo after"})
    result = host.deploy(rev)
    log = (Path(result.deployment_dir) / "logs" / "scripts.log").read_bytes()
    assert b"[stdout]caf\xe9\n" in log
    if not fails:
        assert result.succeeded, result.message
        assert b"caf\xe9" in Path(host.layout.deployments_log).read_bytes()
        return
    event = failed(result)
    assert (event.event, event.error_code) == ("BeforeInstall", 4)
    assert event.message == (
        "Script at specified location: scripts/BeforeInstall-1.sh failed with error ArgumentError with "
        "message invalid byte sequence in UTF-8"
    )
    assert b"after" not in log, "the reader stopped at the line, as Ruby's thread does"


def test_a_scripts_stdin_is_a_pipe_closed_at_once(host):
    rev = host.revision(
        "r", hooks={"BeforeInstall": 'test -p /dev/stdin && echo pipe > "$OUT/stdin"; cat >> "$OUT/stdin"'}
    )
    assert host.deploy(rev).succeeded
    assert (host.out / "stdin").read_text() == "pipe\n", "a pipe, and EOF at once"


def test_the_deployment_group_names_the_id_and_the_name_is_localfleet_like_codedeploy_local(host):
    rev = host.revision(
        "r", hooks={"BeforeInstall": 'echo "$DEPLOYMENT_GROUP_ID $DEPLOYMENT_GROUP_NAME" > "$OUT/g"'}
    )
    argv = [sys.executable, "-m", "appspec_tools", "deploy", "--root", str(host.root), "--bundle", str(rev)]
    env = dict(os.environ, OUT=str(host.out))
    for extra, expected in (
        (["--deployment-group", "G"], "G LocalFleet"),
        (["--deployment-group", "G", "--deployment-group-name", "Web"], "G Web"),
        ([], "default-local-deployment-group LocalFleet"),
    ):
        process = subprocess.run(argv + extra + ["--format", "json"], env=env, capture_output=True, text=True)
        assert process.returncode == 0, process.stdout + process.stderr
        assert (host.out / "g").read_text().strip() == expected
        assert json.loads(process.stdout)["group_id"] == expected.split()[0]
    named = subprocess.run(
        argv + ["--application-name", "Shop", "--format", "json"], env=env, capture_output=True
    )
    assert json.loads(named.stdout)["application"] == "Shop", "codedeploy-local's spelling of --application"


# Timeouts ------------------------------------------------------------------------------------------------


def test_a_timed_out_script_that_ignores_sigterm_is_waited_for_like_the_agent(host):
    """The agent sends SIGTERM and its popen3 block waits for the script: code 3 once it has exited."""
    rev = host.revision("r", hooks={"BeforeInstall": Hook('trap "" TERM; sleep 3', timeout=1)})
    started = time.monotonic()
    event = failed(host.deploy(rev, kill_grace=None))
    took = time.monotonic() - started
    assert event.error_code == 3 and event.message.endswith("failed to complete in 1 seconds")
    assert took >= 2.5, f"waited for the script to exit ({took:.1f}s)"


def test_a_c_locale_reaches_the_scripts_as_c_without_pythons_coerced_lc_ctype(host):
    """Python sets LC_CTYPE=C.UTF-8 for itself under a C locale (PEP 538); the agent's scripts get none."""
    rev = host.revision(
        "r", hooks={"BeforeInstall": 'echo "ctype=${LC_CTYPE-unset} lang=$LANG" > "$OUT/locale"'}
    )
    env = {"PATH": os.environ["PATH"], "LANG": "C", "OUT": str(host.out), "HOME": str(host.tmp)}
    argv = [sys.executable, "-m", "appspec_tools", "deploy", "--root", str(host.root), "--bundle", str(rev)]
    process = subprocess.run(argv, env=env, capture_output=True, text=True)
    assert process.returncode == 0, process.stdout + process.stderr
    assert (host.out / "locale").read_text().strip() == "ctype=unset lang=C"
