"""The one placeholder vocabulary for values that a pipeline fills in before CodeDeploy reads the file.

ECS and Lambda AppSpecs in repositories are often templates: a build step (envsubst, sed, a template
engine), CodePipeline or a GitHub Action writes the real task definition, port, subnets or versions.
Such a value is advice (info), never an error, in every rule that checks a value's form.
"""

from __future__ import annotations

import re
from typing import Any, FrozenSet, Iterator, List, Optional, Tuple

from appspec_tools.nodes import Mapping, Node, Scalar, Sequence
from appspec_tools.rules import Context

# Patterns are strings, compiled by `re` (and cached) on first use: not at import, every start-up.
# A marker anywhere in a value: ${VAR}, {{ expression }}, <NAME>, or a word with PLACEHOLDER in it.
MARKER = r"\$\{[^{}]+\}|\{\{.*?\}\}|<[^<>]+>|(?i:placeholder)"
# A bare ALL_CAPS token with an underscore (CONTAINER_PORT, TARGET_VERSION): a placeholder only where a
# number or an id belongs, since a name may be written that way.
CAPS = r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\Z"
# Keys (lowercase) whose values are numbers or ids, so a bare ALL_CAPS token there cannot be the value.
TYPED: FrozenSet[str] = frozenset(
    {
        "taskdefinition",
        "containerport",
        "platformversion",
        "subnets",
        "securitygroups",
        "assignpublicip",
        "base",
        "weight",
        "currentversion",
        "targetversion",
    }
)


def _lines(ctx: Context) -> List[str]:
    if "lines" not in ctx.cache:
        ctx.cache["lines"] = ctx.source.text.splitlines()
    return ctx.cache["lines"]


def written(ctx: Context, node: Optional[Node]) -> Optional[str]:
    """A value as written when it may be a placeholder: a string's text, or `{{ … }}` that YAML read
    as a flow mapping (an unquoted template expression)."""
    if isinstance(node, Scalar):
        return node.value.strip() if node.tag == "str" and isinstance(node.value, str) else None
    if isinstance(node, Mapping) and node.line >= 1:
        lines = _lines(ctx)
        line = lines[node.line - 1] if node.line <= len(lines) else ""
        match = re.match(r"\{\{.*?\}\}", line[node.column - 1 :])
        return match.group() if match else None
    return None


def placeholder(ctx: Context, node: Optional[Node], key: Any = None) -> Optional[str]:
    """The value as written when it is a placeholder a pipeline fills in, else None. ``key`` is the
    setting's name: under a number or id setting (:data:`TYPED`) a bare ALL_CAPS token counts too."""
    text = written(ctx, node)
    if not text:
        return None
    if re.search(MARKER, text):
        return text
    typed = isinstance(key, str) and key.lower() in TYPED
    return text if typed and re.match(CAPS, text) else None


def placeholders(
    ctx: Context, root: Node, skip: FrozenSet[str] = frozenset()
) -> Iterator[Tuple[str, Node, str]]:
    """(key, node, text) of every placeholder value in a document; values of the keys in ``skip``
    (lowercase) are left out (another rule reports them)."""
    if isinstance(root, Sequence):
        for item in root.items:
            yield from placeholders(ctx, item, skip)
        return
    if not isinstance(root, Mapping):
        return
    for key, _, value in root.items():
        name = key.lower() if isinstance(key, str) else None
        if name in skip:
            continue
        found = placeholder(ctx, value, key)
        if found is not None:
            yield str(key), value, found
            continue
        if isinstance(value, Sequence) and name in TYPED:
            for item in value.items:
                text = placeholder(ctx, item, key)
                if text is not None:
                    yield str(key), item, text
        else:
            yield from placeholders(ctx, value, skip)
