"""docs/rules.md is generated from the rules; a stale copy fails here."""

from pathlib import Path

from appspec_tools.rules import all_rules
from appspec_tools.rules.reference import markdown

ROOT = Path(__file__).resolve().parent.parent


def test_rules_reference_is_up_to_date():
    committed = (ROOT / "docs" / "rules.md").read_text()
    assert committed == markdown(), "docs/rules.md is stale: run `appspec rules --markdown > docs/rules.md`"


def test_every_rule_has_documentation_and_examples():
    for rule in all_rules().values():
        assert rule.summary and rule.hint and rule.doc, rule.id
        if rule.scope == "document":
            assert rule.bad and rule.good, f"{rule.id} needs bad and good examples"


def test_rule_ids_follow_the_area_and_number_scheme():
    import re

    for rule_id in all_rules():
        assert re.fullmatch(r"(SYN|TOP|FILE|PERM|HOOK|ECS|LMB|REV)\d{3}", rule_id), rule_id
