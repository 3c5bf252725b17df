"""The typed model: `load` reads a document the way the agent (or the service) does, `dump` writes it
back canonically, and `load(dump(spec)) == spec` for random valid specs of every platform."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import appspec_tools
from appspec_tools.lifecycle import EC2_SCRIPTABLE, ECS_SCRIPTABLE, LAMBDA_SCRIPTABLE
from appspec_tools.model import (
    DEFAULT_PERMISSION_TYPES,
    AppSpec,
    AppSpecError,
    AwsvpcConfiguration,
    CapacityProviderStrategyItem,
    EcsAppSpec,
    FileMapping,
    HookFunction,
    HookScript,
    LambdaAppSpec,
    LambdaFunction,
    LifecycleHooks,
    Permission,
    SeLinuxContext,
    TargetService,
    dump,
    load,
    to_data,
)
from appspec_tools.model.build import build
from appspec_tools.problem import Severity
from appspec_tools.source import read_source

VALID = Path(__file__).parent / "fixtures" / "appspec" / "valid"
VALID_FILES = sorted(
    p
    for p in VALID.rglob("*")
    if p.suffix in (".yml", ".yaml", ".json") and p.is_file() and not p.name.endswith(".expected.json")
)

# -- strategies: random VALID models ------------------------------------------------------------

# Strings a YAML 1.1 loader (PyYAML or Ruby's Psych) would read as something else when unquoted.
# fmt: off
TRICKY = st.sampled_from([
    "yes", "No", "ON", "off", "y", "null", "~", "true", "0644", "0.0", "1e3", "1_000", "1,000", "12:30",
    "2001-01-01", ":root", "0x1F", ".inf", "-1", "+1", "#x", "a: b", "- x", "[x]", "{x}", "*x", "&x", "!x",
    "%x", "@x", "'q'", '"q"', "x #y", " padded ", "é-ü", "名前", "=", "<<", "?",
])
# fmt: on
NAME = st.from_regex(r"[a-z_][a-z0-9_-]{0,11}", fullmatch=True)
WORD = st.one_of(NAME, TRICKY)
SEGMENT = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}", fullmatch=True)
RELATIVE = st.lists(SEGMENT, min_size=1, max_size=3).map("/".join)
ABSOLUTE = RELATIVE.map(lambda path: "/" + path)
FUNCTION = st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True) | st.from_regex(
    r"arn:aws:lambda:us-east-1:[0-9]{12}:function:[A-Za-z0-9_-]{1,20}", fullmatch=True
)
HEX = "0123456789abcdef"


@st.composite
def hook_scripts(draw, linux: bool):
    count = draw(st.integers(0, 3))
    timeouts = st.integers(1, 1200) if count > 1 else st.just(3600) | st.integers(1, 3600)
    return tuple(
        HookScript(
            location=draw(RELATIVE),
            timeout=draw(timeouts),
            runas=draw(st.none() | WORD) if linux else None,
            sudo=draw(st.booleans()) if linux else False,
        )
        for _ in range(count)
    )


@st.composite
def permissions(draw):
    types = draw(
        st.sampled_from([DEFAULT_PERMISSION_TYPES, ("file",), ("directory",), ("directory", "file")])
    )
    acls = [
        st.builds("u:{}:rw".format, NAME),
        st.builds("group:{}:r-x".format, NAME),
        st.just("m::rx"),
        st.builds("user:{}:7".format, NAME),
    ]
    if types == ("directory",):
        acls.append(st.builds("d:u:{}:rwx".format, NAME))
    context = st.builds(
        SeLinuxContext,
        name=st.none() | NAME,
        type=NAME,
        range=st.none() | st.sampled_from(["s0", "s0-s1", "s0:c0", "s0-s2:c0.c3,c7"]),
    )
    return Permission(
        object=draw(ABSOLUTE),
        pattern=draw(st.sampled_from(["**", "*", "*.sh", "app.conf"])),
        except_=tuple(draw(st.lists(NAME, max_size=2))),
        owner=draw(st.none() | WORD),
        group=draw(st.none() | WORD),
        mode=draw(st.none() | st.from_regex(r"[0-7]{3,4}", fullmatch=True)),
        acls=tuple(draw(st.lists(st.one_of(acls), max_size=3))),
        context=draw(st.none() | context),
        type=types,
    )


@st.composite
def ec2_specs(draw):
    os_name = draw(st.sampled_from(["linux", "windows"]))
    linux = os_name == "linux"
    destination = ABSOLUTE if linux else RELATIVE.map(lambda p: "C:\\" + p.replace("/", "\\"))
    sources = draw(st.lists(st.just("/") | RELATIVE, unique=True, max_size=3))
    events = draw(st.lists(st.sampled_from(EC2_SCRIPTABLE), unique=True, max_size=4))
    return AppSpec(
        os=os_name,
        files=tuple(FileMapping(source, draw(destination)) for source in sources),
        permissions=tuple(draw(st.lists(permissions(), max_size=3))) if linux else (),
        hooks={event: draw(hook_scripts(linux)) for event in events},
        file_exists_behavior=draw(st.none() | st.sampled_from(["DISALLOW", "OVERWRITE", "RETAIN"])),
    )


@st.composite
def ecs_specs(draw):
    ids = lambda prefix: st.from_regex(rf"{prefix}-[{HEX}]{{8}}([{HEX}]{{9}})?", fullmatch=True)  # noqa: E731
    network = st.builds(
        AwsvpcConfiguration,
        subnets=st.lists(ids("subnet"), min_size=1, max_size=3, unique=True).map(tuple),
        security_groups=st.lists(ids("sg"), min_size=1, max_size=3, unique=True).map(tuple),
        assign_public_ip=st.sampled_from(["ENABLED", "DISABLED"]),
    )
    providers = draw(
        st.lists(st.sampled_from(["FARGATE", "FARGATE_SPOT", "ec2-pool"]), unique=True, max_size=3)
    )
    strategy = tuple(
        CapacityProviderStrategyItem(
            provider,
            base=draw(st.integers(0, 100000)) if index == 0 else 0,
            weight=draw(st.integers(1, 1000)),
        )
        for index, provider in enumerate(providers)
    )
    events = draw(st.lists(st.sampled_from(ECS_SCRIPTABLE), unique=True, max_size=5))
    family, revision = draw(st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True)), draw(st.integers(1, 999))
    return EcsAppSpec(
        target_service=TargetService(
            task_definition=f"arn:aws:ecs:eu-west-1:111122223333:task-definition/{family}:{revision}",
            container_name=draw(WORD),
            container_port=draw(st.integers(1, 65535)),
            platform_version=draw(st.none() | st.sampled_from(["LATEST", "1.4.0", "1.3.0"])),
            network=draw(st.none() | network),
            capacity_provider_strategy=strategy,
        ),
        hooks=tuple(HookFunction(event, draw(FUNCTION)) for event in events),
    )


@st.composite
def lambda_specs(draw):
    current = draw(st.integers(1, 500))
    events = draw(st.lists(st.sampled_from(LAMBDA_SCRIPTABLE), unique=True, max_size=2))
    return LambdaAppSpec(
        function=LambdaFunction(
            logical_name=draw(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,15}", fullmatch=True)),
            name=draw(st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True)),
            alias=draw(st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,15}", fullmatch=True)),
            current_version=str(current),
            target_version=str(current + draw(st.integers(1, 50))),
        ),
        hooks=tuple(HookFunction(event, draw(FUNCTION)) for event in events),
    )


any_spec = st.one_of(ec2_specs(), ecs_specs(), lambda_specs())
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def doc(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# -- round trips ---------------------------------------------------------------------------------


@SETTINGS
@given(any_spec)
def test_yaml_round_trip_gives_back_the_same_spec(spec):
    assert load(dump(spec)) == spec


@SETTINGS
@given(any_spec)
def test_json_round_trip_gives_back_the_same_spec(spec):
    assert load(dump(spec, "json"), path="appspec.json") == spec


@SETTINGS
@given(any_spec)
def test_dumped_yaml_is_plain_data_with_every_string_still_a_string(spec):
    text = dump(spec)
    assert yaml.safe_load(text) == to_data(spec) == json.loads(dump(spec, "json"))
    assert not [e for e in yaml.parse(text) if getattr(e, "anchor", None)]  # Psych 4 rejects aliases


@SETTINGS
@given(any_spec)
def test_a_dumped_spec_has_no_lint_errors(spec):
    problems = appspec_tools.lint_bytes(dump(spec).encode(), "appspec.yml")
    assert [p for p in problems if p.severity == Severity.ERROR] == []


@pytest.mark.parametrize("path", VALID_FILES, ids=lambda p: str(p.relative_to(VALID)))
def test_every_valid_fixture_loads_and_survives_a_dump(path):
    spec = load(path.read_bytes(), path=path.name)
    assert spec.platform == path.parent.name
    assert load(dump(spec)) == spec
    assert load(dump(spec, "json"), path="appspec.json") == spec


# -- what load reads, like the agent ---------------------------------------------------------------

EC2_EXAMPLE = doc(
    """
    version: 0.0
    os: linux
    files:
      - source: /
        destination: /var/www/html
    permissions:
      - object: /var/www/html
        pattern: "*.html"
        except: [index.html]
        owner: apache
        mode: 0644
        acls:
          - u:deploy:rw
        context:
          name: unconfined_u
          type: httpd_sys_content_t
          range: s0
        type:
          - file
    hooks:
      BeforeInstall:
        - location: scripts/install_dependencies.sh
          timeout: "300"
          runas: root
      AfterInstall:
        - location: scripts/configure.sh
          sudo: yes
        - location: scripts/warm.sh
          sudo: "no"
      ApplicationStart:
    file_exists_behavior: OVERWRITE
    """
)


def test_ec2_example_is_read_as_the_agent_reads_it():
    spec = load(EC2_EXAMPLE)
    assert spec == AppSpec(
        version="0.0",
        os="linux",
        files=(FileMapping("/", "/var/www/html"),),
        permissions=(
            Permission(
                object="/var/www/html",
                pattern="*.html",
                except_=("index.html",),
                owner="apache",
                mode="420",  # unquoted 0644 is YAML 1.1 octal: the agent applies mode 420
                acls=("u:deploy:rw",),
                context=SeLinuxContext("unconfined_u", "httpd_sys_content_t", "s0"),
                type=("file",),
            ),
        ),
        hooks={
            "BeforeInstall": [HookScript("scripts/install_dependencies.sh", timeout=300, runas="root")],
            "AfterInstall": [
                HookScript("scripts/configure.sh", sudo=True),
                HookScript("scripts/warm.sh", sudo=True),
            ],
            "ApplicationStart": [],
        },
        file_exists_behavior="OVERWRITE",
    )
    assert list(spec.hooks) == ["BeforeInstall", "AfterInstall", "ApplicationStart"]  # source order
    assert spec.scripts("ValidateService") == ()


def test_defaults_of_an_entry_match_the_agent():
    spec = load(
        "version: 0\nos: linux\npermissions:\n  - object: /opt/app\nhooks:\n  AfterInstall:\n"
        "    - location: a.sh\n"
    )
    assert spec.version == "0.0"
    assert spec.permissions[0] == Permission("/opt/app", pattern="**", type=("file", "directory"))
    assert spec.scripts("AfterInstall") == (HookScript("a.sh", timeout=3600, runas=None, sudo=False),)


def test_a_repeated_hook_event_keeps_the_last_value_like_the_agent():
    spec = load(
        "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: a.sh\n"
        "  AfterInstall:\n    - location: b.sh\n"
    )
    assert spec.scripts("AfterInstall") == (HookScript("b.sh"),)


def test_null_sections_are_empty():
    assert load("version: 0.0\nos: linux\nfiles:\nhooks:\npermissions:\n") == AppSpec()


def test_quoted_version_is_rejected_like_the_agent():
    with pytest.raises(AppSpecError) as caught:
        load('version: "0.0"\nos: linux\n', path="app/appspec.yml")
    error = caught.value
    assert (
        str(error)
        == 'app/appspec.yml:1:10: TOP003 version is the string "0.0": the agent accepts only the number 0.0'
    )
    assert [p.rule_id for p in error.problems] == ["TOP003"]


def test_the_error_carries_every_error_and_no_warning():
    with pytest.raises(AppSpecError) as caught:
        load("version: 1.0\nos: Linux\noverwrite: yes\n")
    assert [p.rule_id for p in caught.value.problems] == ["TOP004", "TOP006"]
    assert all(p.severity == Severity.ERROR for p in caught.value.problems)


def test_warnings_do_not_stop_load():
    assert load("version: 0.0\nos: linux\noverwrite: yes\n") == AppSpec()


def test_unparseable_text_raises_with_the_syntax_rule():
    with pytest.raises(AppSpecError, match=r"^appspec.yml:\d+:\d+: SYN002 "):
        load("version: 0.0\nos: [linux\n")
    with pytest.raises(AppSpecError, match="SYN001"):
        load(b"")


def test_platform_is_detected_and_can_be_forced():
    assert isinstance(load(ECS_CANONICAL), EcsAppSpec)
    with pytest.raises(AppSpecError, match="TOP005"):  # read as EC2/On-Premises it has no `os`
        load(ECS_CANONICAL, platform="ec2")
    with pytest.raises(ValueError, match="unknown platform"):
        load(ECS_CANONICAL, platform="fargate")


def test_the_package_exposes_load_and_dump_lazily():
    assert appspec_tools.load is load and appspec_tools.dump is dump


# -- ECS and Lambda: the service's leniency is normalised into the canonical model ------------------

ECS_CANONICAL = doc(
    """
    version: 0.0
    Resources:
      - TargetService:
          Type: AWS::ECS::Service
          Properties:
            TaskDefinition: arn:aws:ecs:us-east-1:111222333444:task-definition/my-task-definition-family-name:1
            LoadBalancerInfo:
              ContainerName: SampleApplicationName
              ContainerPort: 80
            PlatformVersion: LATEST
            NetworkConfiguration:
              AwsvpcConfiguration:
                Subnets: [subnet-1234abcd, subnet-5678abcd]
                SecurityGroups: [sg-12345678]
                AssignPublicIp: ENABLED
            CapacityProviderStrategy:
              - Base: 1
                CapacityProvider: FARGATE_SPOT
                Weight: 2
              - CapacityProvider: FARGATE
                Weight: 1
    Hooks:
      - BeforeInstall: LambdaFunctionToValidateBeforeInstall
      - AfterAllowTestTraffic: "arn:aws:lambda:us-east-1:111222333444:function:AfterTestTraffic"
    """
)
ECS_MODEL = EcsAppSpec(
    target_service=TargetService(
        task_definition="arn:aws:ecs:us-east-1:111222333444:task-definition/my-task-definition-family-name:1",
        container_name="SampleApplicationName",
        container_port=80,
        platform_version="LATEST",
        network=AwsvpcConfiguration(("subnet-1234abcd", "subnet-5678abcd"), ("sg-12345678",), "ENABLED"),
        capacity_provider_strategy=(
            CapacityProviderStrategyItem("FARGATE_SPOT", base=1, weight=2),
            CapacityProviderStrategyItem("FARGATE", weight=1),
        ),
    ),
    hooks=(
        HookFunction("BeforeInstall", "LambdaFunctionToValidateBeforeInstall"),
        HookFunction(
            "AfterAllowTestTraffic", "arn:aws:lambda:us-east-1:111222333444:function:AfterTestTraffic"
        ),
    ),
)


def test_ecs_example_loads():
    assert load(ECS_CANONICAL) == ECS_MODEL


def test_ecs_other_casings_and_hooks_as_one_mapping_give_the_canonical_model():
    lenient = (
        ECS_CANONICAL.replace("Resources", "resources")
        .replace("TargetService", "targetService")
        .replace("AwsvpcConfiguration", "awsvpcConfiguration")
        .replace("Subnets", "subnets")
        .replace("AssignPublicIp", "assignPublicIp")
        .replace("ContainerPort: 80", 'containerPort: "80"')
        .replace("      - Before", "      Before")
        .replace("      - AfterAllow", "      AfterAllow")
        .replace("Hooks", "hooks")
    )
    assert load(lenient) == ECS_MODEL


def test_load_balancer_info_as_a_list_is_read_as_its_mapping():
    root = read_source(
        ECS_CANONICAL.replace("ContainerName:", "- ContainerName:")
        .replace("          ContainerPort", "            ContainerPort")
        .encode(),
        "appspec.yml",
    ).root
    assert build(root, "ecs") == ECS_MODEL


LAMBDA_CANONICAL = doc(
    """
    version: 0.0
    Resources:
      - myLambdaFunction:
          Type: AWS::Lambda::Function
          Properties:
            Name: myLambdaFunction
            Alias: myLambdaFunctionAlias
            CurrentVersion: "1"
            TargetVersion: 2
    Hooks:
      - BeforeAllowTraffic: LambdaFunctionToValidateBeforeTrafficShift
      - AfterAllowTraffic: LambdaFunctionToValidateAfterTrafficShift
    """
)
LAMBDA_MODEL = LambdaAppSpec(
    function=LambdaFunction("myLambdaFunction", "myLambdaFunction", "myLambdaFunctionAlias", "1", "2"),
    hooks=(
        HookFunction("BeforeAllowTraffic", "LambdaFunctionToValidateBeforeTrafficShift"),
        HookFunction("AfterAllowTraffic", "LambdaFunctionToValidateAfterTrafficShift"),
    ),
)


def test_lambda_example_loads_with_versions_as_strings():
    assert load(LAMBDA_CANONICAL) == LAMBDA_MODEL


def test_lambda_lowercase_properties_from_the_user_guide_give_the_canonical_model():
    lenient = LAMBDA_CANONICAL
    for key in ("Name", "Alias", "CurrentVersion", "TargetVersion", "Properties", "Type", "Resources"):
        lenient = lenient.replace(f"{key}:", f"{key.lower()}:")
    assert load(lenient) == LAMBDA_MODEL


def test_lambda_dump_matches_the_reference_layout():
    assert dump(LAMBDA_MODEL) == LAMBDA_CANONICAL.replace('"1"', "'1'").replace(
        "TargetVersion: 2", "TargetVersion: '2'"
    )


# -- dump ---------------------------------------------------------------------------------------------


def test_ec2_dump_writes_the_reference_order_and_leaves_defaults_out():
    assert dump(load(EC2_EXAMPLE)) == doc(
        """
        version: 0.0
        os: linux
        files:
          - source: /
            destination: /var/www/html
        permissions:
          - object: /var/www/html
            pattern: '*.html'
            except:
              - index.html
            owner: apache
            mode: '420'
            acls:
              - u:deploy:rw
            context:
              name: unconfined_u
              type: httpd_sys_content_t
              range: s0
            type:
              - file
        hooks:
          BeforeInstall:
            - location: scripts/install_dependencies.sh
              timeout: 300
              runas: root
          AfterInstall:
            - location: scripts/configure.sh
              sudo: true
            - location: scripts/warm.sh
              sudo: true
          ApplicationStart: []
        file_exists_behavior: OVERWRITE
        """
    )


@pytest.mark.parametrize(
    "value",
    [
        "yes",
        "Yes",
        "YES",
        "no",
        "on",
        "Off",
        "null",
        "~",
        "0644",
        "0.0",
        "1,000",
        "12:30",
        "2001-01-01",
        ":app",
        "1e3",
        ".5",
    ],
)
def test_strings_yaml_1_1_would_read_as_something_else_are_quoted(value):
    text = dump(AppSpec(permissions=(Permission("/opt/app", owner=value),)))
    line = next(ln for ln in text.splitlines() if "owner:" in ln)
    assert line.strip() in (f"owner: '{value}'", f'owner: "{value}"')
    assert load(text).permissions[0].owner == value


def test_ec2_version_is_dumped_as_the_number():
    assert dump(AppSpec()) == "version: 0.0\nos: linux\n"
    assert json.loads(dump(AppSpec(), "json")) == {"version": 0.0, "os": "linux"}


def test_dump_rejects_unknown_formats_and_objects():
    with pytest.raises(ValueError, match="unknown format"):
        dump(AppSpec(), "toml")
    with pytest.raises(TypeError):
        dump({"version": 0.0})  # type: ignore[arg-type]


# -- the classes are values ----------------------------------------------------------------------------


def test_models_are_frozen_hashable_values():
    spec = load(EC2_EXAMPLE)
    assert hash(spec) == hash(load(EC2_EXAMPLE)) and {spec, load(EC2_EXAMPLE)} == {spec}
    with pytest.raises(AttributeError):
        spec.os = "windows"  # type: ignore[misc]
    assert hash(ECS_MODEL) and hash(LAMBDA_MODEL)


def test_lists_given_to_constructors_become_tuples():
    assert Permission("/x", except_=["a"], acls=["u:a:r"], type=["file"]) == Permission(
        "/x", except_=("a",), acls=("u:a:r",), type=("file",)
    )
    assert AppSpec(files=[FileMapping("a", "/b")], hooks=[("AfterInstall", [HookScript("a.sh")])]) == AppSpec(
        files=(FileMapping("a", "/b"),), hooks=LifecycleHooks({"AfterInstall": (HookScript("a.sh"),)})
    )


def test_lifecycle_hooks_is_a_read_only_mapping_equal_to_a_dict():
    hooks = LifecycleHooks({"AfterInstall": [HookScript("a.sh")]})
    assert hooks == {"AfterInstall": (HookScript("a.sh"),)}
    assert hooks.get("BeforeInstall") is None and len(hooks) == 1
    with pytest.raises(TypeError):
        hooks["AfterInstall"] = ()  # type: ignore[index]


# -- the builder never crashes, whatever the shape ---------------------------------------------------------

KEYS = st.sampled_from(
    [
        "version",
        "os",
        "files",
        "permissions",
        "hooks",
        "source",
        "destination",
        "object",
        "pattern",
        "except",
        "owner",
        "mode",
        "acls",
        "context",
        "type",
        "name",
        "range",
        "location",
        "timeout",
        "runas",
        "sudo",
        "AfterInstall",
        "Resources",
        "resources",
        "TargetService",
        "Properties",
        "LoadBalancerInfo",
        "ContainerPort",
        "NetworkConfiguration",
        "AwsvpcConfiguration",
        "Subnets",
        "CapacityProviderStrategy",
        "Base",
        "Weight",
        "Hooks",
        "BeforeAllowTraffic",
        "fn",
        "CurrentVersion",
    ]
)
LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5) | st.dates() | KEYS
DOCUMENTS = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(DOCUMENTS)
def test_the_builder_accepts_any_shape(data):
    root = read_source(yaml.safe_dump(data).encode(), "appspec.yml").root
    for platform in ("ec2", "ecs", "lambda"):
        spec = build(root, platform)
        assert spec.platform == platform
        hash(spec)
