"""The ELBv2 path of deregister_from_lb.py / register_with_lb.py: boto3 against moto's server mode on
loopback, IMDSv2 against a local fake metadata service. Nothing here contacts 169.254.169.254 or AWS."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import hookkit
import loadbalancer
import pytest
from conftest import HOOKS, clean_environ, free_port, listening, run_hook, wait_for

boto3 = pytest.importorskip("boto3")

DEREGISTER = HOOKS / "deregister_from_lb.py"
REGISTER = HOOKS / "register_with_lb.py"
AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=dict(clean_environ(), **AWS),
        )
    try:
        wait_for(lambda: server.poll() is not None or listening(port), timeout=30, what="moto server")
        assert server.poll() is None, f"moto server did not start: {log_path.read_text()[-500:]}"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def target_group(moto_endpoint):
    """A VPC, one instance and an HTTP target group in moto; returns (arn, instance id, elbv2 client)."""
    kwargs = dict(
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    ec2 = boto3.client("ec2", **kwargs)
    elbv2 = boto3.client("elbv2", **kwargs)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=subnet)
    instance_id = instance["Instances"][0]["InstanceId"]
    name = f"tg-{free_port()}"
    arn = elbv2.create_target_group(
        Name=name, Protocol="HTTP", Port=8080, VpcId=vpc, HealthCheckPath="/health"
    )["TargetGroups"][0]["TargetGroupArn"]
    return arn, instance_id, elbv2


def elb_env(hook_env, moto_endpoint, **settings):
    return hook_env(**{**AWS, "AWS_ENDPOINT_URL": moto_endpoint, "LB_POLL_INTERVAL": "0.05", **settings})


def state(elbv2, arn, instance_id):
    [description] = elbv2.describe_target_health(TargetGroupArn=arn, Targets=[{"Id": instance_id}])[
        "TargetHealthDescriptions"
    ]
    return description["TargetHealth"]["State"]


def test_register_then_deregister_with_an_explicit_target_id(target_group, moto_endpoint, hook_env):
    arn, instance_id, elbv2 = target_group
    env = elb_env(hook_env, moto_endpoint, TARGET_GROUP_ARNS=arn, TARGET_ID=instance_id)

    registered = run_hook(REGISTER, env)
    assert registered.returncode == 0, registered
    assert f"registered {instance_id} (was unused)" in registered.stdout
    assert f"target {instance_id} is healthy" in registered.stdout  # moto reports healthy at once
    assert state(elbv2, arn, instance_id) == "healthy"
    again = run_hook(REGISTER, env)
    assert again.returncode == 0 and "already registered and healthy" in again.stdout

    drained = run_hook(DEREGISTER, env)
    assert drained.returncode == 0, drained
    assert f"deregistered {instance_id} (was healthy)" in drained.stdout
    assert f"target {instance_id} is unused (Target.NotRegistered)" in drained.stdout
    assert state(elbv2, arn, instance_id) == "unused"
    again = run_hook(DEREGISTER, env)
    assert again.returncode == 0 and "not registered: nothing to drain" in again.stdout


def test_unknown_target_group_fails_with_code_5(target_group, moto_endpoint, hook_env):
    arn, instance_id, _ = target_group
    missing = arn.rsplit("/", 2)[0] + "/missing/0123456789abcdef"
    result = run_hook(
        REGISTER, elb_env(hook_env, moto_endpoint, TARGET_GROUP_ARNS=missing, TARGET_ID=instance_id)
    )
    assert result.returncode == hookkit.EXIT_LOAD_BALANCER, result
    assert "elbv2 describe_target_health: TargetGroupNotFound" in result.stderr
    assert "Traceback" not in result.output


def test_missing_boto3_is_a_one_line_prerequisite_error(tmp_path, hook_env):
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "boto3.py").write_text("raise ImportError('No module named boto3')\n")
    arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"
    result = run_hook(
        REGISTER, hook_env(PYTHONPATH=shadow, TARGET_GROUP_ARNS=arn, TARGET_ID="i-0123456789abcdef0")
    )
    assert result.returncode == hookkit.EXIT_PREREQUISITE, result
    assert "boto3 is not installed" in result.stderr and "Traceback" not in result.output


class FakeMetadata:
    """IMDSv2 only: PUT /latest/api/token with a TTL header gives a token; GETs need it (401 otherwise)."""

    TOKEN = "token-123"

    def __init__(self, values):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self):  # noqa: N802
                outer.requests.append(
                    ("PUT", self.path, self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"))
                )
                ok = self.path == "/latest/api/token" and self.headers.get(
                    "X-aws-ec2-metadata-token-ttl-seconds"
                )
                self.answer(200 if ok else 400, outer.TOKEN if ok else "")

            def do_GET(self):  # noqa: N802
                outer.requests.append(("GET", self.path, self.headers.get("X-aws-ec2-metadata-token")))
                if self.headers.get("X-aws-ec2-metadata-token") != outer.TOKEN:
                    self.answer(401, "")
                elif self.path in values:
                    self.answer(200, values[self.path])
                else:
                    self.answer(404, "")

            def answer(self, status, text):
                body = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def metadata():
    servers = []

    def make(values):
        servers.append(FakeMetadata(values))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def test_imdsv2_client_puts_a_token_then_gets_with_it(metadata):
    fake = metadata({"/latest/meta-data/instance-id": "i-0abc"})
    client = loadbalancer.InstanceMetadata(fake.endpoint)
    assert client.get("/latest/meta-data/instance-id") == "i-0abc"
    assert client.get("/latest/meta-data/instance-id") == "i-0abc"
    assert fake.requests == [
        ("PUT", "/latest/api/token", "21600"),
        ("GET", "/latest/meta-data/instance-id", FakeMetadata.TOKEN),
        ("GET", "/latest/meta-data/instance-id", FakeMetadata.TOKEN),
    ]


def test_unreachable_metadata_says_what_to_set(hook_env):
    with pytest.raises(hookkit.PrerequisiteError, match="elsewhere set TARGET_ID and AWS_REGION"):
        loadbalancer.InstanceMetadata(f"http://127.0.0.1:{free_port()}", timeout=0.5).get(
            "/latest/meta-data/x"
        )


def test_register_finds_instance_id_and_region_through_imdsv2(
    target_group, moto_endpoint, metadata, hook_env
):
    arn, instance_id, elbv2 = target_group
    fake = metadata(
        {"/latest/meta-data/instance-id": instance_id, "/latest/meta-data/placement/region": "us-east-1"}
    )
    env = elb_env(hook_env, moto_endpoint, TARGET_GROUP_ARNS=arn, IMDS_ENDPOINT=fake.endpoint)
    del env["AWS_DEFAULT_REGION"]
    result = run_hook(REGISTER, env)
    assert result.returncode == 0, result
    assert (
        f"instance id {instance_id} (from IMDSv2)" in result.stdout
        and "region us-east-1 (from IMDSv2)" in result.stdout
    )
    assert state(elbv2, arn, instance_id) == "healthy"
    assert [method for method, _, _ in fake.requests] == ["PUT", "GET", "GET"]


class ScriptedElbv2:
    """A stand-in for the boto3 client whose target health follows a script, to exercise the waiting."""

    def __init__(self, states):
        self.states = list(states)
        self.calls = []

    def describe_target_health(self, TargetGroupArn, Targets):  # noqa: N803 - boto3's names
        self.calls.append("describe_target_health")
        current = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        state, _, reason = current.partition("/")
        health = {"State": state, **({"Reason": reason} if reason else {})}
        return {"TargetHealthDescriptions": [{"Target": Targets[0], "TargetHealth": health}]}

    def deregister_targets(self, **kwargs):
        self.calls.append("deregister_targets")

    def register_targets(self, **kwargs):
        self.calls.append("register_targets")

    def describe_target_group_attributes(self, **kwargs):
        return {"Attributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "0"}]}


def scripted(states, **settings):
    arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"
    config = hookkit.Config(
        {}, {"TARGET_GROUP_ARNS": arn, "TARGET_ID": "i-1", "LB_POLL_INTERVAL": "0.01", **settings}
    )
    client = ScriptedElbv2(states)
    return loadbalancer.TargetGroups(config, hookkit.HookLog("test"), client=client), client


def test_deregister_waits_while_the_target_is_draining(capsys):
    groups, client = scripted(["healthy", "healthy", "draining", "draining", "unused"])
    groups.deregister()
    assert client.calls.count("describe_target_health") == 5
    assert "target i-1 is draining" in capsys.readouterr().out


def test_register_waits_through_initial_and_unhealthy(capsys):
    groups, client = scripted(["unused", "initial", "unhealthy", "healthy"])
    groups.register()
    assert client.calls == ["describe_target_health", "register_targets"] + ["describe_target_health"] * 3


def test_draining_that_never_ends_times_out_with_the_state():
    groups, _ = scripted(["healthy", "draining"], LB_WAIT_TIMEOUT="0.1")
    with pytest.raises(hookkit.LoadBalancerError, match="target i-1 not drained .* within 0.1s: draining"):
        groups.deregister()


def test_target_group_without_load_balancer_cannot_turn_healthy_and_says_so(capsys):
    groups, client = scripted(["unused/Target.NotInUse"])
    groups.register()
    assert client.calls == ["describe_target_health", "register_targets", "describe_target_health"]
    assert "not used by any load balancer: no health check to wait for" in capsys.readouterr().err
