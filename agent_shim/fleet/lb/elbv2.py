"""`type: elbv2`: ELBv2 target groups through boto3 (imported only when used). A host's target is its
`lb_target` (instance id or IP), else its address. Settings: `target_group_arns`, `region`,
`endpoint_url` (moto, a VPC endpoint) and the targets' `port`."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from agent_shim.fleet.contracts import HostSpec
from agent_shim.fleet.health_check import HealthCheck
from agent_shim.fleet.lb.kind import LoadBalancerKind, PathResolver
from agent_shim.fleet.lb.waiting import LoadBalancerError, until
from agent_shim.fleet.schema_parts import PORT, TEXT

API_CALL_LIMIT = 2 * 4  # seconds: two attempts of a 4 s read (connecting: two of 3 s)


def _deregistered(state: str, reason: str) -> bool:
    return state == "unused" or reason == "Target.NotRegistered"


class Elbv2LoadBalancer:
    """ELBv2 target groups; a host's target is `lb_target` (instance id or IP) or else its address."""

    def __init__(
        self,
        target_group_arns: Sequence[str],
        region: Optional[str] = None,
        *,
        endpoint_url: Optional[str] = None,
        port: Optional[int] = None,
        poll: float = 5.0,
        client: Any = None,
    ) -> None:
        self.arns = list(target_group_arns)
        self.port = port
        self.poll = poll
        if client is None:
            import boto3  # only when ELBv2 is used: the controller must start without it
            from botocore.config import Config

            # an API that does not answer costs one call at most API_CALL_LIMIT seconds, not botocore's
            # default of 60 s a read and 5 attempts: allow and block stay near their own timeout
            config = Config(
                connect_timeout=3, read_timeout=4, retries={"total_max_attempts": 2, "mode": "standard"}
            )
            client = boto3.client("elbv2", region_name=region, endpoint_url=endpoint_url, config=config)
        self.client = client

    def target(self, host: HostSpec) -> Dict[str, Any]:
        target: Dict[str, Any] = {"Id": host.lb_target or host.address}
        if self.port:
            target["Port"] = self.port
        return target

    def _call(self, operation: str, **kwargs: Any) -> Dict[str, Any]:
        import botocore.exceptions

        arn = kwargs.get("TargetGroupArn")
        what = f"elbv2 {operation}" + (f" ({_group_name(arn)})" if arn else "")
        try:
            return getattr(self.client, operation)(**kwargs)
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            raise LoadBalancerError(
                f"{what}: {error.get('Code', '?')}: {error.get('Message', exc)}"
            ) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise LoadBalancerError(f"{what}: {exc}") from None

    def state(self, arn: str, host: HostSpec) -> Tuple[str, str]:
        """(State, Reason) of the host's target in one group; ('unused', 'Target.NotRegistered') if absent."""
        return self.health(arn, host)[:2]

    def _wait(
        self, host: HostSpec, timeout: float, goal: str, reached: Callable[[str, str], bool]
    ) -> Optional[str]:
        def everywhere() -> Tuple[bool, str]:
            states = {arn: self.state(arn, host) for arn in self.arns}
            pending = {arn: s for arn, s in states.items() if not reached(*s)}
            detail = "; ".join(f"{_group_name(arn)}: {s[0]} {s[1]}".strip() for arn, s in pending.items())
            return not pending, detail

        done, detail = until(timeout, self.poll, everywhere)
        return None if done else f"target {self.target(host)['Id']} not {goal} within {timeout:g}s ({detail})"

    def block(self, host: HostSpec, timeout: float) -> Optional[str]:
        try:
            for arn in self.arns:
                if self.state(arn, host)[1] != "Target.NotRegistered":
                    self._call("deregister_targets", TargetGroupArn=arn, Targets=[self.target(host)])
            return self._wait(host, timeout, "deregistered", _deregistered)
        except LoadBalancerError as exc:
            return str(exc)

    def allow(self, host: HostSpec, timeout: float) -> Optional[str]:
        """Register in every target group, then wait until each says healthy; a target group that says
        unhealthy (its health checks failed) is a failure at once, with its reason."""
        target = self.target(host)["Id"]

        def verdict() -> Tuple[bool, str]:
            pending = []
            for arn in self.arns:
                state, reason, description = self.health(arn, host)
                if state == "healthy" or reason in ("Target.NotInUse", "Target.HealthCheckDisabled"):
                    continue  # a group without checks or listener has nothing to wait for
                if state == "unhealthy" or (state == "unused" and reason == "Target.InvalidState"):
                    why = f"{reason}: {description}" if description else reason
                    raise LoadBalancerError(
                        f"target {target} is {state} in target group {_group_name(arn)} ({why})"
                    )
                pending.append(f"{_group_name(arn)}: {state} {reason}".strip())
            return not pending, "; ".join(pending)

        try:
            for arn in self.arns:
                self._call("register_targets", TargetGroupArn=arn, Targets=[self.target(host)])
            done, detail = until(timeout, self.poll, verdict)
        except LoadBalancerError as exc:
            return str(exc)
        return None if done else f"target {target} not healthy within {timeout:g}s ({detail})"

    def health(self, arn: str, host: HostSpec) -> Tuple[str, str, str]:
        """(State, Reason, Description) of the host's target in one group."""
        target = self.target(host)
        answer = self._call("describe_target_health", TargetGroupArn=arn, Targets=[target])
        for description in answer.get("TargetHealthDescriptions", []):
            if description.get("Target", {}).get("Id") == target["Id"]:
                health = description.get("TargetHealth", {})
                return (
                    health.get("State", "unknown"),
                    health.get("Reason", ""),
                    health.get("Description", ""),
                )
        return "unused", "Target.NotRegistered", ""

    def healthy(self, hosts: Sequence[HostSpec]) -> Dict[str, bool]:
        verdict = {}
        for host in hosts:
            try:
                verdict[host.name] = all(self.state(arn, host)[0] == "healthy" for arn in self.arns)
            except LoadBalancerError:
                verdict[host.name] = False
        return verdict

    def check(self, hosts: Sequence[HostSpec]) -> List[Tuple[str, str]]:
        """The preflight: every target group ARN exists and its targets can be read (credentials,
        region, endpoint). (group-file key, problem and fix) per problem; nothing is changed."""
        problems = []
        for index, arn in enumerate(self.arns):
            try:
                self._call("describe_target_groups", TargetGroupArns=[arn])
                self._call("describe_target_health", TargetGroupArn=arn)
            except LoadBalancerError as exc:
                problems.append(
                    (
                        f"load_balancer.target_group_arns[{index}]",
                        f"{exc}; fix the ARN, the region, load_balancer.endpoint_url or the credentials",
                    )
                )
        return problems


def _group_name(arn: str) -> str:
    """`web-tg` from `arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/web-tg/0123456789abcdef`."""
    parts = arn.rsplit("/", 2)
    return parts[-2] if len(parts) == 3 else arn


def resolve(options: Dict[str, Any], local_path: PathResolver) -> Dict[str, Any]:
    options["target_group_arns"] = tuple(options.get("target_group_arns") or ())
    return options


def build(options: Mapping[str, Any], health_check: HealthCheck) -> Elbv2LoadBalancer:
    return Elbv2LoadBalancer(
        options.get("target_group_arns") or (),
        options.get("region"),
        endpoint_url=options.get("endpoint_url"),
        port=options.get("port"),
    )


KIND = LoadBalancerKind(
    name="elbv2",
    rank=20,
    settings={
        "target_group_arns": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "pattern": "^arn:"},
        },
        "region": TEXT,
        "endpoint_url": TEXT,
        "port": PORT,
    },
    required=("target_group_arns",),
    build=build,
    resolve=resolve,
)
