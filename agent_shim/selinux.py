"""The Install event's SELinux contexts, as `install_instruction.rb`'s ChangeContextCommand runs them.

- Written to `<group>-install.json` with the range as `RangeInfo#get_range` gives it. A context without a
  `range` has none, so writing the instructions crashes the agent (`undefined method `get_range' for
  nil:NilClass`) after the previous install's cleanup ran and before anything is copied: the install file is
  left empty and no cleanup file is written. This reproduces that.
- Run as `semanage fcontext -a [-s USER] -t TYPE [-r RANGE] REALPATH`, then `restorecon -v REALPATH`; either
  failing fails the Install with the agent's message, `Exit code: pid N exit C` being Ruby's `$?`. A host
  without the SELinux tools fails the same way (exit 127), as the agent's `system` does there.
"""

from __future__ import annotations

import os
import subprocess
from typing import IO, Any, Callable, Dict, List

from appspec_tools.reading import selinux_range


class NoRange(Exception):
    """`@context.range.get_range` on a context without a range: the agent's NoMethodError."""

    def __str__(self) -> str:
        return "undefined method `get_range' for nil:NilClass"


def instruction(path: str, context: Any) -> Dict[str, Any]:
    """The semanage entry of `<group>-install.json` (`ChangeContextCommand#to_h`)."""
    range_text = getattr(context, "range", None)
    if range_text is None:
        raise NoRange()
    return {
        "type": "semanage",
        "context": {
            "user": getattr(context, "name", None),
            "role": None,
            "type": getattr(context, "type", None),
            "range": selinux_range(range_text),
        },
        "file": path,
    }


def semanage_argv(path: str, context: Any) -> List[str]:
    args = ["-t", str(context.type)]
    if getattr(context, "name", None) is not None:
        args = ["-s", str(context.name), *args]
    if getattr(context, "range", None) is not None:
        args += ["-r", selinux_range(context.range)]
    return ["semanage", "fcontext", "-a", *args, os.path.realpath(path)]


def change_context(path: str, context: Any, cleanup: IO[str], fail: Callable[[str], Exception]) -> None:
    """Run semanage then restorecon on the path's real path; `fail` builds the Install error."""
    target = os.path.realpath(path)
    for argv in (semanage_argv(path, context), ["restorecon", "-v", target]):
        # as Ruby's `system`: a command that is not there is the child's exit 127, not an exception
        process = subprocess.Popen(
            ["/bin/sh", "-c", 'exec "$@" 2>&1', "sh", *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        code = process.wait()
        if code != 0:
            status = f"pid {process.pid} exit {code}" if code > 0 else f"pid {process.pid} SIG{-code}"
            raise fail(
                "The deployment failed because the application specification file contains an error in the "
                "settings for the context parameter. Update the permissions section of the AppSpec file, and then "
                f"try again. Failed command: {' '.join(argv)}. Exit code: {status}"
            )
    cleanup.write(f"semanage\0{target}\n")
    cleanup.flush()
