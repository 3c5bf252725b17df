"""Snapshot tests: every AppSpec under tests/fixtures/appspec has its expected findings beside it.

Run `pytest tests/test_fixtures.py --update-snapshots` to rewrite them, then review the diff.
"""

import json
from pathlib import Path

import pytest

from appspec_tools.linter import lint_bytes

FIXTURES = Path(__file__).parent / "fixtures" / "appspec"
APPSPECS = sorted(
    p
    for p in FIXTURES.rglob("*")
    if p.is_file() and p.suffix in (".yml", ".yaml", ".json") and not p.name.endswith(".expected.json")
)


def snapshot_of(path: Path) -> list:
    problems = lint_bytes(path.read_bytes(), path.name)
    return [
        {
            "rule": p.rule_id,
            "line": p.line,
            "column": p.column,
            "severity": p.severity.label,
            "message": p.message,
        }
        for p in problems
    ]


@pytest.mark.parametrize("path", APPSPECS, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_findings_match_snapshot(path, update_snapshots):
    expected_file = path.with_name(path.name + ".expected.json")
    actual = snapshot_of(path)
    if update_snapshots:
        expected_file.write_text(json.dumps(actual, indent=2) + "\n")
    assert expected_file.exists(), f"no snapshot for {path.name}: run pytest --update-snapshots and review it"
    assert actual == json.loads(expected_file.read_text())


@pytest.mark.parametrize(
    "path",
    [p for p in APPSPECS if "valid" in p.relative_to(FIXTURES).parts[:1]],
    ids=lambda p: str(p.relative_to(FIXTURES)),
)
def test_valid_fixtures_have_no_findings(path):
    assert snapshot_of(path) == []


def test_every_rule_has_a_fixture_or_a_test():
    from appspec_tools.rules import all_rules

    covered = set()
    for expected in FIXTURES.rglob("*.expected.json"):
        covered |= {item["rule"] for item in json.loads(expected.read_text())}
    tests_text = "".join(p.read_text() for p in Path(__file__).parent.rglob("test_*.py"))
    missing = [rule_id for rule_id in all_rules() if rule_id not in covered and rule_id not in tests_text]
    assert not missing, f"rules without a fixture or a test: {missing}"
