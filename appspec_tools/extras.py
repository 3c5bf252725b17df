"""The optional parts of appspec-tools: which extra brings which modules, and the one-line error when a
command needs an extra that is not installed. The base install (lint, rules, schema, init, bundle,
completion, the one-host deploy and demo) needs none of them."""

from __future__ import annotations

import importlib.util
from typing import Dict, Optional, Tuple

from appspec_tools.errors import UsageError

# extra -> the top-level modules it installs that our code imports
EXTRAS: Dict[str, Tuple[str, ...]] = {
    "fleet": ("fabric", "invoke", "paramiko", "jsonschema"),
    "aws": ("boto3", "botocore", "s3transfer"),
}


class MissingExtra(UsageError):
    """The command needs an optional dependency: install the named extra (exit 2, like a usage error)."""

    def __init__(self, command: str, extra: str) -> None:
        super().__init__(f"{command}: needs the '{extra}' extra: pip install 'appspec-tools[{extra}]'")
        self.extra = extra


def require(extra: str, command: str) -> None:
    """Raise MissingExtra unless every module of `extra` can be imported (found, not imported: cheap)."""
    if any(importlib.util.find_spec(module) is None for module in EXTRAS[extra]):
        raise MissingExtra(command, extra)


def extra_for(exc: ImportError) -> Optional[str]:
    """The extra that brings the module an ImportError failed on, if it is one of ours."""
    top = (getattr(exc, "name", None) or "").split(".")[0]
    return next((extra for extra, modules in EXTRAS.items() if top in modules), None)
