"""`appspec lint` imports only the rule modules a document's platform needs (appspec_tools.rules.rules_for).
Its table must name every module that holds a rule able to apply, or that rule would silently stop
running whenever a file is linted on its own; these tests read the registrations in a fresh interpreter."""

import json
import subprocess
import sys
from pathlib import Path

from appspec_tools.rules import COMMON_MODULES, PLATFORM_MODULES, REVISION_MODULES, RULE_MODULES

VALID_EC2 = Path(__file__).parent / "fixtures" / "appspec" / "valid" / "ec2" / "minimal.yml"

REGISTRATIONS = """
import importlib, json
from appspec_tools import rules
found = {}
for name in rules.RULE_MODULES:
    before = set(rules.RULES)
    importlib.import_module("appspec_tools.rules." + name)
    found[name] = [
        {"id": i, "platforms": sorted(rules.RULES[i].platforms), "scope": rules.RULES[i].scope}
        for i in rules.RULES if i not in before
    ]
print(json.dumps(found))
"""


def registrations():
    """Rule module -> the rules that importing it registers, each module imported in RULE_MODULES order."""
    out = subprocess.run([sys.executable, "-c", REGISTRATIONS], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_every_rule_module_is_loaded_for_each_platform_its_rules_apply_to():
    found = registrations()
    listed = (
        list(COMMON_MODULES) + [m for ms in PLATFORM_MODULES.values() for m in ms] + list(REVISION_MODULES)
    )
    assert sorted(listed) == sorted(RULE_MODULES), "each rule module is listed exactly once"
    for platform, modules in PLATFORM_MODULES.items():
        for module in modules:
            for rule in found[module]:
                assert rule["platforms"] == [platform], f"{rule['id']} in {module} applies beyond {platform}"
                assert rule["scope"] == "document", f"{rule['id']} in {module}"
    for module in REVISION_MODULES:
        assert all(rule["scope"] == "revision" for rule in found[module]), module
    sources = [rule["id"] for module, rules in found.items() for rule in rules if rule["scope"] == "source"]
    assert sources and all(
        any(rule["id"] == source for module in COMMON_MODULES for rule in found[module]) for source in sources
    ), "the parser's findings need their rules whatever the platform"


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
    assert set(loaded) == set(COMMON_MODULES) | set(PLATFORM_MODULES["ec2"])
    assert listed == sum(len(rules) for rules in registrations().values())
