"""The deployment group file: defaults, paths, and one precise `FILE:LINE:COL: key.path: message` line per
problem."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

from agent_shim.fleet.config import HALF_AT_A_TIME, ONE_AT_A_TIME
from agent_shim.fleet.group import SCHEMA, GroupFileError, HealthCheck, load_group
from appspec_tools.cli import main

pytestmark = pytest.mark.fleet

MINIMAL = """\
application: SampleApp
deployment_group: web
hosts:
  - host: web1.example.com
"""


def write(tmp_path: Path, text: str, name: str = "group.yml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def errors(tmp_path: Path, text: str) -> list:
    with pytest.raises(GroupFileError) as caught:
        load_group(write(tmp_path, text))
    return caught.value.errors


def test_a_minimal_group_gets_codedeploys_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    group = load_group(write(tmp_path, MINIMAL))
    assert (group.application, group.name) == ("SampleApp", "web")
    assert group.config.name == ONE_AT_A_TIME
    assert group.health_check == HealthCheck("/health", None, 5, 2, 2, 2, "200")  # the seed's target group
    assert not group.load_balancer.enabled and group.blue_green is None and not group.auto_rollback
    assert group.max_parallel_ssh == 10
    assert group.history_path == str(tmp_path / "state" / "appspec" / "history.sqlite")
    (host,) = group.hosts
    assert (host.name, host.address, host.port, host.user) == (
        "web1.example.com",
        "web1.example.com",
        None,
        None,
    )


def test_every_setting_is_read(tmp_path):
    path = write(
        tmp_path,
        """\
        application: SampleApp
        deployment_group: web
        deployment_config: CodeDeployDefault.HalfAtATime
        hosts:
          - {name: web1, host: 10.0.0.1, port: 2222, user: deploy, key: keys/id, lb_server: s1, root: /srv/root}
          - {host: local, name: here, root: roots/here, install_root: inst/here, environment: {APP_PORT: 8081}}
          - web3
        load_balancer: {type: haproxy, socket: run/haproxy.sock, backend: app, drain_timeout: 10}
        health_check: {path: /ping, port: 8080, interval: 1, timeout: 0.5, healthy_threshold: 3, success_codes: 200-299}
        auto_rollback: true
        max_parallel_ssh: 3
        host_timeout: 600
        file_exists_behavior: OVERWRITE
        ignore_application_stop_failures: true
        history: state/history.sqlite
        ssh: {known_hosts: known, host_key_policy: accept-new}
        """,
    )
    group = load_group(path)
    web1, here, web3 = group.hosts
    assert group.config.name == HALF_AT_A_TIME
    assert (web1.port, web1.user, web1.key, web1.lb_server, web1.root) == (
        2222,
        "deploy",
        str(tmp_path / "keys" / "id"),
        "s1",
        "/srv/root",  # a path on that host: left as written
    )
    assert here.root == str(tmp_path / "roots" / "here")  # a local host's paths are the controller's
    assert here.environment == {  # the group's health check is the hooks' default, under the host's own
        "APP_PORT": "8081",
        "HOOKS_DEFAULT_HEALTH_PATH": "/ping",
        "HOOKS_DEFAULT_HEALTH_INTERVAL": "1",
        "HOOKS_DEFAULT_HEALTH_TIMEOUT": "0.5",
        "HOOKS_DEFAULT_HEALTH_HEALTHY_THRESHOLD": "3",
        "HOOKS_DEFAULT_HEALTH_UNHEALTHY_THRESHOLD": "2",
        "HOOKS_DEFAULT_HEALTH_SUCCESS_CODES": "200-299",
        "HOOKS_DEFAULT_HEALTH_URL": "http://${APP_HOST}:8080${HEALTH_PATH}",
    }
    assert (web3.name, web3.address) == ("web3", "web3")
    assert group.load_balancer.socket == str(tmp_path / "run" / "haproxy.sock")
    assert group.load_balancer.drain_timeout == 10 and group.load_balancer.healthy_timeout == 300
    assert group.health_check.accepts(204) and not group.health_check.accepts(302)
    assert group.auto_rollback and group.max_parallel_ssh == 3 and group.host_timeout == 600
    assert group.history_path == str(tmp_path / "state" / "history.sqlite")
    assert group.ssh.known_hosts == str(tmp_path / "known") and group.ssh.host_key_policy == "accept-new"


def test_a_custom_minimum_and_blue_green(tmp_path):
    group = load_group(
        write(
            tmp_path,
            """\
            application: A
            deployment_group: g
            deployment_config: {name: Custom, minimum_healthy_hosts: {type: FLEET_PERCENT, value: 75}}
            hosts: [a, b, c, d]
            blue_green: {blue: [a, b], green: [c, d], keep_blue_seconds: 60}
            """,
        )
    )
    assert group.config.name == "Custom" and group.config.minimum(4) == 3
    assert group.blue_green.blue == ("a", "b") and group.blue_green.keep_blue_seconds == 60


def test_an_ssh_config_alias_leaves_port_and_user_to_ssh_config(tmp_path):
    """A bare alias must not get a default port or user: fabric fills them from the ssh_config file."""
    fabric = pytest.importorskip("fabric")
    config = tmp_path / "ssh_config"
    config.write_text("Host web-alias\n  HostName 192.0.2.7\n  Port 2200\n  User deployer\n")
    group = load_group(
        write(tmp_path, MINIMAL.replace("web1.example.com", "web-alias") + "ssh: {config: ssh_config}\n")
    )
    (spec,) = group.hosts
    assert group.ssh.config == str(config)
    connection = fabric.Connection(
        spec.address, port=spec.port, user=spec.user, config=fabric.Config(runtime_ssh_path=group.ssh.config)
    )
    assert (connection.host, connection.port, connection.user) == ("192.0.2.7", 2200, "deployer")


def test_the_port_error_names_the_key_path_and_its_line(tmp_path):
    found = errors(tmp_path, MINIMAL + "  - host: web2\n  - host: web3\n    port: 70000\n")
    assert found == [
        f"{tmp_path / 'group.yml'}:7:11: hosts[2].port: 70000 is greater than the maximum of 65535"
    ]


def test_unknown_keys_are_placed_on_the_key_with_a_suggestion(tmp_path):
    found = errors(tmp_path, MINIMAL + "    prot: 22\nauto_rolback: true\n")
    assert [e.split(": ", 1)[1] for e in found] == [
        "hosts[0]: unknown key 'prot' (did you mean 'port'?)",
        "unknown key 'auto_rolback' (did you mean 'auto_rollback'?)",
    ]
    assert [e.split(":")[1:3] for e in found] == [["5", "5"], ["6", "1"]]


def test_each_problem_is_one_line_sorted_by_position(tmp_path):
    found = errors(
        tmp_path,
        """\
        application: A
        deployment_group: web/1
        deployment_config: CodeDeployDefault.Fastest
        hosts:
          - {host: a, environment: {1BAD: x}}
        load_balancer: {type: haproxy, socket: /run/h.sock}
        max_parallel_ssh: 0
        """,
    )
    lines = [e.split(":", 1)[1] for e in found]
    assert lines == [
        "2:19: deployment_group: 'web/1': use letters, digits, '.', '_' or '-' (it names a folder on the hosts)",
        "3:20: deployment_config: 'CodeDeployDefault.Fastest' is not one of CodeDeployDefault.OneAtATime, "
        "CodeDeployDefault.HalfAtATime, CodeDeployDefault.AllAtOnce",
        "5:29: hosts[0].environment: '1BAD' is not a valid environment variable name",
        "6:16: load_balancer: 'backend' is a required property",
        "7:19: max_parallel_ssh: 0 is less than the minimum of 1",
    ]
    assert all("\n" not in e for e in found)


def test_a_missing_required_key_points_at_the_enclosing_mapping(tmp_path):
    found = errors(tmp_path, "application: A\nhosts: [a]\n")
    assert found == [f"{tmp_path / 'group.yml'}:1:1: 'deployment_group' is a required property"]


def test_minimum_healthy_hosts_errors_point_inside_the_custom_config(tmp_path):
    text = MINIMAL + "deployment_config:\n  minimum_healthy_hosts: {type: FLEET_PERCENT, value: 150}\n"
    (found,) = errors(tmp_path, text)
    assert found.endswith(
        ":6:55: deployment_config.minimum_healthy_hosts.value: 150 is greater than the maximum of 100"
    )


def test_duplicate_keys_are_errors(tmp_path):
    found = errors(tmp_path, MINIMAL + "application: B\n")
    assert [e.split(":", 1)[1] for e in found] == ["5:1: duplicate key 'application' (first at line 1)"]


def test_host_names_must_be_unique(tmp_path):
    found = errors(tmp_path, MINIMAL + "  - {name: web1.example.com, host: 10.0.0.2}\n")
    assert [e.split(":", 1)[1] for e in found] == [
        "5:12: hosts[1]: host name 'web1.example.com' is also hosts[0]'s; give each a `name`"
    ]


def test_blue_green_sets_must_name_hosts_of_the_file_once(tmp_path):
    found = errors(
        tmp_path, MINIMAL + "  - b\n  - c\nblue_green: {blue: [web1.example.com, b], green: [b, x]}\n"
    )
    assert [e.split(": ", 1)[1] for e in found] == [
        "blue_green: hosts in neither set: c",
        "blue_green.green[0]: 'b' is in both sets",
        "blue_green.green[1]: no host named 'x' in hosts",
    ]


def test_yaml_syntax_errors_and_empty_files_have_a_place(tmp_path):
    (syntax,) = errors(tmp_path, "application: [A\n")
    assert syntax.startswith(f"{tmp_path / 'group.yml'}:2:1: YAML syntax error")
    (empty,) = errors(tmp_path, "# nothing\n")
    assert empty.endswith(":1:1: deployment group file is empty")
    with pytest.raises(GroupFileError, match="cannot read"):
        load_group(str(tmp_path / "missing.yml"))


def test_a_json_group_file_works_too(tmp_path):
    path = write(
        tmp_path, '{"application": "A", "deployment_group": "g", "hosts": [{"host": "local"}]}', "g.json"
    )
    assert load_group(path).hosts[0].address == "local"


def test_the_schema_is_a_valid_draft_2020_12_schema():
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_command_line_prints_the_errors_and_exits_2(tmp_path):
    path = write(tmp_path, MINIMAL + "max_parallel_ssh: many\n")
    out, err = io.StringIO(), io.StringIO()
    assert main(["fleet", "status", "--group", path], out, err) == 2
    assert err.getvalue() == f"{path}:5:19: max_parallel_ssh: 'many' is not of type 'integer'\n"
    assert main(["fleet", "status"], out, err) == 2
    assert "appspec fleet status: the following arguments are required: --group" in err.getvalue()


def test_the_group_file_path_is_reported_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "application: A\n")
    with pytest.raises(GroupFileError) as caught:
        load_group("group.yml")
    assert caught.value.errors[0].startswith("group.yml:1:1:")
