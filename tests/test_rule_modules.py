"""`appspec lint` imports only the rule modules a document's platform needs (appspec_tools.rules.rules_for),
found by the first word of their names. A rule in a module of the wrong name would silently stop running
whenever a file is linted on its own; these tests read the registrations in a fresh interpreter."""

import json
import subprocess
import sys
from pathlib import Path

from appspec_tools.lifecycle import PLATFORMS
from appspec_tools.rules import COMMON, REVISION, rule_modules

VALID_EC2 = Path(__file__).parent / "fixtures" / "appspec" / "valid" / "ec2" / "minimal.yml"

REGISTRATIONS = """
import importlib, json
from appspec_tools import rules
found = {}
for name in sorted(n for names in rules.rule_modules().values() for n in names):
    before = set(rules.RULES)
    importlib.import_module("appspec_tools.rules." + name)
    found[name] = [
        {"id": i, "platforms": sorted(rules.RULES[i].platforms), "scope": rules.RULES[i].scope}
        for i in rules.RULES if i not in before
    ]
print(json.dumps(found))
"""


def registrations():
    """Rule module -> the rules that importing it registers, the modules imported in name order."""
    out = subprocess.run([sys.executable, "-c", REGISTRATIONS], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_every_rule_module_is_named_for_the_documents_its_rules_apply_to():
    found, modules = registrations(), rule_modules()
    assert all(modules[scope] for scope in (COMMON, *PLATFORMS, REVISION)), "a scope without modules"
    for platform in PLATFORMS:
        for module in modules[platform]:
            assert found[module], f"{module} registers no rule: a helper needs a name without a scope"
            for rule in found[module]:
                assert rule["platforms"] == [platform], f"{rule['id']} in {module} applies beyond {platform}"
                assert rule["scope"] == "document", f"{rule['id']} in {module}"
    for module in modules[REVISION]:
        assert found[module] and all(rule["scope"] == "revision" for rule in found[module]), module
    sources = [rule["id"] for module, rules in found.items() for rule in rules if rule["scope"] == "source"]
    assert sources and all(
        any(rule["id"] == source for module in modules[COMMON] for rule in found[module])
        for source in sources
    ), "the parser's findings need their rules whatever the platform"


def test_a_module_without_a_scope_word_is_a_helper_and_is_not_discovered():
    discovered = {name for names in rule_modules().values() for name in names}
    assert {"placeholders", "reference", "service_keys", "permission_entries"}.isdisjoint(discovered)
    assert {"common_syntax", "ec2_permissions", "ecs_service", "lambda_function"} <= discovered


def test_linting_an_ec2_file_imports_only_its_rule_modules_and_rules_still_lists_every_rule():
    probe = (
        "import io, json, sys\n"
        "from appspec_tools.cli import main\n"
        f"code = main(['lint', '--no-config', {str(VALID_EC2)!r}], io.StringIO(), io.StringIO())\n"
        "loaded = sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('appspec_tools.rules.'))\n"
        "listing = io.StringIO()\n"
        "main(['rules'], listing, io.StringIO())\n"
        "print(json.dumps([code, loaded, len(listing.getvalue().splitlines())]))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    code, loaded, listed = json.loads(out.stdout)
    assert code == 0
    helpers = {"permission_entries"}  # imported by the ec2 permission rules
    assert set(loaded) == set(rule_modules()[COMMON]) | set(rule_modules()["ec2"]) | helpers
    assert listed == sum(len(rules) for rules in registrations().values())
