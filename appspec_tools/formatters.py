"""Output formats for lint problems: a small registry keyed by `--format`. Formatters only print."""

from __future__ import annotations

from typing import Callable, Dict, List, TextIO

from appspec_tools import __version__
from appspec_tools.problem import Problem, Severity

Formatter = Callable[[List[Problem], int, TextIO, bool], None]
FORMATTERS: Dict[str, Formatter] = {}
INFORMATION_URI = "https://github.com/appspec-tools/appspec-tools"
_COLOURS = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.INFO: "\033[36m"}


def formatter(name: str) -> Callable[[Formatter], Formatter]:
    def register(fn: Formatter) -> Formatter:
        FORMATTERS[name] = fn
        return fn

    return register


def summary(problems: List[Problem], files: int) -> str:
    counts = {s: sum(1 for p in problems if p.severity == s) for s in Severity}
    if not problems:
        return f"{files} file{'s' if files != 1 else ''} checked, no problems"
    parts = [f"{counts[s]} {s.label}{'s' if counts[s] != 1 else ''}" for s in reversed(Severity) if counts[s]]
    return (
        f"{len(problems)} problem{'s' if len(problems) != 1 else ''} ({', '.join(parts)}) in {files} file"
        + ("s" if files != 1 else "")
    )


def text_line(p: Problem, colour: bool = False) -> str:
    """One problem as the text format prints it (also `appspec init`'s warnings), without the newline."""
    label = p.severity.label
    if colour:
        label = f"{_COLOURS[p.severity]}{label}\033[0m"
    hint = f" (fix: {p.hint})" if p.hint else ""
    return f"{p.path}:{p.line}:{p.column}: {label} {p.rule_id} {p.message}{hint}"


@formatter("text")
def text(problems: List[Problem], files: int, out: TextIO, colour: bool) -> None:
    for p in problems:
        out.write(text_line(p, colour) + "\n")
    out.write(summary(problems, files) + "\n")


def as_dict(p: Problem) -> dict:
    return {
        "path": p.path,
        "line": p.line,
        "column": p.column,
        "rule": p.rule_id,
        "severity": p.severity.label,
        "message": p.message,
        "hint": p.hint,
    }


@formatter("json")
def json_format(problems: List[Problem], files: int, out: TextIO, colour: bool) -> None:
    import json  # here, not at the top: the text format, the default, needs no json

    document = {
        "tool": "appspec-lint",
        "version": __version__,
        "files": files,
        "summary": {s.label: sum(1 for p in problems if p.severity == s) for s in reversed(Severity)},
        "problems": [as_dict(p) for p in problems],
    }
    json.dump(document, out, indent=2)
    out.write("\n")


_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def sarif_document(problems: List[Problem]) -> dict:
    from appspec_tools.rules import all_rules

    rules = all_rules()
    used = sorted({p.rule_id for p in problems})
    index = {rule_id: n for n, rule_id in enumerate(used)}
    descriptors = []
    for rule_id in used:
        rule = rules[rule_id]
        descriptors.append(
            {
                "id": rule.id,
                "name": rule.summary,
                "shortDescription": {"text": rule.summary},
                "fullDescription": {"text": rule.doc or rule.summary},
                "help": {"text": f"Fix: {rule.hint}"},
                "helpUri": f"{INFORMATION_URI}/blob/main/docs/rules.md#{rule.id.lower()}",
                "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
            }
        )
    results = []
    for p in problems:
        results.append(
            {
                "ruleId": p.rule_id,
                "ruleIndex": index[p.rule_id],
                "level": _SARIF_LEVEL[p.severity],
                "message": {"text": f"{p.message} (fix: {p.hint})" if p.hint else p.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": _uri(p.path)},
                            "region": {"startLine": p.line, "startColumn": p.column},
                        }
                    }
                ],
            }
        )
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "appspec-lint",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": descriptors,
                    }
                },
                "results": results,
            }
        ],
    }


def _uri(path: str) -> str:
    from urllib.parse import quote

    path = path.replace("\\", "/")
    if path.startswith("./"):
        path = path[2:]
    return quote(path, safe="/:!")


@formatter("sarif")
def sarif(problems: List[Problem], files: int, out: TextIO, colour: bool) -> None:
    import json

    json.dump(sarif_document(problems), out, indent=2)
    out.write("\n")


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


_GITHUB_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


@formatter("github")
def github(problems: List[Problem], files: int, out: TextIO, colour: bool) -> None:
    """GitHub Actions workflow commands: one annotation per problem."""
    for p in problems:
        props = ",".join(
            f"{k}={_escape_property(v)}"
            for k, v in (
                ("file", p.path),
                ("line", str(p.line)),
                ("col", str(p.column)),
                ("title", f"{p.rule_id} {p.severity.label}"),
            )
        )
        hint = f" (fix: {p.hint})" if p.hint else ""
        out.write(
            f"::{_GITHUB_COMMAND[p.severity]} {props}::{_escape_data(p.rule_id + ' ' + p.message + hint)}\n"
        )
    out.write(summary(problems, files) + "\n")
