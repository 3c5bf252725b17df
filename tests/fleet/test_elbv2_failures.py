"""The ELBv2 adapter's failure paths against moto's server mode over HTTP: a stopped instance, an instance
that stops once registered, a target group deleted under a deployment, a bad ARN in the preflight, an
emulator that is gone or never answers. Each failure is one line with the load balancer's own answer in
it, returned in bounded time, never an exception, never carrying the credentials."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import boto3
import botocore.config
import pytest
from test_aws_emulator import REGION, moto_server, use_emulator

from agent_shim.fleet.contracts import HostSpec
from agent_shim.fleet.lb import API_CALL_LIMIT, Elbv2LoadBalancer

pytestmark = [pytest.mark.fleet, pytest.mark.slow]

ACCESS_KEY = "AKIAELBV2FAILURETEST"
SECRET = "sekrit-do-not-log"
POLL = 0.05
PATIENT = 30.0  # the timeout passed where the answer must come at once, far sooner
AT_ONCE = 5.0
MISSING_ARN = f"arn:aws:elasticloadbalancing:{REGION}:123456789012:targetgroup/never-created/0123456789abcdef"
FAIL_FAST = botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=2)
STOPPED = "Target.InvalidState: Target is in the stopped state"


@dataclass
class Emulator:
    """moto's EC2 and ELBv2 on one endpoint, with a VPC and a subnet to put targets in."""

    endpoint: str
    ec2: Any
    elbv2: Any
    vpc: str
    subnet: str

    @classmethod
    def at(cls, endpoint: str) -> Emulator:
        ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        return cls(endpoint, ec2, cls.elbv2_client(endpoint), vpc, subnet)

    @staticmethod
    def elbv2_client(endpoint: str, config: Optional[botocore.config.Config] = None) -> Any:
        return boto3.client("elbv2", region_name=REGION, endpoint_url=endpoint, config=config)

    def target_groups(self, target_type: str, count: int = 2) -> List[str]:
        return [
            self.elbv2.create_target_group(
                Name=f"web-{target_type}-{index}",
                Protocol="HTTP",
                Port=8080,
                VpcId=self.vpc,
                TargetType=target_type,
                HealthCheckPath="/health",
            )["TargetGroups"][0]["TargetGroupArn"]
            for index in range(count)
        ]

    def running_instance(self) -> str:
        images = self.ec2.describe_images(
            Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*"]}]
        )["Images"]
        return self.ec2.run_instances(
            ImageId=images[0]["ImageId"], MinCount=1, MaxCount=1, SubnetId=self.subnet
        )["Instances"][0]["InstanceId"]

    def stop(self, instance_id: str) -> None:
        self.ec2.stop_instances(InstanceIds=[instance_id])

    def health(self, arn: str) -> List[Dict[str, Any]]:
        return self.elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]

    def adapter(self, arns: List[str], client: Any = None) -> Elbv2LoadBalancer:
        return Elbv2LoadBalancer(arns, REGION, endpoint_url=self.endpoint, poll=POLL, client=client)


def sign_with_the_test_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Distinctive keys, and a fresh boto3 default session: it caches the credentials it resolved
    first, so without this the adapter's own client could sign with another test's keys."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@pytest.fixture
def signed(endpoint, monkeypatch, tmp_path) -> str:
    """The environment boto3 reads, pointed at a freshly reset emulator; its endpoint."""
    use_emulator(monkeypatch, endpoint, tmp_path, credentials=False)
    sign_with_the_test_secret(monkeypatch)
    return endpoint


@pytest.fixture
def aws(signed) -> Emulator:
    return Emulator.at(signed)


def one_line(reason: Optional[str]) -> str:
    """The reason, once checked for what every failure owes the controller."""
    assert isinstance(reason, str) and reason, f"expected a reason, got {reason!r}"
    assert "\n" not in reason and "Traceback" not in reason, f"not one line: {reason!r}"
    assert SECRET not in reason and ACCESS_KEY not in reason, f"credentials in a reason: {reason!r}"
    return reason


def timed(call: Callable[[], Any]) -> Tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_allow_of_a_stopped_instance_fails_at_once_with_the_emulators_answer(aws):
    arns = aws.target_groups("instance")
    instance = aws.running_instance()
    aws.stop(instance)
    host = HostSpec("h1", "10.0.1.10", lb_target=instance)

    reason, took = timed(lambda: aws.adapter(arns).allow(host, PATIENT))

    one_line(reason)
    assert reason.startswith(f"elbv2 register_targets ({arns[0].split('/')[-2]}): InvalidTarget: "), (
        reason
    )  # moto's TargetNotRunning
    assert instance in reason and "not in a running state" in reason, reason
    assert took < AT_ONCE, f"took {took:.1f}s of its {PATIENT:g}s timeout"
    assert [aws.health(arn) for arn in arns] == [[], []]


def test_allow_fails_at_once_when_the_instance_stops_once_registered(aws):
    arns = aws.target_groups("instance")
    instance = aws.running_instance()
    host = HostSpec("h1", "10.0.1.10", lb_target=instance)
    client = aws.elbv2_client(aws.endpoint)
    registered: List[str] = []

    def stop_after_the_last_registration(**_: Any) -> None:
        registered.append(instance)
        if len(registered) == len(arns):
            aws.stop(instance)

    client.meta.events.register(
        "after-call.elastic-load-balancing-v2.RegisterTargets", stop_after_the_last_registration
    )
    lb = aws.adapter(arns, client)

    reason, took = timed(lambda: lb.allow(host, PATIENT))

    assert len(registered) == 2, "the instance was registered in both groups while running"
    assert one_line(reason) == f"target {instance} is unused in target group web-instance-0 ({STOPPED})"
    assert took < AT_ONCE, f"took {took:.1f}s of its {PATIENT:g}s timeout"
    assert lb.healthy([host]) == {"h1": False}


@pytest.mark.parametrize("deleted", [0, 1], ids=["first-group-deleted", "second-group-deleted"])
def test_block_after_a_target_group_is_deleted_is_a_reason_not_an_exception(aws, deleted):
    arns = aws.target_groups("ip")
    host = HostSpec("h1", "10.0.1.11")
    lb = aws.adapter(arns)
    assert lb.allow(host, 5) is None and lb.healthy([host]) == {"h1": True}
    aws.elbv2.delete_target_group(TargetGroupArn=arns[deleted])

    reason, took = timed(lambda: lb.block(host, PATIENT))

    assert one_line(reason).startswith("elbv2 "), reason
    assert "TargetGroupNotFound" in reason, reason
    assert took < AT_ONCE, f"took {took:.1f}s of its {PATIENT:g}s timeout"
    assert lb.healthy([host]) == {"h1": False}


def test_check_passes_and_changes_nothing_when_every_target_group_exists(aws):
    arns = aws.target_groups("ip")

    assert aws.adapter(arns).check([HostSpec("h1", "10.0.1.11"), HostSpec("h2", "10.0.1.12")]) == []
    assert [aws.health(arn) for arn in arns] == [[], []]


def test_check_names_the_one_missing_target_group_with_a_fix_and_changes_nothing(aws):
    [good] = aws.target_groups("ip", count=1)
    aws.elbv2.register_targets(TargetGroupArn=good, Targets=[{"Id": "10.0.1.20"}])
    before = aws.health(good)

    problems = aws.adapter([good, MISSING_ARN]).check([HostSpec("h1", "10.0.1.11")])

    assert [key for key, _ in problems] == ["load_balancer.target_group_arns[1]"], problems
    text = one_line(problems[0][1])
    assert text.startswith("elbv2 describe_target_groups: TargetGroupNotFound: "), text
    assert text.endswith("; fix the ARN, the region, load_balancer.endpoint_url or the credentials"), text
    assert aws.health(good) == before


def test_a_stopped_emulator_gives_one_line_reasons_in_bounded_time(monkeypatch, tmp_path):
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # a faster start: no AMIs needed here
    with moto_server() as gone:
        use_emulator(monkeypatch, gone, tmp_path, credentials=False)
        sign_with_the_test_secret(monkeypatch)
        emulator = Emulator.at(gone)
        arns = emulator.target_groups("ip")
        host = HostSpec("h1", "10.0.1.11")
        lb = Elbv2LoadBalancer(arns, REGION, poll=POLL, client=Emulator.elbv2_client(gone, FAIL_FAST))
        assert lb.allow(host, 5) is None and lb.check([host]) == []
    unreachable = f'Could not connect to the endpoint URL: "{gone}/"'

    allowed, allow_took = timed(lambda: lb.allow(host, PATIENT))
    blocked, block_took = timed(lambda: lb.block(host, PATIENT))
    problems, check_took = timed(lambda: lb.check([host]))

    first = arns[0].split("/")[-2]
    assert one_line(allowed) == f"elbv2 register_targets ({first}): {unreachable}"
    assert one_line(blocked) == f"elbv2 describe_target_health ({first}): {unreachable}"
    assert [key for key, _ in problems] == [f"load_balancer.target_group_arns[{i}]" for i in (0, 1)]
    for _, text in problems:
        assert one_line(text).startswith(f"elbv2 describe_target_groups: {unreachable}"), text
    assert max(allow_took, block_took, check_took) < AT_ONCE, (allow_took, block_took, check_took)
    assert lb.healthy([host]) == {"h1": False}


def test_credentials_never_appear_in_a_reason(aws):
    """The adapter's own client (built from the environment) signs with SECRET, yet no reason of the
    failure paths above carries it."""
    arns = aws.target_groups("instance", count=1)
    lb = aws.adapter(arns + [MISSING_ARN])
    assert boto3.DEFAULT_SESSION is not None, "the adapter built its client from boto3's default session"
    signing = boto3.DEFAULT_SESSION.get_credentials()
    assert (signing.access_key, signing.secret_key) == (ACCESS_KEY, SECRET)
    stopped = aws.running_instance()
    aws.stop(stopped)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens once the probe is closed
    nowhere = Elbv2LoadBalancer(arns, REGION, poll=POLL, client=Emulator.elbv2_client(closed, FAIL_FAST))
    host = HostSpec("h1", "10.0.1.11")

    reasons = [
        lb.allow(host, 5),  # TargetGroupNotFound on the second group
        lb.block(host, 5),
        lb.allow(HostSpec("h2", "10.0.1.12", lb_target=stopped), 5),  # InvalidTarget
        *(text for _, text in lb.check([host])),
        nowhere.allow(host, 5),
        nowhere.block(host, 5),
        *(text for _, text in nowhere.check([host])),
    ]

    assert len(reasons) == 7 and all(one_line(reason) for reason in reasons), reasons


def test_allow_and_block_return_within_their_timeout_when_the_endpoint_never_answers(signed):
    """The controller builds the adapter without a client (commands.load_balancer_for), so this is the
    client it gets. An endpoint that accepts connections and never answers: a frozen emulator, a proxy
    that black-holes. allow and block are bounded by their timeout, plus one API call that gives up
    (lb.API_CALL_LIMIT)."""
    timeout, grace = 2.0, API_CALL_LIMIT + 2.0
    with socket.socket() as frozen:
        frozen.bind(("127.0.0.1", 0))
        frozen.listen(16)  # the kernel completes the handshakes; nobody ever reads the requests
        frozen_url = f"http://127.0.0.1:{frozen.getsockname()[1]}"
        lb = Elbv2LoadBalancer([MISSING_ARN], REGION, endpoint_url=frozen_url, poll=POLL)
        host = HostSpec("h1", "10.0.1.11")
        answers: Dict[str, Optional[str]] = {}
        calls = {"allow": lambda: lb.allow(host, timeout), "block": lambda: lb.block(host, timeout)}
        workers = [
            threading.Thread(target=lambda n=name, c=call: answers.update({n: c()}), daemon=True)
            for name, call in calls.items()
        ]
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + timeout + grace
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        late = sorted(set(calls) - set(answers))
    assert not late, (
        f"{' and '.join(late)} with timeout "
        f"{timeout:g}s had not returned after {timeout + grace:g}s against an endpoint that never answers"
    )
    for reason in answers.values():
        one_line(reason)
