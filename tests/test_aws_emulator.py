"""moto's server mode as the AWS the tests talk to, over HTTP on loopback, and what it can stand in for.

The other test_aws_* modules get one server each through the `endpoint` fixture (tests/conftest.py,
built on `moto_server()`) and point boto3 at it the way users point it at any endpoint:
`AWS_ENDPOINT_URL`. Operations moto does not implement (instance targets and their lifecycle events,
RegisterApplicationRevision, StopDeployment) are answered by botocore's Stubber on a client made by the
same `connect()` the commands use; the test below pins that
list, so a moto upgrade that adds them shows up here.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from typing import Iterator

import pytest
import requests

from appspec_tools.aws.session import connect

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/CodeDeployServiceRole"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """`python -m moto.server` on a free loopback port; yields its endpoint URL."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                    pytest.fail(f"moto server did not start on port {port}: {stderr[-2000:]}")
                time.sleep(0.05)  # nothing to await: the server gives no readiness signal but its port
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


def use_emulator(monkeypatch: pytest.MonkeyPatch, endpoint: str, tmp_path, credentials: bool = True) -> None:
    """Environment for boto3: the emulator's endpoint, fake keys, a region, and no user configuration."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    if credentials:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)


def create_group(clients, application: str = "web", group: str = "prod", **settings) -> None:
    clients.codedeploy.create_application(applicationName=application, computePlatform="Server")
    clients.codedeploy.create_deployment_group(
        applicationName=application, deploymentGroupName=group, serviceRoleArn=ROLE, **settings
    )


def test_emulator_serves_s3_and_codedeploy_over_http(endpoint, monkeypatch, tmp_path):
    use_emulator(monkeypatch, endpoint, tmp_path)
    clients = connect()
    assert clients.region == REGION
    assert clients.s3.meta.endpoint_url == endpoint
    clients.s3.create_bucket(Bucket="probe-bucket")
    create_group(clients)
    group = clients.codedeploy.get_deployment_group(applicationName="web", deploymentGroupName="prod")
    assert group["deploymentGroupInfo"]["deploymentGroupName"] == "prod"


@pytest.mark.parametrize(
    "operation, params",
    [
        ("list_deployment_targets", {"deploymentId": "d-ABCDEFGHI"}),
        ("stop_deployment", {"deploymentId": "d-ABCDEFGHI"}),
        (
            "register_application_revision",
            {
                "applicationName": "web",
                "revision": {
                    "revisionType": "S3",
                    "s3Location": {"bucket": "b", "key": "k", "bundleType": "zip"},
                },
            },
        ),
    ],
)
def test_emulator_lacks_what_the_stubber_answers(endpoint, monkeypatch, tmp_path, operation, params):
    """When this fails, moto gained the operation: move its tests from Stubber to the server."""
    from botocore.config import Config
    from botocore.exceptions import ClientError

    use_emulator(monkeypatch, endpoint, tmp_path)
    client = connect().session.client("codedeploy", config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as raised:
        getattr(client, operation)(**params)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] >= 500
