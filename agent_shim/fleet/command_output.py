"""What `deploy`, `rollback`, `sync`, `show` and `status` leave behind them: the result (text, JSON or a
`jsonl` result line) and the `--timeline` pictures."""

from __future__ import annotations

import json
import os
from typing import List, Optional

from agent_shim.fleet.contracts import FleetDeployment
from agent_shim.fleet.recorder import FleetRun
from agent_shim.fleet.wiring import Context
from appspec_tools.errors import UsageError
from appspec_tools.fileio import write_atomically

TIMELINE_ACTIONS = ("run", "rollback", "sync", "show", "status")
TIMELINE_SUFFIXES = (".svg", ".html", ".htm")


def check_timeline_option(action: str, path: Optional[str]) -> None:
    """Refuse a --timeline that cannot be written before anything is deployed."""
    if not path:
        return
    if action not in TIMELINE_ACTIONS:
        raise UsageError(f"--timeline goes with {', '.join(TIMELINE_ACTIONS)}, not {action}")
    if not path.lower().endswith(TIMELINE_SUFFIXES):
        raise UsageError(f"--timeline {path}: name an .svg picture or an .html page")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"--timeline {path}: folder {folder} does not exist")


def write_timelines(context: Context, deployments: List[FleetDeployment]) -> List[Optional[str]]:
    """`--timeline FILE`: the first deployment's timeline in FILE, a rollback's beside it as
    FILE-rollback.svg|html; per deployment, the path written (None when it could not be)."""
    from agent_shim.fleet import report

    path = getattr(context.args, "timeline", None)
    if not path:
        return []
    stem, suffix = os.path.splitext(path)
    written: List[Optional[str]] = []
    for index, deployment in enumerate(deployments):
        target = path if index == 0 else f"{stem}-rollback{suffix}"
        svg = suffix.lower() == ".svg"
        text = report.timeline_svg(deployment) if svg else report.timeline_html(deployment)
        try:
            write_atomically(target, text)
        except OSError as exc:  # the deployment is over and recorded: say so, report the rest
            context.err.write(f"appspec fleet: cannot write the timeline {target}: {exc.strerror or exc}\n")
            target = None
        written.append(target)
    return written


def write_result(context: Context, run: FleetRun, deployments: List[FleetDeployment]) -> None:
    from agent_shim.fleet import report

    timelines = write_timelines(context, deployments)
    if context.format == "text":
        for index, deployment in enumerate(deployments):
            report.summary(deployment, context.out, timelines[index] if timelines else None)
        for note in run.notes:
            context.out.write(f"note: {note}\n")
        return
    document = {
        "deployment": report.to_json(deployments[0]),
        "rollback": report.to_json(deployments[1]) if len(deployments) > 1 else None,
        "notes": run.notes,
    }
    if timelines:
        document["timelines"] = [path for path in timelines if path]
    if context.format == "jsonl":
        context.out.write(json.dumps({"type": "result", **document}) + "\n")
    else:
        json.dump(document, context.out, indent=2)
        context.out.write("\n")
