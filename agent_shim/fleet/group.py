"""The deployment group file: YAML (or JSON) → `DeploymentGroup`, validated with a JSON Schema.

The file is parsed with `appspec_tools.source`, so every node keeps its line and column, and checked
with `jsonschema` (draft 2020-12); each problem becomes one line `FILE:LINE:COL: key.path: message`.
Paths on the controller (key, history, known_hosts, an HAProxy socket, and the roots of `local` hosts)
are relative to the group file; other hosts' roots are paths on those hosts.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

from agent_shim.fleet.config import (
    ALL_AT_ONCE,
    HALF_AT_A_TIME,
    ONE_AT_A_TIME,
    DeploymentConfig,
    deployment_config,
)
from agent_shim.fleet.contracts import HostSpec
from appspec_tools.agent_names import FILE_EXISTS_BEHAVIORS
from appspec_tools.errors import UsageError
from appspec_tools.nodes import Mapping, Node, to_python
from appspec_tools.nodes import Sequence as SequenceNode

LOCAL = "local"  # a host that is this machine: no SSH (transport_local.LocalTransport)
SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"  # names a folder under the deployment root on hosts
DEFAULT_HISTORY = os.path.join("appspec", "history.sqlite")  # under $XDG_STATE_HOME (~/.local/state)

_TEXT = {"type": "string", "minLength": 1}
_PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
_SECONDS = {"type": "number", "exclusiveMinimum": 0}
_NAMES = {"type": "array", "minItems": 1, "uniqueItems": True, "items": _TEXT}
HOST_SCHEMA = {
    "type": "object",
    "required": ["host"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": SAFE_NAME},
        "host": _TEXT,
        "port": _PORT,
        "user": _TEXT,
        "key": _TEXT,
        "lb_server": _TEXT,
        "lb_target": _TEXT,
        "root": _TEXT,
        "install_root": _TEXT,
        "environment": {
            "type": "object",
            "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
            "additionalProperties": {"type": ["string", "integer", "number"]},
        },
    },
}
SCHEMA: Dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "appspec-tools deployment group",
    "type": "object",
    "required": ["application", "deployment_group", "hosts"],
    "additionalProperties": False,
    "properties": {
        "application": _TEXT,
        "deployment_group": {"type": "string", "pattern": SAFE_NAME},
        "deployment_config": {
            "anyOf": [
                {"enum": [ONE_AT_A_TIME, HALF_AT_A_TIME, ALL_AT_ONCE]},
                {
                    "type": "object",
                    "required": ["minimum_healthy_hosts"],
                    "additionalProperties": False,
                    "properties": {
                        "name": _TEXT,
                        "minimum_healthy_hosts": {
                            "type": "object",
                            "required": ["type", "value"],
                            "additionalProperties": False,
                            "properties": {
                                "type": {"enum": ["HOST_COUNT", "FLEET_PERCENT"]},
                                "value": {"type": "integer", "minimum": 0},
                            },
                            "if": {"properties": {"type": {"const": "FLEET_PERCENT"}}},
                            "then": {"properties": {"value": {"maximum": 100}}},
                        },
                    },
                },
            ]
        },
        "hosts": {"type": "array", "minItems": 1, "items": HOST_SCHEMA},
        "load_balancer": {
            "type": "object",
            "required": ["type"],
            "additionalProperties": False,
            "properties": {
                "type": {"enum": ["haproxy", "elbv2", "none"]},
                "socket": _TEXT,
                "backend": _TEXT,
                "target_group_arns": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string", "pattern": "^arn:"},
                },
                "region": _TEXT,
                "endpoint_url": _TEXT,
                "port": _PORT,
                "drain_timeout": _SECONDS,
                "healthy_timeout": _SECONDS,
            },
            "allOf": [
                {
                    "if": {"properties": {"type": {"const": "haproxy"}}},
                    "then": {"required": ["socket", "backend"]},
                },
                {
                    "if": {"properties": {"type": {"const": "elbv2"}}},
                    "then": {"required": ["target_group_arns"]},
                },
            ],
        },
        "health_check": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "path": {"type": "string", "pattern": "^/"},
                "port": _PORT,
                "interval": _SECONDS,
                "timeout": _SECONDS,
                "healthy_threshold": {"type": "integer", "minimum": 1},
                "unhealthy_threshold": {"type": "integer", "minimum": 1},
                "success_codes": {
                    "type": ["string", "integer"],
                    "pattern": r"^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$",
                },
            },
        },
        "auto_rollback": {"type": "boolean"},
        "blue_green": {
            "type": "object",
            "required": ["blue", "green"],
            "additionalProperties": False,
            "properties": {
                "blue": _NAMES,
                "green": _NAMES,
                "keep_blue_seconds": {"type": "number", "minimum": 0},
            },
        },
        "max_parallel_ssh": {"type": "integer", "minimum": 1},
        "host_timeout": _SECONDS,
        "file_exists_behavior": {"enum": list(FILE_EXISTS_BEHAVIORS)},
        "ignore_application_stop_failures": {"type": "boolean"},
        "max_revisions": {"type": "integer", "minimum": 1},
        "history": _TEXT,
        "ssh": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "config": _TEXT,
                "known_hosts": _TEXT,
                "host_key_policy": {"enum": ["reject", "accept-new"]},
                "connect_timeout": _SECONDS,
                "server_alive_interval": _SECONDS,
                "server_alive_count_max": {"type": "integer", "minimum": 1},
            },
        },
    },
}


@dataclass(frozen=True)
class HealthCheck:
    """The seed's ELB target group check; HAProxy gets `option httpchk GET path`, `inter`, `rise`, `fall`."""

    path: str = "/health"
    port: Optional[int] = None  # None: the traffic port
    interval: float = 5
    timeout: float = 2
    healthy_threshold: int = 2
    unhealthy_threshold: int = 2
    success_codes: str = "200"  # "200", "200-299", "200,302"

    @property
    def verdict_after(self) -> float:
        """Seconds after registration by which a passing host is healthy and a failing one has failed
        `unhealthy_threshold` checks: (healthy + unhealthy threshold) intervals, plus one probe's timeout."""
        return self.interval * (self.healthy_threshold + self.unhealthy_threshold) + self.timeout

    def describe(self) -> str:
        """`GET /health every 5s, expecting 200`"""
        port = f" on port {self.port}" if self.port else ""
        return f"GET {self.path}{port} every {self.interval:g}s, expecting {self.success_codes}"

    def hook_defaults(self) -> Dict[str, str]:
        """The hooks' ValidateService settings for this check, as HOOKS_DEFAULT_* variables: the hook checks
        what the load balancer checks unless the revision's hooks.env (or the host) says otherwise."""
        values = {
            "HEALTH_PATH": self.path,
            "HEALTH_INTERVAL": f"{self.interval:g}",
            "HEALTH_TIMEOUT": f"{min(self.timeout, self.interval):g}",
            "HEALTH_HEALTHY_THRESHOLD": str(self.healthy_threshold),
            "HEALTH_UNHEALTHY_THRESHOLD": str(self.unhealthy_threshold),
            "HEALTH_SUCCESS_CODES": self.success_codes,
        }
        if self.port:
            values["HEALTH_URL"] = f"http://${{APP_HOST}}:{self.port}${{HEALTH_PATH}}"
        return {f"HOOKS_DEFAULT_{name}": value for name, value in values.items()}

    def accepts(self, status: int) -> bool:
        for part in self.success_codes.split(","):
            low, _, high = part.partition("-")
            if int(low) <= status <= int(high or low):
                return True
        return False


@dataclass(frozen=True)
class LoadBalancerSettings:
    type: str = "none"  # haproxy, elbv2, none
    socket: Optional[str] = None  # HAProxy runtime API: a unix socket path or HOST:PORT
    backend: Optional[str] = None
    target_group_arns: Tuple[str, ...] = ()
    region: Optional[str] = None
    endpoint_url: Optional[str] = None
    port: Optional[int] = None  # ELBv2 target port
    drain_timeout: float = 300.0  # BlockTraffic: ELB's default deregistration delay
    healthy_timeout: float = 300.0  # AllowTraffic: until the load balancer sees the host healthy

    @property
    def enabled(self) -> bool:
        return self.type != "none"


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

    def host(self, name: str) -> HostSpec:
        for spec in self.hosts:
            if spec.name == name:
                return spec
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


# Validation ---------------------------------------------------------------------------------------------
def _data(root: Node) -> Any:
    """Plain data for the schema; a host given as a bare string is `{host: STRING}`."""
    data = to_python(root)
    if isinstance(data, dict) and isinstance(data.get("hosts"), list):
        data["hosts"] = [{"host": h} if isinstance(h, str) else h for h in data["hosts"]]
    return data


def validate(root: Node, path: str) -> List[str]:
    import jsonschema

    found: List[Tuple[int, int, str]] = list(_duplicate_keys(root))
    data = _data(root)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for error in validator.iter_errors(data):
        found.extend(_describe(error, root))
    if not found:
        found.extend(_cross_checks(root, data))
    return [f"{path}:{line}:{column}: {message}" for line, column, message in sorted(set(found))]


def _duplicate_keys(root: Node) -> List[Tuple[int, int, str]]:
    from appspec_tools.nodes import walk

    found = []
    for node in walk(root):
        if isinstance(node, Mapping):
            seen: Dict[Any, Node] = {}
            for key, key_node, _ in node.items():
                if key in seen:
                    first = seen[key]
                    found.append(
                        (
                            key_node.line,
                            key_node.column,
                            f"duplicate key {key!r} (first at line {first.line})",
                        )
                    )
                else:
                    seen[key] = key_node
    return found


def key_path(parts: Sequence[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _node_at(root: Node, parts: Sequence[Any]) -> Node:
    """The deepest node along a jsonschema path (a bare-string host stands for its `host` key)."""
    node = root
    for part in parts:
        if isinstance(node, Mapping) and node.get(part) is not None:
            node = node.get(part)  # type: ignore[assignment]
        elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.items):
            node = node.items[part]
        else:
            break
    return node


def _suggest(word: str, known: Sequence[str]) -> List[str]:
    """The known key meant: a transposition (`prot` → `port`) first, else the closest spelling."""
    swapped = [k for k in known if sorted(k) == sorted(word)]
    return swapped[:1] or difflib.get_close_matches(word, known, n=1)


def _branch_errors(error: Any) -> List[Any]:
    """For an anyOf that failed: the errors of the one branch whose type fits the value, if one does."""
    from jsonschema.exceptions import best_match

    branches: Dict[Any, List[Any]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [
        errs
        for errs in branches.values()
        if not any(e.validator in ("type", "enum", "const") and not e.relative_path for e in errs)
    ]
    return fitting[0] if len(fitting) == 1 else [best_match(error.context)]


def _describe(error: Any, root: Node) -> List[Tuple[int, int, str]]:
    if error.validator in ("anyOf", "oneOf") and error.context:
        return [found for sub in _branch_errors(error) for found in _describe(sub, root)]
    parts = list(error.absolute_path)
    node = _node_at(root, parts)
    where = key_path(parts)
    prefix = f"{where}: " if where else ""
    if error.validator == "additionalProperties" and isinstance(node, Mapping):
        allowed = sorted(error.schema.get("properties", {}))
        found = []
        for key, key_node, _ in node.items():
            if key not in allowed:
                close = _suggest(str(key), allowed)
                hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(allowed)})"
                found.append((key_node.line, key_node.column, f"{prefix}unknown key {key!r}{hint}"))
        return found
    if "propertyNames" in error.schema_path and isinstance(node, Mapping):
        key_node = node.key_node(error.instance) or node
        return [
            (
                key_node.line,
                key_node.column,
                f"{prefix}{error.instance!r} is not a valid environment variable name",
            )
        ]
    message = error.message
    if error.validator == "enum":
        message = f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    elif error.validator == "pattern" and error.validator_value == SAFE_NAME:
        message = f"{error.instance!r}: use letters, digits, '.', '_' or '-' (it names a folder on the hosts)"
    return [(node.line, node.column, prefix + message)]


def _cross_checks(root: Node, data: Dict[str, Any]) -> List[Tuple[int, int, str]]:
    """What the schema cannot say: unique host names, and blue/green sets naming hosts of the file."""
    found = []
    names: Dict[str, int] = {}
    for index, host in enumerate(data["hosts"]):
        name = host.get("name") or host["host"]
        if name in names:
            node = _node_at(root, ["hosts", index, "name" if "name" in host else "host"])
            found.append(
                (
                    node.line,
                    node.column,
                    f"hosts[{index}]: host name {name!r} is also hosts[{names[name]}]'s; give each a `name`",
                )
            )
        names.setdefault(name, index)
    where: Dict[Tuple[str, Any], int] = {}
    for index, host in enumerate(data["hosts"]):
        if host["host"] == LOCAL:
            continue  # local hosts are told apart by their roots
        address = (host["host"].lower(), host.get("port") or 22)
        if address in where:
            node = _node_at(root, ["hosts", index, "host"])
            first = data["hosts"][where[address]]
            found.append(
                (
                    node.line,
                    node.column,
                    f"hosts[{index}]: {host['host']}:{address[1]} is also hosts[{where[address]}] "
                    f"({first.get('name') or first['host']}): the same host under two names would be deployed "
                    "twice at once; list it once",
                )
            )
        where.setdefault(address, index)
    blue_green = data.get("blue_green")
    if blue_green:
        for side in ("blue", "green"):
            for index, name in enumerate(blue_green[side]):
                node = _node_at(root, ["blue_green", side, index])
                if name not in names:
                    found.append(
                        (
                            node.line,
                            node.column,
                            f"blue_green.{side}[{index}]: no host named {name!r} in hosts",
                        )
                    )
                elif side == "green" and name in blue_green["blue"]:
                    found.append(
                        (node.line, node.column, f"blue_green.green[{index}]: {name!r} is in both sets")
                    )
        missing = [n for n in names if n not in blue_green["blue"] and n not in blue_green["green"]]
        if missing:
            node = _node_at(root, ["blue_green"])
            found.append((node.line, node.column, f"blue_green: hosts in neither set: {', '.join(missing)}"))
    return found


# Building ---------------------------------------------------------------------------------------------
def _places(node: Node, prefix: str = "") -> Dict[str, Tuple[int, int]]:
    """Every key path of the document and where its key (a list item: the item) is."""
    found: Dict[str, Tuple[int, int]] = {}
    if isinstance(node, Mapping):
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
    data = _data(root)
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
    lb = dict(data.get("load_balancer") or {})
    if (
        lb.get("type") == "haproxy"
        and "/" in lb["socket"]
        and not lb["socket"].startswith(("unix@", "ipv4@"))
    ):
        lb["socket"] = _local_path(base, lb["socket"])
    lb["target_group_arns"] = tuple(lb.get("target_group_arns") or ())
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
        load_balancer=LoadBalancerSettings(**lb) if lb else LoadBalancerSettings(),
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
