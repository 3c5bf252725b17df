#!/usr/bin/env python3
"""ValidateService: probe the app's health URL like an ELB target group health check.

Every HEALTH_INTERVAL seconds a GET of HEALTH_URL (default http://APP_HOST:APP_PORT/health) with a
HEALTH_TIMEOUT budget; a probe succeeds on a status in HEALTH_SUCCESS_CODES whose body contains
HEALTH_EXPECT_BODY (when set). HEALTH_HEALTHY_THRESHOLD consecutive successes pass. Failures count toward
HEALTH_UNHEALTHY_THRESHOLD only once the app has answered once or HEALTH_START_GRACE is over (a target in
"initial" state), so a slow start is not a failure. HEALTH_DEADLINE bounds the whole check.
"""

from __future__ import annotations

import hookkit

USES = (
    "APP_HOST",
    "APP_PORT",
    "HEALTH_URL",
    "HEALTH_PATH",
    "HEALTH_INTERVAL",
    "HEALTH_TIMEOUT",
    "HEALTH_HEALTHY_THRESHOLD",
    "HEALTH_UNHEALTHY_THRESHOLD",
    "HEALTH_SUCCESS_CODES",
    "HEALTH_EXPECT_BODY",
    "HEALTH_START_GRACE",
    "HEALTH_DEADLINE",
)


def main(config: hookkit.Config, log: hookkit.HookLog) -> None:
    hookkit.wait_until_healthy(hookkit.HealthSettings(config), log)


if __name__ == "__main__":
    hookkit.run(__file__, __doc__, USES, main)
