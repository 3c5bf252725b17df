"""Issue 14: AppSpecs from real repositories. Values a pipeline fills in are advice, never errors; the
platform comes from a resource's Type; advice-level rules do not fail --strict; the parser accepts what
the agent's loader (Ruby Psych, libyaml) accepts; a permission clash on an installed path is an error."""

import shutil
import subprocess
from pathlib import Path

import pytest
from support import found, lint_text
from test_rules_ecs_lambda import LAMBDA, ecs

from appspec_tools.nodes import Mapping
from appspec_tools.platforms import detect_platform
from appspec_tools.problem import Severity
from appspec_tools.rules import all_rules
from appspec_tools.source import read_source

FIXTURES = Path(__file__).parent / "fixtures" / "appspec"
NETWORK = """
PlatformVersion: 1.4.0
NetworkConfiguration:
  AwsvpcConfiguration:
    Subnets: [subnet-0a1b2c3d]
    SecurityGroups: [sg-0a1b2c3d]
    AssignPublicIp: DISABLED
CapacityProviderStrategy:
  - CapacityProvider: FARGATE
    Base: 1
    Weight: 1
"""
ECS = ecs(NETWORK, "  - AfterAllowTestTraffic: smoke-test")
VOCABULARY = ["${VALUE}", "{{ value }}", "VALUE_PLACEHOLDER", "<VALUE_1>", "SOME_VALUE"]
ECS_VALUES = [
    "ContainerPort: 8080",
    "PlatformVersion: 1.4.0",
    "Subnets: [subnet-0a1b2c3d]",
    "SecurityGroups: [sg-0a1b2c3d]",
    "AssignPublicIp: DISABLED",
    "Base: 1",
    "Weight: 1",
]


def by_severity(text: str, severity: Severity, **kwargs) -> list:
    return [p.rule_id for p in lint_text(text, **kwargs) if p.severity is severity]


def filled(text: str, setting: str, value: str) -> str:
    name, written = setting.split(": ")
    quoted = value if value.startswith("{{") else f'"{value}"'
    replacement = f"[{quoted}]" if written.startswith("[") else quoted
    return text.replace(setting, f"{name}: {replacement}", 1)


@pytest.mark.parametrize("value", VOCABULARY)
@pytest.mark.parametrize("setting", ECS_VALUES)
def test_a_placeholder_in_any_ecs_value_is_advice_never_an_error(setting, value):
    text = filled(ECS, setting, value)
    assert by_severity(text, Severity.ERROR) == [] and by_severity(text, Severity.WARNING) == []
    assert by_severity(text, Severity.INFO) == ["ECS022"]


@pytest.mark.parametrize("value", VOCABULARY)
@pytest.mark.parametrize("setting", ['CurrentVersion: "1"', 'TargetVersion: "2"'])
def test_a_placeholder_lambda_version_is_advice_never_an_error(setting, value):
    text = LAMBDA.replace(setting, f"{setting.split(':')[0]}: {value}")
    assert [(p.rule_id, p.severity) for p in lint_text(text)] == [("LMB016", Severity.INFO)]


def test_a_placeholder_hook_function_is_advice_and_a_bad_name_still_an_error():
    assert by_severity(ECS.replace("smoke-test", '"${SMOKE_TEST}"'), Severity.INFO) == ["ECS022"]
    assert by_severity(ECS.replace("smoke-test", "smoke.sh"), Severity.ERROR) == ["ECS017"]


def test_the_vocabulary_does_not_swallow_real_mistakes():
    assert by_severity(LAMBDA.replace('"2"', "$LATEST"), Severity.ERROR) == ["LMB007"]
    assert by_severity(ECS.replace("ContainerPort: 8080", "ContainerPort: 0"), Severity.ERROR) == ["ECS010"]
    assert by_severity(ECS.replace("Subnets: [subnet-0a1b2c3d]", "Subnets: [private-a]"), Severity.ERROR) == [
        "ECS013"
    ]
    # an ALL_CAPS name is a name, not a placeholder: only number and id settings read it so
    assert found(LAMBDA.replace("my-function", "MY_FUNCTION")) == []
    service_arn = "arn:aws:ecs:us-east-1:111122223333:service/prod/web"
    assert by_severity(
        ECS.replace("arn:aws:ecs:us-east-1:111122223333:task-definition/web:7", service_arn), Severity.ERROR
    ) == ["ECS007"]


@pytest.mark.parametrize(
    "value", ["task-definition.json", "web", "web:7", "<TASK_DEFINITION>", "${TASK_DEF_ARN}"]
)
def test_a_task_definition_that_a_pipeline_fills_is_one_info_rule_naming_who_fills_it(value):
    text = ECS.replace("arn:aws:ecs:us-east-1:111122223333:task-definition/web:7", value)
    (problem,) = lint_text(text)
    assert (problem.rule_id, problem.severity) == ("ECS009", Severity.INFO)
    assert "aws-actions/amazon-ecs-deploy-task-definition" in problem.hint and "CodePipeline" in problem.hint


def test_a_retired_rule_id_is_still_accepted_and_turns_nothing_off(tmp_path):
    from appspec_tools.cli import main

    (tmp_path / "appspec.yml").write_text("version: 0.0\nos: linux  # appspec-lint: disable=ECS008\n")
    code = main(["lint", "--no-config", "--disable", "ECS008", str(tmp_path / "appspec.yml")], *_streams())
    assert code == 0 and "ECS008" not in all_rules()


def _streams():
    import io

    return io.StringIO(), io.StringIO()


@pytest.mark.parametrize(
    "text, platform",
    [
        (LAMBDA.replace("MyFunction", "TargetService"), "lambda"),
        (ECS.replace("TargetService", "web"), "ecs"),
        (ECS.replace("      Type: AWS::ECS::Service\n", ""), "ecs"),  # no Type: the name decides
        (LAMBDA.replace("      Type: AWS::Lambda::Function\n", ""), "lambda"),
    ],
)
def test_the_platform_comes_from_the_resource_type_not_its_name(text, platform):
    root = read_source(text.encode(), "appspec.yml").root
    assert isinstance(root, Mapping) and detect_platform(root) == platform


def test_a_lambda_resource_named_targetservice_gets_no_ecs_findings():
    assert found(LAMBDA.replace("MyFunction", "TargetService")) == []


@pytest.mark.parametrize(
    "location, expected",
    [
        ("\\\\scripts\\\\start.bat", []),
        ("/scripts/start.bat", []),
        ("scripts\\\\start.bat", []),
        ("..\\\\start.bat", [("HOOK008", 5, 17)]),
        ("C:\\\\deploy\\\\start.bat", [("HOOK008", 5, 17)]),
        ("c:/deploy/start.bat", [("HOOK008", 5, 17)]),
    ],
)
def test_windows_locations_are_reported_only_when_they_point_outside_the_revision(location, expected):
    text = f'version: 0.0\nos: windows\nhooks:\n  AfterInstall:\n    - location: "{location}"\n'
    assert found(text, "HOOK") == expected


@pytest.mark.parametrize(
    "location, expected",
    [("/opt/app/start.sh", [("HOOK008", 5, 17)]), ("../start.sh", [("HOOK008", 5, 17)]), ("a/../b.sh", [])],
)
def test_linux_locations_outside_the_revision_are_still_reported(location, expected):
    text = f"version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: {location}\n"
    assert found(text, "HOOK") == expected


def test_advice_does_not_fail_strict():
    assert all_rules()["FILE009"].severity is Severity.INFO
    assert all_rules()["ECS009"].severity is Severity.INFO


SAME_OBJECT = "permissions:\n  - object: /opt/app\n    owner: app\n  - object: /opt/app\n    mode: 644\n"
COPY_ALL = "files:\n  - source: /\n    destination: /opt/app\n"


@pytest.mark.parametrize(
    "files, permissions, expected",
    [
        ("", SAME_OBJECT, [("PERM019", 6, 13)]),  # nothing certainly installed: a warning
        (COPY_ALL, SAME_OBJECT, [("PERM020", 9, 13)]),  # appspec.yml lands under it: certain
        (COPY_ALL.replace("/opt/app", "/srv"), SAME_OBJECT, [("PERM019", 9, 13)]),
        # split by type: no path is set twice
        (
            COPY_ALL,
            SAME_OBJECT.replace("owner: app", "owner: app\n    type: [directory]") + "    type: [file]\n",
            [],
        ),
        # the pattern keeps appspec.yml out of the second entry: possible, not certain
        (COPY_ALL, SAME_OBJECT.replace("mode: 644", 'mode: 644\n    pattern: "*.sh"'), [("PERM019", 9, 13)]),
    ],
)
def test_two_permissions_on_a_path_files_certainly_installs_are_an_error(files, permissions, expected):
    text = f"version: 0.0\nos: linux\n{files}{permissions}"
    assert found(text, "PERM") == expected


def test_a_default_acl_fix_fits_an_entry_already_typed_file():
    text = (
        "version: 0.0\nos: linux\npermissions:\n  - object: /srv\n    acls: [d:u:app:rw]\n    type: [file]\n"
    )
    (problem,) = lint_text(text)
    assert problem.rule_id == "PERM014" and problem.hint == "remove the d: entries or use type: [directory]"
    untyped = lint_text(text.replace("    type: [file]\n", ""))
    assert "add type: [directory]" in untyped[0].message and untyped[0].hint == all_rules()["PERM014"].hint


def test_yaml_saved_as_json_is_linted_as_yaml_with_a_warning():
    problems = lint_text(
        "version: 0.0\nos: linux\nhooks:\n  AfterInstall: [{location: 0644.sh}]\n", path="appspec.json"
    )
    assert [(p.rule_id, p.severity) for p in problems] == [("SYN014", Severity.WARNING)]
    assert [p.rule_id for p in lint_text('{"version": 0.0 "os": "linux"}', path="appspec.json")] == ["SYN003"]


def test_tabs_are_reported_only_where_the_loader_stops():
    flow = '{\n\t"version": 0.0,\n\t"os": "linux"\n}\n'
    assert found(flow) == []
    block = "version: 0.0\nos: linux\nhooks: {\n\tAfterInstall: []\n}\nfiles:\n\t- source: /\n"
    assert found(block) == [("SYN004", 7, 1)]
    assert "block indentation" in lint_text(block)[0].message


PSYCH = """
require 'yaml'
ARGV.each do |f|
  begin
    YAML.load(File.read(f))
    puts "ok"
  rescue Psych::SyntaxError
    puts "syntax"
  rescue Exception
    puts "other"
  end
end
"""
PARSE_FAILURES = {"SYN002", "SYN003", "SYN004", "SYN010"}


@pytest.mark.skipif(
    shutil.which("ruby") is None, reason="needs ruby (Psych) to compare with the agent's loader"
)
def test_the_parser_fails_exactly_where_the_agents_loader_does():
    from appspec_tools.linter import lint_bytes

    files = sorted(p for p in FIXTURES.rglob("*") if p.is_file() and not p.name.endswith(".expected.json"))
    verdicts = subprocess.run(
        ["ruby", "-e", PSYCH, *map(str, files)], capture_output=True, text=True, check=True
    ).stdout.split()
    for path, verdict in zip(files, verdicts):
        ours = {p.rule_id for p in lint_bytes(path.read_bytes(), path.name)} & PARSE_FAILURES
        assert bool(ours) == (verdict == "syntax"), (
            f"{path.relative_to(FIXTURES)}: Psych {verdict}, lint {ours}"
        )
