"""Hook scripts run the way the CodeDeploy agent runs them (AGENT-FACTS §3, §4): log format, environment,
stdin, working directory, process group, timeouts, outputs left open, and the agent's error codes and
messages. Each test deploys a tiny hand-made revision with short timeouts."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from shim_support import ENV_DUMP, STAMP, Hook, alive, pids_in_file, read_env, wait_for

from agent_shim.hook_executor import (
    ERROR_NAMES,
    HookExecutor,
    Script,
    ScriptFailure,
    hook_environment,
    script_command,
)
from agent_shim.script_log import LOG_TAIL_CHARS, ScriptLog


def failed(result):
    event = result.failed_event
    assert event is not None, (result.status, result.message, result.events)
    return event


# scripts.log and the deployments log ---------------------------------------------------------------------


def test_scripts_log_has_the_agents_exact_records(host):
    rev = host.revision(
        "r",
        hooks={
            "BeforeInstall": [Hook("echo first line; echo 'to stderr' >&2"), Hook("echo '  indented'")],
            "AfterInstall": Hook("printf 'no newline at the end'"),
        },
    )
    result = host.deploy(rev)
    assert result.succeeded, result.message
    text = host.scripts_log(result)
    lines = text.split("\n")
    assert all(re.match(rf"^{STAMP} ", line) for line in lines), text
    bodies = [line[20:] for line in lines]
    assert bodies[:2] == ["LifecycleEvent - BeforeInstall", "Script - scripts/BeforeInstall-1.sh"]
    assert sorted(bodies[2:4]) == ["[stderr]to stderr", "[stdout]first line"]  # two streams: any order
    assert bodies[4:] == [
        "Script - scripts/BeforeInstall-2.sh",
        "[stdout]  indented",  # no space after the prefix, the line kept as written
        "LifecycleEvent - AfterInstall",
        "Script - scripts/AfterInstall-1.sh",
        "[stdout]no newline at the end",
    ]
    assert not text.endswith("\n"), "a last line without a newline is written without one"


def test_deployments_log_mirrors_each_record_with_milliseconds_and_the_deployment_id(host):
    rev = host.revision("r", hooks={"BeforeInstall": "echo hello"})
    result = host.deploy(rev)
    lines = Path(host.layout.deployments_log).read_text().splitlines()
    prefix = rf"^\[{STAMP}\.\d{{3}}\] \[{re.escape(result.deployment_id)}\]"
    assert [re.sub(prefix, "", line) for line in lines] == [
        "LifecycleEvent - BeforeInstall",
        "Script - scripts/BeforeInstall-1.sh",
        "[stdout]hello",
    ]
    assert all(re.match(prefix, line) for line in lines), lines


def test_no_scripts_log_when_no_event_has_scripts(host):
    result = host.deploy(host.revision("r"))
    assert result.succeeded
    assert not (Path(result.deployment_dir) / "logs" / "scripts.log").exists()
    assert [e.status for e in result.events if e.event not in ("DownloadBundle", "Install")] == [
        "Skipped"
    ] * 9


# Environment ---------------------------------------------------------------------------------------------


def test_hooks_get_the_deployment_variables_and_lose_the_agents_credentials(host, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASHOULDNOTLEAK")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-should-not-leak")
    monkeypatch.setenv("AWS_CREDENTIAL_FILE", "/should/not/leak")
    monkeypatch.setenv("SHIM_TEST_INHERITED", "inherited from the agent")
    rev = host.revision("r", hooks={"BeforeInstall": ENV_DUMP, "AfterInstall": ENV_DUMP})
    result = host.deploy(rev, application="MyApp", group_name="MyGroup", group_id="group-1234")
    assert result.succeeded, result.message
    for event in ("BeforeInstall", "AfterInstall"):
        env = read_env(host.out / f"env-{event}")
        assert env["LIFECYCLE_EVENT"] == event
        assert env["DEPLOYMENT_ID"] == result.deployment_id
        assert env["APPLICATION_NAME"] == "MyApp"
        assert env["DEPLOYMENT_GROUP_NAME"] == "MyGroup"
        assert env["DEPLOYMENT_GROUP_ID"] == "group-1234"
        assert env["SHIM_TEST_INHERITED"] == "inherited from the agent"
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_CREDENTIAL_FILE"):
            assert name not in env
        assert not [name for name in env if name.startswith("BUNDLE_")], "local bundles have no BUNDLE_*"


def test_codedeploy_local_defaults_for_the_deployment_variables(host):
    rev = host.revision("r", hooks={"BeforeInstall": ENV_DUMP})
    result = host.deploy(rev)
    env = read_env(host.out / "env-BeforeInstall")
    assert re.fullmatch(r"d-[A-Z0-9]{9}-local", env["DEPLOYMENT_ID"])
    assert env["DEPLOYMENT_ID"] == result.deployment_id
    assert env["APPLICATION_NAME"] == str(rev)  # codedeploy-local: the bundle location
    assert env["DEPLOYMENT_GROUP_NAME"] == "LocalFleet"
    assert env["DEPLOYMENT_GROUP_ID"] == "default-local-deployment-group"


def test_unset_bundle_variables_are_removed_not_left_empty():
    env = hook_environment(
        {"BUNDLE_VERSION": "stale", "AWS_ACCESS_KEY_ID": "x", "KEEP": "1"},
        {"BUNDLE_BUCKET": "b", "BUNDLE_VERSION": None, "BUNDLE_ETAG": None},
    )
    assert env == {"KEEP": "1", "BUNDLE_BUCKET": "b"}


# How a script is started ----------------------------------------------------------------------------------


def test_stdin_is_closed_so_a_script_reading_it_gets_eof_at_once(host):
    rev = host.revision(
        "r",
        hooks={"BeforeInstall": Hook('if read line; then echo "got $line"; else echo eof; fi', timeout=2)},
    )
    result = host.deploy(rev)
    assert result.succeeded, result.message
    assert "[stdout]eof" in host.scripts_log(result)


def test_no_working_directory_is_set(host, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rev = host.revision("r", hooks={"BeforeInstall": 'pwd > "$OUT/cwd"'})
    assert host.deploy(rev).succeeded
    assert (host.out / "cwd").read_text().strip() == os.path.realpath(tmp_path)


def test_each_script_leads_its_own_process_group(host):
    rev = host.revision(
        "r", hooks={"BeforeInstall": 'echo "$$ $(cut -d\' \' -f5 /proc/$$/stat)" > "$OUT/pg"'}
    )
    assert host.deploy(rev).succeeded
    pid, pgid = (host.out / "pg").read_text().split()
    assert pid == pgid
    assert int(pgid) != os.getpgrp()


def test_scripts_run_in_list_order_and_the_first_failure_ends_the_event(host):
    rev = host.revision(
        "r",
        hooks={
            "BeforeInstall": [
                'echo one >> "$OUT/order"',
                'echo two >> "$OUT/order"; exit 7',
                'echo three >> "$OUT/order"',
            ],
            "AfterInstall": 'echo after >> "$OUT/order"',
        },
    )
    result = host.deploy(rev)
    assert (host.out / "order").read_text() == "one\ntwo\n"
    event = failed(result)
    assert (event.event, event.error_code, event.error_name) == ("BeforeInstall", 4, "ScriptFailed")
    assert event.script_name == "scripts/BeforeInstall-2.sh"
    assert event.message == "Script at specified location: scripts/BeforeInstall-2.sh failed with exit code 7"
    assert [e.event for e in result.events][-1] == "BeforeInstall"


def test_failure_carries_the_recent_log_as_the_agents_diagnostic_tail(host):
    rev = host.revision(
        "r", hooks={"BeforeInstall": "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done; exit 1"}
    )
    event = failed(host.deploy(rev))
    assert len(event.log_tail) < LOG_TAIL_CHARS
    assert event.log_tail.endswith("[stdout]line-299\n")
    assert not re.search(STAMP, event.log_tail), "the agent's tail holds messages without time stamps"


def test_a_leading_slash_location_still_resolves_inside_the_revision(host):
    rev = host.revision(
        "r", hooks={"BeforeInstall": Hook('echo ran > "$OUT/ran"', location="/scripts/abs.sh")}
    )
    result = host.deploy(rev)
    assert result.succeeded, result.message
    assert (host.out / "ran").exists()
    assert any("HOOK008" in line for line in result.lint)


# Timeouts and daemons --------------------------------------------------------------------------------------


def test_timeout_terminates_the_process_group_with_code_3(host):
    children = host.reap(host.out / "children")
    rev = host.revision(
        "r", hooks={"BeforeInstall": Hook('sleep 60 & echo $! >> "$OUT/children"; wait', timeout=1)}
    )
    started = time.monotonic()
    result = host.deploy(rev)
    elapsed = time.monotonic() - started
    event = failed(result)
    assert (event.error_code, event.error_name) == (3, "ScriptTimedOut")
    assert (
        event.message
        == "Script at specified location: scripts/BeforeInstall-1.sh failed to complete in 1 seconds"
    )
    assert 1.0 <= elapsed < 5.0
    [child] = pids_in_file(children)
    wait_for(lambda: not alive(child), timeout=5, what="the script's child to be killed with its group")


def test_a_script_ignoring_sigterm_is_killed_after_the_grace_period(host):
    children = host.reap(host.out / "children")
    rev = host.revision(
        "r",
        hooks={
            "BeforeInstall": Hook(
                'trap "" TERM; echo $$ >> "$OUT/children"; sleep 60 & echo $! >> "$OUT/children"; wait',
                timeout=1,
            )
        },
    )
    started = time.monotonic()
    event = failed(host.deploy(rev, kill_grace=0.2))
    assert event.error_code == 3
    assert time.monotonic() - started < 5.0, "SIGKILL after kill_grace: a TERM-proof script cannot block us"
    for pid in pids_in_file(children):
        wait_for(lambda pid=pid: not alive(pid), timeout=5, what=f"pid {pid} to be killed")


@pytest.mark.parametrize("exit_status", [0, 3])
def test_a_daemon_keeping_stdout_open_fails_with_code_6_at_the_scripts_timeout(host, exit_status):
    """A badly daemonized child keeps the script's stdout: the event waits until script start + timeout,
    then fails with "failed to close STDOUT" whatever the exit status, and the child is not killed."""
    children = host.reap(host.out / "children")
    rev = host.revision(
        "r",
        hooks={
            "BeforeInstall": Hook(f'sleep 60 & echo $! >> "$OUT/children"; exit {exit_status}', timeout=1)
        },
    )
    started = time.monotonic()
    event = failed(host.deploy(rev))
    elapsed = time.monotonic() - started
    assert (event.error_code, event.error_name) == (6, "OutputsLeftOpen")
    assert event.message == "Script at specified location: scripts/BeforeInstall-1.sh failed to close STDOUT"
    assert 0.9 <= elapsed < 4.0
    [child] = pids_in_file(children)
    assert alive(child), "the agent does not kill the child that holds the output open"


def test_a_daemon_keeping_only_stderr_open_names_stderr(host):
    host.reap(host.out / "children")
    rev = host.revision(
        "r", hooks={"BeforeInstall": Hook('sleep 60 >/dev/null & echo $! >> "$OUT/children"', timeout=1)}
    )
    event = failed(host.deploy(rev))
    assert event.error_code == 6
    assert event.message.endswith("failed to close STDERR")


def test_a_properly_detached_daemon_does_not_hold_the_event(host):
    children = host.reap(host.out / "children")
    rev = host.revision(
        "r",
        hooks={
            "BeforeInstall": Hook(
                'sleep 60 </dev/null >/dev/null 2>&1 & echo $! >> "$OUT/children"; echo started', timeout=5
            )
        },
    )
    started = time.monotonic()
    result = host.deploy(rev)
    assert result.succeeded, result.message
    assert time.monotonic() - started < 3.0
    assert all(alive(pid) for pid in pids_in_file(children))


# Missing, non-executable and broken scripts ----------------------------------------------------------------


def test_missing_script_is_code_1_with_the_absolute_path(tmp_path):
    archive = tmp_path / "deployment-archive"
    archive.mkdir()
    log = ScriptLog(str(tmp_path / "logs" / "scripts.log"), None, "d-TEST00001")
    executor = HookExecutor(str(archive), log, {})
    with pytest.raises(ScriptFailure) as info:
        executor.run_event("BeforeInstall", [Script("scripts/missing.sh")])
    failure = info.value
    assert (failure.error_code, failure.error_name, failure.script_name) == (
        1,
        "ScriptMissing",
        "scripts/missing.sh",
    )
    assert failure.message == f"Script does not exist at specified location: {archive}/scripts/missing.sh"


def test_a_script_removed_during_the_deployment_fails_its_event_with_code_1(host):
    rev = host.revision(
        "r",
        hooks={"BeforeInstall": 'rm "$(dirname "$0")/AfterInstall-1.sh"', "AfterInstall": "echo never"},
    )
    result = host.deploy(rev)
    event = failed(result)
    assert (event.event, event.error_code) == ("AfterInstall", 1)
    archive = Path(result.deployment_dir) / "deployment-archive"
    assert (
        event.message == f"Script does not exist at specified location: {archive}/scripts/AfterInstall-1.sh"
    )


def test_a_non_executable_script_is_made_executable_with_a_warning(host):
    rev = host.revision("r", hooks={"BeforeInstall": Hook('echo ran > "$OUT/ran"', executable=False)})
    result = host.deploy(rev)
    assert result.succeeded, result.message
    assert (host.out / "ran").exists()
    assert (
        "Script at specified location: scripts/BeforeInstall-1.sh is not executable.  "
        "Trying to make it executable." in result.warnings
    )
    script = Path(result.deployment_dir) / "deployment-archive" / "scripts" / "BeforeInstall-1.sh"
    assert os.stat(script).st_mode & 0o111 == 0o111
    assert os.stat(rev / "scripts" / "BeforeInstall-1.sh").st_mode & 0o111 == 0, "the source is untouched"
    assert any("REV014" in line for line in result.lint)


def test_a_script_without_shebang_runs_under_bin_sh_like_the_agent(host):
    """The kernel refuses it (ENOEXEC) and Ruby's spawn runs it again as `/bin/sh FILE`; the agent's
    deployment succeeds, with dash's syntax where /bin/sh is dash (lint REV013 warns)."""
    rev = host.revision(
        "r",
        hooks={
            "BeforeInstall": Hook(
                'echo "$0" > "$OUT/ran"; readlink /proc/$$/exe >> "$OUT/ran"', shebang=False
            )
        },
    )
    result = host.deploy(rev)
    assert result.succeeded, result.message
    path = Path(result.deployment_dir) / "deployment-archive" / "scripts" / "BeforeInstall-1.sh"
    script_name, shell = (host.out / "ran").read_text().splitlines()
    assert script_name == str(path) and shell == os.path.realpath("/bin/sh")
    assert any("REV013" in line for line in result.lint), "lint warned about the missing #! line"


def test_a_missing_interpreter_fails_with_enoent_like_the_agent(host):
    rev = host.revision("r", hooks={"BeforeInstall": Hook("#!/nonexistent/sh\necho hi", shebang=False)})
    result = host.deploy(rev)
    event = failed(result)
    path = Path(result.deployment_dir) / "deployment-archive" / "scripts" / "BeforeInstall-1.sh"
    assert (event.error_code, event.error_name) == (4, "ScriptFailed")
    assert event.message == (
        "Script at specified location: scripts/BeforeInstall-1.sh failed with error Errno::ENOENT "
        f"with message No such file or directory - {path}"
    )


def test_a_script_killed_by_a_signal_reports_it(host):
    rev = host.revision("r", hooks={"BeforeInstall": "kill -9 $$"})
    event = failed(host.deploy(rev))
    assert event.error_code == 4
    assert event.message.startswith(
        "Script at specified location: scripts/BeforeInstall-1.sh failed with exit code "
    )
    assert "SIGKILL" in event.message


# Small pure pieces -------------------------------------------------------------------------------------------


def test_command_lines_are_the_agents_su_and_sudo_forms():
    assert script_command(Script("x"), "/a/x") == ["/a/x"]
    assert script_command(Script("x", runas="app"), "/a/x") == ["su", "app", "-c", "/a/x"]
    assert script_command(Script("x", sudo=True), "/a/x") == ["sudo", "/a/x"]
    assert script_command(Script("x", runas="app", sudo=True), "/a/x") == ["sudo", "su", "app", "-c", "/a/x"]


def test_error_names_are_the_api_names_for_codes_0_to_5():
    assert [ERROR_NAMES[code] for code in range(6)] == [
        "Success",
        "ScriptMissing",
        "ScriptNotExecutable",
        "ScriptTimedOut",
        "ScriptFailed",
        "UnknownError",
    ]


def test_the_event_waits_for_a_background_child_that_closes_its_output_in_time(host):
    rev = host.revision("r", hooks={"BeforeInstall": Hook("(sleep 0.3; echo late) & echo early", timeout=5)})
    result = host.deploy(rev)
    assert result.succeeded, result.message
    log = host.scripts_log(result)
    assert log.index("[stdout]early") < log.index("[stdout]late")


def test_runas_goes_through_su_and_failures_name_the_user(host):
    if os.geteuid() != 0:
        pytest.skip("su to root without a password needs root")
    rev = host.revision(
        "r",
        hooks={
            "BeforeInstall": Hook('echo "$DEPLOYMENT_ID $(id -u)" > "$OUT/runas"', extra="runas: root"),
            "AfterInstall": Hook("exit 5", extra="runas: root"),
        },
    )
    result = host.deploy(rev)
    assert (host.out / "runas").read_text().split() == [result.deployment_id, "0"]
    assert failed(result).message == (
        "Script at specified location: scripts/AfterInstall-1.sh run as user root failed with exit code 5"
    )


def test_a_non_script_failure_has_an_empty_diagnostic_log(host):
    host.dest.mkdir()
    (host.dest / "a").write_text("in the way")
    rev = host.revision(
        "r",
        files=[("app", str(host.dest))],
        content={"app/a": "new"},
        hooks={"BeforeInstall": "echo output of BeforeInstall"},
    )
    event = failed(host.deploy(rev))
    assert (event.event, event.error_code) == ("Install", 5)
    assert event.log_tail == ""
