"""The lifecycle-event record on the wire: today's runner writes the lines an older runner wrote, and the
controller reads an older runner's lines (tests/fixtures/runner/old-runner.jsonl, written by the runner of
commit d5c5a80 for a revision whose ApplicationStart fails) into the same events and outcome."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from agent_shim.events import EventRecord, EventStatus, WireError
from agent_shim.fleet.contracts import FAILED, IN_PROGRESS, SKIPPED, SUCCEEDED, HostEvent, HostOutcome
from agent_shim.fleet.events import host_event_line
from agent_shim.fleet.stream import RunnerStream
from appspec_tools.cli import main

OLD_RUNNER = Path(__file__).resolve().parents[1] / "fixtures" / "runner" / "old-runner.jsonl"
APPSPEC = """\
version: 0.0
os: linux
files:
  - source: app.txt
    destination: /srv/app
hooks:
  BeforeInstall:
    - location: scripts/prepare.sh
  ApplicationStart:
    - location: scripts/start.sh
      timeout: 30
"""


def old_lines() -> List[Dict[str, Any]]:
    return [json.loads(line) for line in OLD_RUNNER.read_text(encoding="utf-8").splitlines()]


def shape(record: Dict[str, Any]) -> List[tuple]:
    """A line's keys in order, each with its value's JSON type: what a reader of the line depends on."""
    return [(key, type(value).__name__) for key, value in record.items() if key != "events"]


def test_the_runner_writes_the_lines_an_older_runner_wrote(tmp_path):
    revision = tmp_path / "rev"
    (revision / "scripts").mkdir(parents=True)
    (revision / "appspec.yml").write_text(APPSPEC)
    (revision / "app.txt").write_text("hello\n")
    (revision / "scripts" / "prepare.sh").write_text("#!/bin/sh\necho preparing\n")
    (revision / "scripts" / "start.sh").write_text(
        '#!/bin/sh\necho starting\necho "port 8080 in use" >&2\nexit 3\n'
    )
    for script in (revision / "scripts").iterdir():
        script.chmod(0o755)
    out, err = io.StringIO(), io.StringIO()
    argv = ["deploy", "--bundle", str(revision), "--root", str(tmp_path / "root")]
    argv += ["--install-root", str(tmp_path / "installed"), "--without-load-balancer", "--safe"]
    argv += ["--application", "App", "--deployment-group", "web-id", "--deployment-group-name", "web"]
    assert main([*argv, "--format", "jsonl"], out, err) == 1, err.getvalue()
    new = [json.loads(line) for line in out.getvalue().splitlines()]
    old = old_lines()
    assert [shape(line) for line in new] == [shape(line) for line in old]
    assert [shape(event) for event in new[-1]["events"]] == [shape(event) for event in old[-1]["events"]]
    assert [(line.get("event"), line.get("status")) for line in new] == [
        (line.get("event"), line.get("status")) for line in old
    ]


def test_the_controller_reads_an_older_runners_lines_into_events_and_an_outcome():
    seen: List[HostEvent] = []
    stream = RunnerStream("web-1", seen.append)
    stream.feed(OLD_RUNNER.read_bytes())
    stream.flush()
    outcome = stream.finish(HostOutcome("web-1", FAILED, started=0.0))
    starts = [e for e in seen if e.status == IN_PROGRESS]
    assert [e.event for e in starts] == [e.event for e in outcome.events]
    assert [(e.event, e.status) for e in outcome.events] == [
        ("ApplicationStop", SKIPPED),
        ("DownloadBundle", SUCCEEDED),
        ("BeforeInstall", SUCCEEDED),
        ("Install", SUCCEEDED),
        ("AfterInstall", SKIPPED),
        ("ApplicationStart", FAILED),
    ]
    failed = outcome.events[-1]
    assert (failed.host, failed.error_code, failed.error_name, failed.script_name) == (
        "web-1",
        4,
        "ScriptFailed",
        "scripts/start.sh",
    )
    assert "[stderr]port 8080 in use" in failed.log_tail and outcome.log_tail == failed.log_tail
    assert (outcome.status, outcome.host_deployment_id) == (FAILED, "d-1TTFJZ8KI-local")
    assert outcome.reason.startswith(
        "ApplicationStart failed: Script at specified location: scripts/start.sh"
    )


def test_a_record_goes_to_the_wire_and_back_unchanged():
    record = EventRecord(
        "AfterInstall", EventStatus.FAILED, 1.5, 0.25, 4, "ScriptFailed", "s.sh", "exit 3", "tail"
    )
    assert EventRecord.from_wire(json.loads(json.dumps(record.to_wire()))) == record
    event = HostEvent.from_wire(record.to_wire(), host="a")
    assert event.to_wire() == {"host": "a", **record.to_wire()}


def test_the_controllers_own_event_lines_are_the_runners_with_the_host():
    """`appspec fleet deploy --format jsonl` has printed `{"type", "deployment_id", **vars(event)}`."""
    for status, kind in ((IN_PROGRESS, "event-start"), (FAILED, "event")):
        event = HostEvent(
            "web-1", "AllowTraffic", status, 1.5, 0.25, 5, "UnknownError", "", "not healthy", ""
        )
        before = json.dumps({"type": kind, "deployment_id": "d-X", **vars(event)}) + "\n"
        assert host_event_line("d-X", event) == before


def test_an_event_line_without_optional_fields_reads_their_defaults():
    event = EventRecord.from_wire({"event": "Install", "status": "Succeeded", "started": None})
    assert event == EventRecord("Install", EventStatus.SUCCEEDED, 0.0, 0.0)


def test_an_unknown_status_is_refused_and_the_stream_keeps_the_line_for_the_failure():
    with pytest.raises(WireError, match="unknown lifecycle event status 'Done'"):
        EventRecord.from_wire({"event": "Install", "status": "Done"})
    seen: List[HostEvent] = []
    stream = RunnerStream("a", seen.append)
    stream.feed(b'{"type": "event", "event": "Install", "status": "Done"}\n')
    stream.flush()
    assert seen == [] and stream.finish(HostOutcome("a", FAILED)).log_tail.endswith('"status": "Done"}')


def test_statuses_are_their_strings():
    assert json.dumps([EventStatus.SUCCEEDED]) == '["Succeeded"]'
    assert f"{EventStatus.IN_PROGRESS} {EventStatus.SKIPPED.lower()}" == "InProgress skipped"
    assert EventStatus.FAILED == "Failed"
