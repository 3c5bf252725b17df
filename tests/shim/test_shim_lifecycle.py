"""A deployment's lifecycle on one host (AGENT-FACTS §1, §2, §6): which revision's scripts each event runs,
the pointer files, rollback, refusal before any event, --events, max_revisions, the load-balancer events
and the AppSpec file name. Locking is in test_shim_locking.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from agent_shim.plan import PlanError, custom_events

STOP_REPORT = 'echo "{name} $DEPLOYMENT_ID $LIFECYCLE_EVENT $0" >> "$OUT/stops"'


def stop_revision(host, name: str, **hooks):
    return host.revision(name, hooks={"ApplicationStop": STOP_REPORT.format(name=name), **hooks})


def test_first_deployment_skips_application_stop_silently(host):
    result = host.deploy(stop_revision(host, "A"))
    assert result.succeeded, result.message
    assert [(e.event, e.status, e.error_code) for e in result.events[:3]] == [
        ("BeforeBlockTraffic", "Skipped", 0),
        ("AfterBlockTraffic", "Skipped", 0),
        ("ApplicationStop", "Skipped", 0),
    ]
    assert not (host.out / "stops").exists()
    assert not (Path(result.deployment_dir) / "logs" / "scripts.log").exists()
    assert result.warnings == []


def test_application_stop_runs_the_previous_revisions_script_with_this_deployments_env(host):
    first = host.deploy(stop_revision(host, "A"))
    second = host.deploy(stop_revision(host, "B"))
    third = host.deploy(stop_revision(host, "C"))
    assert first.succeeded and second.succeeded and third.succeeded
    lines = (host.out / "stops").read_text().splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["A", second.deployment_id, "ApplicationStop"],
        ["B", third.deployment_id, "ApplicationStop"],
    ]
    # The script is the one in the previous deployment's archive, and it logs to the current scripts.log.
    assert lines[0].split()[3] == f"{first.deployment_dir}/deployment-archive/scripts/ApplicationStop-1.sh"
    log = host.scripts_log(second).splitlines()
    assert [line[20:] for line in log] == [
        "LifecycleEvent - ApplicationStop",
        "Script - scripts/ApplicationStop-1.sh",
    ]
    assert not (Path(first.deployment_dir) / "logs" / "scripts.log").exists()


def test_pointer_files_hold_the_absolute_deployment_dir_without_newline(host):
    result = host.deploy(host.revision("r"))
    assert result.succeeded
    assert os.path.isabs(result.deployment_dir)
    assert host.pointer("last_successful_install") == result.deployment_dir
    assert host.pointer("most_recent_install") == result.deployment_dir
    assert result.deployment_dir == str(host.root / "default-local-deployment-group" / result.deployment_id)


def test_pointer_timing_most_recent_after_download_last_successful_after_install(host):
    instructions = Path(host.layout.instructions_dir)
    peek = (
        f'cat "{instructions}/default-local-deployment-group_last_successful_install" > "$OUT/lsi-$LIFECYCLE_EVENT"; '
        f'cat "{instructions}/default-local-deployment-group_most_recent_install" > "$OUT/mri-$LIFECYCLE_EVENT"'
    )
    first = host.deploy(host.revision("one"))
    failing_after_install = host.revision(
        "two", hooks={"BeforeInstall": peek, "AfterInstall": peek + "; exit 1"}
    )
    second = host.deploy(failing_after_install)
    assert not second.succeeded and second.failed_event.event == "AfterInstall"
    assert (host.out / "mri-BeforeInstall").read_text() == second.deployment_dir  # end of DownloadBundle
    assert (host.out / "lsi-BeforeInstall").read_text() == first.deployment_dir  # not yet installed
    assert (host.out / "lsi-AfterInstall").read_text() == second.deployment_dir  # right after Install
    assert host.pointer("last_successful_install") == second.deployment_dir, (
        "kept although AfterInstall failed"
    )

    third = host.deploy(host.revision("three", hooks={"BeforeInstall": "exit 1"}))
    assert third.failed_event.event == "BeforeInstall"
    assert host.pointer("most_recent_install") == third.deployment_dir
    assert host.pointer("last_successful_install") == second.deployment_dir


def test_a_revision_that_failed_after_install_supplies_the_next_application_stop(host):
    host.deploy(stop_revision(host, "A"))
    broken = host.deploy(stop_revision(host, "B", ValidateService="exit 1"))
    assert broken.failed_event.event == "ValidateService"
    host.deploy(stop_revision(host, "C"))
    assert [line.split()[0] for line in (host.out / "stops").read_text().splitlines()] == ["A", "B"]


def agent_appspec_not_found(deployment_dir: str) -> str:
    archive = f"{deployment_dir}/deployment-archive"
    return (
        "The CodeDeploy agent did not find an AppSpec file within the unpacked revision directory at revision-relative "
        f'path "appspec.yml". The revision was unpacked to directory "{archive}", and the AppSpec file was '
        f'expected but not found at path "{archive}/appspec.yml".'
    )


@pytest.mark.parametrize(
    "load_balancer, first_event", [(True, "BeforeBlockTraffic"), (False, "ApplicationStop")]
)
def test_the_first_event_fails_when_the_last_installed_revision_is_gone(host, load_balancer, first_event):
    """codedeploy-local runs BeforeBlockTraffic first, and it reads the gone revision's AppSpec."""
    first = host.deploy(stop_revision(host, "A"))
    subprocess.run(["rm", "-rf", first.deployment_dir], check=True)
    result = host.deploy(stop_revision(host, "B"), with_load_balancer=load_balancer)
    event = result.failed_event
    assert (event.event, event.error_code, event.error_name, event.script_name) == (
        first_event,
        5,
        "UnknownError",
        "",
    )
    assert event.message.startswith(agent_appspec_not_found(first.deployment_dir))
    assert [e.event for e in result.events] == [first_event], "nothing after the failed event"
    assert host.pointer("last_successful_install") == first.deployment_dir


def test_ignore_application_stop_failures_continues_past_a_failing_stop(host):
    host.deploy(stop_revision(host, "A"))
    host.deploy(host.revision("B", hooks={"ApplicationStop": "echo cannot stop; exit 3"}))
    strict = host.deploy(host.revision("C"))
    assert strict.failed_event.event == "ApplicationStop" and strict.failed_event.error_code == 4
    lenient = host.deploy(host.revision("C"), ignore_application_stop_failures=True)
    assert lenient.succeeded, lenient.message
    stop = next(e for e in lenient.events if e.event == "ApplicationStop")
    assert stop.status == "Failed"
    assert stop.message.startswith(
        "ignored: Script at specified location: scripts/ApplicationStop-1.sh failed"
    )
    assert any("ApplicationStop failed and was ignored" in w for w in lenient.warnings)
    assert lenient.failed_event is None


def test_ignore_application_stop_failures_covers_a_missing_previous_revision(host):
    first = host.deploy(host.revision("A", hooks={"ApplicationStop": "true"}))
    subprocess.run(["rm", "-rf", first.deployment_dir], check=True)
    result = host.deploy(host.revision("B"), ignore_application_stop_failures=True)
    assert result.succeeded, result.message
    assert [(e.status, e.error_code) for e in result.events[:3]] == [("Failed", 5)] * 3


# Refusal before any event --------------------------------------------------------------------------------


def test_safe_refuses_a_revision_with_lint_errors_before_any_event_and_nothing_changes(host):
    good = host.revision("good", files=[("app", str(host.dest))], content={"app/v.txt": "1"})
    first = host.deploy(good)
    assert first.succeeded
    before = {
        p: p.read_bytes() for p in host.root.rglob("*") if p.is_file() and "deployment-logs" not in p.parts
    }
    bad = host.revision(
        "bad",
        appspec=f'version: "0.0"\nos: linux\nfiles:\n  - source: app\n    destination: {host.dest}\n'
        "hooks:\n  BeforeInstall:\n    - location: scripts/b.sh\n",
        content={"app/v.txt": "2", "scripts/b.sh": '#!/bin/sh\necho ran > "$OUT/ran"\n'},
    )
    result = host.deploy(bad, safe=True)
    assert result.status == "Failed" and result.error_code == 5
    assert result.events == []
    assert re.match(r"the revision has \d+ AppSpec errors?; nothing was changed on this host", result.message)
    assert any("TOP003" in line for line in result.lint)
    assert not result.changed_host
    assert (host.dest / "v.txt").read_text() == "1"
    assert not (host.out / "ran").exists()
    after = {
        p: p.read_bytes() for p in host.root.rglob("*") if p.is_file() and "deployment-logs" not in p.parts
    }
    lock = Path(host.layout.lock_file("default-local-deployment-group"))
    assert {p: v for p, v in after.items() if p != lock} == {p: v for p, v in before.items() if p != lock}
    assert not (Path(result.deployment_dir) / "deployment-archive").exists()


def test_rollback_is_not_attempted_when_nothing_changed(host):
    host.deploy(host.revision("good"))
    bad = host.revision("bad", appspec="version: 0.0\nos: Linux\n")
    result = host.deploy(bad, rollback=True, safe=True)
    assert result.rollback is None
    assert any("no rollback" in w for w in result.warnings)


# Rollback ------------------------------------------------------------------------------------------------


def test_rollback_redeploys_the_last_good_revision_as_a_new_deployment(host):
    good = host.revision("good", files=[("app", str(host.dest))], content={"app/version.txt": "good"})
    first = host.deploy(good)
    broken = host.revision(
        "broken",
        files=[("app", str(host.dest))],
        content={"app/version.txt": "broken", "app/only-in-broken.txt": "x"},
        hooks={"ValidateService": ENV_ROLLBACK + "; exit 1"},
    )
    result = host.deploy(broken, rollback=True)
    assert result.failed_event.event == "ValidateService"
    rollback = result.rollback
    assert rollback is not None and rollback.succeeded, rollback and rollback.message
    assert rollback.creator == "codeDeployRollback"
    assert rollback.deployment_id not in (first.deployment_id, result.deployment_id)
    assert (host.dest / "version.txt").read_text() == "good"
    assert not (host.dest / "only-in-broken.txt").exists(), "the broken install was cleaned up"
    assert host.pointer("last_successful_install") == rollback.deployment_dir


ENV_ROLLBACK = 'echo "$DEPLOYMENT_ID" >> "$OUT/validated"'


# --events -------------------------------------------------------------------------------------------------


def test_events_runs_the_listed_events_in_the_given_order(host):
    record = 'echo "$LIFECYCLE_EVENT" >> "$OUT/ran"'
    rev = host.revision(
        "r",
        hooks={
            name: record for name in ("BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService")
        },
    )
    result = host.deploy(rev, events=["ValidateService", "BeforeInstall"])
    assert result.succeeded, result.message
    assert [e.event for e in result.events] == [
        "DownloadBundle",
        "Install",
        "ValidateService",
        "BeforeInstall",
    ]
    assert (host.out / "ran").read_text().split() == ["ValidateService", "BeforeInstall"]


def test_events_accepts_custom_event_names(host):
    rev = host.revision("r", hooks={"MigrateDatabase": 'echo "$LIFECYCLE_EVENT" > "$OUT/custom"'})
    result = host.deploy(rev, events=["DownloadBundle", "Install", "MigrateDatabase"])
    assert result.succeeded, result.message
    assert (host.out / "custom").read_text().strip() == "MigrateDatabase"
    assert any("HOOK005" in line for line in result.lint)


@pytest.mark.parametrize(
    "events, message",
    [
        (["BlockTraffic"], "BlockTraffic is not an event a host runs"),
        (["BeforeInstall", "BeforeInstall"], "BeforeInstall is listed twice"),
        (["Install", "DownloadBundle"], "DownloadBundle must come before Install"),
        (["BeforeInstall", "DownloadBundle", "Install"], "BeforeInstall needs the new revision"),
        (
            ["DownloadBundle", "Install", "ApplicationStop"],
            "ApplicationStop runs the previous revision's scripts",
        ),
    ],
)
def test_impossible_event_orders_are_refused(events, message):
    with pytest.raises(PlanError, match=re.escape(message)):
        custom_events(events)


# max_revisions --------------------------------------------------------------------------------------------


def age(path: str, seconds_ago: int) -> None:
    """Deterministic mtimes (oldest first) for the directories still there."""
    if os.path.isdir(path):
        stamp = 1_700_000_000 - seconds_ago
        os.utime(path, (stamp, stamp))


def test_max_revisions_counts_the_current_deployment(host):
    rev = host.revision("r")
    results = []
    for _ in range(4):
        for index, earlier in enumerate(results):
            age(earlier.deployment_dir, 1000 - index)  # deterministic mtime order, oldest first
        results.append(host.deploy(rev, max_revisions=2))
        assert results[-1].succeeded
    assert host.deployment_dirs() == sorted(r.deployment_id for r in results[-2:])
    assert any("max_revisions: removed the old revision" in w for w in results[-1].warnings)


def test_max_revisions_never_removes_the_last_successful_install(host):
    first = host.deploy(host.revision("good"))
    failing = host.revision("failing", hooks={"BeforeInstall": "exit 1"})
    results = [first]
    for _ in range(3):
        for index, earlier in enumerate(results):
            age(earlier.deployment_dir, 1000 - index)
        results.append(host.deploy(failing, max_revisions=2))
    assert host.pointer("last_successful_install") == first.deployment_dir
    assert host.deployment_dirs() == sorted([first.deployment_id, results[-1].deployment_id])


# With a load balancer -------------------------------------------------------------------------------------


def test_with_a_load_balancer_the_traffic_hooks_run_in_the_agents_order(host):
    record = 'echo "$LIFECYCLE_EVENT $0" >> "$OUT/ran"'
    traffic = ("BeforeBlockTraffic", "AfterBlockTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")
    names = traffic + (
        "ApplicationStop",
        "BeforeInstall",
        "AfterInstall",
        "ApplicationStart",
        "ValidateService",
    )
    first = host.deploy(host.revision("one", hooks={name: record for name in names}), with_load_balancer=True)
    assert first.succeeded, first.message
    assert "BeforeBlockTraffic" not in (host.out / "ran").read_text(), (
        "first deployment: no previous revision"
    )
    (host.out / "ran").unlink()
    second = host.deploy(
        host.revision("two", hooks={name: record for name in names}), with_load_balancer=True
    )
    order = [
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
    assert [e.event for e in second.events] == order
    owner = {first.deployment_dir: "previous", second.deployment_dir: "new"}
    ran = [line.split() for line in (host.out / "ran").read_text().splitlines()]
    assert [(event, owner[str(Path(script).parents[2])]) for event, script in ran] == [
        (
            event,
            "previous" if event in ("BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop") else "new",
        )
        for event in order
        if event not in ("DownloadBundle", "Install")
    ]


def test_without_a_load_balancer_traffic_hooks_never_run(host):
    rev = host.revision(
        "r", hooks={"BeforeBlockTraffic": 'echo x > "$OUT/ran"', "AfterAllowTraffic": 'echo x > "$OUT/ran"'}
    )
    result = host.deploy(rev, with_load_balancer=False)
    assert result.succeeded
    assert not (host.out / "ran").exists()
    assert "BeforeBlockTraffic" not in [e.event for e in result.events]


def test_ignore_application_stop_failures_covers_the_block_traffic_hooks(host):
    failing = {name: "exit 1" for name in ("BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop")}
    host.deploy(host.revision("one", hooks=failing), with_load_balancer=True)
    result = host.deploy(host.revision("two"), with_load_balancer=True, ignore_application_stop_failures=True)
    assert result.succeeded, result.message
    assert [e.event for e in result.events if e.status == "Failed"] == [
        "BeforeBlockTraffic",
        "AfterBlockTraffic",
        "ApplicationStop",
    ]
    assert len([w for w in result.warnings if "was ignored" in w]) == 3


# The AppSpec file's name ----------------------------------------------------------------------------------


def test_the_appspec_name_comes_from_the_deployment(host):
    rev = host.revision("r", hooks={"BeforeInstall": 'echo ran > "$OUT/ran"'})
    (rev / "appspec.yml").unlink()
    document = {
        "version": 0.0,
        "os": "linux",
        "hooks": {"BeforeInstall": [{"location": "scripts/BeforeInstall-1.sh", "timeout": 10}]},
    }
    (rev / "appspec.json").write_text(json.dumps(document))
    result = host.deploy(rev, appspec_filename="appspec.json")
    assert result.succeeded, result.message
    assert (host.out / "ran").exists()


def test_install_falls_back_to_appspec_yaml_but_hook_events_read_only_the_given_name(host):
    rev = host.revision("r", files=[("app", str(host.dest))], content={"app/a": "a"})
    (rev / "appspec.yml").rename(rev / "appspec.yaml")
    installed = host.deploy(rev, events=["DownloadBundle", "Install"])
    assert installed.succeeded, installed.message
    assert (host.dest / "a").read_text() == "a"
    hooked = host.deploy(rev, group_name="another-group", file_exists_behavior="OVERWRITE")
    event = hooked.failed_event
    assert (event.event, event.error_code) == ("BeforeInstall", 5)
    assert event.message.startswith(agent_appspec_not_found(hooked.deployment_dir))


def test_skip_lint_leaves_the_appspec_to_the_agents_own_checks(host):
    """The fleet controller lints once and runs each host with skip_lint: no lint on the host, and an
    AppSpec the agent rejects then fails its first event that reads it, as it does under the real agent."""
    bad = host.revision(
        "bad",
        appspec='version: "0.0"\nos: linux\nhooks:\n  BeforeInstall:\n    - location: scripts/b.sh\n',
        content={"scripts/b.sh": "#!/bin/sh\ntrue\n"},
    )
    result = host.deploy(bad, skip_lint=True)
    assert result.lint == []
    assert result.status == "Failed"
    assert result.events, "not refused in preflight"
    assert "AppSpec" in result.message, result.message
