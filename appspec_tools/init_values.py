"""What `appspec init` accepts: the hook scripts it can wire, and the checks of flag and prompt answers
(a check raises ArgumentTypeError, which argparse shows for a flag and init at its prompt)."""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from typing import Callable, List, Sequence, Tuple

from appspec_tools.errors import UsageError

DEFAULT_HOOKS = "stop,after-install,start,validate"


class InitError(UsageError):
    """A usage problem: printed as one line, exit 2, nothing written."""


@dataclass(frozen=True)
class HookChoice:
    """A hook script of hooks/ and where init wires it. Timeouts leave room for the script's own deadline
    (docs/hooks.md) and keep every event's total under 3600 s whatever is chosen."""

    name: str
    script: str
    event: str
    app_event: str  # the event with `--lb-events app` (no CodeDeploy load balancer)
    timeout: int
    aliases: Tuple[str, ...] = ()


# In this order within an event: drain before stopping, register after the health check passes.
HOOK_CHOICES = (
    HookChoice(
        "deregister", "deregister_from_lb.py", "BeforeBlockTraffic", "ApplicationStop", 400, ("drain",)
    ),
    HookChoice("stop", "application_stop.py", "ApplicationStop", "ApplicationStop", 180),
    HookChoice("before-install", "before_install.py", "BeforeInstall", "BeforeInstall", 300),
    HookChoice("after-install", "after_install.py", "AfterInstall", "AfterInstall", 600, ("install",)),
    HookChoice("start", "application_start.py", "ApplicationStart", "ApplicationStart", 180),
    HookChoice("validate", "validate_service.py", "ValidateService", "ValidateService", 360, ("health",)),
    HookChoice("register", "register_with_lb.py", "AfterAllowTraffic", "ValidateService", 360),
)


def parse_hooks(text: str) -> Tuple[HookChoice, ...]:
    """Short names (or aliases, or the script names) to hook choices, in wiring order."""
    names = set()
    for raw in text.split(","):
        word = raw.strip().lower().replace("_", "-")
        word = word[: -len(".py")] if word.endswith(".py") else word
        if word in ("", "none"):
            continue
        if word == "all":
            names |= {c.name for c in HOOK_CHOICES}
            continue
        for choice in HOOK_CHOICES:
            if word in (choice.name, choice.script[:-3].replace("_", "-")) + choice.aliases:
                names.add(choice.name)
                break
        else:
            near = nearest(word, [c.name for c in HOOK_CHOICES])
            raise argparse.ArgumentTypeError(
                f"unknown hook {raw.strip()!r}{near}; use {', '.join(c.name for c in HOOK_CHOICES)}"
            )
    return tuple(c for c in HOOK_CHOICES if c.name in names)


def one_of(options: Sequence[str], normal: Callable[[str], str] = str.lower) -> Callable[[str], str]:
    def check(text: str) -> str:
        if normal(text) not in options:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(options)}")
        return normal(text)

    return check


def tcp_port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port; use 1-65535")
    return int(text)


def user_name(text: str) -> str:
    """What `su NAME` accepts: no blanks, colons or slashes (useradd's own rule is stricter)."""
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a user name; use e.g. webapp")
    return text


def absolute(text: str) -> str:
    if not text.startswith("/"):
        raise argparse.ArgumentTypeError(f"{text!r} is not an absolute path; use e.g. /opt/my-app")
    return text.rstrip("/") or "/"


def source_in(directory: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        source = text.strip() or "/"
        relative = source.strip("/")
        if source != "/" and (
            ".." in relative.split("/") or not os.path.lexists(os.path.join(directory, relative))
        ):
            raise argparse.ArgumentTypeError(
                f"{source!r} is not in {directory}; give a file or folder of the revision, or /"
            )
        return source

    return check


def capacity_provider(text: str) -> Tuple[str, int, int]:
    name, *numbers = text.split(":")
    if not name or len(numbers) > 2 or not all(n.isdigit() for n in numbers):
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME[:WEIGHT[:BASE]] with whole numbers")
    weight, base = (int(n) for n in (numbers + ["1", "0"][len(numbers) :]))
    return name, base, weight


def comma_list(text: str) -> List[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def nearest(word: str, candidates: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def flag_name(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def app_name(directory: str) -> str:
    base = os.path.basename(os.path.abspath(directory)).lower()
    name = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in base).strip("-.")
    return name or "app"
