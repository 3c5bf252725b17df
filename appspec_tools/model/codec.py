"""Text ↔ model: `load` lints and builds, `dump` writes the canonical AppSpec back.

Dumped YAML is read the same way by PyYAML and by the agent's Psych: every string that a YAML 1.1
loader could take for something else (`yes`, `0644`, `0.0`, `null`, `:name`, `1,000`) is quoted.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Sequence, Union

from appspec_tools.lifecycle import DEFAULT_SCRIPT_TIMEOUT, PLATFORMS
from appspec_tools.model.build import AnySpec, build
from appspec_tools.model.ec2 import DEFAULT_PERMISSION_TYPES, AppSpec, Permission
from appspec_tools.model.ecs import ECS_SERVICE_TYPE, EcsAppSpec, TargetService
from appspec_tools.model.hooks import HookFunction, HookScript
from appspec_tools.model.lambda_ import LAMBDA_FUNCTION_TYPE, LambdaAppSpec
from appspec_tools.problem import Problem, Severity

FORMATS = ("yaml", "json")
_PSYCH_WORDS = frozenset({"yes", "no", "true", "false", "on", "off", "null", "y", "n"})


class AppSpecError(ValueError):
    """The document has lint errors; ``problems`` holds every error-severity `Problem`."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: List[Problem] = list(problems)
        first = self.problems[0]
        super().__init__(f"{first.path}:{first.line}:{first.column}: {first.rule_id} {first.message}")


def load(data: Union[str, bytes], *, path: str = "appspec.yml", platform: Optional[str] = None) -> AnySpec:
    """Parse, lint and build an AppSpec. The platform is read from the content unless given;
    raises `AppSpecError` when the linter finds errors (warnings do not stop it)."""
    from appspec_tools.linter import lint_bytes
    from appspec_tools.platforms import detect_platform
    from appspec_tools.source import read_source

    if platform is not None and platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}: use one of {', '.join(PLATFORMS)}")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    source = read_source(raw, path)
    chosen = platform or detect_platform(source.root)
    problems = lint_bytes(raw, path, platform=chosen, source=source)
    errors = [p for p in problems if p.severity == Severity.ERROR]
    if errors:
        raise AppSpecError(errors)
    return build(source.root, chosen)


def dump(spec: AnySpec, fmt: str = "yaml") -> str:
    """Canonical AppSpec text: keys in the reference's order, defaults left out, `version: 0.0`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use yaml or json")
    data = to_data(spec)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    import yaml

    return yaml.dump(
        data, Dumper=_dumper(), sort_keys=False, default_flow_style=False, allow_unicode=True, width=1 << 20
    )


def to_data(spec: AnySpec) -> Dict[str, Any]:
    """Plain dicts and lists in canonical key order, as `dump` writes them."""
    if isinstance(spec, AppSpec):
        return _ec2(spec)
    if isinstance(spec, EcsAppSpec):
        return _ecs(spec)
    if isinstance(spec, LambdaAppSpec):
        return _lambda(spec)
    raise TypeError(f"not an AppSpec model: {type(spec).__name__}")


def _version(value: str) -> Any:
    return 0.0 if value == "0.0" else value


def _ec2(spec: AppSpec) -> Dict[str, Any]:
    out: Dict[str, Any] = {"version": _version(spec.version), "os": spec.os}
    if spec.files:
        out["files"] = [{"source": f.source, "destination": f.destination} for f in spec.files]
    if spec.permissions:
        out["permissions"] = [_permission(p) for p in spec.permissions]
    if spec.hooks:
        out["hooks"] = {event: [_script(s) for s in scripts] for event, scripts in spec.hooks.items()}
    if spec.file_exists_behavior is not None:
        out["file_exists_behavior"] = spec.file_exists_behavior
    return out


def _permission(p: Permission) -> Dict[str, Any]:
    out: Dict[str, Any] = {"object": p.object}
    if p.pattern != "**":
        out["pattern"] = p.pattern
    if p.except_:
        out["except"] = list(p.except_)
    for key in ("owner", "group", "mode"):
        if getattr(p, key) is not None:
            out[key] = getattr(p, key)
    if p.acls:
        out["acls"] = list(p.acls)
    if p.context is not None:
        out["context"] = {
            key: getattr(p.context, key)
            for key in ("name", "type", "range")
            if getattr(p.context, key) is not None
        }
    if p.type != DEFAULT_PERMISSION_TYPES:
        out["type"] = list(p.type)
    return out


def _script(script: HookScript) -> Dict[str, Any]:
    out: Dict[str, Any] = {"location": script.location}
    if script.timeout != DEFAULT_SCRIPT_TIMEOUT:
        out["timeout"] = script.timeout
    if script.runas is not None:
        out["runas"] = script.runas
    if script.sudo:
        out["sudo"] = True
    return out


def _hooks(hooks: Sequence[HookFunction]) -> List[Dict[str, str]]:
    return [{hook.event: hook.function} for hook in hooks]


def _ecs(spec: EcsAppSpec) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "version": _version(spec.version),
        "Resources": [
            {"TargetService": {"Type": ECS_SERVICE_TYPE, "Properties": _service(spec.target_service)}}
        ],
    }
    if spec.hooks:
        out["Hooks"] = _hooks(spec.hooks)
    return out


def _service(service: TargetService) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "TaskDefinition": service.task_definition,
        "LoadBalancerInfo": {
            "ContainerName": service.container_name,
            "ContainerPort": service.container_port,
        },
    }
    if service.platform_version is not None:
        out["PlatformVersion"] = service.platform_version
    if service.network is not None:
        network: Dict[str, Any] = {}
        if service.network.subnets:
            network["Subnets"] = list(service.network.subnets)
        if service.network.security_groups:
            network["SecurityGroups"] = list(service.network.security_groups)
        if service.network.assign_public_ip is not None:
            network["AssignPublicIp"] = service.network.assign_public_ip
        out["NetworkConfiguration"] = {"AwsvpcConfiguration": network}
    if service.capacity_provider_strategy:
        out["CapacityProviderStrategy"] = [
            {"Base": item.base, "CapacityProvider": item.capacity_provider, "Weight": item.weight}
            for item in service.capacity_provider_strategy
        ]
    return out


def _lambda(spec: LambdaAppSpec) -> Dict[str, Any]:
    function = spec.function
    properties = {
        "Name": function.name,
        "Alias": function.alias,
        "CurrentVersion": function.current_version,
        "TargetVersion": function.target_version,
    }
    out: Dict[str, Any] = {
        "version": _version(spec.version),
        "Resources": [{function.logical_name: {"Type": LAMBDA_FUNCTION_TYPE, "Properties": properties}}],
    }
    if spec.hooks:
        out["Hooks"] = _hooks(spec.hooks)
    return out


# -- YAML that reads the same in PyYAML and Psych -------------------------------------------------

_dumper_class: Any = None


def _psych_ambiguous(value: str) -> bool:
    """Strings that Psych (Ruby's YAML 1.1) may read as something else where PyYAML would not: numbers
    with commas, `Yes`/`NO` in any case, symbols (`:name`). Quoting a few more than needed is harmless."""
    return value[:1] in tuple("0123456789+-.:~") or value.lower() in _PSYCH_WORDS


def _dumper() -> Any:
    global _dumper_class
    if _dumper_class is None:
        import yaml

        class Dumper(yaml.SafeDumper):
            def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
                return super().increase_indent(flow, False)  # list items indented under their key

            def ignore_aliases(self, data: Any) -> bool:
                return True  # the agent's Psych 4 rejects aliases

        def represent_str(dumper: Any, value: str) -> Any:
            style = "'" if _psych_ambiguous(value) else None
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

        Dumper.add_representer(str, represent_str)
        _dumper_class = Dumper
    return _dumper_class
