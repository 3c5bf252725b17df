"""The fleet deployment's output: live lines and table, summary, JSON, timeline SVG/HTML."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser
from typing import List, Optional

import pytest

from agent_shim.fleet import report
from agent_shim.fleet.contracts import (
    FAILED,
    IN_PROGRESS,
    INTERRUPTED,
    PENDING,
    SKIPPED,
    SUCCEEDED,
    FleetDeployment,
    HostEvent,
    HostOutcome,
)
from agent_shim.fleet.report import LiveTable, PlainLines
from agent_shim.fleet.timeline import tick_step

T0 = 1_700_000_000.0
SVG = "{http://www.w3.org/2000/svg}"
LIFECYCLE = (
    "BeforeBlockTraffic",
    "BlockTraffic",
    "AfterBlockTraffic",
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)
SCRIPT_LOG = "\n".join(f"2024-05-01 10:00:{i:02d} ApplicationStart [stderr]line {i}" for i in range(14))
FAILURE = "Script at specified location: scripts/start.sh run as user root failed with exit code 1"


def host(
    name: str, start: float, events=LIFECYCLE, fail_at: Optional[str] = None, status=None
) -> HostOutcome:
    """A host that ran `events` one second each (DownloadBundle 0: no scripts), failing at `fail_at`."""
    recorded, t = [], start
    for event in events:
        duration = 0.0 if event == "ApplicationStop" else 1.0
        recorded.append(HostEvent(name, event, SKIPPED if duration == 0 else SUCCEEDED, t, duration))
        t += duration
        if event == fail_at:
            recorded[-1].status, recorded[-1].error_code, recorded[-1].error_name = FAILED, 4, "ScriptFailed"
            recorded[-1].script_name, recorded[-1].message = "scripts/start.sh", FAILURE
            recorded[-1].log_tail = SCRIPT_LOG
            break
    outcome_status = status or (FAILED if fail_at else SUCCEEDED)
    reason = f"{fail_at} failed: ScriptFailed" if fail_at else ""
    return HostOutcome(name, outcome_status, reason, recorded, start, t - start, f"d-{name.upper()[:9]}")


def deployment(**hosts: HostOutcome) -> FleetDeployment:
    return FleetDeployment(
        deployment_id="d-ABCDEF123",
        application="shop",
        group="production",
        revision="shop-1.4.2.tgz",
        revision_checksum="ab" * 32,
        config="CodeDeployDefault.HalfAtATime",
        status=SUCCEEDED,
        started=T0,
        finished=T0 + 40,
        hosts=dict(hosts),
    )


def failed_deployment() -> FleetDeployment:
    """Batch 1 succeeds; in batch 2 web-3's ApplicationStart fails and web-4 is unreachable; web-5 is left."""
    d = deployment(
        **{
            "web-1": host("web-1", T0 + 1),
            "web-2": host("web-2", T0 + 1.5),
            "web-3": host("web-3", T0 + 15, fail_at="ApplicationStart"),
            "web-4": HostOutcome(
                "web-4", FAILED, "ssh: connect to host web-4 port 22: Connection refused", [], T0 + 15, 0.5
            ),
            "web-5": HostOutcome("web-5", SKIPPED, "not attempted: too few healthy hosts"),
        }
    )
    d.hosts["web-4"].log_tail = "kex_exchange_identification: read: Connection reset by peer"
    d.status, d.finished, d.batches = FAILED, T0 + 25, [["web-1", "web-2"], ["web-3", "web-4"]]
    d.message = "2 hosts failed: fewer healthy hosts than the minimum (3 of 5)"
    return d


def interrupted_deployment() -> FleetDeployment:
    """Stopped by Ctrl-C while web-1 ran ApplicationStart: no `finished`, an event still in progress."""
    outcome = host("web-1", T0 + 1, events=LIFECYCLE[:8], status=INTERRUPTED)
    outcome.events.append(HostEvent("web-1", "ApplicationStart", IN_PROGRESS, T0 + 8, 0.0))
    outcome.reason, outcome.duration = "interrupted by the user", 9.0
    d = deployment(**{"web-1": outcome, "web-2": HostOutcome("web-2", PENDING)})
    d.status, d.finished, d.batches = INTERRUPTED, None, [["web-1"]]
    return d


def running(recorded: FleetDeployment) -> FleetDeployment:
    """The deployment as the controller holds it at the start: every host pending, nothing finished."""
    hosts = {name: HostOutcome(name, PENDING) for name in recorded.hosts}
    return replace(recorded, status=IN_PROGRESS, finished=None, hosts=hosts, batches=[])


def replay(recorded: FleetDeployment, live: FleetDeployment, sink) -> None:
    """Feed a recorded deployment to a live view the way the controller does: batches, events as they
    start and finish, each host's outcome, the deployment's end."""
    events = sorted((e for o in recorded.hosts.values() for e in o.events), key=lambda e: e.started)
    for event in events:
        for batch in recorded.batches[len(live.batches) :]:
            if event.host in batch:
                live.batches.append(list(batch))
        sink(HostEvent(event.host, event.event, IN_PROGRESS, event.started, 0.0))
        sink(event)
        if event is recorded.hosts[event.host].events[-1]:
            live.hosts[event.host] = recorded.hosts[event.host]
            sink.host_finished(recorded.hosts[event.host])
    live.batches[:] = recorded.batches
    live.hosts.update(recorded.hosts)
    live.status, live.finished = recorded.status, recorded.finished
    sink.close()


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def screen(text: str) -> List[str]:
    """What a terminal shows after `text`, for the escapes the live table uses (cursor up, CR, erase)."""
    lines, row, col = [""], 0, 0
    for up, erase, _colour, newline, cr, chars in re.findall(
        r"\x1b\[(\d+)A|\x1b\[(2K|J)|\x1b\[([\d;]*)m|(\n)|(\r)|([^\x1b\n\r]+)", text
    ):
        if up:
            row = max(0, row - int(up))
        elif erase == "2K":
            lines[row] = ""
        elif erase == "J":
            del lines[row + 1 :]
            lines[row] = lines[row][:col]
        elif newline:
            row, col = row + 1, 0
            lines.extend([""] * (row + 1 - len(lines)))
        elif cr:
            col = 0
        elif chars:
            lines[row] = lines[row][:col].ljust(col) + chars + lines[row][col + len(chars) :]
            col += len(chars)
    return [line for line in lines if line]


def table_view(d: FleetDeployment, clock=None, size=(100, 30), colour=True) -> LiveTable:
    view = LiveTable(io.StringIO(), d, colour=colour, clock=clock or FakeClock(), size=size)
    view.begin = lambda: None  # no ticker thread: the tests drive the clock
    return view


# Plain lines ---------------------------------------------------------------------------------------------
def test_plain_lines_show_every_finished_event_per_host_and_when_hosts_start_and_end():
    out = io.StringIO()
    d = deployment(
        **{"web-1": host("web-1", T0 + 1, LIFECYCLE[3:6]), "app-22": host("app-22", T0 + 2, LIFECYCLE[3:4])}
    )
    d.batches = [["web-1", "app-22"]]
    live = running(d)
    replay(d, live, report.live_view(out, live))
    assert out.getvalue().splitlines() == [
        "deployment d-ABCDEF123: application shop, group production, revision shop-1.4.2.tgz, "
        "CodeDeployDefault.HalfAtATime, 2 hosts",
        "host web-1 started (batch 1)",
        "  web-1  ApplicationStop      skipped       0.00s  (no scripts to run)",
        "  web-1  DownloadBundle       succeeded     1.00s",
        "  web-1  BeforeInstall        succeeded     1.00s",
        "host web-1 succeeded in 2.00s",
        "host app-22 started (batch 1)",
        "  app-22 ApplicationStop      skipped       0.00s  (no scripts to run)",
        "host app-22 succeeded in 0.00s",
    ]


def test_plain_lines_give_the_failure_and_the_reason_a_host_ended_or_was_left_out():
    out = io.StringIO()
    live = running(failed_deployment())
    replay(failed_deployment(), live, report.live_view(out, live))
    text = out.getvalue()
    assert f"  web-3 ApplicationStart     failed        1.00s  ScriptFailed: {FAILURE}\n" in text
    assert "host web-3 failed in 8.00s: ApplicationStart failed: ScriptFailed\n" in text
    assert "host web-4 failed in 0.50s: ssh: connect to host web-4 port 22: Connection refused\n" in text
    assert "host web-5 skipped: not attempted: too few healthy hosts\n" in text
    assert "\x1b" not in text


def test_plain_lines_see_a_host_end_when_the_controller_records_its_outcome():
    out, d = io.StringIO(), deployment()
    view = report.live_view(out, d)
    view(HostEvent("web-1", "BeforeInstall", SUCCEEDED, T0, 1.0))
    d.hosts["web-1"] = HostOutcome("web-1", SUCCEEDED, "", [], T0, 3.0)
    view(HostEvent("web-2", "BeforeInstall", SUCCEEDED, T0, 1.0))
    assert "host web-1 succeeded in 3.00s" in out.getvalue()
    d.hosts["web-2"] = HostOutcome("web-2", FAILED, "AllowTraffic: not healthy after 30s", [], T0, 40.0)
    view.close()
    assert out.getvalue().endswith("host web-2 failed in 40.00s: AllowTraffic: not healthy after 30s\n")


def test_plain_lines_strip_terminal_escapes_and_newlines_from_script_output():
    out = io.StringIO()
    view = report.live_view(out, deployment())
    view(
        HostEvent(
            "web-1", "ValidateService", FAILED, T0, 1.0, 4, "ScriptFailed", "", "\x1b[31mred\x1b[0m\nnext\x07"
        )
    )
    view.close()
    assert "\x1b" not in out.getvalue() and "\x07" not in out.getvalue()
    assert "ScriptFailed: red next" in out.getvalue()


def test_plain_lines_from_many_host_threads_stay_whole():
    out, d = io.StringIO(), deployment()
    view = report.live_view(out, d)

    def run(name: str) -> None:
        for event in LIFECYCLE:
            view(HostEvent(name, event, IN_PROGRESS, T0, 0.0))
            view(HostEvent(name, event, SUCCEEDED, T0, 0.25))

    threads = [threading.Thread(target=run, args=(f"web-{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    view.close()
    lines = out.getvalue().splitlines()
    events = [line for line in lines if re.fullmatch(r"  web-\d \w+ +succeeded +0\.25s", line)]
    assert len(events) == 6 * len(LIFECYCLE)
    assert sum(line.endswith(" started") for line in lines) == 6
    assert len(lines) == 1 + 6 + 6 * len(LIFECYCLE)


def test_events_after_close_are_ignored():
    out = io.StringIO()
    view = report.live_view(out, deployment())
    view.close()
    view(HostEvent("web-1", "BeforeInstall", SUCCEEDED, T0, 1.0))
    assert "web-1" not in out.getvalue()


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("tty", [False, True])
def test_a_broken_output_ends_the_view_not_the_host_thread(tty):
    view = report.live_view(ClosedPipe(), deployment(), tty=tty)
    view(HostEvent("web-1", "BeforeInstall", SUCCEEDED, T0, 1.0))
    view(HostEvent("web-1", "AfterInstall", SUCCEEDED, T0, 1.0))
    view.close()
    assert view.closed


# Choosing the view -----------------------------------------------------------------------------------
class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_the_table_and_anything_else_plain_lines(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert isinstance(report.live_view(io.StringIO(), deployment()), PlainLines)
    table = report.live_view(Terminal(), deployment())
    assert isinstance(table, LiveTable) and table.colour
    assert isinstance(report.live_view(Terminal(), deployment(), tty=False), PlainLines)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not report.live_view(Terminal(), deployment()).colour
    monkeypatch.setenv("TERM", "dumb")
    assert isinstance(report.live_view(Terminal(), deployment()), PlainLines)


# The live table ------------------------------------------------------------------------------------------
def test_the_table_is_redrawn_in_place_and_ends_with_the_final_state():
    d, clock = failed_deployment(), FakeClock()
    live = running(d)
    live.batches.append(d.batches[0])
    view = table_view(live, clock)
    view(HostEvent("web-1", "BeforeInstall", IN_PROGRESS, T0 + 1, 0.0))
    clock.now = T0 + 3.5
    view(HostEvent("web-2", "Install", IN_PROGRESS, T0 + 2, 0.0))
    first = screen(view.out.getvalue())
    assert (
        first[0] == "deployment d-ABCDEF123  0/5 done  3.5s  CodeDeployDefault.HalfAtATime  group production"
    )
    assert re.search(r"^ +1  web-1 +in progress +BeforeInstall +2\.5s$", first[2])
    assert re.search(r"^ +- {2}web-5 +pending +-$", first[6])
    replay(d, live, view)
    output = view.out.getvalue()
    assert "\x1b[7A\r" in output and "\x1b[2K" in output and "\x1b[32msucceeded" in output
    final = screen(output)
    assert len(final) == 7
    assert final[0].startswith("deployment d-ABCDEF123  failed  5/5 done, 2 failed  25.0s  CodeDeployDefault")
    assert re.fullmatch(r" +2  web-3 +failed +ApplicationStart +8\.0s", final[4])
    assert re.fullmatch(r" +2  web-4 +failed +0\.5s", final[5])
    assert re.fullmatch(r" +-  web-5 +skipped +-", final[6])


def test_redraws_are_throttled_to_ten_a_second():
    clock = FakeClock()
    view = table_view(deployment(), clock)
    for i in range(1000):  # an event every millisecond for one second
        clock.now = T0 + i / 1000
        view(HostEvent(f"web-{i % 4}", LIFECYCLE[i % 13], SUCCEEDED, clock.now, 0.001))
    assert 10 <= view.draws <= 11
    view.close()
    assert view.draws <= 12
    assert "web-3" in screen(view.out.getvalue())[-1]


def test_the_ticker_draws_what_the_throttle_held_back(monkeypatch):
    out = Terminal()
    view = LiveTable(out, deployment(), colour=False, size=(100, 30), interval=0.01)
    view(HostEvent("web-1", "BeforeInstall", SUCCEEDED, T0, 1.0))
    view(HostEvent("web-2", "AfterInstall", IN_PROGRESS, T0, 0.0))  # within the interval: held back
    drawn = threading.Event()
    original = view._draw
    monkeypatch.setattr(view, "_draw", lambda now: (original(now), drawn.set()))
    assert drawn.wait(5)
    assert any("AfterInstall" in line for line in screen(out.getvalue()))
    view.close()
    assert view.ticker is not None and not view.ticker.is_alive()


def test_the_table_never_wraps_and_keeps_running_and_failed_hosts_in_sight_on_a_small_terminal():
    d = deployment(**{f"web-{i:02d}": HostOutcome(f"web-{i:02d}", PENDING) for i in range(30)})
    d.batches = [[f"web-{i:02d}" for i in range(10)]]
    view = table_view(d, size=(60, 10), colour=False)
    for i in range(8):
        view.host_finished(HostOutcome(f"web-{i:02d}", SUCCEEDED, "", [], T0, 2.0))
    view.host_finished(HostOutcome("web-08", FAILED, "boom", [], T0, 2.0))
    view(HostEvent("web-09", "ValidateService", IN_PROGRESS, T0, 0.0))
    view.close()
    final = screen(view.out.getvalue())
    assert len(final) <= 10 and all(len(line) < 60 for line in final)
    assert any("web-08" in line and "failed" in line for line in final)
    assert any("web-09" in line and "in progress" in line for line in final)
    assert final[-1].startswith("  … and ") and final[-1].endswith("8 succeeded, 17 pending of 25 hosts")


def test_without_colour_the_table_still_moves_the_cursor_but_paints_nothing():
    live = running(failed_deployment())
    view = table_view(live, colour=False)
    replay(failed_deployment(), live, view)
    assert "\x1b[2K" in view.out.getvalue() and not re.search(r"\x1b\[[\d;]*m", view.out.getvalue())


def test_the_table_on_a_real_pseudo_terminal():
    master, slave = pty.openpty()
    received = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    with os.fdopen(slave, "w", encoding="utf-8") as terminal:
        live = running(failed_deployment())
        view = report.live_view(terminal, live)
        assert isinstance(view, LiveTable)
        replay(failed_deployment(), live, view)
    reader.join(5)
    os.close(master)
    final = screen(received.decode("utf-8").replace("\r\n", "\n"))
    assert any(re.search(r"web-3 +failed +ApplicationStart", line) for line in final)


# Summary -------------------------------------------------------------------------------------------------
def test_summary_tables_every_host_and_explains_each_failure_with_its_script_log_tail():
    out = io.StringIO()
    report.summary(failed_deployment(), out, timeline_path="deployments/d-ABCDEF123.html")
    lines = out.getvalue().splitlines()
    assert lines[:6] == [
        "HOST   BATCH  STATUS     DURATION  LAST EVENT         REASON",
        "web-1  1      succeeded    12.00s  AfterAllowTraffic",
        "web-2  1      succeeded    12.00s  AfterAllowTraffic",
        "web-3  2      failed        8.00s  ApplicationStart   ApplicationStart failed: ScriptFailed",
        "web-4  2      failed        0.50s  -                  ssh: connect to host web-4 port 22: Connection refused",
        "web-5  -      skipped           -  -                  not attempted: too few healthy hosts",
    ]
    text = out.getvalue()
    assert (
        "web-3 failed: ApplicationStart failed: ScriptFailed\n"
        "    event: ApplicationStart\n"
        "    script: scripts/start.sh\n"
        "    error: 4 ScriptFailed\n"
        f"    message: {FAILURE}\n"
        "    last lines of scripts.log on web-3 (deployment d-WEB-3):\n"
    ) in text
    tail = [line for line in lines if line.startswith("    | ")]
    assert tail[:10] == [
        f"    | 2024-05-01 10:00:{i:02d} ApplicationStart [stderr]line {i}" for i in range(4, 14)
    ]
    assert "    last lines of its output on web-4:" in lines
    assert "    | kex_exchange_identification: read: Connection reset by peer" in tail
    assert lines[-3:] == [
        "deployment d-ABCDEF123 failed in 25.0s with CodeDeployDefault.HalfAtATime: "
        "2 succeeded, 2 failed, 1 skipped of 5 hosts",
        "  2 hosts failed: fewer healthy hosts than the minimum (3 of 5)",
        "  timeline: deployments/d-ABCDEF123.html",
    ]


def test_summary_of_a_success_is_the_table_and_one_line():
    d = deployment(**{"web-1": host("web-1", T0 + 1)})
    d.batches, d.message = [["web-1"]], "the deployment succeeded"
    out = io.StringIO()
    report.summary(d, out)
    assert out.getvalue().splitlines()[-1] == (
        "deployment d-ABCDEF123 succeeded in 40.0s with CodeDeployDefault.HalfAtATime: 1 succeeded of 1 host"
    )
    assert len(out.getvalue().splitlines()) == 3


def test_summary_of_an_interrupted_rollback_measures_up_to_its_last_event():
    d = interrupted_deployment()
    d.creator, d.rollback_of = "codeDeployRollback", "d-PREVIOUS1"
    out = io.StringIO()
    report.summary(d, out)
    assert (
        "web-1  1      interrupted     9.00s  ApplicationStart  interrupted by the user\n" in out.getvalue()
    )
    assert "web-2  -      pending             -  -" in out.getvalue()
    assert out.getvalue().splitlines()[-1] == (
        "rollback deployment d-ABCDEF123 (rollback of d-PREVIOUS1) interrupted in 10.0s with "
        "CodeDeployDefault.HalfAtATime: 1 interrupted, 1 pending of 2 hosts"
    )


def test_an_ignored_application_stop_failure_is_not_the_reason_a_host_failed():
    outcome = host("web-1", T0, events=LIFECYCLE[3:9], fail_at="ApplicationStart")
    outcome.events[0].status, outcome.events[0].message = FAILED, "ignored: ApplicationStop failed"
    out = io.StringIO()
    report.summary(deployment(**{"web-1": outcome}), out)
    assert "    event: ApplicationStart\n" in out.getvalue()


# JSON --------------------------------------------------------------------------------------------------
def test_json_has_every_field_hosts_in_start_order_and_survives_a_round_trip():
    d = failed_deployment()
    d.hosts = dict(reversed(list(d.hosts.items())))
    data = report.to_json(d)
    assert json.loads(json.dumps(data)) == data
    assert list(data["hosts"]) == ["web-1", "web-2", "web-3", "web-4", "web-5"]
    assert data["counts"] == {SUCCEEDED: 2, FAILED: 2, SKIPPED: 1}
    assert data["duration"] == 25.0
    assert data["hosts"]["web-3"]["events"][-1]["log_tail"] == SCRIPT_LOG
    assert {"deployment_id", "status", "config", "batches", "started", "finished", "message"} <= set(data)
    assert json.loads(json.dumps(report.to_json(interrupted_deployment())))["finished"] is None


# Timeline --------------------------------------------------------------------------------------------
def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def event_rects(root: ET.Element) -> List[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == "event"]


def test_the_timeline_has_a_row_per_host_in_batch_order_and_a_bar_per_event():
    d = failed_deployment()
    root = parse(report.timeline_svg(d))
    rows = [g.get("data-host") for g in root.iter(f"{SVG}g") if g.get("class") == "host"]
    assert rows == ["web-1", "web-2", "web-3", "web-4", "web-5"]
    assert len(event_rects(root)) == sum(len(o.events) for o in d.hosts.values())
    title = root.find(f"{SVG}title").text
    assert title == "deployment d-ABCDEF123 · failed · CodeDeployDefault.HalfAtATime"
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert {"0s", "5s", "10s", "15s", "20s", "25s"} <= set(texts)
    assert any(t.startswith("not attempted: too few healthy hosts") for t in texts)


def test_timeline_bars_sit_at_their_time_with_failures_outlined_and_traffic_hatched():
    root = parse(report.timeline_svg(failed_deployment()))
    bars = {(r.get("data-event"), r.find(f"{SVG}title").text.split(" · ")[0]): r for r in event_rects(root)}
    first, later = bars[("BeforeBlockTraffic", "web-1")], bars[("BeforeBlockTraffic", "web-3")]
    assert float(later.get("x")) > float(first.get("x"))
    assert float(first.get("width")) == pytest.approx(float(later.get("width")))
    failed = bars[("ApplicationStart", "web-3")]
    assert failed.get("stroke") == "#d62728"
    assert "ScriptFailed: " + FAILURE in failed.find(f"{SVG}title").text
    assert bars[("AllowTraffic", "web-1")].get("fill") == "url(#fleet-lb-hatch)"
    assert bars[("Install", "web-1")].get("fill") != bars[("BeforeInstall", "web-1")].get("fill")
    legend = ["".join(g.itertext()) for g in root.iter(f"{SVG}g") if g.get("class") == "legend"]
    assert legend[:3] == ["BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop"]
    assert "BlockTraffic / AllowTraffic (load balancer)" in legend and "failed event" in legend
    assert [p.get("class") for p in root.iter(f"{SVG}path")] == ["failure"]  # web-4: failed outside any event


def test_an_event_still_running_when_the_deployment_was_interrupted_reaches_its_end():
    root = parse(report.timeline_svg(interrupted_deployment()))
    running = [r for r in event_rects(root) if r.get("stroke-dasharray")]
    assert len(running) == 1 and running[0].get("data-event") == "ApplicationStart"


def test_hostile_names_and_messages_are_escaped_in_the_svg_and_the_page():
    hostile = '<script>alert("x")</script> & co'
    outcome = host(hostile, T0, events=LIFECYCLE[3:9], fail_at="ApplicationStart")
    outcome.events[-1].message = "exit 1 & <b>bold</b> \x1b[31mred\x1b[0m \x00"
    outcome.events[-1].log_tail = "</pre><script>x</script>"
    d = deployment(**{hostile: outcome})
    d.batches, d.config, d.status = [[hostile]], "A&B", FAILED
    svg = report.timeline_svg(d)
    root = parse(svg)
    assert "<script" not in svg
    assert [g.get("data-host") for g in root.iter(f"{SVG}g") if g.get("class") == "host"] == [hostile]
    assert "exit 1 & <b>bold</b> red" in event_rects(root)[-1].find(f"{SVG}title").text
    page = report.timeline_html(d)
    tags = Tags()
    tags.feed(page)
    assert "script" not in tags.seen and "&lt;/pre&gt;&lt;script&gt;x&lt;/script&gt;" in page


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen: List[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.seen.append(tag)


def test_the_page_holds_the_timeline_the_hosts_table_and_the_log_tails():
    d = failed_deployment()
    page = report.timeline_html(d)
    assert page.startswith("<!DOCTYPE html>") and report.timeline_svg(d) in page
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no external assets
    tags = Tags()
    tags.feed(page)
    assert tags.seen.count("tr") == 1 + len(d.hosts)
    assert tags.seen.count("h3") == 2  # the two failed hosts
    assert "line 13</pre>" in page and "line 3\n" not in page


def test_an_empty_deployment_still_renders():
    d = deployment()
    d.status, d.finished = FAILED, None
    root = parse(report.timeline_svg(d))
    assert "no hosts" in ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    report.summary(d, io.StringIO())
    assert report.to_json(d)["counts"] == {}


@pytest.mark.parametrize(
    "span, step", [(0.3, 0.05), (4, 0.5), (9.5, 2), (25, 5), (31.5, 5), (130, 20), (3600, 500)]
)
def test_axis_ticks_step_by_one_two_or_five(span, step):
    assert tick_step(span) == pytest.approx(step)
