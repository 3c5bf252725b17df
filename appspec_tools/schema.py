"""A JSON Schema (draft 2020-12) of the AppSpec, for editors (yaml-language-server, VS Code).

It describes the canonical form of new files: exact key names (PascalCase on ECS and Lambda, although
the service also accepts other casings), hook events per platform, `version: 0.0` as a number on
EC2/On-Premises. The linter remains the judge of what the agent accepts; the schema is the editor's
completion and hover help, and rejects a little more (unknown keys, timeouts over 3600 s).
"""

from __future__ import annotations

import copy
import re
from typing import Any, Dict

from appspec_tools.agent_names import FILE_EXISTS_BEHAVIORS
from appspec_tools.lifecycle import PLATFORMS, SCRIPTABLE

DRAFT = "https://json-schema.org/draft/2020-12/schema"
REFERENCE = "https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file.html"
Schema = Dict[str, Any]


def described(markdown: str, **schema: Any) -> Schema:
    """A schema with a `markdownDescription` for editors and a plain `description` for the rest."""
    return {**schema, "description": plain_text(markdown), "markdownDescription": markdown}


def plain_text(markdown: str) -> str:
    """Markdown without its markup: code spans keep their text (`"**"` stays), links keep their label."""
    parts = re.split(r"(`[^`]*`)", markdown)
    return "".join(
        part[1:-1] if index % 2 else re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", part).replace("*", "")
        for index, part in enumerate(parts)
    )


def strict(properties: Dict[str, Schema], required: tuple = (), **extra: Any) -> Schema:
    out: Schema = {"type": "object", "properties": properties, "additionalProperties": False, **extra}
    if required:
        out["required"] = list(required)
    return out


def strings(markdown: str, **item: Any) -> Schema:
    return described(markdown, type="array", items={"type": "string", **item})


# -- EC2/On-Premises ---------------------------------------------------------------------------

EC2_VERSION = described(
    "The AppSpec version: always `0.0`, **unquoted**. The agent compares it with the number 0.0, so the "
    'quoted string `"0.0"` is rejected on EC2/On-Premises.',
    type="number",
    const=0.0,
)
OS = described(
    "The instance operating system, in lowercase: `linux` (Amazon Linux, Ubuntu Server, RHEL) or `windows` "
    "(Windows Server). The agent compares it exactly with its own platform: `Linux` is rejected.",
    enum=["linux", "windows"],
)
FILE_MAPPING = strict(
    {
        "source": described(
            "A file or directory in the revision, relative to its root. A directory's *contents* are copied; "
            "`/` (`\\` on Windows) is the whole revision, this AppSpec and the scripts included.",
            type="string",
            minLength=1,
        ),
        "destination": described(
            "The absolute directory on the instance to copy into (created if missing). A file source "
            "lands at `destination/<file name>`.",
            type="string",
            minLength=1,
        ),
    },
    required=("source", "destination"),
)
SELINUX_CONTEXT = described(
    "SELinux context applied to the paths (`chcon`). `type` is required.",
    **strict(
        {
            "name": described("The SELinux user (the agent reads `name`).", type="string"),
            "user": described(
                "Ignored: the documented `user` key is never read by the agent; write the SELinux user as "
                "`name`.",
                **{"not": {}},
            ),
            "type": described("The SELinux type, e.g. `httpd_sys_content_t`.", type="string", minLength=1),
            "range": described(
                "The SELinux range: `s#[-s#][:c#[.c#](,c#[.c#])*]`, for example `s0` or `s0-s1:c0.c3`.",
                type="string",
            ),
        },
        required=("type",),
    ),
)
PERMISSION = strict(
    {
        "object": described(
            "The installed file or directory the permissions apply to (an absolute path on the instance). "
            "Only paths installed by this deployment are changed.",
            type="string",
            minLength=1,
        ),
        "pattern": described(
            'Which entries under `object` to change. Default `"**"` (everything, at any depth); any other '
            'pattern matches direct children only. Quote it: `pattern: "*.sh"`.',
            type="string",
        ),
        "except": strings("Names under `object` to leave unchanged (direct children only), as a list."),
        "owner": described("The owning user (`chown`); unchanged if absent.", type="string"),
        "group": described("The owning group (`chgrp`); unchanged if absent.", type="string"),
        "mode": described(
            "Numeric mode, 1–4 octal digits (`chmod` style; no `u+x`). **Quote a leading zero** "
            '(`"0644"`) or write three digits (`644`): under YAML 1.1 an unquoted `0644` is the number '
            "420 and is applied as mode 420.",
            anyOf=[
                {"type": "string", "pattern": "^[0-7]{1,4}$"},
                {"type": "integer", "minimum": 0, "maximum": 7777},
            ],
        ),
        "acls": strings(
            "ACL entries (`setfacl` style) that replace the existing ACL: `u:bob:rw`, `g:web:r-x`, "
            "`d:u:bob:rwx` (default entries need `type: [directory]`). Base entries (`u::rw`) belong in "
            "`mode`.",
            pattern="^[^:]*:[^:]*(:[^:]*){0,2}$",
        ),
        "context": SELINUX_CONTEXT,
        "type": described(
            "What to change under `object`, **as a list**: `file` (files) and/or `directory` "
            "(directories); default both. `type: file` without the list crashes the agent.",
            type="array",
            items={"enum": ["file", "directory"]},
            uniqueItems=True,
        ),
    },
    required=("object",),
)
HOOK_SCRIPT = strict(
    {
        "location": described(
            "The script, relative to the revision root (not a path on the instance).",
            type="string",
            minLength=1,
        ),
        "timeout": described(
            "Seconds the script may run; default 3600. All scripts of one event together must finish "
            'within 3600 seconds. A quoted number (`"600"`) works too.',
            anyOf=[
                {"type": "integer", "minimum": 1, "maximum": 3600},
                {"type": "string", "pattern": "^([1-9][0-9]{0,2}|[12][0-9]{3}|3[0-5][0-9]{2}|3600)$"},
            ],
        ),
        "runas": described(
            "Run the script as this user (`su USER -c`); Linux only, the user must not need a password.",
            type="string",
        ),
        "sudo": described(
            "Run the script with `sudo` (Linux only; undocumented but supported).", type="boolean"
        ),
    },
    required=("location",),
)


def ec2_schema() -> Schema:
    event = described(
        "Scripts run in list order; the first failure ends the event. Null or `[]` means no scripts.",
        type=["array", "null"],
        items=HOOK_SCRIPT,
    )
    hooks = described(
        "Lifecycle event → scripts. Scriptable events: "
        + ", ".join(f"`{name}`" for name in SCRIPTABLE["ec2"])
        + ". `ApplicationStop`, `BeforeBlockTraffic` and `AfterBlockTraffic` run the scripts of the last "
        "successfully installed revision.",
        type=["object", "null"],
        properties={name: event for name in SCRIPTABLE["ec2"]},
        additionalProperties=False,
    )
    return described(
        f"An EC2/On-Premises AppSpec file (`appspec.yml` at the root of the revision). [Reference]({REFERENCE})",
        **strict(
            {
                "version": EC2_VERSION,
                "os": OS,
                "files": described(
                    "What to copy from the revision to the instance during Install.",
                    type=["array", "null"],
                    items=FILE_MAPPING,
                ),
                "permissions": described(
                    "Owner, group, mode, ACLs and SELinux context for installed files (Linux only).",
                    type=["array", "null"],
                    items=PERMISSION,
                ),
                "hooks": hooks,
                "file_exists_behavior": described(
                    "What Install does with a file that already exists at a destination and was not "
                    "installed by the previous deployment: `DISALLOW` (fail, the default), `OVERWRITE`, or "
                    "`RETAIN` (keep it). Capitals only; overrides the deployment's setting.",
                    enum=[*FILE_EXISTS_BEHAVIORS, None],
                ),
            },
            required=("version", "os"),
            # permissions are Linux-only: the agent rejects them with os: windows
            **{
                "if": {"properties": {"os": {"const": "windows"}}, "required": ["os"]},
                "then": {"properties": {"permissions": {"type": ["array", "null"], "maxItems": 0}}},
            },
        ),
    )


# -- ECS and Lambda ----------------------------------------------------------------------------

SERVICE_VERSION = described(
    'The AppSpec version: `0.0` (the service accepts the number or the string `"0.0"`).',
    anyOf=[{"type": "number", "const": 0.0}, {"type": "string", "enum": ["0.0", "0"]}],
)
TASK_DEFINITION = (
    r"^(arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:task-definition/[A-Za-z0-9_-]{1,255}:[1-9][0-9]*"
    r"|<[^<>]+>|\$\{[^{}]+\}|\{\{[^{}]+\}\})$"
)
SUBNET = "^subnet-[0-9a-f]{8}([0-9a-f]{9})?$"
SECURITY_GROUP = "^sg-[0-9a-f]{8}([0-9a-f]{9})?$"
FUNCTION = (
    r"^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:|[0-9]{12}:function:)?[A-Za-z0-9_-]{1,64}"
    r"(:[A-Za-z0-9$_-]{1,128})?$"
)
CASING = "Keys as in the reference (PascalCase); the service also accepts other casings, which `appspec lint` reports."


def function_hooks(platform: str) -> Schema:
    names = SCRIPTABLE[platform]
    hook = described(
        "One lifecycle event → the Lambda function (name or ARN) to invoke. It must report back with "
        "`PutLifecycleEventHookExecutionStatus` within one hour.",
        type="object",
        properties={name: {"type": "string", "pattern": FUNCTION} for name in names},
        additionalProperties=False,
        minProperties=1,
        maxProperties=1,
    )
    return described(
        "Lambda functions to run at lifecycle events, as a list of single-key mappings. Events: "
        + ", ".join(f"`{name}`" for name in names)
        + ".",
        type="array",
        items=hook,
    )


def ecs_schema() -> Schema:
    integer = {"type": "integer"}
    network = strict(
        {
            "AwsvpcConfiguration": described(
                "Network of the replacement task set: give all three keys, or none.",
                **strict(
                    {
                        "Subnets": {
                            **strings("1 to 16 subnet ids (`subnet-…`).", pattern=SUBNET),
                            "minItems": 1,
                            "maxItems": 16,
                        },
                        "SecurityGroups": {
                            **strings("1 to 5 security group ids (`sg-…`).", pattern=SECURITY_GROUP),
                            "minItems": 1,
                            "maxItems": 5,
                        },
                        "AssignPublicIp": described(
                            "Whether tasks get a public IP.", enum=["ENABLED", "DISABLED"]
                        ),
                    },
                    required=("Subnets", "SecurityGroups", "AssignPublicIp"),
                ),
            )
        },
        required=("AwsvpcConfiguration",),
    )
    strategy = strict(
        {
            "Base": described(
                "Tasks to run on this provider first (only one provider may set it).",
                **integer,
                minimum=0,
                maximum=100000,
            ),
            "CapacityProvider": described(
                "The capacity provider, e.g. `FARGATE`, `FARGATE_SPOT`.", type="string"
            ),
            "Weight": described(
                "Relative share of tasks; at least one provider needs a weight over 0.",
                **integer,
                minimum=0,
                maximum=1000,
            ),
        },
        required=("CapacityProvider",),
    )
    properties = strict(
        {
            "TaskDefinition": described(
                "ARN of the task definition for the replacement task set, "
                "`arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION`, or a placeholder such as "
                "`<TASK_DEFINITION>` that CodePipeline fills in.",
                type="string",
                pattern=TASK_DEFINITION,
            ),
            "LoadBalancerInfo": described(
                "The container that receives the load balancer's traffic.",
                **strict(
                    {
                        "ContainerName": described("Container name from the task definition.", type="string"),
                        "ContainerPort": described(
                            "The container's port.", **integer, minimum=1, maximum=65535
                        ),
                    },
                    required=("ContainerName", "ContainerPort"),
                ),
            ),
            "PlatformVersion": described(
                "Fargate platform version: `LATEST` or a version such as `1.4.0` (quoted: unquoted `1.4` is a "
                "number).",
                type="string",
                pattern="^(LATEST|[0-9]+\\.[0-9]+\\.[0-9]+)$",
            ),
            "NetworkConfiguration": network,
            "CapacityProviderStrategy": described(
                "Capacity providers for the replacement task set.", type="array", items=strategy
            ),
        },
        required=("TaskDefinition", "LoadBalancerInfo"),
    )
    target = strict(
        {
            "Type": described("Always `AWS::ECS::Service`.", const="AWS::ECS::Service"),
            "Properties": properties,
        },
        required=("Type", "Properties"),
    )
    resources = described(
        "Exactly one entry: `TargetService`, the Amazon ECS service to deploy.",
        type="array",
        minItems=1,
        maxItems=1,
        items=strict({"TargetService": target}, required=("TargetService",)),
    )
    return described(
        f"An Amazon ECS AppSpec. {CASING} [Reference]({REFERENCE})",
        **strict(
            {"version": SERVICE_VERSION, "Resources": resources, "Hooks": function_hooks("ecs")},
            required=("version", "Resources"),
        ),
    )


def lambda_schema() -> Schema:
    version = {
        "anyOf": [{"type": "string", "pattern": "^[1-9][0-9]*$"}, {"type": "integer", "minimum": 1}],
    }
    function = strict(
        {
            "Type": described("Always `AWS::Lambda::Function`.", const="AWS::Lambda::Function"),
            "Properties": strict(
                {
                    "Name": described("The Lambda function's name.", type="string", minLength=1),
                    "Alias": described(
                        "The alias whose traffic shifts to the new version.", type="string", minLength=1
                    ),
                    "CurrentVersion": described("The version the alias points to now.", **version),
                    "TargetVersion": described("The version the alias shifts traffic to.", **version),
                },
                required=("Name", "Alias", "CurrentVersion", "TargetVersion"),
            ),
        },
        required=("Type", "Properties"),
    )
    resources = described(
        "One entry: the function's logical name → its type and properties.",
        type="array",
        minItems=1,
        maxItems=1,
        items={"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": function},
    )
    return described(
        f"An AWS Lambda AppSpec. {CASING} [Reference]({REFERENCE})",
        **strict(
            {"version": SERVICE_VERSION, "Resources": resources, "Hooks": function_hooks("lambda")},
            required=("version", "Resources"),
        ),
    )


BUILDERS = {"ec2": ec2_schema, "ecs": ecs_schema, "lambda": lambda_schema}
TITLES = {"ec2": "EC2/On-Premises", "ecs": "Amazon ECS", "lambda": "AWS Lambda"}


def json_schema(platform: str = "all") -> Schema:
    """The schema of one platform's AppSpec, or of any of them (`all`), chosen by content: a document
    with `Resources` is Lambda when a resource's `Type` is AWS::Lambda::Function, else ECS when an entry
    holds `TargetService`, else Lambda; any other is EC2."""
    head: Schema = {"$schema": DRAFT}
    if platform in PLATFORMS:
        return copy.deepcopy(
            {**head, "title": f"AWS CodeDeploy AppSpec ({TITLES[platform]})", **BUILDERS[platform]()}
        )
    if platform != "all":
        raise ValueError(f"unknown platform {platform!r}: use all, {', '.join(PLATFORMS)}")
    lambda_resource = {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": {
            "type": "object",
            "required": ["Type"],
            "properties": {"Type": {"const": "AWS::Lambda::Function"}},
        },
    }  # the resource's Type decides, as in lint; a `TargetService` entry only when no Type says
    is_ecs = {
        "properties": {
            "Resources": {
                "type": "array",
                "not": {"contains": lambda_resource},
                "contains": {"required": ["TargetService"]},
            }
        }
    }
    return copy.deepcopy(
        {
            **head,
            "title": "AWS CodeDeploy AppSpec",
            **described(
                "An AppSpec for EC2/On-Premises (`os`, `files`, `hooks`), Amazon ECS or AWS Lambda (`Resources`). "
                f"[Reference]({REFERENCE})",
            ),
            "$defs": {name: build() for name, build in BUILDERS.items()},
            "if": {"type": "object", "required": ["Resources"]},
            "then": {
                "if": is_ecs,
                "then": {"$ref": "#/$defs/ecs"},
                "else": {"$ref": "#/$defs/lambda"},
            },
            "else": {"$ref": "#/$defs/ec2"},
        }
    )  # a copy: the parts are shared module constants
