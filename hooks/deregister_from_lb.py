#!/usr/bin/env python3
"""Take this host out of its load balancers and wait until its connections are drained.

ELBv2 (TARGET_GROUP_ARNS): deregister the target (TARGET_ID, default this instance's id from IMDSv2) and
wait until it is `unused`. HAProxy (HAPROXY_SOCKET, HAPROXY_BACKENDS, HAPROXY_SERVER): `set server
BACKEND/SERVER state drain`, then wait until the server has no current sessions. Wire it to
BeforeBlockTraffic, or to ApplicationStop when the deployment group has no load balancer of its own.
"""

from __future__ import annotations

import hookkit
import loadbalancer

USES = (
    "TARGET_GROUP_ARNS",
    "TARGET_ID",
    "TARGET_PORT",
    "IMDS_ENDPOINT",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "HAPROXY_SOCKET",
    "HAPROXY_BACKENDS",
    "HAPROXY_SERVER",
    "LB_WAIT_TIMEOUT",
    "LB_POLL_INTERVAL",
)


def main(config: hookkit.Config, log: hookkit.HookLog) -> None:
    for balancer in loadbalancer.configured(config, log):
        balancer.deregister()


if __name__ == "__main__":
    hookkit.run(__file__, __doc__, USES, main)
