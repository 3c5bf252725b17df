"""The small helper every rule test uses: a document in, the expected (rule, line, column) out."""

from __future__ import annotations

import textwrap
from typing import Iterable, List, Optional, Tuple

from appspec_tools.linter import lint_bytes
from appspec_tools.problem import Problem


def lint_text(
    text: str, path: str = "appspec.yml", platform: Optional[str] = None, **kwargs
) -> List[Problem]:
    if text.startswith("\n"):
        text = textwrap.dedent(text[1:])
    return lint_bytes(text.encode("utf-8"), path, platform=platform, **kwargs)


def found(text: str, rule_prefix: str = "", **kwargs) -> List[Tuple[str, int, int]]:
    """(rule id, line, column) of every problem whose id starts with ``rule_prefix``."""
    return [
        (p.rule_id, p.line, p.column) for p in lint_text(text, **kwargs) if p.rule_id.startswith(rule_prefix)
    ]


def assert_problems(
    text: str, expected: Iterable[Tuple[str, int, int]], rule_prefix: str = "", **kwargs
) -> None:
    assert found(text, rule_prefix, **kwargs) == list(expected)


def read_terminal(controller: int, timeout: float = 60) -> bytes:
    """All a child wrote to a pseudo-terminal until it closed it; fails after `timeout` s of silence."""
    import os
    import select

    transcript = b""
    while True:
        ready, _, _ = select.select([controller], [], [], timeout)
        assert ready, f"no output for {timeout:.0f} s: {transcript!r}"
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        transcript += chunk
    os.close(controller)
    return transcript


def one_hook_revision(path, event: str, body: str):
    """A revision folder whose AppSpec runs one sh script, scripts/hook.sh (`body` after `#!/bin/sh`)."""
    (path / "scripts").mkdir(parents=True)
    (path / "appspec.yml").write_text(
        f"version: 0.0\nos: linux\nhooks:\n  {event}:\n    - location: scripts/hook.sh\n"
    )
    script = path / "scripts" / "hook.sh"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return path
