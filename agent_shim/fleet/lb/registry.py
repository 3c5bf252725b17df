"""The load-balancer kinds: every module of this package that declares a `KIND`, found, not listed."""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from typing import Any, Dict, List, Mapping, Tuple

from agent_shim.fleet.contracts import LoadBalancer
from agent_shim.fleet.health_check import HealthCheck
from agent_shim.fleet.lb.kind import LoadBalancerKind

PACKAGE = "agent_shim.fleet.lb"


@lru_cache(maxsize=None)
def kinds() -> Tuple[LoadBalancerKind, ...]:
    package = importlib.import_module(PACKAGE)
    found = []
    for module in pkgutil.iter_modules(package.__path__):
        declared = getattr(importlib.import_module(f"{PACKAGE}.{module.name}"), "KIND", None)
        if isinstance(declared, LoadBalancerKind):
            found.append(declared)
    return tuple(sorted(found, key=lambda kind: (kind.rank, kind.name)))


def kind_named(name: str) -> LoadBalancerKind:
    for kind in kinds():
        if kind.name == name:
            return kind
    raise KeyError(f"no load-balancer kind {name!r} (known: {', '.join(k.name for k in kinds())})")


def settings_schema(common: Mapping[str, Any]) -> Dict[str, Any]:
    """The schema of `load_balancer:`: `type` one of the kinds, the `common` settings, every kind's
    settings, and each kind's required ones when it is the type."""
    properties: Dict[str, Any] = {"type": {"enum": [kind.name for kind in kinds()]}}
    for kind in kinds():
        for key, schema in kind.settings.items():
            if properties.get(key, schema) != schema or key in common:
                raise ValueError(f"load-balancer setting {key!r} of {kind.name} means something else already")
            properties[key] = schema
    properties.update(common)
    required: List[Dict[str, Any]] = [
        {"if": {"properties": {"type": {"const": kind.name}}}, "then": {"required": list(kind.required)}}
        for kind in kinds()
        if kind.required
    ]
    return {
        "type": "object",
        "required": ["type"],
        "additionalProperties": False,
        "properties": properties,
        "allOf": required,
    }


def setting_names() -> Tuple[str, ...]:
    """Every setting some kind declares."""
    return tuple(dict.fromkeys(key for kind in kinds() for key in kind.settings))


def build(kind: str, options: Mapping[str, Any], health_check: HealthCheck) -> LoadBalancer:
    return kind_named(kind).build(options, health_check)
