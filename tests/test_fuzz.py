"""Property-based tests: random and mutated documents never crash the linter, and every finding
points inside the file."""

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appspec_tools.linter import lint_bytes

KEYS = [
    "version",
    "os",
    "files",
    "source",
    "destination",
    "permissions",
    "object",
    "pattern",
    "except",
    "owner",
    "group",
    "mode",
    "acls",
    "context",
    "name",
    "type",
    "range",
    "hooks",
    "location",
    "timeout",
    "runas",
    "sudo",
    "file_exists_behavior",
    "ApplicationStop",
    "BeforeInstall",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
    "Install",
    "Resources",
    "resources",
    "TargetService",
    "Type",
    "Properties",
    "TaskDefinition",
    "LoadBalancerInfo",
    "ContainerName",
    "ContainerPort",
    "PlatformVersion",
    "NetworkConfiguration",
    "AwsvpcConfiguration",
    "Subnets",
    "SecurityGroups",
    "AssignPublicIp",
    "CapacityProviderStrategy",
    "Base",
    "Weight",
    "CapacityProvider",
    "Hooks",
    "Name",
    "Alias",
    "CurrentVersion",
    "TargetVersion",
    "myFunction",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "0.0",
            "0644",
            "linux",
            "Linux",
            "windows",
            "/",
            "/opt/app",
            "scripts/a.sh",
            "u::rw",
            "d:u:bob:rwx",
            "s0-s1:c0.c3",
            "AWS::ECS::Service",
            "AWS::Lambda::Function",
            "file",
            "directory",
            "OVERWRITE",
            "$LATEST",
            "arn:aws:ecs:us-east-1:111122223333:task-definition/a:1",
            "ENABLED",
            "c:\\app",
            "",
        ]
    ),
    st.text(max_size=12),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=6),
    ),
    max_leaves=40,
)
FIXTURES = sorted((Path(__file__).parent / "fixtures" / "appspec").rglob("*.y*ml"))


def assert_positions_inside(raw: bytes, problems) -> None:
    line_count = max(1, raw.count(b"\n") + 1)
    for problem in problems:
        assert 1 <= problem.line <= line_count, problem
        assert problem.column >= 1, problem


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), DOCUMENTS, max_size=8), st.sampled_from(["yaml", "json"]))
def test_random_documents_never_crash(document, fmt):
    import json

    if fmt == "json":
        raw = json.dumps(document, default=str).encode()
        path = "appspec.json"
    else:
        raw = yaml.safe_dump(document, allow_unicode=True).encode()
        path = "appspec.yml"
    for platform in (None, "ec2", "ecs", "lambda"):
        assert_positions_inside(raw, lint_bytes(raw, path, platform=platform))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_fixtures_never_crash(data):
    if not FIXTURES:
        return
    raw = bytearray(data.draw(st.sampled_from(FIXTURES)).read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw)))
        action = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = data.draw(st.sampled_from(list(b" \t\r\n:-[]{}&*!|>'\"#%@`,?0aZ\xff\x00")))
        if action == "insert":
            raw[position:position] = bytes([byte])
        elif raw and position < len(raw):
            if action == "delete":
                del raw[position]
            else:
                raw[position] = byte
    assert_positions_inside(bytes(raw), lint_bytes(bytes(raw), "appspec.yml"))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(raw):
    assert_positions_inside(raw, lint_bytes(raw, "appspec.yml"))
