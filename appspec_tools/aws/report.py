"""What `appspec aws deploy --wait` prints: a live view while the deployment runs (a frame redrawn in
place on a terminal, otherwise one line per change), then a per-target table and, for every failed
lifecycle event, the script, error code, message and log tail — which script failed on which host, and why.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional, TextIO, Tuple

from appspec_tools.aws.follow import DeploymentState, LifecycleEvent, Target

Clock = Callable[[], datetime]
OVERVIEW_ORDER = ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def overview(state: DeploymentState) -> str:
    counts = [f"{name} {state.overview[name]}" for name in OVERVIEW_ORDER if state.overview.get(name)]
    return ", ".join(counts)


def _event_line(target: Target, event: LifecycleEvent, id_width: int) -> str:
    line = f"  {target.target_id:<{id_width}}  {event.name:<18} {event.status:<10} {duration(event.seconds()):>7}"
    if event.status == "Failed":
        line += f"  {event.error_code or 'UnknownError'}" + (
            f" in {event.script_name}" if event.script_name else ""
        )
    return line.rstrip()


class LiveView:
    """Writes progress as states arrive: a redrawn frame on a terminal, otherwise a line per change."""

    def __init__(self, out: TextIO, tty: bool, clock: Clock = utc_now) -> None:
        self.out, self.tty, self.clock = out, tty, clock
        self._seen: Dict[Tuple[str, str], str] = {}  # (target, event) -> status already printed
        self._status: Optional[str] = None
        self._frame_lines = 0

    def update(self, state: DeploymentState) -> None:
        if self.tty:
            self._redraw(state)
        else:
            self._lines(state)
        self.out.flush()

    def _lines(self, state: DeploymentState) -> None:
        status = f"{state.status} ({overview(state)})" if overview(state) else state.status
        if status != self._status:
            self._status = status
            self.out.write(f"deployment {state.deployment_id}: {status}\n")
        id_width = max((len(target.target_id) for target in state.targets), default=0)
        for target in state.targets:
            for event in target.events:
                key = (target.target_id, event.name)
                if event.status in ("Pending", "Unknown") or self._seen.get(key) == event.status:
                    continue
                self._seen[key] = event.status
                self.out.write(_event_line(target, event, id_width) + "\n")

    def _redraw(self, state: DeploymentState) -> None:
        frame = self.frame(state)
        if self._frame_lines:
            self.out.write(f"\x1b[{self._frame_lines}F\x1b[J")  # back to the frame's first line, clear below
        self.out.write("\n".join(frame) + "\n")
        self._frame_lines = len(frame)

    def frame(self, state: DeploymentState) -> List[str]:
        now = self.clock()
        width, height = shutil.get_terminal_size((100, 24))
        head = f"deployment {state.deployment_id}  {state.status}  {duration(state.seconds(now))}"
        lines = [head + (f"  ({overview(state)})" if overview(state) else "")]
        shown = state.targets[: max(1, height - 3)]
        name_width = max((len(target.target_id) for target in shown), default=0)
        for target in shown:
            done = sum(1 for event in target.events if event.status == "Succeeded")
            current = target.current
            doing = f"{current.name} {duration(current.seconds(now))}" if current else ""
            failed = target.failed_events
            if failed:
                doing = f"failed at {failed[0].name} ({failed[0].error_code or 'UnknownError'})"
            row = f"  {target.target_id:<{name_width}}  {target.status:<10}  {done}/{len(target.events)} events  {doing}"
            lines.append(row.rstrip()[: width - 1])
        if len(state.targets) > len(shown):
            lines.append(f"  ... and {len(state.targets) - len(shown)} more")
        return lines


def summary(state: DeploymentState, out: TextIO, clock: Clock = utc_now) -> None:
    """The end of the report: status and reason, one row per target, then every failed event in full."""
    now = clock()
    took = duration(state.seconds(now))
    where = ", ".join(part for part in (
        f"application {state.application}" if state.application else "",
        f"group {state.group}" if state.group else "", state.config,
    ) if part)  # fmt: skip
    out.write(f"\ndeployment {state.deployment_id} {state.status}" + (f" after {took}" if took else ""))
    out.write(f" ({where})\n" if where else "\n")
    if state.error_code or state.error_message:
        out.write(f"  {state.error_code or 'ERROR'}: {state.error_message or ''}\n")
    if state.rollback_deployment_id:
        note = f": {state.rollback_message}" if state.rollback_message else ""
        out.write(f"  rolled back by deployment {state.rollback_deployment_id}{note}\n")
    if not state.targets:
        return
    counts: Dict[str, int] = {}
    for target in state.targets:
        counts[target.status] = counts.get(target.status, 0) + 1
    tally = ", ".join(f"{count} {status.lower()}" for status, count in sorted(counts.items()))
    out.write(f"  targets: {tally} (of {len(state.targets)})\n\n")
    name_width = max(len("TARGET"), *(len(target.target_id) for target in state.targets))
    out.write(f"{'TARGET':<{name_width}}  {'STATUS':<10} {'TIME':>8}  {'EVENTS':<7} FAILED EVENT\n")
    for target in state.targets:
        done = sum(1 for event in target.events if event.status == "Succeeded")
        failed = ", ".join(event.name for event in target.failed_events)
        out.write(
            f"{target.target_id:<{name_width}}  {target.status:<10} {duration(target.seconds(now)):>8}  "
            f"{f'{done}/{len(target.events)}':<7} {failed}".rstrip()
            + "\n"
        )
    for target in state.targets:
        if target.failed_events:
            _failure(target, out, now)


def _failure(target: Target, out: TextIO, now: datetime) -> None:
    label = f" ({target.label})" if target.label else ""
    out.write(f"\n{target.target_id}{label} {target.status}:\n")
    width = max(len(event.name) for event in target.events)
    for event in target.events:
        took = duration(event.seconds(now if event.status == "InProgress" else None))
        line = f"  {event.name:<{width}}  {event.status:<10} {took:>7}"
        if event.status == "Failed":
            line += f"  {event.error_code or 'UnknownError'}" + (
                f" in {event.script_name}" if event.script_name else ""
            )
        out.write(line.rstrip() + "\n")
        if event.status != "Failed":
            continue
        if event.message:
            out.write(f"      message: {' '.join(event.message.split())}\n")
        if event.log_tail and event.log_tail.strip():
            out.write("      log tail:\n")
            for tail_line in event.log_tail.rstrip().splitlines():
                out.write(f"        {tail_line}\n")


def _time(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat() if value is not None else None


def document(state: DeploymentState, **extra: Any) -> Dict[str, Any]:
    """The one JSON document of `--format json`."""
    return {
        "deploymentId": state.deployment_id,
        "status": state.status,
        "application": state.application,
        "deploymentGroup": state.group,
        "deploymentConfig": state.config,
        "errorInformation": {"code": state.error_code, "message": state.error_message}
        if state.error_code or state.error_message
        else None,
        "overview": state.overview,
        "createTime": _time(state.create_time),
        "completeTime": _time(state.complete_time),
        "durationSeconds": state.seconds(),
        "rollbackDeploymentId": state.rollback_deployment_id,
        "targets": [
            {
                "targetId": target.target_id,
                "type": target.kind,
                "status": target.status,
                "label": target.label,
                "durationSeconds": target.seconds(),
                "lifecycleEvents": [
                    {
                        "name": event.name,
                        "status": event.status,
                        "startTime": _time(event.start),
                        "endTime": _time(event.end),
                        "durationSeconds": event.seconds(),
                        "errorCode": event.error_code,
                        "scriptName": event.script_name,
                        "message": event.message,
                        "logTail": event.log_tail,
                    }
                    for event in target.events
                ],
            }
            for target in state.targets
        ],
        "failures": [
            {
                "targetId": target.target_id,
                "lifecycleEvent": event.name,
                "scriptName": event.script_name,
                "errorCode": event.error_code,
                "message": event.message,
                "logTail": event.log_tail,
            }
            for target in state.targets
            for event in target.failed_events
        ],
        **extra,
    }
