"""The Amazon ECS (ECS...) and AWS Lambda (LMB...) AppSpec rules: what the CodeDeploy service accepts,
rejects, and accepts in a form other tools do not."""

import itertools

import pytest
from support import assert_problems, found, lint_text

from appspec_tools.linter import lint_bytes
from appspec_tools.problem import Severity
from appspec_tools.rules import all_rules

ECS = """# Amazon ECS
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: arn:aws:ecs:us-east-1:111122223333:task-definition/web:7
        LoadBalancerInfo:
          ContainerName: web
          ContainerPort: 8080
"""
LAMBDA = """# AWS Lambda
version: 0.0
Resources:
  - MyFunction:
      Type: AWS::Lambda::Function
      Properties:
        Name: my-function
        Alias: live
        CurrentVersion: "1"
        TargetVersion: "2"
"""


def ecs(properties: str = "", hooks: str = "", text: str = ECS) -> str:
    """The ECS document with extra Properties lines (8 spaces in) and a Hooks section appended."""
    extra = "".join(f"        {line}\n" for line in properties.strip("\n").splitlines())
    return text + extra + (f"Hooks:\n{hooks.strip(chr(10))}\n" if hooks else "")


def lam(hooks: str = "", text: str = LAMBDA) -> str:
    return text + (f"Hooks:\n{hooks.strip(chr(10))}\n" if hooks else "")


def errors(text: str, **kwargs) -> list:
    return [p.rule_id for p in lint_text(text, **kwargs) if p.severity is Severity.ERROR]


# ------------------------------------------------------------------------------------------ documentation


OUR_RULES = sorted(r for r in all_rules() if r.startswith(("ECS", "LMB")))


@pytest.mark.parametrize("rule_id", OUR_RULES)
def test_each_rule_fires_on_its_bad_example_and_not_on_its_good_one(rule_id):
    rule = all_rules()[rule_id]
    platform = "ecs" if rule_id.startswith("ECS") else "lambda"
    bad = [p.rule_id for p in lint_bytes(rule.bad.encode(), "appspec.yml", platform=platform)]
    good = lint_bytes(rule.good.encode(), "appspec.yml", platform=platform)
    assert rule_id in bad
    assert good == []
    assert rule.doc and rule.hint and rule.platforms == {platform}


def test_rule_ids_are_numbered_without_gaps_retired_ones_included():
    from appspec_tools.rules import RETIRED

    for area in ("ECS", "LMB"):
        numbers = sorted(int(r[3:]) for r in [*OUR_RULES, *RETIRED] if r.startswith(area))
        assert numbers == list(range(1, len(numbers) + 1))


# ------------------------------------------------------------------------------------------ ECS


def test_valid_ecs_appspec_has_no_findings():
    assert found(ecs()) == []
    assert found(ecs().replace("version: 0.0", 'version: "0.0"')) == []  # the service takes the string


def test_lowercase_ecs_keys_are_warnings_only_like_the_service_accepts():
    text = """
    version: 0.0
    resources:
      - targetService:
          type: AWS::ECS::Service
          properties:
            taskDefinition: arn:aws:ecs:us-east-1:111122223333:task-definition/web:7
            loadBalancerInfo: {containerName: web, containerPort: 8080}
    """
    assert errors(text) == []
    assert found(text)[:2] == [("ECS001", 2, 1), ("ECS001", 3, 5)]
    assert [rule for rule, _, _ in found(text)] == ["ECS001"] * 8


def test_the_same_key_in_two_cases_is_reported():
    text = ecs().replace("version: 0.0\n", "version: 0.0\nresources: []\n")
    assert_problems(text, [("ECS001", 3, 1), ("ECS001", 4, 1)], rule_prefix="ECS001")
    assert "repeats 'resources' (line 3)" in lint_text(text)[1].message


def test_hooks_as_one_mapping_is_accepted_with_a_warning():
    text = ecs(hooks="  BeforeInstall: check-a\n  AfterAllowTraffic: check-b")
    assert_problems(text, [("ECS002", 11, 1)])


def test_a_hooks_entry_with_two_events_is_a_warning():
    text = ecs(hooks="  - BeforeInstall: check-a\n    AfterInstall: check-b")
    assert_problems(text, [("ECS002", 13, 5)])


@pytest.mark.parametrize(
    "resources, where",
    [
        ("", (1, 1)),
        ("Resources: []", (2, 12)),
        ("Resources: web", (2, 12)),
        ("Resources:\n  TargetService: {Type: AWS::ECS::Service}", (3, 3)),
        ("Resources:\n  - web", (3, 5)),
        ("Resources:\n  - TargetService:", (3, 5)),
        ("Resources:\n  - WebService: {Type: AWS::ECS::Service}", (3, 5)),
    ],
)
def test_resources_must_be_a_list_with_one_target_service(resources, where):
    text = "version: 0.0\n" + resources + "\n"
    assert found(text, "ECS003", platform="ecs")[:1] == [("ECS003", *where)]


def test_a_second_target_service_is_an_error():
    text = ECS + ECS[ECS.index("  - TargetService") :]
    assert_problems(text, [("ECS003", 11, 5)])


def test_type_and_properties_not_indented_under_target_service():
    text = ECS.replace("\n      ", "\n    ")
    assert_problems(text, [("ECS003", 4, 5), ("ECS003", 5, 5), ("ECS003", 6, 5)])


def test_target_service_type_must_be_the_ecs_service_type():
    assert_problems(ecs().replace("AWS::ECS::Service", "AWS::ECS::TaskSet"), [("ECS004", 5, 13)])
    assert_problems(ecs().replace("      Type: AWS::ECS::Service\n", ""), [("ECS004", 4, 5)])


def test_task_definition_and_container_settings_are_required():
    text = ecs().replace(
        "        TaskDefinition: arn:aws:ecs:us-east-1:111122223333:task-definition/web:7\n", ""
    )
    assert_problems(
        text.replace("ContainerName: web", 'ContainerName: ""'), [("ECS005", 6, 7), ("ECS005", 8, 11)]
    )
    assert_problems(text.replace("          ContainerPort: 8080\n", ""), [("ECS005", 6, 7), ("ECS005", 7, 9)])
    assert_problems(ECS[: ECS.index("      Properties")], [("ECS005", 4, 5)], rule_prefix="ECS005")


def test_load_balancer_info_as_a_list_is_rejected_like_the_service_does():
    text = ECS.replace(
        "          ContainerName: web\n          ContainerPort: 8080",
        "          - ContainerName: web\n            ContainerPort: 8080",
    )
    assert_problems(text, [("ECS006", 9, 11)])
    assert "not a well-formed yaml" in lint_text(text)[0].message


def test_sections_of_the_wrong_type():
    text = ecs("PlatformVersion: LATEST\nNetworkConfiguration: [a]\nCapacityProviderStrategy: {Base: 1}")
    assert_problems(
        text.replace("ContainerName: web", "ContainerName: {a: b}"),
        [("ECS006", 9, 26), ("ECS006", 12, 31), ("ECS006", 13, 35)],
        rule_prefix="ECS006",
    )


@pytest.mark.parametrize(
    "value, rule",
    [
        ("arn:aws:ecs:us-east-1:111122223333:task-definition/web:7", None),
        ("arn:aws-cn:ecs:cn-north-1:111122223333:task-definition/web_api-2:120", None),
        ("arn:aws:ecs:us-east-1:111122223333:service/prod/web", "ECS007"),
        ("arn:aws:ecs:us-east-1:111122223333:task-definition/web", "ECS007"),
        ("arn:aws:lambda:us-east-1:111122223333:function:web", "ECS007"),
        ("my task definition", "ECS009"),
        ("web:7", "ECS009"),
        ("web", "ECS009"),
        ("task-definition.json", "ECS009"),
        ("./ecs/task-definition.json", "ECS009"),
        ("<TASK_DEFINITION>", "ECS009"),
        ("${task_definition_arn}", "ECS009"),
        ("arn:aws:ecs:${AWS_REGION}:${ACCOUNT_ID}:task-definition/web:${REVISION}", "ECS009"),
        ("TASK_DEFINITION_PLACEHOLDER", "ECS009"),
    ],
)
def test_task_definition_forms(value, rule):
    text = ECS.replace("arn:aws:ecs:us-east-1:111122223333:task-definition/web:7", f'"{value}"')
    assert found(text) == ([(rule, 7, 25)] if rule else [])


def test_the_arn_problem_is_named():
    text = ECS.replace("111122223333:task-definition/web:7", "1111:task-definition/web:7")
    assert "account '1111' is not 12 digits" in lint_text(text)[0].message
    text = ECS.replace("task-definition/web:7", "task-definition/web")
    assert "the :REVISION is missing" in lint_text(text)[0].message


@pytest.mark.parametrize(
    "port, rule",
    [
        ("1", None),
        ("65535", None),
        ("0", "ECS010"),
        ("65536", "ECS010"),
        ("-80", "ECS010"),
        ("80.0", "ECS010"),
        ("http", "ECS010"),
        ('"0"', "ECS010"),
        ('"8080"', "ECS011"),
        ("[80]", "ECS010"),
    ],
)
def test_container_port_is_an_integer_port(port, rule):
    text = ECS.replace("ContainerPort: 8080", f"ContainerPort: {port}")
    assert found(text) == ([(rule, 10, 26)] if rule else [])


@pytest.mark.parametrize(
    "value, ok",
    [
        ("LATEST", True),
        ("1.4.0", True),
        ('"1.3.0"', True),
        ("1.4", False),
        ("latest", False),
        ("[LATEST]", False),
        ("1", False),
    ],
)
def test_platform_version(value, ok):
    assert found(ecs(f"PlatformVersion: {value}")) == ([] if ok else [("ECS012", 11, 26)])


NETWORK = """
NetworkConfiguration:
  AwsvpcConfiguration:
    Subnets: [subnet-0a1b2c3d, subnet-0a1b2c3d4e5f67890]
    SecurityGroups: [sg-0a1b2c3d]
    AssignPublicIp: ENABLED
"""


def test_awsvpc_configuration_all_or_none():
    assert found(ecs(NETWORK)) == []
    assert_problems(ecs(NETWORK.replace("    AssignPublicIp: ENABLED\n", "")), [("ECS013", 12, 11)])
    assert_problems(
        ecs("NetworkConfiguration:\n  AwsvpcConfiguration:\n    AssignPublicIp: ENABLED"),
        [("ECS013", 12, 11)],
    )
    assert found(ecs("NetworkConfiguration:\n  AwsvpcConfiguration: {}")) == []


@pytest.mark.parametrize(
    "change, where",
    [
        (("[subnet-0a1b2c3d, subnet-0a1b2c3d4e5f67890]", "subnet-0a1b2c3d,subnet-0e1f2a3b"), (13, 22)),
        (("[subnet-0a1b2c3d, subnet-0a1b2c3d4e5f67890]", "[]"), (13, 22)),
        (("subnet-0a1b2c3d,", "private-a,"), (13, 23)),
        (("[sg-0a1b2c3d]", "[web-sg]"), (14, 30)),
        (("ENABLED", "enabled"), (15, 29)),
        (("ENABLED", "true"), (15, 29)),
    ],
)
def test_awsvpc_values_are_ids_and_enums(change, where):
    assert_problems(ecs(NETWORK.replace(*change)), [("ECS013", *where)])


STRATEGY = """
CapacityProviderStrategy:
  - CapacityProvider: FARGATE
    Base: 2
    Weight: 1
  - CapacityProvider: FARGATE_SPOT
    Weight: 4
"""


def test_capacity_provider_strategy():
    assert found(ecs(STRATEGY)) == []
    assert_problems(ecs(STRATEGY.replace("Weight: 4", "Weight: 4\n    Base: 1")), [("ECS014", 17, 19)])
    assert_problems(
        ecs(STRATEGY.replace("Weight: 1", "Weight: 0").replace("Weight: 4", "Weight: 0")), [("ECS014", 11, 9)]
    )
    assert_problems(
        ecs(STRATEGY.replace("  - CapacityProvider: FARGATE_SPOT\n", "  - Base: 0\n")), [("ECS014", 15, 13)]
    )
    assert_problems(
        ecs(STRATEGY.replace("Base: 2", "Base: 100001").replace("Weight: 4", "Weight: 1001")),
        [("ECS014", 13, 19), ("ECS014", 16, 21)],
    )
    assert_problems(ecs(STRATEGY.replace("Weight: 4", 'Weight: "4"')), [("ECS011", 16, 21)])


def test_unknown_keys_suggest_the_nearest_and_ec2_sections_are_ignored():
    text = ecs("PlatformVersoin: LATEST").replace("version: 0.0\n", "version: 0.0\nos: linux\n")
    assert_problems(text, [("ECS015", 3, 1), ("ECS015", 12, 9)])
    messages = [p.message for p in lint_text(text)]
    assert "EC2/On-Premises key" in messages[0] and "did you mean 'PlatformVersion'" in messages[1]


def test_hooks_must_be_event_function_pairs():
    assert_problems(ecs(hooks="  - BeforeInstall"), [("ECS016", 12, 5)])
    assert_problems(
        ecs().replace("version: 0.0\n", "version: 0.0\nHooks: BeforeInstall\n"), [("ECS016", 3, 8)]
    )
    assert found(ecs().replace("version: 0.0\n", "version: 0.0\nHooks:\n")) == []


@pytest.mark.parametrize(
    "value, where",
    [
        ("", (12, 5)),
        ("null", (12, 5)),
        ('""', (12, 5)),
        ("[{location: a.sh}]", (12, 20)),
        ("scripts/check.sh", (12, 20)),
        ("42", (12, 20)),
    ],
)
def test_a_hook_names_one_lambda_function(value, where):
    assert_problems(ecs(hooks=f"  - BeforeInstall: {value}"), [("ECS017", *where)])


@pytest.mark.parametrize(
    "function",
    [
        "check",
        "arn:aws:lambda:us-east-1:111122223333:function:check",
        "arn:aws:lambda:us-east-1:111122223333:function:check:live",
        "111122223333:function:check",
        "check:$LATEST",
    ],
)
def test_lambda_function_names_and_arns_are_accepted(function):
    assert found(ecs(hooks=f'  - BeforeInstall: "{function}"')) == []


def test_hook_event_names_on_ecs():
    hooks = """
      - BeforeInstall: a
      - AfterInstall: a
      - AfterAllowTestTraffic: a
      - BeforeAllowTraffic: a
      - AfterAllowTraffic: a
      - Install: a
      - AllowTestTraffic: a
      - ApplicationStop: a
      - AfterInstal: a
      - beforeInstall: a
      - AfterAllowTraffic: b
    """
    text = ecs(hooks="\n".join(line[4:] for line in hooks.strip("\n").splitlines()))
    assert found(text) == [
        ("ECS018", 17, 5),
        ("ECS018", 18, 5),
        ("ECS019", 19, 5),
        ("ECS020", 20, 5),
        ("ECS020", 21, 5),
        ("ECS021", 22, 5),
    ]
    assert "did you mean 'AfterInstall'" in lint_text(text)[3].message


def test_an_ec2_appspec_pasted_into_an_ecs_one():
    text = ecs().replace(
        "version: 0.0\n", "version: 0.0\nos: linux\nhooks:\n  ApplicationStop:\n    - location: stop.sh\n"
    )
    assert found(text) == [
        ("ECS015", 3, 1),
        ("ECS001", 4, 1),
        ("ECS002", 4, 1),
        ("ECS019", 5, 3),
        ("ECS017", 6, 5),
    ]


# ------------------------------------------------------------------------------------------ Lambda


def test_valid_lambda_appspec_has_no_findings():
    assert found(lam()) == []
    assert found(lam().replace('"1"', "1").replace('"2"', "2")) == []  # numbers are read too
    assert found(lam("  - BeforeAllowTraffic: pre\n  - AfterAllowTraffic: post")) == []


def test_the_user_guide_lowercase_lambda_keys_are_its_own_form_and_not_reported():
    text = lam().replace("Resources", "resources").replace("Type", "type").replace("Properties", "properties")
    for key in ("Name", "Alias", "CurrentVersion", "TargetVersion"):
        text = text.replace(f"{key}:", f"{key.lower()}:")
    assert found(lam("  - BeforeAllowTraffic: pre", text).replace("Hooks", "hooks")) == []
    camel = lam().replace("CurrentVersion", "currentVersion")
    assert found(camel) == [("LMB001", 9, 9)]
    assert [r for r, _, _ in found(text.replace("alias: live", "alias: live\n        Alias: live"))] == [
        "LMB001"
    ]


def test_lambda_hooks_as_one_mapping_is_a_warning():
    assert_problems(lam("  BeforeAllowTraffic: pre\n  AfterAllowTraffic: post"), [("LMB002", 11, 1)])


def test_exactly_one_function_resource():
    text = LAMBDA + LAMBDA[LAMBDA.index("  - MyFunction") :].replace("MyFunction", "Other")
    assert_problems(text, [("LMB003", 11, 5)])
    assert_problems("\nversion: 0.0\nResources: []\n", [("LMB003", 2, 12)], platform="lambda")
    assert_problems(
        LAMBDA.replace("\n      ", "\n    "), [("LMB003", 4, 5), ("LMB003", 5, 5), ("LMB003", 6, 5)]
    )


def test_function_type():
    assert_problems(lam().replace("AWS::Lambda::Function", "AWS::Lambda::Alias"), [("LMB004", 5, 13)])
    sam = lam().replace("AWS::Lambda::Function", "AWS::Serverless::Function")
    assert "SAM template type" in lint_text(sam, platform="lambda")[0].message


def test_all_four_properties_are_required():
    text = lam().replace("        Alias: live\n", "").replace('TargetVersion: "2"', 'TargetVersion: ""')
    assert_problems(text, [("LMB005", 6, 7), ("LMB005", 9, 9)])
    assert_problems(LAMBDA[: LAMBDA.index("      Properties")], [("LMB005", 4, 5)], platform="lambda")


def test_property_types_and_numeric_alias():
    assert_problems(lam().replace("Alias: live", "Alias: 3"), [("LMB006", 8, 16)])
    assert_problems(lam().replace("Name: my-function", "Name: [a]"), [("LMB006", 7, 15)])


@pytest.mark.parametrize(
    "value, rule",
    [
        ('"12"', None),
        ("12", None),
        ("$LATEST", "LMB007"),
        ('"0"', "LMB007"),
        ("1.0", "LMB007"),
        ("v2", "LMB007"),
        ("-1", "LMB007"),
        ("[2]", "LMB007"),
    ],
)
def test_target_version_is_a_published_version(value, rule):
    text = lam().replace('TargetVersion: "2"', f"TargetVersion: {value}")
    assert found(text) == ([(rule, 10, 24)] if rule else [])


def test_same_current_and_target_version_is_a_warning():
    assert_problems(lam().replace('TargetVersion: "2"', "TargetVersion: 1"), [("LMB008", 10, 24)])


def test_lambda_unknown_keys():
    assert_problems(lam().replace("Alias:", "Alais:"), [("LMB005", 6, 7), ("LMB009", 8, 9)])


def test_lambda_hooks_must_be_event_function_pairs():
    assert_problems(lam("  - BeforeAllowTraffic\n  - 3"), [("LMB010", 12, 5), ("LMB010", 13, 5)])
    assert_problems(lam().replace("version: 0.0\n", "version: 0.0\nHooks: [[pre]]\n"), [("LMB010", 3, 9)])


def test_lambda_hook_events():
    hooks = "\n".join(
        f"  - {event}: fn"
        for event in (
            "BeforeAllowTraffic",
            "AfterAllowTraffic",
            "AllowTraffic",
            "Start",
            "BeforeInstall",
            "ValidateService",
            "AfterAllowTrafic",
            "BeforeAllowTraffic",
        )
    )
    assert found(lam(hooks)) == [
        ("LMB012", 14, 5),
        ("LMB012", 15, 5),
        ("LMB013", 16, 5),
        ("LMB013", 17, 5),
        ("LMB014", 18, 5),
        ("LMB015", 19, 5),
    ]


def test_null_lambda_hook_like_terraform_generated_it():
    text = (
        '{"version": "0.0", "Hooks": [{"AfterAllowTraffic": null}, {"BeforeAllowTraffic": "check"}], '
        '"Resources": [{"F": {"Type": "AWS::Lambda::Function", "Properties": {"Name": "f", "Alias": "a", '
        '"CurrentVersion": "1", "TargetVersion": "2"}}}]}'
    )
    assert found(text, path="appspec.json") == [("LMB011", 1, 31)]


# ------------------------------------------------------------------------------------------ robustness

SHAPES = ["null", "7", "text", "[]", "{}", "[null]", "[[1]]", "[{a: b}]", "{a: [1, {b: null}]}", "[text, 3]"]


@pytest.mark.parametrize("platform", ["ecs", "lambda"])
def test_any_shape_anywhere_never_crashes(platform):
    template = ECS if platform == "ecs" else LAMBDA
    lines = template.strip("\n").splitlines()
    for number, shape in itertools.product(range(1, len(lines)), SHAPES):
        head, sep, _ = lines[number].partition(":")
        if not sep:
            continue
        mutated = "\n".join(lines[:number] + [f"{head}: {shape}"] + lines[number + 1 :]) + "\n"
        for problem in lint_bytes(mutated.encode(), "appspec.yml", platform=platform):
            assert problem.line >= 1
        hooks = template + f"Hooks: {shape}\n"
        lint_bytes(hooks.encode(), "appspec.yml", platform=platform)
        lint_bytes(
            f"Resources: {shape}\nHooks:\n  - {shape}: {shape}\n".encode(), "appspec.yml", platform=platform
        )
