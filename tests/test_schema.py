"""`appspec schema`: a draft 2020-12 JSON Schema that accepts every valid fixture and rejects the
schema-level mistakes under tests/fixtures/appspec/schema-invalid/."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator
from test_model import any_spec

from appspec_tools.cli import main
from appspec_tools.lifecycle import SCRIPTABLE
from appspec_tools.linter import lint_bytes
from appspec_tools.model import dump
from appspec_tools.schema import json_schema

FIXTURES = Path(__file__).parent / "fixtures" / "appspec"
PLATFORMS = ("all", "ec2", "ecs", "lambda")


def appspecs(folder: str):
    return sorted(
        p
        for p in (FIXTURES / folder).rglob("*")
        if p.suffix in (".yml", ".yaml", ".json") and p.is_file() and not p.name.endswith(".expected.json")
    )


VALID = appspecs("valid")
SCHEMA_INVALID = appspecs("schema-invalid")


def data_of(path: Path):
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)  # also JSON saved as .yml, tab-indented (the agent's libyaml reads it)
    except ValueError:
        return yaml.safe_load(text)


def validator(platform: str) -> Draft202012Validator:
    return Draft202012Validator(json_schema(platform))


def errors(platform: str, data) -> list:
    return [error.message for error in validator(platform).iter_errors(data)]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_schema_is_valid_draft_2020_12(platform):
    schema = json_schema(platform)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", VALID, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_valid_fixture_validates(path):
    data = data_of(path)
    assert errors("all", data) == []
    assert errors(path.parent.name, data) == []


@pytest.mark.parametrize("path", SCHEMA_INVALID, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_schema_invalid_fixtures_are_rejected(path):
    data = data_of(path)
    assert errors("all", data)
    assert errors(path.parent.name, data)


@pytest.mark.parametrize("path", SCHEMA_INVALID, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_what_the_schema_rejects_the_linter_reports_too(path):
    assert lint_bytes(path.read_bytes(), path.name), "a schema-level mistake without any lint finding"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_spec)
def test_every_dumped_spec_validates(spec):
    data = yaml.safe_load(dump(spec))
    assert errors("all", data) == []
    assert errors(spec.platform, data) == []


def test_all_picks_the_platform_by_content_so_one_document_matches_one_schema():
    ec2 = {"version": 0.0, "os": "linux"}
    assert errors("all", ec2) == []
    assert errors("all", {**ec2, "Resources": []})  # has Resources: judged as ECS/Lambda, not as EC2
    ecs_hooks = {"version": 0.0, "Resources": [{"TargetService": {}}], "Hooks": [{"AfterInstall": "f"}]}
    assert any("'Type' is a required property" in e for e in errors("all", ecs_hooks))


def test_version_is_only_the_number_on_ec2_but_also_the_string_on_ecs_and_lambda():
    assert errors("ec2", {"version": "0.0", "os": "linux"})
    assert errors("ec2", {"version": 0.0, "os": "linux"}) == []
    for version in (0.0, "0.0"):
        resources = [
            {
                "fn": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {"Name": "f", "Alias": "a", "CurrentVersion": 1, "TargetVersion": 2},
                }
            }
        ]
        assert errors("lambda", {"version": version, "Resources": resources}) == []


@pytest.mark.parametrize(
    "mode, ok",
    [
        ("0644", True),
        ("644", True),
        (644, True),
        ("7", True),
        ("0959", False),
        ("u+x", False),
        ("04755", False),
    ],
)
def test_mode_is_octal_digits_or_an_integer(mode, ok):
    data = {"version": 0.0, "os": "linux", "permissions": [{"object": "/opt/app", "mode": mode}]}
    assert (errors("ec2", data) == []) is ok


@pytest.mark.parametrize(
    "timeout, ok",
    [
        (1, True),
        (3600, True),
        ("600", True),
        (0, False),
        (3601, False),
        ("3601", False),
        ("5m", False),
        (30.5, False),
    ],
)
def test_timeout_is_1_to_3600_seconds_possibly_quoted(timeout, ok):
    data = {
        "version": 0.0,
        "os": "linux",
        "hooks": {"AfterInstall": [{"location": "a.sh", "timeout": timeout}]},
    }
    assert (errors("ec2", data) == []) is ok


def test_hook_events_are_the_scriptable_ones_of_each_platform():
    ec2 = json_schema("ec2")
    assert list(ec2["properties"]["hooks"]["properties"]) == list(SCRIPTABLE["ec2"])
    for platform in ("ecs", "lambda"):
        hook = json_schema(platform)["properties"]["Hooks"]["items"]
        assert list(hook["properties"]) == list(SCRIPTABLE[platform])


def test_keys_have_descriptions_for_editors():
    schema = json_schema("ec2")
    for key, prop in schema["properties"].items():
        assert prop.get("markdownDescription") and prop.get("description"), key
    assert "`" not in schema["properties"]["os"]["description"]


def test_unknown_platform_is_refused():
    with pytest.raises(ValueError, match="unknown platform"):
        json_schema("windows")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_cli_prints_the_schema_as_json(platform):
    out = io.StringIO()
    assert main(["schema", "--platform", platform], out=out) == 0
    assert json.loads(out.getvalue()) == json_schema(platform)


def test_python_m_appspec_tools_schema_pipes_into_json_tool():
    schema = subprocess.run(
        [sys.executable, "-m", "appspec_tools", "schema"], capture_output=True, check=True
    )
    pretty = subprocess.run(
        [sys.executable, "-m", "json.tool"], input=schema.stdout, capture_output=True, check=True
    )
    assert json.loads(pretty.stdout)["title"] == "AWS CodeDeploy AppSpec"


def test_all_picks_lambda_by_the_resources_type_even_when_it_is_named_target_service():
    schema = Draft202012Validator(json_schema("all"))
    named = {"Type": "AWS::Lambda::Function", "Properties": {"Name": "f", "Alias": "live",
             "CurrentVersion": "3", "TargetVersion": "4"}}  # fmt: skip
    assert list(schema.iter_errors({"version": 0.0, "Resources": [{"TargetService": named}]})) == []
    wrong = {"version": 0.0, "Resources": [{"TargetService": {**named, "Type": "AWS::ECS::Service"}}]}
    assert list(schema.iter_errors(wrong)), "an ECS resource with Lambda properties is still ECS"
