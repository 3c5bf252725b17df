"""`python -m appspec_tools deploy` on this host: exit codes 0/1/2, one-line errors, --format json, and never
a traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading

import pytest
from shim_support import ENV_DUMP, read_env, tar_tree


def run_cli(host, *args: str, timeout: float = 60):
    env = dict(os.environ, OUT=str(host.out))
    env.pop("APPSPEC_DEBUG", None)
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "appspec_tools",
            "deploy",
            "--root",
            str(host.root),
            "--kill-grace",
            "0.2",
            *args,
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for stream in (process.stdout, process.stderr):
        assert "Traceback" not in stream, stream
    return process


def test_a_successful_deployment_exits_0_with_one_line_per_event(host):
    rev = host.revision("r", hooks={"BeforeInstall": "echo hello"})
    process = run_cli(host, "--bundle", str(rev))
    assert process.returncode == 0, process.stdout + process.stderr
    assert process.stderr == ""
    lines = process.stdout.splitlines()
    assert (
        lines[0].startswith("deployment d-")
        and f"group default-local-deployment-group, revision {rev}" in lines[0]
    )
    events = [line.split()[0] for line in lines[1:12]]
    assert events == [  # codedeploy-local's order: the traffic hooks run on every deployment
        "BeforeBlockTraffic",
        "AfterBlockTraffic",
        "ApplicationStop",
        "DownloadBundle",
        "BeforeInstall",
        "Install",
        "AfterInstall",
        "ApplicationStart",
        "ValidateService",
        "BeforeAllowTraffic",
        "AfterAllowTraffic",
    ]
    assert "(no scripts to run)" in lines[1]
    assert re.fullmatch(r"deployment d-[A-Z0-9]{9}-local succeeded in \d+\.\ds", lines[12]), lines[12]


def test_without_load_balancer_leaves_the_traffic_hooks_out(host):
    rev = host.revision("r", hooks={"BeforeAllowTraffic": 'echo ran > "$OUT/ran"'})
    process = run_cli(host, "--bundle", str(rev), "--without-load-balancer", "--format", "json")
    assert process.returncode == 0, process.stderr
    events = [e["event"] for e in json.loads(process.stdout)["events"]]
    assert events[0] == "ApplicationStop" and events[-1] == "ValidateService"
    assert not (host.out / "ran").exists()


def test_a_failed_deployment_exits_1_and_shows_the_scripts_log_tail(host):
    rev = host.revision("r", hooks={"BeforeInstall": "echo about to fail; exit 3"})
    process = run_cli(host, "--bundle", str(rev))
    assert process.returncode == 1
    out = process.stdout
    assert "| [stdout]about to fail" in out
    assert out.rstrip().endswith(
        "failed: BeforeInstall failed: Script at specified location: scripts/BeforeInstall-1.sh failed with exit code 3"
    )
    assert "ScriptFailed: Script at specified location" in out


def test_format_json_parses_and_has_the_result(host):
    rev = host.revision("r", hooks={"AfterInstall": "echo hi"})
    process = run_cli(
        host, "--bundle", str(rev), "--format", "json", "--application", "App", "--deployment-group", "G"
    )
    assert process.returncode == 0, process.stderr
    data = json.loads(process.stdout)
    assert data["status"] == "Succeeded"
    assert data["deployment_id"].startswith("d-") and data["group_id"] == "G" and data["application"] == "App"
    assert data["group_name"] == "LocalFleet"  # codedeploy-local: --deployment-group is the group's id
    assert [e["event"] for e in data["events"]][:4] == [
        "BeforeBlockTraffic",
        "AfterBlockTraffic",
        "ApplicationStop",
        "DownloadBundle",
    ]
    assert {e["status"] for e in data["events"]} == {"Skipped", "Succeeded"}
    assert all({"error_code", "message", "duration"} <= set(e) for e in data["events"])


def test_format_json_of_a_failure_exits_1(host):
    rev = host.revision("r", hooks={"AfterInstall": "exit 9"})
    process = run_cli(host, "--bundle", str(rev), "--format", "json")
    assert process.returncode == 1
    data = json.loads(process.stdout)
    assert data["status"] == "Failed" and data["error_code"] == 4
    assert (
        data["events"][-1]["event"] == "AfterInstall" and data["events"][-1]["error_name"] == "ScriptFailed"
    )


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--events", "BlockTraffic"], "--events: BlockTraffic is not an event a host runs"),
        (
            ["--events", "ApplicationStart,DownloadBundle,Install"],
            "--events: ApplicationStart needs the new revision",
        ),
        (["--max-revisions", "0"], "argument --max-revisions: '0' is not a whole number of 1 or more"),
        (
            ["--events", "Bogus", "--safe"],
            "--events: Bogus is neither a lifecycle event nor a hook of appspec.yml",
        ),
        (["--kill-grace", "-1"], "argument --kill-grace: '-1' is not a number of seconds (0 or more)"),
        (["--kill-grace", "soon"], "argument --kill-grace: 'soon' is not a number of seconds (0 or more)"),
        # each program owns its flags: another one's is a usage error, never ignored
        (["--timeline", "t.svg"], "appspec deploy: unrecognized arguments: --timeline t.svg"),
        (
            ["--aws", "--region", "xx"],
            "unrecognized arguments: --aws --region xx; the AWS CodeDeploy service is",
        ),
        (["--group", "g.yml"], "unrecognized arguments: --group g.yml; a group of hosts is `appspec fleet"),
        (["--deployment-group", "../escape"], "invalid deployment group '../escape'"),
        (
            ["--bundle-origin", "https://example.com/r.tgz"],
            "appspec deploy: --bundle-origin https://example.com/r.tgz: not an S3 location; "
            "give s3://BUCKET/KEY[?versionId=V&etag=E]",
        ),
        (
            ["--bundle-origin", "s3://bucket-only"],
            "--bundle-origin s3://bucket-only: an S3 revision is s3://",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line_on_stderr(host, args, needle):
    rev = host.revision("r", hooks={"BeforeInstall": 'echo ran > "$OUT/ran"'})
    process = run_cli(host, "--bundle", str(rev), *args)
    assert process.returncode == 2
    assert process.stdout == ""
    assert len(process.stderr.splitlines()) == 1 and needle in process.stderr
    assert not (host.out / "ran").exists()


def test_bundle_origin_gives_the_hooks_its_bundle_variables(host):
    """The fleet's runner: the archive is local, the hooks see the S3 object it was downloaded from."""
    rev = host.revision("r", hooks={"BeforeInstall": ENV_DUMP, "ValidateService": ENV_DUMP})
    archive = tar_tree(rev, host.tmp / "r.tgz", mode="w:gz")
    origin = "s3://revisions-bucket/web/app 1.tgz?versionId=3sL4kqtJ.rmSpX&etag=1aa643d63c1bda57"
    process = run_cli(host, "--bundle", str(archive), "--bundle-origin", origin)
    assert process.returncode == 0, process.stdout + process.stderr
    for event in ("BeforeInstall", "ValidateService"):
        env = read_env(host.out / f"env-{event}")
        assert env["BUNDLE_BUCKET"] == "revisions-bucket"
        assert env["BUNDLE_KEY"] == "web/app 1.tgz"
        assert env["BUNDLE_VERSION"] == "3sL4kqtJ.rmSpX"
        assert env["BUNDLE_ETAG"] == "1aa643d63c1bda57"


def test_bundle_origin_without_version_or_etag_leaves_them_unset(host, monkeypatch):
    monkeypatch.setenv("BUNDLE_VERSION", "inherited")  # unset in the hooks, not inherited, not empty
    monkeypatch.setenv("BUNDLE_ETAG", "inherited")
    rev = host.revision("r", hooks={"BeforeInstall": ENV_DUMP})
    archive = tar_tree(rev, host.tmp / "r.tgz", mode="w:gz")
    process = run_cli(host, "--bundle", str(archive), "--bundle-origin", "s3://revisions-bucket/web.tgz")
    assert process.returncode == 0, process.stdout + process.stderr
    env = read_env(host.out / "env-BeforeInstall")
    assert (env["BUNDLE_BUCKET"], env["BUNDLE_KEY"]) == ("revisions-bucket", "web.tgz")
    assert "BUNDLE_VERSION" not in env and "BUNDLE_ETAG" not in env


def test_no_bundle_is_a_usage_error(host):
    process = run_cli(host)
    assert process.returncode == 2
    assert process.stderr.strip() == (
        "appspec deploy: the following arguments are required: --bundle (see `appspec deploy --help`)"
    )


def test_a_missing_bundle_is_one_line_naming_it(host):
    missing = host.tmp / "no-such-revision.zip"
    process = run_cli(host, "--bundle", str(missing))
    assert process.returncode != 0
    output = (process.stdout + process.stderr).strip().splitlines()
    assert len(output) == 1 and f"{missing}: no such file or directory" in output[0]


def test_a_missing_bundle_exits_2_and_touches_nothing(host):
    process = run_cli(host, "--bundle", str(host.tmp / "no-such-revision.zip"))
    assert (process.returncode, process.stdout) == (2, "")
    assert not (host.root / "default-local-deployment-group").exists()


def test_a_busy_group_exits_2_with_one_line(host):
    gate = host.gate()
    held = host.revision("held", hooks={"BeforeInstall": gate.hold})
    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(result=host.deploy(held)), daemon=True)
    thread.start()
    gate.wait_reached()
    try:
        process = run_cli(host, "--bundle", str(host.revision("other")))
    finally:
        gate.release()
        thread.join(20)
    assert process.returncode == 2
    assert process.stdout == ""
    assert len(process.stderr.splitlines()) == 1
    assert "deployment group default-local-deployment-group is busy" in process.stderr
    assert box["result"].succeeded


def test_file_exists_behavior_is_case_insensitive_on_the_command_line(host):
    host.dest.mkdir()
    (host.dest / "a").write_text("old")
    rev = host.revision("r", files=[("app", str(host.dest))], content={"app/a": "new"})
    process = run_cli(host, "--bundle", str(rev), "--file-exists-behavior", "overwrite")
    assert process.returncode == 0, process.stdout
    assert (host.dest / "a").read_text() == "new"


def test_an_unsafe_archive_exits_1_with_the_reason(host):
    import zipfile

    bad = host.tmp / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("appspec.yml", "version: 0.0\nos: linux\n")
        archive.writestr("../../evil", "x")
    process = run_cli(host, "--bundle", str(bad))
    assert process.returncode == 1
    assert "unsafe archive, nothing was unpacked: entry '../../evil'" in process.stdout


def test_lint_errors_are_listed_when_safe_refuses_the_revision(host):
    rev = host.revision("r", appspec='version: "0.0"\nos: linux\n')
    process = run_cli(host, "--bundle", str(rev), "--safe")
    assert process.returncode == 1
    assert "TOP003" in process.stdout
    assert "nothing was changed on this host" in process.stdout


def test_lint_errors_are_shown_before_the_first_event_and_the_agent_fails_where_it_meets_them(host):
    rev = host.revision("r", appspec='version: "0.0"\nos: linux\n')
    process = run_cli(host, "--bundle", str(rev))
    assert process.returncode == 1
    lines = process.stdout.splitlines()
    first_event = next(i for i, line in enumerate(lines) if line.split()[:1] == ["BeforeBlockTraffic"])
    assert any("TOP003" in line for line in lines[:first_event]), process.stdout
    assert any(re.match(r"deployment d-\S+ failed: BeforeInstall failed: ", line) for line in lines), lines


def test_a_corrupt_archive_is_one_line_without_traceback_and_exits_2_like_lint(host):
    bad = host.tmp / "corrupt.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    linted = subprocess.run([sys.executable, "-m", "appspec_tools", "lint", str(bad)], capture_output=True)
    process = run_cli(host, "--bundle", str(bad))
    assert process.returncode == linted.returncode == 2  # not a revision at all: an input error for both
    assert process.stdout == "" and process.stderr.splitlines() == [
        f"appspec deploy: {bad}: not a readable zip archive (File is not a zip file)"
    ]
    assert not list(host.root.rglob("bundle.tar"))  # the refused deployment left nothing behind


def test_a_root_that_is_not_a_directory_is_a_usage_error(host):
    root_file = host.tmp / "not-a-directory"
    root_file.write_text("")
    rev = host.revision("r")
    env = dict(os.environ)
    process = subprocess.run(
        [sys.executable, "-m", "appspec_tools", "deploy", "--bundle", str(rev), "--root", str(root_file)],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 2
    assert "internal error" not in process.stderr
    assert str(root_file) in process.stderr and len(process.stderr.splitlines()) == 1


def test_quiet_prints_only_the_result(host):
    rev = host.revision("r", hooks={"BeforeInstall": "echo ran"})
    process = run_cli(host, "--bundle", str(rev), "--quiet")
    assert process.returncode == 0, process.stderr
    assert process.stdout.splitlines()[0].startswith("deployment ") and "succeeded in" in process.stdout
    assert "BeforeInstall" not in process.stdout
