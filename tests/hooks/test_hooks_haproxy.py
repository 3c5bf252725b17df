"""deregister_from_lb.py / register_with_lb.py against a real HAProxy with two sample apps behind it."""

from __future__ import annotations

import socket

import hookkit
import loadbalancer
import pytest
from conftest import HOOKS, HAProxy, read_until, run_hook, start_hook, wait_for

DEREGISTER = HOOKS / "deregister_from_lb.py"
REGISTER = HOOKS / "register_with_lb.py"

pytestmark = pytest.mark.slow


@pytest.fixture
def farm(tmp_path, sample_app):
    """HAProxy (balance first: web1 takes every new connection while it is ready) over two sample apps."""
    versions = {}
    for name in ("web1", "web2"):
        versions[name] = tmp_path / f"VERSION-{name}"
        versions[name].write_text(f"{name}\n")
    _, port1 = sample_app.start(SAMPLE_APP_VERSION_FILE=versions["web1"])
    _, port2 = sample_app.start(SAMPLE_APP_VERSION_FILE=versions["web2"])
    haproxy = HAProxy(tmp_path, port1, port2)
    haproxy.ports = {"web1": port1, "web2": port2}
    haproxy.versions = versions
    wait_for(
        lambda: all(haproxy.server(n)["status"] == "UP" for n in ("web1", "web2")), what="both servers UP"
    )
    yield haproxy
    haproxy.stop()


def lb_env(hook_env, haproxy, **settings):
    base = {"HAPROXY_SOCKET": haproxy.socket, "HAPROXY_BACKENDS": "web", "HAPROXY_SERVER": "web1"}
    return hook_env(**{**base, "LB_POLL_INTERVAL": "0.05", "LB_WAIT_TIMEOUT": "10", **settings})


def get_through(haproxy) -> str:
    with socket.create_connection(("127.0.0.1", haproxy.frontend_port), timeout=5) as connection:
        connection.sendall(b"GET / HTTP/1.0\r\n\r\n")
        return b"".join(iter(lambda: connection.recv(4096), b"")).decode()


def test_drain_waits_for_open_sessions_then_traffic_goes_elsewhere(farm, hook_env):
    assert "sample-app web1" in get_through(farm)
    client = socket.create_connection(("127.0.0.1", farm.frontend_port))  # an open session on web1
    wait_for(lambda: farm.server("web1")["scur"] == "1", what="the session on web1")
    hook = start_hook(DEREGISTER, lb_env(hook_env, farm))
    try:
        waiting = read_until(hook, "1 current session(s)")
        assert "haproxy: web/web1 state drain" in waiting
        client.close()
        rest = hook.stdout.read()
        assert hook.wait(timeout=10) == 0, waiting + rest
    finally:
        client.close()
        if hook.poll() is None:
            hook.kill()
        hook.wait()
        hook.stdout.close()
    assert "0 current session(s)" in rest and "haproxy: web1 drained in web" in rest
    assert farm.server("web1")["status"] == "DRAIN"
    assert "sample-app web2" in get_through(farm)
    again = run_hook(DEREGISTER, lb_env(hook_env, farm))
    assert again.returncode == 0, again


def test_drain_that_does_not_finish_in_time_fails_with_code_5(farm, hook_env):
    with socket.create_connection(("127.0.0.1", farm.frontend_port)):
        wait_for(lambda: farm.server("web1")["scur"] == "1", what="the session on web1")
        result = run_hook(DEREGISTER, lb_env(hook_env, farm, LB_WAIT_TIMEOUT="0.3"))
    assert result.returncode == hookkit.EXIT_LOAD_BALANCER, result
    assert "HAProxy server web/web1 not drained within 0.3s (DRAIN, 1 current session(s))" in result.stderr


def test_ready_waits_until_the_health_check_says_up(farm, hook_env, sample_app):
    assert run_hook(DEREGISTER, lb_env(hook_env, farm)).returncode == 0
    web1 = sample_app.processes[0]
    web1.kill()
    web1.wait()
    wait_for(lambda: _op_state(farm, "web1") == 0, what="HAProxy's check to see web1 DOWN")
    hook = start_hook(REGISTER, lb_env(hook_env, farm))
    try:
        waiting = read_until(hook, "srv_op_state 0")  # HAProxy still reports it down
        sample_app.start(port=farm.ports["web1"], SAMPLE_APP_VERSION_FILE=farm.versions["web1"])
        rest = hook.stdout.read()
        assert hook.wait(timeout=10) == 0, waiting + rest
    finally:
        if hook.poll() is None:
            hook.kill()
        hook.wait()
        hook.stdout.close()
    assert "haproxy: web/web1 state ready" in waiting
    assert "srv_op_state 2, srv_admin_state 0" in rest and "haproxy: web1 UP in web" in rest
    assert "sample-app web1" in get_through(farm)


def _op_state(farm, name) -> int:
    rows = loadbalancer.parse_servers_state(farm.command("show servers state web"))
    return int([r for r in rows if r["srv_name"] == name][0]["srv_op_state"])


def test_ready_for_a_server_that_stays_down_fails_with_code_5(farm, hook_env, sample_app):
    web1 = sample_app.processes[0]
    web1.kill()
    web1.wait()
    wait_for(lambda: _op_state(farm, "web1") == 0, what="web1 DOWN")
    result = run_hook(REGISTER, lb_env(hook_env, farm, LB_WAIT_TIMEOUT="0.3"))
    assert result.returncode == hookkit.EXIT_LOAD_BALANCER, result
    assert "HAProxy server web/web1 not UP within 0.3s (srv_op_state 0" in result.stderr


def test_runtime_api_over_tcp_and_register_twice(farm, hook_env):
    env = lb_env(hook_env, farm, HAPROXY_SOCKET=f"127.0.0.1:{farm.admin_port}")
    for _ in range(2):
        result = run_hook(REGISTER, env)
        assert result.returncode == 0, result
        assert "srv_op_state 2, srv_admin_state 0" in result.stdout


def test_unknown_server_fails_with_haproxys_answer(farm, hook_env):
    result = run_hook(DEREGISTER, lb_env(hook_env, farm, HAPROXY_SERVER="web9"))
    assert result.returncode == hookkit.EXIT_LOAD_BALANCER, result
    assert "HAProxy refused `set server web/web9 state drain`" in result.stderr


def test_unreachable_runtime_api_fails_with_code_5(tmp_path, hook_env):
    env = hook_env(HAPROXY_SOCKET=tmp_path / "none.sock", HAPROXY_BACKENDS="web", HAPROXY_SERVER="web1")
    result = run_hook(REGISTER, env)
    assert result.returncode == hookkit.EXIT_LOAD_BALANCER, result
    assert "is HAProxy running with `stats socket ... level admin`?" in result.stderr


def test_parsers_follow_the_management_guide_formats():
    state = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state\n3 web 1 web1 10.0.0.1 2 8\n"
    assert loadbalancer.parse_servers_state(state)[0]["srv_admin_state"] == "8"
    stat = "# pxname,svname,qcur,qmax,scur\nweb,web1,0,0,3\n"
    assert loadbalancer.parse_stat(stat) == [
        {"pxname": "web", "svname": "web1", "qcur": "0", "qmax": "0", "scur": "3"}
    ]
    assert loadbalancer.parse_runtime_address("ipv4@127.0.0.1:9999") == (socket.AF_INET, ("127.0.0.1", 9999))
    assert loadbalancer.parse_runtime_address("unix@/run/admin.sock") == (socket.AF_UNIX, "/run/admin.sock")
    with pytest.raises(hookkit.ConfigError, match="HAPROXY_SOCKET=admin"):
        loadbalancer.parse_runtime_address("admin")
