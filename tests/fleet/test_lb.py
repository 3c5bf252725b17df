"""Load-balancer adapters against the real thing: HAProxy's runtime API in front of simulated hosts,
and ELBv2 through boto3 against moto's server mode on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from agent_shim.fleet.contracts import HostSpec
from agent_shim.fleet.lb import Elbv2LoadBalancer, HaproxyLoadBalancer, NoLoadBalancer, describe_check
from agent_shim.fleet.simulated import MARKER

pytestmark = [pytest.mark.fleet, pytest.mark.slow]

# A stand-in app for the drain tests: /health answers at once, /slow after SLOW seconds.
SLOW_APP = """
import os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/slow":
            time.sleep(float(os.environ.get("SLOW", "2")))
        body = b"ok\\n"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass
ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
"""


@pytest.fixture
def balanced(make_fleet, tmp_path):
    """Two hosts behind HAProxy, each running the stand-in app (started over SSH, inside its namespace)."""
    fleet = make_fleet(2)
    script = tmp_path / "slow_app.py"
    script.write_text(SLOW_APP)
    for host in fleet.hosts:
        marker = (
            f"{MARKER}={host.spec.environment[MARKER]}"  # a process of this host, for kill_host and teardown
        )
        command = (
            f"{marker} setsid python3 {script} {host.address} {fleet.app_port} </dev/null >/dev/null 2>&1 &"
        )
        assert fleet.transport(host.name).run(command).ok
    lb = fleet.load_balancer()
    for host in fleet.hosts:
        assert lb.allow(host.spec, 10) is None
    return fleet, lb


def test_allow_waits_until_haproxy_sees_the_host_up(balanced):
    fleet, lb = balanced
    assert lb.healthy(fleet.specs) == {"h1": True, "h2": True}
    assert requests.get(fleet.url, timeout=3).text == "ok\n"


def test_block_drains_and_waits_for_open_sessions(balanced):
    fleet, lb = balanced
    h1 = fleet.host("h1").spec
    assert lb.block(fleet.host("h2").spec, 5) is None  # every request now goes to h1
    answers = []
    slow = threading.Thread(target=lambda: answers.append(requests.get(fleet.url + "slow", timeout=10)))
    slow.start()
    deadline = time.monotonic() + 5
    while int(lb.stats()["h1"]["scur"]) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    assert lb.block(h1, 10) is None
    waited = time.monotonic() - started
    slow.join()
    assert answers[0].status_code == 200  # the open request finished on the drained server
    assert waited >= 0.5
    assert lb.healthy(fleet.specs) == {"h1": False, "h2": False}
    assert lb.allow(h1, 10) is None and lb.healthy([h1]) == {"h1": True}


def test_block_gives_up_after_its_timeout_with_the_reason(balanced):
    fleet, lb = balanced
    lb.block(fleet.host("h2").spec, 5)
    slow = threading.Thread(target=lambda: requests.get(fleet.url + "slow", timeout=10))
    slow.start()
    time.sleep(0.3)
    reason = lb.block(fleet.host("h1").spec, 0.3)
    slow.join()
    assert reason is not None and "web/h1 not drained within 0.3s" in reason and "current session" in reason


def test_allow_fails_when_the_health_check_never_passes(balanced):
    fleet, lb = balanced
    h1 = fleet.host("h1").spec
    lb.block(h1, 5)
    fleet.kill_host("h1")
    reason = lb.allow(h1, 1.5)
    assert reason is not None and reason.startswith("web/h1 not UP within 1.5s")
    assert lb.healthy(fleet.specs) == {"h1": False, "h2": True}


def test_unknown_server_and_missing_socket_are_reasons(make_fleet, tmp_path):
    fleet = make_fleet(1)
    ghost = HostSpec("ghost", "10.213.255.1")
    assert "has no server ghost" in fleet.load_balancer().allow(ghost, 1)
    nowhere = HaproxyLoadBalancer(str(tmp_path / "missing.sock"), "web")
    assert "HAProxy runtime API" in nowhere.block(ghost, 1)
    assert nowhere.healthy([ghost]) == {"ghost": False}


@pytest.mark.parametrize(
    "row, said",
    [
        (
            {
                "status": "DOWN",
                "check_status": "L7STS",
                "check_code": "500",
                "last_chk": "Internal Server Error",
            },
            "DOWN, last check: HTTP status 500 (L7STS, Internal Server Error)",
        ),
        # a check in progress: HAProxy shows the last result behind "* " and no code
        (
            {"status": "DOWN", "check_status": "* L7STS", "check_code": "", "last_chk": ""},
            "DOWN, last check: a failing HTTP status (L7STS)",
        ),
        (
            {"status": "DOWN", "check_status": "* L4CON", "check_code": "", "last_chk": "Connection refused"},
            "DOWN, last check: connection refused or reset (L4CON, Connection refused)",
        ),
        (
            {"status": "MAINT", "check_status": "", "check_code": "", "last_chk": ""},
            "MAINT, last check: no check yet",
        ),
    ],
)
def test_a_check_row_is_said_in_words_even_while_a_new_check_runs(row, said):
    assert describe_check(row) == said


def test_no_load_balancer_does_nothing():
    lb = NoLoadBalancer()
    host = HostSpec("h1", "10.213.0.11")
    assert lb.block(host, 1) is None and lb.allow(host, 1) is None and lb.healthy([host]) == {"h1": True}


# -- ELBv2 against moto ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint():
    pytest.importorskip("moto.server", reason="moto[server] is not installed (pip install -e '.[test]')")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(endpoint + "/moto-api/", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("moto server did not start")
                time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def target_groups(moto_endpoint, monkeypatch):
    import boto3

    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto_endpoint)
    elbv2 = boto3.client("elbv2", region_name="us-east-1", endpoint_url=moto_endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    arns = []
    for index in range(2):
        group = elbv2.create_target_group(
            Name=f"web-{index}-{os.getpid()}-{time.monotonic_ns() % 100000}",
            Protocol="HTTP",
            Port=8080,
            VpcId=vpc,
            TargetType="ip",
            HealthCheckPath="/health",
        )
        arns.append(group["TargetGroups"][0]["TargetGroupArn"])
    return elbv2, arns


def test_elbv2_deregisters_and_registers_in_every_target_group(target_groups, moto_endpoint):
    client, arns = target_groups
    lb = Elbv2LoadBalancer(arns, "us-east-1", endpoint_url=moto_endpoint, poll=0.05)
    host = HostSpec("h1", "10.0.0.11")
    assert lb.allow(host, 5) is None
    for arn in arns:
        health = client.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        assert [(d["Target"]["Id"], d["TargetHealth"]["State"]) for d in health] == [("10.0.0.11", "healthy")]
    assert lb.healthy([host]) == {"h1": True}
    assert lb.block(host, 5) is None
    for arn in arns:
        assert client.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"] == []
    assert lb.healthy([host]) == {"h1": False}
    assert lb.block(host, 5) is None  # twice is fine


def test_elbv2_errors_are_reasons(moto_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nope/0123456789abcdef"
    lb = Elbv2LoadBalancer([arn], "us-east-1", endpoint_url=moto_endpoint, poll=0.05)
    reason = lb.allow(HostSpec("h1", "10.0.0.11", lb_target="10.0.0.12"), 1)
    assert reason is not None and reason.startswith("elbv2 register_targets (nope): TargetGroupNotFound")
