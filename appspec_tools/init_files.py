"""The files `appspec init` writes: the AppSpec text, the hook scripts of hooks/ and hooks.env values, all
checked before anything is written."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, List, Optional

from appspec_tools.agent_names import APPSPEC_NAMES
from appspec_tools.fileio import write_atomically
from appspec_tools.init_values import InitError


@dataclass(frozen=True)
class PlannedFile:
    path: str  # relative to the revision folder, with /
    data: bytes
    mode: int


def literal(value: str) -> str:
    """A hooks.env value part taken as written: hookkit reads `$$` as `$`, so `${...}` is not expanded."""
    return value.replace("$", "$$")


def env_value(value: str) -> str:
    """A hooks.env value that reads back as written: hookkit strips one pair of surrounding quotes and
    surrounding blanks, so such values are wrapped in quotes of their own."""
    if "\n" in value or "\r" in value:
        raise InitError(f"{value!r}: hooks.env values are one line")
    if value != value.strip() or (len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""):
        return f"'{value}'"
    return value


def hook_source(name: str) -> bytes:
    """A file of hooks/: package data of an installed appspec-tools, or the source tree's folder."""
    try:
        from importlib.resources import files

        resource = files("appspec_tools.bundled_hooks").joinpath(name)
        if resource.is_file():
            return resource.read_bytes()
    except (ImportError, TypeError, AttributeError, OSError):
        pass  # Python 3.8, or no such package: a source checkout
    here = os.path.dirname(os.path.abspath(__file__))
    for folder in (os.path.join(here, "bundled_hooks"), os.path.join(os.path.dirname(here), "hooks")):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                return handle.read()
    raise InitError(f"hook script {name} is missing from this installation; reinstall appspec-tools")


def existing_appspec(directory: str) -> Optional[str]:
    """An AppSpec the folder already has: init writes that one (a revision has one AppSpec)."""
    return next((n for n in APPSPEC_NAMES if os.path.lexists(os.path.join(directory, n))), None)


def appspec_text(spec: Any, name: str) -> str:
    from appspec_tools.lifecycle import EC2_TRAFFIC
    from appspec_tools.model import dump

    if name.endswith(".json"):
        return dump(spec, "json")
    header = "# Written by `appspec init`; check it with `appspec lint`.\n"
    if getattr(spec, "platform", "") == "ec2" and any(e in EC2_TRAFFIC for e in spec.hooks):
        # HOOK017 asks whether the group has a load balancer; choosing traffic events answered yes.
        header += (
            "# The deployment group has a load balancer, so the traffic hooks run (appspec init --lb-events traffic).\n"
            "# appspec-lint: disable-file=HOOK017\n"
        )
    return header + dump(spec)


def refuse_lint_errors(planned: PlannedFile) -> None:
    """Values from flags or prompts that make `appspec lint` fail (a bad ARN, equal Lambda versions) stop
    init before anything is written; a warning is what the user asked for, printed after writing."""
    from appspec_tools.linter import failing, lint_bytes

    errors = [p for p in lint_bytes(planned.data, planned.path) if failing([p], strict=False)]
    if errors:
        found = "; ".join(f"{p.rule_id} {p.message}" for p in errors)
        raise InitError(f"the values given would make {planned.path} fail lint: {found}; nothing written")


def write_files(directory: str, files: List[PlannedFile], force: bool) -> None:
    """All or nothing up front: every existing target is named in one message, and nothing is written."""
    blocked, existing = [], []
    for planned in files:
        target = os.path.join(directory, planned.path)
        parent = os.path.dirname(target)
        if (os.path.lexists(parent) and not os.path.isdir(parent)) or os.path.isdir(target):
            blocked.append(os.path.normpath(target))
        elif os.path.lexists(target):
            existing.append(os.path.normpath(target))
    if blocked:
        raise InitError(
            f"cannot write {', '.join(blocked)}: a directory or file is in the way; nothing written"
        )
    if existing and not force:
        raise InitError(f"would overwrite {', '.join(existing)}; nothing written (use --force to overwrite)")
    for planned in files:
        target = os.path.join(directory, planned.path)
        try:
            write_atomically(target, planned.data, mode=planned.mode)
        except OSError as exc:
            raise InitError(f"cannot write {target}: {exc.strerror or exc}") from None
