"""`type: none` (the default): no load balancer, so no traffic events at all, as in CodeDeploy."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from agent_shim.fleet.contracts import HostSpec
from agent_shim.fleet.health_check import HealthCheck
from agent_shim.fleet.lb.kind import LoadBalancerKind


class NoLoadBalancer:
    """No load balancer: traffic is nobody's business, every host counts as healthy."""

    def block(self, host: HostSpec, timeout: float) -> Optional[str]:
        return None

    def allow(self, host: HostSpec, timeout: float) -> Optional[str]:
        return None

    def healthy(self, hosts: Sequence[HostSpec]) -> Dict[str, bool]:
        return {host.name: True for host in hosts}

    def check(self, hosts: Sequence[HostSpec]) -> List[Tuple[str, str]]:
        return []


def build(options: Mapping[str, Any], health_check: HealthCheck) -> NoLoadBalancer:
    return NoLoadBalancer()


KIND = LoadBalancerKind(name="none", rank=99, settings={}, required=(), build=build)
