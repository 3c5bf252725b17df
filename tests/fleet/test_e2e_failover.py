"""The simulated fleet itself, end to end: its group file loads, a fifth host joins HAProxy, and when a
host's app dies under load HAProxy stops routing to it within interval × unhealthy threshold, with errors
confined to that window."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from agent_shim.fleet.contracts import SUCCEEDED
from agent_shim.fleet.group import load_group

pytestmark = [pytest.mark.fleet, pytest.mark.slow]


def deploy_directly(fleet, runner_zipapp, bundle, names=None):
    """The sample app on hosts in parallel with the transport alone (no controller), then in HAProxy."""
    outcomes = {}

    def one(name):
        transport = fleet.transport(name)
        runner = transport.ensure_runner(runner_zipapp.path, runner_zipapp.checksum)
        revision = transport.upload_revision(bundle.path, bundle.checksum)
        arguments = ["--bundle", revision, "--application", "sample-app", "--deployment-group", "simulated"]
        for option, value in (
            ("--root", transport.spec.root),
            ("--install-root", transport.spec.install_root),
        ):
            arguments += [option, value] if value else []  # the loopback fallback's own roots
        outcomes[name] = transport.run_deployment(runner, arguments, lambda e: None, 120)
        transport.close()

    threads = [threading.Thread(target=one, args=(n,)) for n in names or [h.name for h in fleet.hosts]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {n: o.status for n, o in outcomes.items()} == {n: SUCCEEDED for n in outcomes}, outcomes
    lb = fleet.load_balancer()
    for name in outcomes:
        assert lb.allow(fleet.host(name).spec, 15) is None
    return outcomes


def test_the_group_file_validates_and_names_every_host(make_fleet, tmp_path):
    fleet = make_fleet(2)
    group = load_group(fleet.write_group_file(deployment_config="CodeDeployDefault.HalfAtATime"))
    assert [h.name for h in group.hosts] == ["h1", "h2"]
    assert group.hosts[0] == fleet.host("h1").spec
    assert group.load_balancer.type == "haproxy" and group.load_balancer.socket == fleet.haproxy_socket
    assert (group.health_check.interval, group.health_check.unhealthy_threshold) == (0.5, 2)
    assert group.ssh.known_hosts == fleet.known_hosts


def test_a_fifth_host_joins_haproxy(make_fleet, runner_zipapp, sample_bundles):
    fleet = make_fleet(1)
    fifth = fleet.add_host()
    assert fifth.name == "h2" and fleet.load_balancer().healthy(fleet.specs) == {"h1": False, "h2": False}
    deploy_directly(fleet, runner_zipapp, sample_bundles["v1"], ["h2"])
    assert requests.get(fleet.url, timeout=3).text.startswith("sample-app 1.0.0")


def test_haproxy_stops_routing_to_a_dead_host_within_the_check_window(
    fleet, runner_zipapp, sample_bundles, load
):
    outcomes = deploy_directly(fleet, runner_zipapp, sample_bundles["v1"])
    server_of = {o.host_deployment_id: name for name, o in outcomes.items()}
    lb = fleet.load_balancer()
    window = fleet.check_interval * fleet.fall
    traffic = load(fleet.url, rate=25, limit=30)
    time.sleep(1.5)
    killed_at = time.time()
    assert fleet.kill_app("h2") is not None
    down_at = None
    while time.time() - killed_at < window + 3:
        if lb.stats()["h2"]["status"].startswith("DOWN"):
            down_at = time.time()
            break
        time.sleep(0.02)
    time.sleep(2)
    traffic.stop()
    assert down_at is not None, "HAProxy never marked h2 DOWN"
    assert down_at - killed_at <= window + 0.3  # interval × unhealthy threshold, plus polling slack
    assert traffic.rate_achieved() >= 20
    before = [r for r in traffic.results if r[0] < killed_at]
    assert before and all(ok for _, ok, _ in before)
    assert all(killed_at <= at <= down_at + 0.1 for at, _, _ in traffic.failures), traffic.failures
    after = [r for r in traffic.results if r[0] > down_at + 0.1]
    assert after and all(ok for _, ok, _ in after)
    served = {server_of.get(body.split("(deployment ")[-1].rstrip(")")) for _, ok, body in after if ok}
    assert served == {"h1", "h3", "h4"}
