"""Syntax and encoding: what stops the agent's YAML loader, or makes it see something else."""

from __future__ import annotations

from typing import Any, Dict, Iterator, Tuple

from appspec_tools.nodes import Mapping, walk
from appspec_tools.rules import ERROR, INFO, WARNING, Context, Finding, declare, rule

declare(
    "SYN001",
    ERROR,
    "The AppSpec file is empty",
    hint="write at least `version: 0.0` and `os: linux`, or generate one with `appspec init`",
    doc="""The agent fails the deployment with "the application specification file was empty" when the
    file is empty, blank, or holds only comments.""",
    bad="# TODO",
    good="version: 0.0\nos: linux",
)
declare(
    "SYN002",
    ERROR,
    "YAML syntax error",
    hint="fix the YAML at the position shown; indent with spaces and align sibling keys",
    doc="The file is not valid YAML, so the agent cannot read it at all.",
    bad="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: a.sh\n   timeout: 30",
    good="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: 30",
)
declare(
    "SYN003",
    ERROR,
    "JSON syntax error",
    hint="fix the JSON at the position shown (commas between items, double-quoted keys)",
    doc="An `appspec.json` (or JSON given on standard input) that does not parse.",
    bad='{"version": 0.0 "os": "linux"}',
    good='{"version": 0.0, "os": "linux"}',
)
declare(
    "SYN004",
    ERROR,
    "Tab character in block indentation",
    hint="replace the tabs with spaces (the AppSpec reference uses 2-space steps)",
    doc="""YAML forbids tabs for block indentation; the agent's loader (libyaml, through Ruby's Psych)
    stops at the first one. Inside `[ ]` and `{ }` tabs are plain whitespace, so JSON indented with tabs
    loads in an `appspec.yml` too and is not reported; the tabs from the line where the parse failed
    on are.""",
    bad="version: 0.0\nos: linux\nfiles:\n\t- source: /\n\t  destination: /opt/app",
    good="version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /opt/app",
)
declare(
    "SYN014",
    WARNING,
    "An `.json` AppSpec that is YAML, not JSON",
    hint="write JSON (double-quoted keys and strings, commas, no comments) or rename the file appspec.yml",
    doc="""The agent loads the AppSpec with `YAML.load` whatever its name (`hook_executor.rb`,
    `application_specification.rb`), so YAML saved as `appspec.json` (or JSON that only YAML accepts, with
    a trailing comma or an unquoted key) deploys on EC2/On-Premises and is linted as the agent reads it.
    JSON readers may reject it: the CodeDeploy service for ECS and Lambda AppSpecs, editors, schemas.
    When the text is neither JSON nor YAML, SYN003 reports the JSON error.""",
    bad='{"version": 0.0, "os": "linux",}',
    good='{"version": 0.0, "os": "linux"}',
)
declare(
    "SYN005",
    ERROR,
    "Byte-order mark before the first key",
    hint="save the file as UTF-8 without BOM",
    doc="""With a UTF-8 byte-order mark before the first key, libyaml sees that key one column in, so the
    next top-level key ends the document: the agent keeps only the first key and then rejects the
    file (for example "os missing"). A BOM before a comment line is harmless and not reported.""",
    bad="\\ufeffversion: 0.0\nos: linux",
    good="version: 0.0\nos: linux",
)
declare(
    "SYN007",
    ERROR,
    "Document too large once aliases are expanded, or nested too deeply",
    hint="write the values out; an AppSpec never needs thousands of nodes",
    doc="""Anchors and aliases can make a small file expand to billions of nodes (a "billion laughs"
    file). The linter stops expanding after a fixed budget instead of exhausting memory.""",
    bad='a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n# ... eight more levels',
    good="version: 0.0\nos: linux",
)
declare(
    "SYN008",
    WARNING,
    "More than one YAML document",
    hint="keep one document: remove the `---` separator and everything after it, or merge the documents",
    doc="The agent reads only the first document of the file; the rest is silently ignored.",
    bad="version: 0.0\nos: linux\n---\nhooks: {}",
    good="version: 0.0\nos: linux\nhooks: {}",
)
declare(
    "SYN009",
    ERROR,
    "File too large for an AppSpec",
    hint="is this the right file? An AppSpec is a few kilobytes; the limit is set with --max-file-size",
    doc="Files over the size limit (1 MiB by default) are not parsed.",
)
declare(
    "SYN013",
    WARNING,
    "Unknown rule id in an `appspec-lint:` comment",
    hint="use an id from `appspec rules` (a misspelled id turns nothing off)",
    doc="""A `# appspec-lint: disable=ID` or `disable-file=ID` comment names an id that no rule has, so it
    turns nothing off: usually a typo, or a rule id from another linter.""",
    bad="os: linux  # appspec-lint: disable=TOP07",
    good="os: linux  # appspec-lint: disable=TOP007",
)
declare(
    "SYN010",
    ERROR,
    "Binary file or not UTF-8",
    hint="save the AppSpec as UTF-8 text",
    doc="The agent reads the AppSpec as UTF-8 YAML; binary data or another encoding cannot be parsed.",
)


@rule(
    "SYN006",
    WARNING,
    "Duplicate key",
    hint="remove one of the two keys; the agent keeps only the last",
    bad="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: a.sh\n  AfterInstall:\n    - location: b.sh",
    good="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: a.sh\n    - location: b.sh",
)
def duplicate_keys(ctx: Context) -> Iterator[Finding]:
    """The agent's YAML loader keeps the last of two equal keys without a word, so the first
    value (often a whole list of hooks) silently disappears."""
    for node in walk(ctx.root):
        if not isinstance(node, Mapping):
            continue
        first: Dict[Tuple[str, Any], int] = {}
        for key, key_node, _ in node.items():
            try:
                marker = (type(key).__name__, key)
                hash(marker)
            except TypeError:
                continue
            if marker in first:
                yield Finding(
                    key_node,
                    f"duplicate key '{key}' (first at line {first[marker]}): the agent keeps only this last one",
                )
            else:
                first[marker] = key_node.line


@rule(
    "SYN011",
    ERROR,
    "YAML anchors, aliases or merge keys",
    hint="write the repeated values out in full",
    bad="x: &script {location: a.sh}\nhooks:\n  AfterInstall: [*script]",
    good="hooks:\n  AfterInstall:\n    - location: a.sh",
)
def aliases(ctx: Context) -> Iterator[Finding]:
    """The agent loads the AppSpec with Ruby's `YAML.load`; on Ruby 3.1 and later (Psych 4, the Ruby of
    Amazon Linux 2023 and Ubuntu 22.04+) that raises `BadAlias` for every alias and merge key, so
    the deployment fails. Older agents load them."""
    for line, column in ctx.source.alias_lines:
        yield Finding(
            (line, column), "alias or merge key: agents on Ruby 3.1+ reject aliases (Psych BadAlias)"
        )


@rule(
    "SYN012",
    INFO,
    "Windows (CRLF) line endings",
    hint="convert to LF line endings (dos2unix, or `* text eol=lf` in .gitattributes)",
    bad="version: 0.0\\r\\nos: linux\\r\\n",
    good="version: 0.0\\nos: linux\\n",
)
def crlf(ctx: Context) -> Iterator[Finding]:
    """The AppSpec itself parses with CRLF endings, but the editor or checkout that wrote them usually
    writes the hook scripts the same way, and a `#!/bin/bash\\r` shebang fails on the host."""
    position = ctx.source.text.find("\r\n")
    if position >= 0:
        line = ctx.source.text.count("\n", 0, position) + 1
        yield Finding((line, 1), "file uses CRLF line endings")
