"""A fleet deployment's course: its hosts in the order they were started, their states and events over
time (the reading `report.py` shares), drawn as a timeline — a self-contained SVG of hosts × lifecycle
events, and an HTML page around it with the hosts table and the failed hosts' script log tails.

Every string from a deployment is user data (host names, script output): it goes through `clean`
(no control characters, which XML forbids) and `html.escape` before it reaches the markup.
"""

from __future__ import annotations

import html
import re
import time
import zlib
from dataclasses import dataclass
from typing import Dict, List, Optional, Set, Tuple

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
from appspec_tools.errors import one_line
from appspec_tools.lifecycle import EC2_ORDER, ECS_ORDER

TAIL_LINES = 10
FINISHED = frozenset({SUCCEEDED, FAILED, SKIPPED, INTERRUPTED, STOPPED})
PROBLEMS = frozenset({FAILED, INTERRUPTED, STOPPED})  # the host statuses the summary explains
COUNT_ORDER = (SUCCEEDED, FAILED, INTERRUPTED, STOPPED, SKIPPED, IN_PROGRESS, PENDING)
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


# Reading a deployment (shared with report.py) ------------------------------------------------------
def clean(text: str) -> str:
    """User text (messages, host names, script output) without terminal escapes or control characters,
    so it can neither move the cursor of the live view nor break the SVG's XML."""
    return _CONTROLS.sub(" ", _ESCAPES.sub("", text.expandtabs(4)))


def terminal_line(text: str) -> str:
    """A text as one line that is safe on a terminal: escapes removed, controls and line breaks spaces."""
    return one_line(clean(text))


def status_word(status: str) -> str:
    return {IN_PROGRESS: "in progress", "": "pending"}.get(status, status.lower())


def host_rows(deployment: FleetDeployment, extra: Tuple[str, ...] = ()) -> List[Tuple[Optional[int], str]]:
    """(batch number from 1, host) in the order the hosts were started; hosts never started last, batch None."""
    rows: List[Tuple[Optional[int], str]] = []
    seen: Set[str] = set()
    for number, batch in enumerate(list(deployment.batches), 1):
        for host in list(batch):
            if host not in seen:
                seen.add(host)
                rows.append((number, host))
    for host in [*list(deployment.hosts), *extra]:
        if host not in seen:
            seen.add(host)
            rows.append((None, host))
    return rows


def host_status(deployment: FleetDeployment, batch: Optional[int], host: str) -> str:
    outcome = deployment.hosts.get(host)
    if outcome is not None and outcome.status not in ("", PENDING):
        return outcome.status
    return IN_PROGRESS if batch is not None else PENDING


def host_counts(deployment: FleetDeployment) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for batch, host in host_rows(deployment):
        status = host_status(deployment, batch, host)
        counts[status] = counts.get(status, 0) + 1
    return counts


def counts_text(counts: Dict[str, int]) -> str:
    order = [s for s in COUNT_ORDER if counts.get(s)] + sorted(s for s in counts if s not in COUNT_ORDER)
    parts = [f"{counts[s]} {status_word(s)}" for s in order]
    total = sum(counts.values())
    return f"{', '.join(parts) or 'no hosts'} of {total} host{'' if total == 1 else 's'}"


def failing_event(outcome: HostOutcome) -> Optional[HostEvent]:
    """The event that failed the host (a failure the deployment ignored, `ignored: …`, is not one)."""
    failed = [e for e in outcome.events if e.status == FAILED and not e.message.startswith("ignored: ")]
    return failed[-1] if failed else None


def log_tail(outcome: HostOutcome, lines: int = TAIL_LINES) -> List[str]:
    event = failing_event(outcome)
    text = (event.log_tail if event is not None else "") or outcome.log_tail
    return [clean(line).rstrip() for line in text.splitlines()[-lines:]]


def deployment_end(deployment: FleetDeployment) -> float:
    """When it finished; for one that never did (interrupted), the end of the last thing it recorded."""
    if deployment.finished is not None:
        return deployment.finished
    ends = [deployment.started]
    for outcome in list(deployment.hosts.values()):
        ends.append(outcome.started + outcome.duration)
        ends.extend(e.started + e.duration for e in outcome.events)
    return max(ends)


def describe_deployment(deployment: FleetDeployment) -> str:
    kind = "rollback deployment" if deployment.creator == "codeDeployRollback" else "deployment"
    of = f" (rollback of {deployment.rollback_of})" if deployment.rollback_of else ""
    return f"{kind} {deployment.deployment_id}{of}"


# The picture -----------------------------------------------------------------------------------------
EVENT_COLOURS = {  # the traffic trios share a hue; red is kept for failures
    "BeforeBlockTraffic": "#b07aa1",
    "AfterBlockTraffic": "#d4a6c8",
    "ApplicationStop": "#9c755f",
    "DownloadBundle": "#bab0ac",
    "BeforeInstall": "#f28e2b",
    "Install": "#4e79a7",
    "AfterInstall": "#76b7b2",
    "ApplicationStart": "#59a14f",
    "ValidateService": "#edc948",
    "BeforeAllowTraffic": "#a0cbe8",
    "AfterAllowTraffic": "#8cd17d",
}
OTHER_COLOURS = ("#86bcb6", "#f1ce63", "#d37295", "#79706e", "#b6992d", "#499894")
LOAD_BALANCER_EVENTS = frozenset({"BlockTraffic", "AllowTraffic"})  # the controller's, not a script's
EVENT_ORDER = tuple(dict.fromkeys((*EC2_ORDER, *ECS_ORDER)))
STATUS_COLOURS = {SUCCEEDED: "#2e7d32", FAILED: "#c62828", INTERRUPTED: "#c62828", STOPPED: "#c62828"}
FAILURE_RED, MUTED = "#d62728", "#777777"
FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
WIDTH, PAD, BATCH_W, LABEL_W, STATUS_W = 1000, 16, 40, 170, 125
ROW, BAR, TOP = 24, 14, 84
CHART_X0, CHART_X1 = PAD + BATCH_W + LABEL_W, WIDTH - PAD - STATUS_W


def event_colour(name: str) -> str:
    return EVENT_COLOURS.get(name) or OTHER_COLOURS[zlib.crc32(name.encode()) % len(OTHER_COLOURS)]


def _x(text: object) -> str:
    return html.escape(clean(str(text)), quote=True)


def _fit(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def tick_step(span: float, target: int = 8) -> float:
    """A 1-2-5 step giving about `target` ticks over `span` seconds."""
    raw = max(span, 1e-3) / target
    magnitude = 10 ** int(f"{raw:e}".split("e")[1])
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


@dataclass(frozen=True)
class TimeAxis:
    """Seconds since the deployment started, mapped onto the chart's width."""

    start: float
    span: float

    def x(self, when: float) -> float:
        return CHART_X0 + min(max(when - self.start, 0.0), self.span) * (CHART_X1 - CHART_X0) / self.span


def render_svg(deployment: FleetDeployment) -> str:
    axis = TimeAxis(deployment.started, max(deployment_end(deployment) - deployment.started, 1e-3))
    rows = host_rows(deployment)
    bottom = TOP + max(len(rows), 1) * ROW
    body: List[str] = []
    used: Set[str] = set()
    for band, (batch, hosts) in enumerate(_batches(rows)):
        y = TOP + hosts[0][0] * ROW
        fill = "#f3f4f7" if band % 2 == 0 else "#ffffff"
        body.append(
            f'<rect class="batch" x="{PAD}" y="{y}" width="{WIDTH - 2 * PAD}" height="{len(hosts) * ROW}" fill="{fill}"/>'
        )
        label = f"batch {batch}" if batch is not None else "not started"
        body.append(
            f'<text x="{PAD + 4}" y="{y + 16}" fill="{MUTED}" font-size="11">{batch if batch is not None else "–"}'
            f"<title>{label}</title></text>"
        )
    step = tick_step(axis.span)
    for i in range(int(axis.span / step) + 1):
        x = axis.x(axis.start + i * step)
        body.append(f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{bottom}" stroke="#dcdcdc"/>')
        body.append(
            f'<text x="{x:.1f}" y="{TOP - 8}" text-anchor="middle" font-size="11" fill="#555">{round(i * step, 6):g}s</text>'
        )
    for index, (batch, host) in enumerate(rows):
        body.append(
            _host_row(deployment, host_status(deployment, batch, host), host, TOP + index * ROW, axis, used)
        )
    if not rows:
        body.append(f'<text x="{CHART_X0}" y="{TOP + 16}" fill="{MUTED}">no hosts</text>')
    body.append(
        f'<text x="{(CHART_X0 + CHART_X1) / 2}" y="{bottom + 18}" text-anchor="middle" font-size="11" '
        f'fill="#555">seconds since the deployment started</text>'
    )
    legend, height = _legend(used, bottom + 34)
    status = status_word(deployment.status)
    title = f"{describe_deployment(deployment)} · {status} · {deployment.config}"
    subtitle = (
        f"application {deployment.application} · group {deployment.group} · revision {deployment.revision} · "
        f"{counts_text(host_counts(deployment))} · {axis.span:.1f}s · started {_utc(axis.start)}"
    )
    colour = STATUS_COLOURS.get(deployment.status, "#222")
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        f'font-family="{_x(FONT)}" font-size="12" role="img">',
        f"<title>{_x(title)}</title>",
        '<defs><pattern id="fleet-lb-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#e6e9f0"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#3b4a6b" stroke-width="2.5"/></pattern></defs>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="{PAD}" y="26" font-size="16" font-weight="600" fill="{colour}">{_x(_fit(title, 110))}</text>',
        f'<text x="{PAD}" y="46" fill="#444">{_x(_fit(subtitle, 160))}</text>',
    ]
    return "\n".join([*head, *body, *legend, "</svg>"]) + "\n"


def _batches(rows: List[Tuple[Optional[int], str]]) -> List[Tuple[Optional[int], List[Tuple[int, str]]]]:
    groups: List[Tuple[Optional[int], List[Tuple[int, str]]]] = []
    for index, (batch, host) in enumerate(rows):
        if not groups or groups[-1][0] != batch:
            groups.append((batch, []))
        groups[-1][1].append((index, host))
    return groups


def _host_row(
    deployment: FleetDeployment, status: str, host: str, y: int, axis: TimeAxis, used: Set[str]
) -> str:
    """The host's label, a bar per event, its status; `used` collects what the legend must explain."""
    outcome = deployment.hosts.get(host) or HostOutcome(host, status)
    colour = STATUS_COLOURS.get(status, MUTED)
    about = f"{host}: {status_word(status)}" + (f" — {outcome.reason}" if outcome.reason else "")
    parts = [
        f'<g class="host" data-host="{_x(host)}">',
        f'<text x="{PAD + BATCH_W}" y="{y + 16}" fill="#222">{_x(_fit(terminal_line(host), 26))}<title>{_x(about)}</title></text>',
    ]
    for event in outcome.events:
        running = event.status == IN_PROGRESS  # when the deployment was interrupted: draw it to the end
        x = axis.x(event.started)
        end = axis.x(axis.start + axis.span if running else event.started + event.duration)
        width = max(end - x, 2.0)
        style = _bar_style(event, used)
        offset = max(event.started - axis.start, 0.0)
        tip = f"{host} · {event.event} · {status_word(event.status)} · {event.duration:.2f}s (at +{offset:.2f}s)"
        if event.script_name:
            tip += f"\nscript: {event.script_name}"
        if event.error_name or event.message:
            tip += f"\n{event.error_name + ': ' if event.error_name else ''}{event.message}"
        parts.append(
            f'<rect class="event" data-event="{_x(event.event)}" x="{x:.1f}" y="{y + (ROW - BAR) // 2}" '
            f'width="{width:.1f}" height="{BAR}" {style}><title>{_x(tip)}</title></rect>'
        )
    if not outcome.events and status in (SKIPPED, PENDING):
        note = terminal_line(outcome.reason) or "not attempted"
        if not note.startswith("not attempted"):
            note = f"not attempted: {note}"
        parts.append(
            f'<text x="{CHART_X0 + 4}" y="{y + 16}" fill="{MUTED}" font-style="italic">{_x(_fit(note, 100))}</text>'
        )
    elif status == FAILED and failing_event(outcome) is None:  # failed outside any event (SSH, timeout)
        used.add("failure")
        x = axis.x(outcome.started + outcome.duration)
        parts.append(
            f'<path class="failure" d="M{x:.1f} {y + 5} l6 7 l-6 7 l-6 -7 z" fill="{FAILURE_RED}">'
            f"<title>{_x(about)}</title></path>"
        )
    took = f" {outcome.duration:.1f}s" if outcome.events or outcome.duration else ""
    weight = ' font-weight="600"' if status in PROBLEMS else ""
    parts.append(
        f'<text x="{CHART_X1 + 10}" y="{y + 16}" fill="{colour}"{weight}>{_x(status_word(status) + took)}'
        f"<title>{_x(about)}</title></text>"
    )
    return "\n".join([*parts, "</g>"])


def _bar_style(event: HostEvent, used: Set[str]) -> str:
    if event.event in LOAD_BALANCER_EVENTS:
        used.add("load balancer")
        style = 'fill="url(#fleet-lb-hatch)" stroke="#3b4a6b" stroke-width="1"'
    else:
        used.add(event.event)
        style = f'fill="{event_colour(event.event)}"'
    if event.status == FAILED:
        used.add("failed")
        return style.split(" stroke")[0] + f' stroke="{FAILURE_RED}" stroke-width="2.5"'
    if event.status == SKIPPED:
        used.add("skipped")
        return style + ' fill-opacity="0.35"'
    if event.status == IN_PROGRESS:
        used.add("in progress")
        return style.split(" stroke")[0] + ' stroke="#333" stroke-width="1.5" stroke-dasharray="4 3"'
    return style


def _legend(used: Set[str], y: int) -> Tuple[List[str], int]:
    """Swatches for what the picture shows, lifecycle events in their order, wrapped to the width."""
    names = sorted((n for n in used if n in EVENT_COLOURS or n not in _SPECIAL), key=_event_rank)
    items = [(n, f'fill="{event_colour(n)}"') for n in names]
    items += [(label, style) for key, label, style in _SPECIAL_ITEMS if key in used]
    parts: List[str] = []
    x, left, right = PAD + BATCH_W, PAD + BATCH_W, WIDTH - PAD
    for label, style in items:
        width = 20 + int(len(label) * 6.1) + 16
        if x + width > right and x > left:
            x, y = left, y + 20
        parts.append(
            f'<g class="legend"><rect x="{x}" y="{y}" width="14" height="12" {style}/>'
            f'<text x="{x + 20}" y="{y + 10}" font-size="11" fill="#333">{_x(label)}</text></g>'
        )
        x += width
    return parts, y + (20 if items else 0) + PAD


_SPECIAL_ITEMS = (
    (
        "load balancer",
        "BlockTraffic / AllowTraffic (load balancer)",
        'fill="url(#fleet-lb-hatch)" stroke="#3b4a6b"',
    ),
    ("failed", "failed event", f'fill="#ffffff" stroke="{FAILURE_RED}" stroke-width="2.5"'),
    ("failure", "host failed outside an event", f'fill="{FAILURE_RED}"'),
    ("skipped", "no scripts to run", 'fill="#999999" fill-opacity="0.35"'),
    ("in progress", "still running when it ended", 'fill="#ffffff" stroke="#333" stroke-dasharray="4 3"'),
)
_SPECIAL = frozenset(key for key, _, _ in _SPECIAL_ITEMS)


def _event_rank(name: str) -> Tuple[int, str]:
    return (EVENT_ORDER.index(name) if name in EVENT_ORDER else len(EVENT_ORDER), name)


def _utc(when: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(when))


# The page --------------------------------------------------------------------------------------------
_CSS = """body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:24px;color:#222}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}h3{font-size:14px;margin:16px 0 4px}
.meta{color:#555;margin:0 0 12px}svg{max-width:100%;height:auto;border:1px solid #e3e3e3}
table{border-collapse:collapse}th,td{padding:3px 12px 3px 0;border-bottom:1px solid #e6e6e6;text-align:left;
vertical-align:top}td.num{text-align:right;font-variant-numeric:tabular-nums}
.bad{color:#c62828;font-weight:600}.good{color:#2e7d32}.muted{color:#777}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;margin:4px 0}dt{color:#555}dd{margin:0}
pre{background:#f6f8fa;padding:8px 12px;overflow:auto;font-size:12px;margin:6px 0}"""


def _status_class(status: str) -> str:
    return "bad" if status in PROBLEMS else "good" if status == SUCCEEDED else "muted"


def render_html(deployment: FleetDeployment) -> str:
    d = deployment
    status = status_word(d.status)
    duration = deployment_end(d) - d.started
    page = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_x(describe_deployment(d))}: {_x(status)}</title><style>{_CSS}</style></head><body>",
        f'<h1>{_x(describe_deployment(d))}: <span class="{_status_class(d.status)}">{_x(status)}</span></h1>',
        f'<p class="meta">application {_x(d.application)} · group {_x(d.group)} · revision {_x(d.revision)} · '
        f"{_x(d.config)} · {_x(counts_text(host_counts(d)))} · {duration:.1f}s · started {_utc(d.started)}</p>",
    ]
    if d.message:
        page.append(f"<p>{_x(d.message)}</p>")
    page += [render_svg(d), "<h2>Hosts</h2>", "<table><thead><tr><th>Host</th><th>Batch</th><th>Status</th>"]
    page.append("<th>Duration</th><th>Last event</th><th>Reason</th></tr></thead><tbody>")
    failures = []
    for batch, host in host_rows(d):
        state = host_status(d, batch, host)
        outcome = d.hosts.get(host) or HostOutcome(host, state)
        last = outcome.events[-1].event if outcome.events else ""
        took = f"{outcome.duration:.2f}s" if outcome.events or outcome.duration else ""
        page.append(
            f'<tr><td>{_x(host)}</td><td>{batch or ""}</td><td class="{_status_class(state)}">'
            f'{_x(status_word(state))}</td><td class="num">{took}</td><td>{_x(last)}</td><td>{_x(outcome.reason)}</td></tr>'
        )
        if state in PROBLEMS:
            failures.append(outcome)
    page.append("</tbody></table>")
    if failures:
        page.append("<h2>Failed hosts</h2>")
    for outcome in failures:
        page.append(f"<h3>{_x(outcome.host)}: {_x(status_word(outcome.status))}</h3><dl>")
        event = failing_event(outcome)
        details = [("reason", outcome.reason), ("host deployment", outcome.host_deployment_id)]
        if event is not None:
            error = (
                f"{event.error_code} {event.error_name}".strip()
                if event.error_code or event.error_name
                else ""
            )
            details += [
                ("event", event.event),
                ("script", event.script_name),
                ("error", error),
                ("message", event.message),
            ]
        page += [f"<dt>{name}</dt><dd>{_x(value)}</dd>" for name, value in details if value]
        page.append("</dl>")
        tail = log_tail(outcome)
        if tail:
            page.append("<pre>" + "\n".join(_x(line) for line in tail) + "</pre>")
    page.append("</body></html>")
    return "\n".join(page) + "\n"
