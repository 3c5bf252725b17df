"""A fleet deployment as people and programs see it: the live view while it runs (a table redrawn in
place on a terminal, plain grep-friendly lines otherwise), the summary at the end, JSON for
`--format json`, and the timeline picture (SVG/HTML, drawn in `timeline.py`).

The words are the one-host `appspec deploy` output's (`agent_shim.command`): lower-case statuses, one
line per finished event, `| `-indented script log tails.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import asdict
from typing import Any, Callable, Dict, List, Optional, TextIO, Tuple

from agent_shim.fleet.contracts import (
    FAILED,
    IN_PROGRESS,
    INTERRUPTED,
    PENDING,
    SKIPPED,
    STOPPED,
    SUCCEEDED,
    FleetDeployment,
    HostEvent,
    HostOutcome,
)
from agent_shim.fleet.timeline import (
    FINISHED,
    PROBLEMS,
    counts_text,
    deployment_end,
    describe_deployment,
    failing_event,
    host_counts,
    host_rows,
    host_status,
    log_tail,
    render_html,
    render_svg,
    status_word,
    terminal_line,
)


# The end: summary and JSON ----------------------------------------------------------------------------
def _seconds(value: float) -> str:
    return f"{value:.2f}s"


def summary(deployment: FleetDeployment, out: TextIO, timeline_path: Optional[str] = None) -> None:
    """The hosts table, what went wrong on each failed host (script, error, log tail), the result line."""
    header = ("HOST", "BATCH", "STATUS", "DURATION", "LAST EVENT", "REASON")
    table = [header]
    for batch, host in host_rows(deployment):
        outcome = deployment.hosts.get(host) or HostOutcome(host, host_status(deployment, batch, host))
        last = outcome.events[-1].event if outcome.events else "-"
        started = outcome.status not in (SKIPPED, PENDING) or outcome.events
        table.append(
            (
                terminal_line(host),
                str(batch) if batch is not None else "-",
                status_word(host_status(deployment, batch, host)),
                _seconds(outcome.duration) if started else "-",
                last,
                terminal_line(outcome.reason),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        cells = [cell.rjust(w) if i == 3 else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        out.write(("  ".join(cells) + "  " + row[-1]).rstrip() + "\n")
    failed = [deployment.hosts[h] for _, h in host_rows(deployment) if h in deployment.hosts]
    # a host whose whole story is its one-line reason (an SSH failure) has it in the table already
    failed = [o for o in failed if o.status in PROBLEMS and (failing_event(o) is not None or log_tail(o))]
    for outcome in failed:
        _describe_host_failure(outcome, out)
    if failed:
        out.write("\n")
    status = status_word(deployment.status or IN_PROGRESS)
    duration = deployment_end(deployment) - deployment.started
    out.write(
        f"{describe_deployment(deployment)} {status} in {duration:.1f}s with {deployment.config}: "
        f"{counts_text(host_counts(deployment))}\n"
    )
    if deployment.message and deployment.status != SUCCEEDED:
        out.write(f"  {terminal_line(deployment.message)}\n")
    if timeline_path:
        out.write(f"  timeline: {timeline_path}\n")
    out.flush()


def traffic_table(traffic: Dict[str, Any], out: TextIO) -> None:
    """`status`'s traffic part: which host takes traffic and runs which revision, then each host left
    out of the load balancer (or left in it) with the command that fixes it."""
    if not traffic:
        return
    words = {"in": "serves", "out": "out", "changing": "unknown", None: "serves"}
    out.write(
        "\ntraffic, as this controller left it"
        + (" (a deployment is running)" if traffic["in_progress"] else "")
        + ":\n"
    )
    rows = [("HOST", "TRAFFIC", "REVISION")]
    for name, host in traffic["hosts"].items():
        state = words.get(host["state"], host["state"])
        if host["state"] is None:
            state += " (never changed here)"
        rows.append((terminal_line(name), state, terminal_line(host["revision"] or "-")))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    for row in rows:
        out.write(f"  {row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}\n")
    for problem in traffic["problems"]:
        out.write(f"warning: {problem}\n")
    out.flush()


def _describe_host_failure(outcome: HostOutcome, out: TextIO) -> None:
    event = failing_event(outcome)
    out.write(f"\n{terminal_line(outcome.host)} {status_word(outcome.status)}")
    out.write(f": {terminal_line(outcome.reason)}\n" if outcome.reason else "\n")
    if event is not None:
        out.write(f"    event: {event.event}\n")
        if event.script_name:
            out.write(f"    script: {terminal_line(event.script_name)}\n")
        if event.error_code or event.error_name:
            out.write(f"    error: {event.error_code} {event.error_name}".rstrip() + "\n")
        if event.message:
            out.write(f"    message: {terminal_line(event.message)}\n")
    tail = log_tail(outcome)
    if tail:
        where = f" (deployment {outcome.host_deployment_id})" if outcome.host_deployment_id else ""
        source = "scripts.log" if event is not None and event.log_tail else "its output"
        out.write(f"    last lines of {source} on {terminal_line(outcome.host)}{where}:\n")
        for line in tail:
            out.write(f"    | {line}\n")


def to_json(deployment: FleetDeployment) -> Dict[str, Any]:
    """Every field of the deployment (hosts in the order they were started) plus `duration` and `counts`."""
    data = asdict(deployment)
    data["hosts"] = {host: data["hosts"][host] for _, host in host_rows(deployment) if host in data["hosts"]}
    data["duration"] = round(deployment_end(deployment) - deployment.started, 3)
    data["counts"] = host_counts(deployment)
    return data


def timeline_svg(deployment: FleetDeployment) -> str:
    """Hosts (by batch) × lifecycle events along time: one self-contained SVG, no external assets."""
    return render_svg(deployment)


def timeline_html(deployment: FleetDeployment) -> str:
    """The timeline on a page with the hosts table and the failed hosts' script log tails."""
    return render_html(deployment)


# While it runs: the live view ------------------------------------------------------------------------
class LiveProgress:
    """The sink the controller calls with every HostEvent, from any of its threads.

    A host has started when its first event arrives (or `host_started` is called); it has ended when
    `deployment.hosts[host]` holds a finished status — checked on every event and at `close()` — or
    when `host_finished(outcome)` is called. An event with status InProgress is one that just began."""

    def __init__(
        self, out: TextIO, deployment: FleetDeployment, clock: Callable[[], float] = time.time
    ) -> None:
        self.out = out
        self.deployment = deployment
        self.clock = clock
        self.lock = threading.RLock()
        self.began = False
        self.closed = False
        self.started: Dict[str, float] = {}  # host → when it started
        self.latest: Dict[str, HostEvent] = {}  # host → its last event, running or finished
        self.ended: Dict[str, HostOutcome] = {}  # host → its outcome, once finished
        self.waiting: Dict[str, str] = {}  # host → what it waits on, when that is news (no SSH answer)

    def __call__(self, event: HostEvent) -> None:
        with self.lock:
            if self.closed:
                return
            self._begin()
            self._start(event.host, event.started)
            self.latest[event.host] = event
            if event.status != IN_PROGRESS:
                self.event_finished(event)
            self._check_ended()
            self.changed()

    def host_started(self, host: str) -> None:
        with self.lock:
            if self.closed:
                return
            self._begin()
            self._start(host, self.clock())
            self.changed()

    def host_waiting(self, host: str, text: str) -> None:
        """What a running host waits on ("" when it no longer does), e.g. an SSH peer that went silent."""
        with self.lock:
            if self.closed or host in self.ended or self.waiting.get(host, "") == text:
                return
            self._begin()
            self.waiting[host] = text
            self.wait_changed(host, text)
            self.changed()

    def host_finished(self, outcome: HostOutcome) -> None:
        with self.lock:
            if self.closed:
                return
            self._begin()
            if outcome.host not in self.ended:
                self.ended[outcome.host] = outcome
                self.host_ended(outcome)
            self.changed()

    def close(self) -> None:
        """Show the final state; later events are ignored."""
        with self.lock:
            if self.closed:
                return
            self._begin()
            self._check_ended()
            self.closed = True
            self.finish()

    def _begin(self) -> None:
        if not self.began:
            self.began = True
            self.begin()

    def _start(self, host: str, when: float) -> None:
        if host not in self.started:
            self.started[host] = when
            self.host_began(host)

    def _check_ended(self) -> None:
        for host, outcome in list(self.deployment.hosts.items()):
            if host not in self.ended and outcome.status in FINISHED:
                self.ended[host] = outcome
                self.host_ended(outcome)

    def write(self, text: str) -> None:
        """A closed or broken output (`| head`) ends the view, never the host thread that reported."""
        try:
            self.out.write(text)
            self.out.flush()
        except (OSError, ValueError):
            self.closed = True

    def batch_of(self, host: str) -> Optional[int]:
        return next((b for b, name in host_rows(self.deployment) if name == host), None)

    # What each view does with it
    def begin(self) -> None: ...
    def host_began(self, host: str) -> None: ...
    def event_finished(self, event: HostEvent) -> None: ...
    def host_ended(self, outcome: HostOutcome) -> None: ...
    def wait_changed(self, host: str, text: str) -> None: ...
    def changed(self) -> None: ...
    def finish(self) -> None: ...


class PlainLines(LiveProgress):
    """One line per finished event per host and one as a host starts and ends; never an escape code."""

    def begin(self) -> None:
        d = self.deployment
        count = len(host_rows(d))
        hosts = f", {count} host{'' if count == 1 else 's'}" if count else ""
        self._write(
            f"{describe_deployment(d)}: application {terminal_line(d.application)}, group {terminal_line(d.group)}, "
            f"revision {terminal_line(d.revision)}, {terminal_line(d.config)}{hosts}"
        )

    def host_began(self, host: str) -> None:
        batch = self.batch_of(host)
        self._write(f"host {terminal_line(host)} started" + (f" (batch {batch})" if batch else ""))

    def event_finished(self, event: HostEvent) -> None:
        width = max([len(h) for _, h in host_rows(self.deployment, tuple(self.started))] + [1])
        note = ""
        if event.status == SKIPPED:
            note = "  (no scripts to run)"
        elif event.status == FAILED:
            note = f"  {terminal_line(event.error_name)}: {terminal_line(event.message)}"
        elif event.message:
            note = f"  {terminal_line(event.message)}"
        self._write(
            f"  {terminal_line(event.host):<{width}} {event.event:<20} {status_word(event.status):<10} "
            f"{event.duration:7.2f}s{note}"
        )

    def wait_changed(self, host: str, text: str) -> None:
        self._write(f"host {terminal_line(host)}: {terminal_line(text) if text else 'answers again'}")

    def host_ended(self, outcome: HostOutcome) -> None:
        took = f" in {_seconds(outcome.duration)}" if outcome.status != SKIPPED else ""
        reason = f": {terminal_line(outcome.reason)}" if outcome.reason else ""
        self._write(f"host {terminal_line(outcome.host)} {status_word(outcome.status)}{took}{reason}")

    def _write(self, line: str) -> None:
        self.write(line.rstrip() + "\n")


class LiveTable(LiveProgress):
    """The terminal view: a header and one row per host (batch, host, status, current event, elapsed),
    redrawn in place at most once per `interval` seconds; a ticker thread keeps the elapsed times moving."""

    def __init__(
        self,
        out: TextIO,
        deployment: FleetDeployment,
        colour: bool,
        clock: Callable[[], float] = time.time,
        size: Tuple[int, int] = (80, 24),
        interval: float = 0.1,
        tick: float = 1.0,
    ) -> None:
        super().__init__(out, deployment, clock)
        self.colour, self.size, self.interval, self.tick = colour, size, interval, tick
        self.drawn = 0  # lines of the table on the screen, to move back over
        self.last_draw = float("-inf")
        self.dirty = False
        self.draws = 0
        self.stop = threading.Event()
        self.ticker: Optional[threading.Thread] = None

    def begin(self) -> None:
        self.ticker = threading.Thread(target=self._tick, name="fleet-live-view", daemon=True)
        self.ticker.start()

    def changed(self) -> None:
        if not self.closed:
            self.dirty = True
            self._draw_if_due()

    def finish(self) -> None:
        self.stop.set()
        self._draw(self.clock())

    def close(self) -> None:
        super().close()
        if self.ticker is not None and self.ticker is not threading.current_thread():
            self.ticker.join()

    def _tick(self) -> None:
        while not self.stop.wait(self.interval):
            with self.lock:
                if self.closed:
                    return
                if self.dirty or self.clock() - self.last_draw >= self.tick:
                    self._draw_if_due()

    def _draw_if_due(self) -> None:
        now = self.clock()
        if now - self.last_draw >= self.interval:
            self._draw(now)

    def _draw(self, now: float) -> None:
        lines = self.render(now)
        moves = f"\x1b[{self.drawn}A\r" if self.drawn else ""  # back to the table's first line
        self.write(moves + "".join(f"\x1b[2K{line}\n" for line in lines) + "\x1b[J")
        self.drawn, self.last_draw, self.dirty = len(lines), now, False
        self.draws += 1

    def render(self, now: float) -> List[str]:
        d = self.deployment
        columns, height = self.size
        states = [(batch, host, *self._state(batch, host, now)) for batch, host in self._rows()]
        failed = sum(1 for state in states if state[2] in PROBLEMS)
        done = f"{len(self.ended)}/{len(states)} done" + (f", {failed} failed" if failed else "")
        outcome = f"  {status_word(d.status)}" if d.status in FINISHED else ""
        header = [  # the most telling first: a narrow terminal cuts the end
            (describe_deployment(d), "1"),
            (outcome, _COLOURS.get(d.status, "")),
            ("  ", ""),
            (done, "31" if failed else ""),
            (
                f"  {(d.finished or now) - d.started:.1f}s  {terminal_line(d.config)}  group {terminal_line(d.group)}",
                "",
            ),
        ]
        hw = min(30, max([len(terminal_line(state[1])) for state in states] + [4]))
        titles = f"  {'BATCH':>5}  {'HOST':<{hw}}  {'STATUS':<11}  {'EVENT':<20}  {'ELAPSED':>8}"
        lines = [self._paint(header, columns), self._paint([(titles, "2")], columns)]
        shown = list(range(len(states)))
        room = max(3, height - 4)
        if len(states) > room:  # keep running and failed hosts in sight, count the rest
            rank = {IN_PROGRESS: 0, FAILED: 1, INTERRUPTED: 1, STOPPED: 1, PENDING: 2}
            shown = sorted(sorted(shown, key=lambda i: (rank.get(states[i][2], 3), i))[: room - 1])
        for batch, host, status, event, elapsed in (states[i] for i in shown):
            waiting = self.waiting.get(host, "") if status == IN_PROGRESS else ""
            cells = [
                (f"  {batch or '-':>5}  {_fit(terminal_line(host), hw):<{hw}}  ", ""),
                (f"{status_word(status):<11}", _COLOURS.get(status, "")),
                (f"  {event:<20}  {elapsed:>8}", ""),
                (f"  {terminal_line(waiting)}" if waiting else "", "33"),
            ]
            lines.append(self._paint(cells, columns))
        if len(shown) < len(states):
            rest: Dict[str, int] = {}
            for i in set(range(len(states))) - set(shown):
                rest[states[i][2]] = rest.get(states[i][2], 0) + 1
            lines.append(self._paint([(f"  … and {counts_text(rest)}", "2")], columns))
        return lines

    def _rows(self) -> List[Tuple[Optional[int], str]]:
        return host_rows(self.deployment, (*self.started, *self.ended))

    def _state(self, batch: Optional[int], host: str, now: float) -> Tuple[str, str, str]:
        """(status, current event, elapsed) of a host as the view knows it."""
        latest = self.latest.get(host)
        event = latest.event if latest is not None else ""
        outcome = self.ended.get(host)
        if outcome is not None:
            took = f"{outcome.duration:.1f}s" if outcome.status != SKIPPED or outcome.duration else "-"
            return outcome.status, event, took
        since = self.started.get(host) or getattr(self.deployment.hosts.get(host), "started", 0.0)
        if host in self.started or batch is not None:  # in a batch: connecting, uploading
            return IN_PROGRESS, event, f"{max(0.0, now - since):.1f}s" if since else "-"
        return PENDING, event, "-"

    def _paint(self, parts: List[Tuple[str, str]], width: int) -> str:
        painted, room = [], max(1, width - 1)  # never wrap: the cursor moves count lines
        for text, code in parts:
            text = text[:room]
            room -= len(text)
            painted.append(f"\x1b[{code}m{text}\x1b[0m" if code and text and self.colour else text)
        return "".join(painted)


_COLOURS = {
    SUCCEEDED: "32",
    FAILED: "31",
    INTERRUPTED: "31",
    STOPPED: "31",
    IN_PROGRESS: "33",
    SKIPPED: "2",
    PENDING: "2",
}


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def live_view(
    out: TextIO,
    deployment: FleetDeployment,
    tty: Optional[bool] = None,
    clock: Callable[[], float] = time.time,
) -> LiveProgress:
    """The sink for the controller's HostEvents; call `.close()` at the end to draw the final state.
    On a terminal (`out.isatty()`, TERM not dumb) a table redrawn in place, coloured unless NO_COLOR."""
    if tty is None:
        tty = _isatty(out) and os.environ.get("TERM") != "dumb"
    if not tty:
        return PlainLines(out, deployment, clock)
    return LiveTable(out, deployment, colour=not os.environ.get("NO_COLOR"), clock=clock, size=_size(out))


def _isatty(out: TextIO) -> bool:
    try:
        return bool(out.isatty())
    except (AttributeError, ValueError):
        return False


def _size(out: TextIO) -> Tuple[int, int]:
    """Columns and lines of the terminal; a new pseudo-terminal says 0 × 0: then COLUMNS/LINES or 80 × 24."""
    try:
        size = os.get_terminal_size(out.fileno())
    except (AttributeError, ValueError, OSError):
        size = os.terminal_size((0, 0))
    fallback = shutil.get_terminal_size()
    return size.columns or fallback.columns, size.lines or fallback.lines
