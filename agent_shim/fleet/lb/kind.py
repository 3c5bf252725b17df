"""What a load-balancer kind declares: its `type:` name, its settings' JSON Schema (keys of
`load_balancer:` in the group file) and which are required, how its paths on the controller resolve,
and how it is built from its settings. One module of this package per kind, each with a `KIND`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from agent_shim.fleet.contracts import LoadBalancer
from agent_shim.fleet.health_check import HealthCheck

PathResolver = Callable[[str], Optional[str]]  # a path on the controller, relative to the group file


def as_given(options: Dict[str, Any], local_path: PathResolver) -> Dict[str, Any]:
    return options


@dataclass(frozen=True)
class LoadBalancerKind:
    name: str  # the group file's `load_balancer.type`
    rank: int  # where it is listed among the kinds (schema, messages): lower first
    settings: Mapping[str, Any]  # setting → its JSON Schema
    required: Tuple[str, ...]
    build: Callable[[Mapping[str, Any], HealthCheck], LoadBalancer]
    resolve: Callable[[Dict[str, Any], PathResolver], Dict[str, Any]] = field(default=as_given)
