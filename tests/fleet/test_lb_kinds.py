"""Load-balancer kinds as modules of agent_shim/fleet/lb/ that declare their own settings: the group file's
schema and the commands take them from the registry, so a new kind is one module."""

from __future__ import annotations

import sys
import textwrap

import pytest

from agent_shim.fleet import lb
from agent_shim.fleet.commands import load_balancer_for
from agent_shim.fleet.group import SCHEMA, GroupFileError, load_group
from agent_shim.fleet.lb import registry

NGINX = """
from agent_shim.fleet.lb.kind import LoadBalancerKind
from agent_shim.fleet.lb.none import NoLoadBalancer


class NginxUpstream(NoLoadBalancer):
    def __init__(self, api: str) -> None:
        self.api = api


KIND = LoadBalancerKind(
    name="nginx",
    rank=30,
    settings={"upstream_api": {"type": "string", "pattern": "^http"}},
    required=("upstream_api",),
    build=lambda options, health_check: NginxUpstream(options["upstream_api"]),
)
"""


@pytest.fixture
def new_kind(tmp_path, monkeypatch):
    """A kind module dropped beside the others (a folder added to the package's path)."""

    def add(source: str, module: str = "nginx_upstream") -> None:
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        monkeypatch.setattr(lb, "__path__", [*lb.__path__, str(tmp_path)])
        registry.kinds.cache_clear()

    yield add
    registry.kinds.cache_clear()
    for name in [m for m in sys.modules if m.startswith("agent_shim.fleet.lb.") and m.endswith("_upstream")]:
        del sys.modules[name]


def group_file(tmp_path, load_balancer: str) -> str:
    path = tmp_path / "group.yml"
    path.write_text(f"application: App\ndeployment_group: web\nhosts: [h1]\nload_balancer: {load_balancer}\n")
    return str(path)


def test_the_group_schema_lists_every_kind_and_takes_each_kinds_settings():
    schema = SCHEMA["properties"]["load_balancer"]
    assert schema["properties"]["type"]["enum"] == ["haproxy", "elbv2", "none"]
    for kind in registry.kinds():
        assert set(kind.settings) <= set(schema["properties"]), kind.name
    assert {"drain_timeout", "healthy_timeout"} <= set(schema["properties"])


def test_each_kind_builds_its_own_adapter_from_the_group_file(tmp_path):
    haproxy = load_group(group_file(tmp_path, "{type: haproxy, socket: run/admin.sock, backend: web}"))
    built = load_balancer_for(haproxy)
    assert isinstance(built, lb.HaproxyLoadBalancer)
    assert built.address == str(tmp_path / "run" / "admin.sock") and built.backend == "web"
    arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"
    elbv2 = load_group(
        group_file(tmp_path, f"{{type: elbv2, target_group_arns: ['{arn}'], region: eu-west-1}}")
    )
    built = load_balancer_for(elbv2)
    assert isinstance(built, lb.Elbv2LoadBalancer) and built.arns == [arn]
    assert elbv2.load_balancer.target_group_arns == (arn,)
    assert isinstance(load_balancer_for(load_group(group_file(tmp_path, "{type: none}"))), lb.NoLoadBalancer)


def test_a_new_kind_is_one_module_with_its_schema_and_constructor(tmp_path, new_kind):
    new_kind(NGINX)
    schema = registry.settings_schema({})
    assert schema["properties"]["type"]["enum"] == ["haproxy", "elbv2", "nginx", "none"]
    assert schema["properties"]["upstream_api"] == {"type": "string", "pattern": "^http"}
    assert {
        "if": {"properties": {"type": {"const": "nginx"}}},
        "then": {"required": ["upstream_api"]},
    } in schema["allOf"]
    built = registry.build("nginx", {"upstream_api": "http://127.0.0.1:8081/api"}, None)  # type: ignore[arg-type]
    assert type(built).__name__ == "NginxUpstream" and built.api == "http://127.0.0.1:8081/api"


def test_a_kind_that_gives_a_known_setting_another_meaning_is_refused(tmp_path, new_kind):
    new_kind(
        NGINX.replace('"upstream_api": {"type": "string", "pattern": "^http"}', '"port": {"type": "string"}')
    )
    with pytest.raises(
        ValueError, match="load-balancer setting 'port' of nginx means something else already"
    ):
        registry.settings_schema({})


def test_a_kinds_required_settings_are_required_when_it_is_the_type(tmp_path):
    with pytest.raises(GroupFileError) as caught:
        load_group(group_file(tmp_path, "{type: haproxy, backend: web}"))
    assert "load_balancer: 'socket' is a required property" in str(caught.value)
