"""The deployment group file: YAML (or JSON) → `DeploymentGroup`, validated with a JSON Schema.

The file is parsed with `appspec_tools.source`, so every node keeps its line and column, and checked
with `jsonschema` (draft 2020-12, group_schema.py); each problem becomes one line
`FILE:LINE:COL: key.path: message`.
Paths on the controller (key, history, known_hosts, an HAProxy socket, and the roots of `local` hosts)
are relative to the group file; other hosts' roots are paths on those hosts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from agent_shim.fleet.config import DeploymentConfig, deployment_config
from agent_shim.fleet.contracts import HostSpec
from agent_shim.fleet.group_schema import LOCAL, SCHEMA, plain_data, validate
from agent_shim.fleet.health_check import HealthCheck
from agent_shim.fleet.lb.registry import kind_named, setting_names
from appspec_tools.errors import UsageError
from appspec_tools.nodes import Mapping as MappingNode
from appspec_tools.nodes import Node
from appspec_tools.nodes import Sequence as SequenceNode

__all__ = ["LOCAL", "SCHEMA", "DeploymentGroup", "GroupFileError", "HealthCheck", "load_group"]
DEFAULT_HISTORY = os.path.join("appspec", "history.sqlite")  # under $XDG_STATE_HOME (~/.local/state)


@dataclass(frozen=True)
class LoadBalancerSettings:
    """`load_balancer:` of the group file: its kind, the traffic steps' timeouts, and the kind's own
    settings (`options`, as its module declares them), which also read as attributes (`.socket`)."""

    type: str = "none"  # a kind of lb/: haproxy, elbv2, none
    drain_timeout: float = 300.0  # BlockTraffic: ELB's default deregistration delay
    healthy_timeout: float = 300.0  # AllowTraffic: until the load balancer sees the host healthy
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return self.type != "none"

    def __getattr__(self, name: str) -> Any:
        if name != "options" and name in setting_names():
            return self.options.get(name)
        raise AttributeError(name)


@dataclass(frozen=True)
class BlueGreen:
    blue: Tuple[str, ...]  # the hosts serving traffic before the first blue/green deployment
    green: Tuple[str, ...]  # the replacement set; the two swap roles after each successful deployment
    keep_blue_seconds: float = 3600.0  # CodeDeploy's default wait before it terminates the originals


@dataclass(frozen=True)
class SshSettings:
    config: Optional[str] = None  # ssh_config file (fabric reads ~/.ssh/config by default)
    known_hosts: Optional[str] = None
    host_key_policy: str = "reject"
    connect_timeout: float = 10.0
    server_alive_interval: float = 15.0  # OpenSSH's ServerAliveInterval: a keepalive that wants a reply
    server_alive_count_max: int = 3  # a host silent for interval × count_max (45 s) is failed

    @property
    def dead_after(self) -> float:
        return self.server_alive_interval * self.server_alive_count_max


@dataclass
class DeploymentGroup:
    application: str
    name: str
    hosts: List[HostSpec]
    config: DeploymentConfig
    load_balancer: LoadBalancerSettings = field(default_factory=LoadBalancerSettings)
    health_check: HealthCheck = field(default_factory=HealthCheck)
    auto_rollback: bool = False
    blue_green: Optional[BlueGreen] = None
    max_parallel_ssh: int = 10
    host_timeout: float = 3600.0
    file_exists_behavior: Optional[str] = None
    ignore_application_stop_failures: bool = False
    max_revisions: Optional[int] = None
    history_path: str = ""
    ssh: SshSettings = field(default_factory=SshSettings)
    path: str = ""  # the group file
    places: Dict[str, Tuple[int, int]] = field(default_factory=dict)  # key path → (line, column)

    _by_name: Dict[str, HostSpec] = field(default_factory=dict, init=False, repr=False, compare=False)
    _indexed: Optional[List[HostSpec]] = field(default=None, init=False, repr=False, compare=False)

    def host(self, name: str) -> HostSpec:
        if self._indexed is not self.hosts:  # `hosts` is replaced, never edited in place
            self._by_name, self._indexed = {}, self.hosts
            for spec in self.hosts:
                self._by_name.setdefault(spec.name, spec)
        if name in self._by_name:
            return self._by_name[name]
        known = ", ".join(h.name for h in self.hosts)
        raise KeyError(f"host {name!r} is not in deployment group {self.name} ({known})")

    def hosts_named(self, names: Sequence[str]) -> List[HostSpec]:
        return [self.host(name) for name in names]

    def place(self, key_path: str) -> str:
        """`FILE:LINE:COL` of a key of the group file (`hosts[2].key`, `load_balancer.backend`), or of the
        nearest enclosing key it has; just FILE when none is known (a default)."""
        path = key_path
        while path:
            if path in self.places:
                line, column = self.places[path]
                return f"{self.path}:{line}:{column}"
            path = path.rsplit(".", 1)[0] if "." in path else path.rsplit("[", 1)[0] if "[" in path else ""
        return self.path

    def host_key(self, name: str, key: str = "") -> str:
        """The key path of one host's entry (`hosts[2]`), or of one of its keys (`hosts[2].lb_server`)."""
        index = next(i for i, spec in enumerate(self.hosts) if spec.name == name)
        return f"hosts[{index}]" + (f".{key}" if key else "")


class GroupFileError(UsageError):
    """The group file is unusable; `errors` holds one `FILE:LINE:COL: message` line per problem."""

    def __init__(self, errors: List[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def default_history_path() -> str:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, DEFAULT_HISTORY)


def load_group(path: str) -> DeploymentGroup:
    from appspec_tools.source import read_source

    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise GroupFileError([f"{path}: cannot read the deployment group file: {exc.strerror}"]) from None
    source = read_source(raw, path)
    fatal = (
        [f for f in source.findings if f.rule_id not in ("SYN004", "SYN008")] if source.root is None else []
    )
    if source.root is None or fatal:
        messages = [
            f.message.replace("AppSpec file", "deployment group file") for f in fatal or source.findings
        ]
        lines = [f"{path}:{f.line}:{f.column}: {m}" for f, m in zip(fatal or source.findings, messages)]
        raise GroupFileError(lines or [f"{path}:1:1: the deployment group file is empty"])
    errors = validate(source.root, path)
    if errors:
        raise GroupFileError(errors)
    return build_group(source.root, path)


# Building ---------------------------------------------------------------------------------------------
def _places(node: Node, prefix: str = "") -> Dict[str, Tuple[int, int]]:
    """Every key path of the document and where its key (a list item: the item) is."""
    found: Dict[str, Tuple[int, int]] = {}
    if isinstance(node, MappingNode):
        for key, key_node, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            found.setdefault(path, (key_node.line, key_node.column))
            found.update({k: v for k, v in _places(value, path).items() if k not in found})
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.items):
            path = f"{prefix}[{index}]"
            found.setdefault(path, (item.line, item.column))
            found.update({k: v for k, v in _places(item, path).items() if k not in found})
    return found


def _local_path(base: str, value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    value = os.path.expanduser(value)
    return value if os.path.isabs(value) else os.path.normpath(os.path.join(base, value))


def build_group(root: Node, path: str) -> DeploymentGroup:
    data = plain_data(root)
    base = os.path.dirname(os.path.abspath(path))
    hosts = []
    for entry in data["hosts"]:
        local = entry["host"] == LOCAL
        place = (lambda v: _local_path(base, v)) if local else (lambda v: v)
        hosts.append(
            HostSpec(
                name=entry.get("name") or entry["host"],
                address=entry["host"],
                port=entry.get("port"),
                user=entry.get("user"),
                key=_local_path(base, entry.get("key")),
                lb_server=entry.get("lb_server"),
                lb_target=entry.get("lb_target"),
                root=place(entry.get("root")),
                install_root=place(entry.get("install_root")),
                environment={k: str(v) for k, v in (entry.get("environment") or {}).items()},
            )
        )
    raw_config = data.get("deployment_config")
    if isinstance(raw_config, dict):
        config = deployment_config(raw_config["minimum_healthy_hosts"])
        if raw_config.get("name"):
            config = DeploymentConfig(raw_config["name"], config.minimum_healthy_hosts)
    else:
        config = deployment_config(raw_config)
    check = dict(data.get("health_check") or {})
    if "success_codes" in check:
        check["success_codes"] = str(check["success_codes"])
    health_check = HealthCheck(**check)
    defaults = health_check.hook_defaults()  # the hooks check what the load balancer checks
    hosts = [replace(h, environment={**defaults, **h.environment}) for h in hosts]
    blue_green = data.get("blue_green")
    ssh = dict(data.get("ssh") or {})
    for key in ("config", "known_hosts"):
        if key in ssh:
            ssh[key] = _local_path(base, ssh[key])
    return DeploymentGroup(
        application=data["application"],
        name=data["deployment_group"],
        hosts=hosts,
        config=config,
        load_balancer=load_balancer_settings(data.get("load_balancer") or {}, base),
        health_check=health_check,
        auto_rollback=bool(data.get("auto_rollback", False)),
        blue_green=BlueGreen(
            tuple(blue_green["blue"]),
            tuple(blue_green["green"]),
            float(blue_green.get("keep_blue_seconds", 3600)),
        )
        if blue_green
        else None,
        max_parallel_ssh=data.get("max_parallel_ssh", 10),
        host_timeout=float(data.get("host_timeout", 3600)),
        file_exists_behavior=data.get("file_exists_behavior"),
        ignore_application_stop_failures=bool(data.get("ignore_application_stop_failures", False)),
        max_revisions=data.get("max_revisions"),
        history_path=_local_path(base, data.get("history")) or default_history_path(),
        ssh=SshSettings(**ssh),
        path=os.path.abspath(path),
        places=_places(root),
    )


def load_balancer_settings(raw: Dict[str, Any], base: str) -> LoadBalancerSettings:
    """The validated `load_balancer:` mapping; the kind's own settings resolved by its module."""
    if not raw:
        return LoadBalancerSettings()
    options = {k: v for k, v in raw.items() if k not in ("type", "drain_timeout", "healthy_timeout")}
    kind = kind_named(raw["type"])
    timeouts = {k: raw[k] for k in ("drain_timeout", "healthy_timeout") if k in raw}
    return LoadBalancerSettings(
        kind.name, options=kind.resolve(options, lambda value: _local_path(base, value)), **timeouts
    )
