"""The group's one definition of health (`health_check:` of the group file): the load balancer's check,
the bound on AllowTraffic's verdict, and the hooks' ValidateService defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional


@dataclass(frozen=True)
class HealthCheck:
    """The seed's ELB target group check; HAProxy gets `option httpchk GET path`, `inter`, `rise`, `fall`."""

    path: str = "/health"
    port: Optional[int] = None  # None: the traffic port
    interval: float = 5
    timeout: float = 2
    healthy_threshold: int = 2
    unhealthy_threshold: int = 2
    success_codes: str = "200"  # "200", "200-299", "200,302"

    @property
    def verdict_after(self) -> float:
        """Seconds after registration by which a passing host is healthy and a failing one has failed
        `unhealthy_threshold` checks: (healthy + unhealthy threshold) intervals, plus one probe's timeout."""
        return self.interval * (self.healthy_threshold + self.unhealthy_threshold) + self.timeout

    def describe(self) -> str:
        """`GET /health every 5s, expecting 200`"""
        port = f" on port {self.port}" if self.port else ""
        return f"GET {self.path}{port} every {self.interval:g}s, expecting {self.success_codes}"

    def hook_defaults(self) -> Dict[str, str]:
        """The hooks' ValidateService settings for this check, as HOOKS_DEFAULT_* variables: the hook checks
        what the load balancer checks unless the revision's hooks.env (or the host) says otherwise."""
        values = {
            "HEALTH_PATH": self.path,
            "HEALTH_INTERVAL": f"{self.interval:g}",
            "HEALTH_TIMEOUT": f"{min(self.timeout, self.interval):g}",
            "HEALTH_HEALTHY_THRESHOLD": str(self.healthy_threshold),
            "HEALTH_UNHEALTHY_THRESHOLD": str(self.unhealthy_threshold),
            "HEALTH_SUCCESS_CODES": self.success_codes,
        }
        if self.port:
            values["HEALTH_URL"] = f"http://${{APP_HOST}}:{self.port}${{HEALTH_PATH}}"
        return {f"HOOKS_DEFAULT_{name}": value for name, value in values.items()}

    def accepts(self, status: int) -> bool:
        for part in self.success_codes.split(","):
            low, _, high = part.partition("-")
            if int(low) <= status <= int(high or low):
                return True
        return False
