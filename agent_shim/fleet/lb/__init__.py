"""Load-balancer adapters for the controller: CodeDeploy's BlockTraffic and AllowTraffic.

One module per kind (haproxy.py, elbv2.py, none.py), each declaring a `KIND` (kind.py): its name, its
settings' schema and its constructor; the group file's schema and the commands take the kinds from
`registry`, so a new kind is one module here plus its docs. Every adapter implements
`contracts.LoadBalancer`: `block` drains a host and waits until its connections are gone; `allow` puts
it back and waits until the load balancer's health check says healthy, and fails as soon as the check
has had the time to pass (the group's `health_check`: interval × (healthy + unhealthy threshold) +
timeout) while it still fails; both are bounded by their timeout and return None or a one-line reason,
the load balancer's own answer in it. `check` is the preflight: every name the group file gives
resolves, one line per problem, nothing changed. The hook scripts (hooks/loadbalancer.py) do the same
from the host; this is the controller's side.
"""

from agent_shim.fleet.lb.elbv2 import API_CALL_LIMIT, Elbv2LoadBalancer
from agent_shim.fleet.lb.haproxy import (
    HaproxyLoadBalancer,
    describe_check,
    haproxy_command,
    parse_servers_state,
    parse_stat,
)
from agent_shim.fleet.lb.none import NoLoadBalancer
from agent_shim.fleet.lb.waiting import LoadBalancerError

__all__ = [
    "API_CALL_LIMIT",
    "Elbv2LoadBalancer",
    "HaproxyLoadBalancer",
    "LoadBalancerError",
    "NoLoadBalancer",
    "describe_check",
    "haproxy_command",
    "parse_servers_state",
    "parse_stat",
]
