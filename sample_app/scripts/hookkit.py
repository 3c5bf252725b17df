"""Shared code of the CodeDeploy lifecycle hooks: settings and config file, logging, exit codes, the run
wrapper, the ELB-style health probe and the app's process control (systemd unit or pidfile daemon).

Standard library only, Python 3.8+: the agent runs hooks with the host's python3. Each hook script imports
this module from its own directory (Python puts the script's directory first on sys.path). Load-balancer
code lives in loadbalancer.py, which only the two load-balancer hooks need.
"""

from __future__ import annotations

import argparse
import difflib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.parse
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

CONFIG_FILE_NAME = "hooks.env"
DEPLOYMENT_VARIABLES = (
    "LIFECYCLE_EVENT",
    "DEPLOYMENT_ID",
    "APPLICATION_NAME",
    "DEPLOYMENT_GROUP_NAME",
    "DEPLOYMENT_GROUP_ID",
)
APP_ENV_PREFIX = "APP_ENV_"
GROUP_DEFAULT_PREFIX = "HOOKS_DEFAULT_"

# ---------------------------------------------------------------------------------------------------------
# Exit codes: one table for every hook; docs/hooks.md repeats it and a test keeps the two equal.

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_CONFIG = 2
EXIT_HEALTH = 3
EXIT_APP = 4
EXIT_LOAD_BALANCER = 5
EXIT_PREREQUISITE = 6
EXIT_INSTALL = 7
EXIT_TERMINATED = 143

EXIT_CODES: Tuple[Tuple[int, str], ...] = (
    (EXIT_OK, "success, including nothing to do (already stopped, already registered, step not applicable)"),
    (EXIT_INTERNAL, "unexpected error in the hook itself (a bug: the traceback follows on stderr)"),
    (EXIT_CONFIG, "bad configuration or usage: the message names the setting and the fix"),
    (EXIT_HEALTH, "health check failed: unhealthy threshold reached, or not healthy before the deadline"),
    (EXIT_APP, "the application did not start, did not listen, or could not be stopped"),
    (EXIT_LOAD_BALANCER, "load balancer call failed, or drain/registration did not finish in time"),
    (EXIT_PREREQUISITE, "host prerequisite missing: disk space, a tool (npm, boto3), instance metadata"),
    (EXIT_INSTALL, "an install step failed: backup, cleanup, dependency install, env file, ownership"),
    (EXIT_TERMINATED, "terminated by SIGTERM (the agent's script timeout expired)"),
)


class HookError(Exception):
    """A failure the hook reports as one line and an exit code."""

    exit_code = EXIT_INTERNAL


class ConfigError(HookError):
    exit_code = EXIT_CONFIG


class HealthCheckFailed(HookError):
    exit_code = EXIT_HEALTH


class AppError(HookError):
    exit_code = EXIT_APP


class LoadBalancerError(HookError):
    exit_code = EXIT_LOAD_BALANCER


class PrerequisiteError(HookError):
    exit_code = EXIT_PREREQUISITE


class InstallError(HookError):
    exit_code = EXIT_INSTALL


class Terminated(HookError):
    exit_code = EXIT_TERMINATED


# ---------------------------------------------------------------------------------------------------------
# Settings: every name a hook reads, with its default and meaning. `--help` and docs/hooks.md use this list.


class Setting:
    __slots__ = ("name", "default", "doc")

    def __init__(self, name: str, default: Optional[str], doc: str) -> None:
        self.name = name
        self.default = default
        self.doc = doc


_SETTINGS = (
    Setting("HOOKS_CONFIG", None, "path of the config file (environment only); see 'Configuration'"),
    Setting(
        "APP_DIR", None, "install destination (the appspec `files` destination); relative paths resolve here"
    ),
    Setting("APP_HOST", "127.0.0.1", "address the application listens on"),
    Setting("APP_PORT", None, "TCP port the application listens on"),
    Setting(
        "APP_SYSTEMD_UNIT", None, "systemd unit to stop/start when systemd runs; else the pidfile is used"
    ),
    Setting(
        "APP_START_COMMAND", None, "command line that runs the app in the foreground (no shell), cwd APP_DIR"
    ),
    Setting("APP_PIDFILE", "run/app.pid", "pidfile written by application_start, read by application_stop"),
    Setting("APP_LOG_FILE", "log/app.log", "file that receives the app's stdout and stderr"),
    Setting("APP_LOG_TAIL", "20", "how many app log lines to print when the app fails to start"),
    Setting("APP_START_TIMEOUT", "60", "seconds to wait for the app to listen on APP_PORT"),
    Setting("APP_STOP_TIMEOUT", "30", "seconds between SIGTERM and SIGKILL when stopping"),
    Setting(
        "APP_ENV_FILE",
        "app.env",
        "environment file rendered by after_install and loaded by application_start",
    ),
    Setting("APP_ENV_TEMPLATE", None, "template of the environment file, ${NAME} substituted"),
    Setting("APP_ENV_<NAME>", None, "each becomes NAME=value in APP_ENV_FILE (NAME not FILE or TEMPLATE)"),
    Setting("APP_OWNER", None, "user or user:group given ownership of APP_DIR (chown -R)"),
    Setting("MIN_FREE_MB", "256", "free space required on APP_DIR's file system, in MiB"),
    Setting(
        "CLEAN_GLOBS", None, "comma-separated globs under APP_DIR removed before install (e.g. **/.DS_Store)"
    ),
    Setting(
        "CLEAN_DESTINATION", "false", "true: empty APP_DIR before install (keeps CLEAN_KEEP, logs, pidfile)"
    ),
    Setting("CLEAN_KEEP", None, "comma-separated globs (relative to APP_DIR) that CLEAN_DESTINATION keeps"),
    Setting("BACKUP_DIR", None, "keep a .tar.gz of APP_DIR here before install (unset: no backup)"),
    Setting("BACKUP_KEEP", "3", "number of backups kept in BACKUP_DIR"),
    Setting("INSTALL_DEPENDENCIES", "true", "false: skip the venv/pip and npm steps"),
    Setting("PYTHON", "python3", "interpreter that creates the virtual environment"),
    Setting("VENV_DIR", ".venv", "virtual environment for requirements.txt"),
    Setting("PIP_ARGS", None, "extra arguments for pip install (e.g. --no-index --find-links wheels)"),
    Setting("NPM_ARGS", None, "extra arguments for npm ci (e.g. --omit=dev)"),
    Setting("HEALTH_URL", "http://${APP_HOST}:${APP_PORT}${HEALTH_PATH}", "URL probed by validate_service"),
    Setting("HEALTH_PATH", "/health", "path used by the default HEALTH_URL"),
    Setting("HEALTH_INTERVAL", "5", "seconds between probe starts"),
    Setting("HEALTH_TIMEOUT", "2", "seconds allowed for one probe (at most HEALTH_INTERVAL)"),
    Setting("HEALTH_HEALTHY_THRESHOLD", "2", "consecutive successes needed to pass"),
    Setting("HEALTH_UNHEALTHY_THRESHOLD", "2", "consecutive counted failures that fail the hook"),
    Setting("HEALTH_SUCCESS_CODES", "200", "success status codes: list and ranges, e.g. 200,204 or 200-299"),
    Setting("HEALTH_EXPECT_BODY", None, "text the response body must contain"),
    Setting(
        "HEALTH_START_GRACE", "60", "seconds during which failures before the first success are not counted"
    ),
    Setting("HEALTH_DEADLINE", "300", "overall limit in seconds; keep it below the hook's appspec timeout"),
    Setting("TARGET_GROUP_ARNS", None, "comma-separated ELBv2 target group ARNs"),
    Setting("TARGET_ID", None, "target id for ELBv2 (default: this instance's id from IMDSv2)"),
    Setting("TARGET_PORT", None, "target port for ELBv2 (default: the target group's port)"),
    Setting("IMDS_ENDPOINT", "http://169.254.169.254", "instance metadata service (IMDSv2)"),
    Setting("AWS_REGION", None, "region for ELBv2 (default: AWS_DEFAULT_REGION, else IMDS)"),
    Setting("AWS_ENDPOINT_URL", None, "ELBv2 endpoint override (e.g. a local emulator)"),
    Setting("HAPROXY_SOCKET", None, "HAProxy runtime API: unix socket path or host:port"),
    Setting("HAPROXY_BACKENDS", None, "comma-separated HAProxy backends that hold this host"),
    Setting("HAPROXY_SERVER", None, "this host's server name in those backends"),
    Setting(
        "LB_WAIT_TIMEOUT", None, "seconds to wait for drain/healthy (default: see load balancer section)"
    ),
    Setting("LB_POLL_INTERVAL", "2", "seconds between load balancer state polls"),
)
SETTINGS: Dict[str, Setting] = {s.name: s for s in _SETTINGS}


def known_setting(name: str) -> bool:
    return name in SETTINGS or (name.startswith(APP_ENV_PREFIX) and len(name) > len(APP_ENV_PREFIX))


# ---------------------------------------------------------------------------------------------------------
# Config file: KEY=VALUE lines, the same names as the environment variables; the environment wins.
# Below the file, HOOKS_DEFAULT_<NAME> in the environment: the deployment group's default (fleet controller).

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_REFERENCE = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})")


def expand_references(
    text: str, lookup: Callable[[str], Optional[str]], missing: Callable[[str, int], None]
) -> str:
    """Replace ${NAME} by lookup(NAME), ${NAME:-default} falling back to default; $$ is a literal $.
    missing(name, offset) is called for an unset name without default and must raise."""

    def replace(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name is None:
            return "$"
        value = lookup(name)
        if value is None:
            if default is not None:
                return default
            missing(name, match.start())
        return value or ""

    return _REFERENCE.sub(replace, text)


def parse_config_text(text: str, source: str, check_names: bool = True) -> Tuple[Dict[str, str], List[str]]:
    """Parse KEY=VALUE text into (values, warnings); a malformed line raises ConfigError naming it."""
    values: Dict[str, str] = {}
    warnings: List[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not _KEY.match(key):
            raise ConfigError(f"{source}:{number}: expected KEY=VALUE, got {raw!r}; fix or remove that line")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if check_names and not known_setting(key):
            hint = difflib.get_close_matches(key, list(SETTINGS), n=1)
            warnings.append(
                "{}:{}: unknown setting {}{}".format(
                    source, number, key, f" (did you mean {hint[0]}?)" if hint else ""
                )
            )
        values[key] = value
    return values, warnings


def revision_root(script_dir: str) -> Optional[str]:
    """Nearest ancestor of the script's directory that holds appspec.yml (or .yaml): the revision root."""
    here = os.path.abspath(script_dir)
    while True:
        if any(os.path.isfile(os.path.join(here, n)) for n in ("appspec.yml", "appspec.yaml")):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def find_config_file(script_path: str, environ: Dict[str, str]) -> Optional[str]:
    """HOOKS_CONFIG if set, else hooks.env beside the script, else hooks.env at the revision root."""
    explicit = environ.get("HOOKS_CONFIG")
    if explicit:
        if not os.path.isfile(explicit):
            raise ConfigError(
                f"HOOKS_CONFIG={explicit}: no such file; point it at your hooks.env or unset it"
            )
        return explicit
    script_dir = os.path.dirname(os.path.abspath(script_path))
    candidates = [os.path.join(script_dir, CONFIG_FILE_NAME)]
    root = revision_root(script_dir)
    if root:
        candidates.append(os.path.join(root, CONFIG_FILE_NAME))
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    return None


class Config:
    """The merged settings: environment over config file over the group default (HOOKS_DEFAULT_NAME in the
    environment) over built-in defaults, with ${NAME} references."""

    def __init__(self, file_values: Dict[str, str], environ: Dict[str, str], source: Optional[str] = None):
        self.file_values = dict(file_values)
        self.environ = dict(environ)
        self.source = source
        self.warnings: List[str] = []

    @classmethod
    def load(cls, script_path: str, environ: Optional[Dict[str, str]] = None) -> Config:
        env = dict(os.environ if environ is None else environ)
        path = find_config_file(script_path, env)
        values: Dict[str, str] = {}
        warnings: List[str] = []
        if path:
            try:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read config file {path}: {exc}") from None
            values, warnings = parse_config_text(text, path)
        config = cls(values, env, path)
        config.warnings = warnings
        return config

    def group_default(self, name: str) -> Optional[str]:
        """HOOKS_DEFAULT_NAME from the environment for a named setting; None if empty, unset or not named."""
        if name not in SETTINGS:
            return None
        return self.environ.get(GROUP_DEFAULT_PREFIX + name) or None

    def origin(self, name: str) -> str:
        if name in self.environ:
            return "environment"
        if name in self.file_values:
            return self.source or "config file"
        if self.group_default(name) is not None:
            return f"group default ({GROUP_DEFAULT_PREFIX}{name})"
        return "default"

    def raw(self, name: str) -> Optional[str]:
        if name in self.environ:
            return self.environ[name]
        if name in self.file_values:
            return self.file_values[name]
        group = self.group_default(name)
        if group is not None:
            return group
        setting = SETTINGS.get(name)
        return setting.default if setting else None

    def get(self, name: str, _seen: Tuple[str, ...] = ()) -> Optional[str]:
        """The value with ${NAME} and ${NAME:-default} expanded ($$ is a literal $); None if unset or empty."""
        value = self.raw(name)
        if value is None or value == "":
            return None
        if name in _seen:
            raise ConfigError(f"{name} refers to itself through ${{...}}; remove the loop")

        def missing(ref: str, offset: int) -> None:
            raise ConfigError(
                f"{name} uses ${{{ref}}}, which is not set; set {ref} (environment or config file)"
            )

        return expand_references(value, lambda ref: self.get(ref, _seen + (name,)), missing)

    def require(self, name: str, why: str) -> str:
        value = self.get(name)
        if value is None:
            raise ConfigError(f"{name} is not set; {why}")
        return value

    def number(self, name: str, minimum: float = 0.0, integer: bool = False) -> float:
        value = self.get(name)
        if value is None:
            raise ConfigError(f"{name} is not set; set it to a number")
        try:
            number = int(value) if integer else float(value)
        except ValueError:
            kind = "a whole number" if integer else "a number"
            raise ConfigError(
                f"{name}={value!r} is not {kind}; set it to {kind} like {SETTINGS[name].default}"
            ) from None
        if number < minimum or number != number:
            raise ConfigError(f"{name}={value} is too small; set it to at least {minimum}")
        return number

    def integer(self, name: str, minimum: int = 0) -> int:
        return int(self.number(name, minimum, integer=True))

    def port(self, name: str = "APP_PORT") -> int:
        port = self.integer(name, minimum=1)
        if port > 65535:
            raise ConfigError(f"{name}={port} is not a TCP port; use 1-65535")
        return port

    def boolean(self, name: str) -> bool:
        value = (self.get(name) or "false").strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}={value!r} is not a boolean; use true or false")

    def items(self, name: str) -> List[str]:
        value = self.get(name) or ""
        return [part.strip() for part in value.split(",") if part.strip()]

    def app_dir(self) -> str:
        value = self.require("APP_DIR", "set it to the install destination (the appspec files destination)")
        if not os.path.isabs(value):
            raise ConfigError(f"APP_DIR={value} is not absolute; use an absolute path like /opt/my-app")
        return os.path.normpath(value)

    def path(self, name: str) -> Optional[str]:
        """A path setting; a relative value resolves against APP_DIR."""
        value = self.get(name)
        if value is None:
            return None
        if os.path.isabs(value):
            return os.path.normpath(value)
        return os.path.normpath(os.path.join(self.app_dir(), value))

    def with_prefix(self, prefix: str) -> Dict[str, str]:
        """{NAME: value} of every PREFIXNAME setting that is not itself a named setting (like APP_ENV_FILE)."""
        # Not HOOKS_DEFAULT_APP_ENV_X: group defaults fill named settings only, never app env passthrough.
        names = {n for n in list(self.file_values) + list(self.environ) if n.startswith(prefix)}
        return {
            n[len(prefix) :]: self.get(n) or "" for n in sorted(names - set(SETTINGS)) if len(n) > len(prefix)
        }


# ---------------------------------------------------------------------------------------------------------
# Logging: one line per step on stdout (the agent copies it to scripts.log), problems on stderr.


class HookLog:
    def __init__(self, name: str) -> None:
        self.name = name

    def step(self, message: str) -> None:
        print(f"{self.name}: {message}", flush=True)

    def warn(self, message: str) -> None:
        print(f"{self.name}: warning: {message}", file=sys.stderr, flush=True)

    def fail(self, message: str, code: int) -> None:
        print(f"{self.name}: FAILED (exit {code}): {message}", file=sys.stderr, flush=True)


def deployment_summary(environ: Dict[str, str]) -> str:
    if not environ.get("LIFECYCLE_EVENT"):
        return "run outside the CodeDeploy agent (LIFECYCLE_EVENT not set)"
    return "{} of deployment {}, application {}, group {} ({})".format(
        *tuple(environ.get(n) or "?" for n in DEPLOYMENT_VARIABLES)
    )


# ---------------------------------------------------------------------------------------------------------
# Health probe, modelled on an ELB target group health check.


class SuccessCodes:
    """HTTP codes that count as healthy, written like ELB's matcher: `200`, `200,204`, `200-299`."""

    def __init__(self, ranges: Sequence[Tuple[int, int]]) -> None:
        self.ranges = tuple(ranges)

    @classmethod
    def parse(cls, text: str, name: str = "HEALTH_SUCCESS_CODES") -> SuccessCodes:
        ranges = []
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            low_text, dash, high_text = part.partition("-")
            try:
                low = int(low_text)
                high = int(high_text) if dash else low
            except ValueError:
                raise ConfigError(
                    f"{name}={text!r}: {part!r} is not a code or a range; use e.g. 200,204 or 200-299"
                ) from None
            if not 100 <= low <= high <= 599:
                raise ConfigError(
                    f"{name}={text!r}: {part!r} is outside 100-599 or reversed; use e.g. 200-299"
                )
            ranges.append((low, high))
        if not ranges:
            raise ConfigError(f"{name} is empty; use e.g. 200 or 200-299")
        return cls(ranges)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, int) and any(low <= code <= high for low, high in self.ranges)

    def __str__(self) -> str:
        return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in self.ranges)


class ProbeResult:
    __slots__ = ("ok", "status", "latency", "detail")

    def __init__(self, ok: bool, status: Optional[int], latency: float, detail: str) -> None:
        self.ok = ok
        self.status = status
        self.latency = latency
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.detail} in {round(self.latency * 1000)} ms"


MAX_BODY_BYTES = 64 * 1024


def probe(url: str, timeout: float, codes: SuccessCodes, expect_body: Optional[str] = None) -> ProbeResult:
    """One GET of url, bounded by timeout as a whole (connect, headers and body); never raises."""
    parts = urllib.parse.urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    start = time.monotonic()
    deadline = start + timeout
    connection = connection_class(parts.hostname or "", parts.port, timeout=timeout)

    def result(ok: bool, status: Optional[int], detail: str) -> ProbeResult:
        return ProbeResult(ok, status, time.monotonic() - start, detail)

    try:
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        connection.request("GET", target, headers={"User-Agent": "codedeploy-hooks/validate_service"})
        sock = connection.sock  # getresponse() may hand the socket over to the response
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        response = connection.getresponse()
        body = b""
        while len(body) < MAX_BODY_BYTES:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            chunk = response.read1(4096) if hasattr(response, "read1") else response.read(4096)
            if not chunk:
                break
            body += chunk
    except ConnectionRefusedError:
        return result(False, None, "connection refused")
    except socket.timeout:
        return result(False, None, f"timeout after {timeout:g}s")
    except (OSError, http.client.HTTPException) as exc:
        return result(False, None, "error %s" % (exc or type(exc).__name__))
    finally:
        connection.close()
    status = response.status
    if status not in codes:
        return result(False, status, f"status {status} (success codes {codes})")
    if expect_body is not None:
        text = body.decode("utf-8", "replace")
        if expect_body not in text:
            return result(False, status, f"body mismatch: {expect_body!r} not in {text[:60]!r}")
    return result(True, status, f"status {status}")


HEALTHY, UNHEALTHY, PENDING = "healthy", "unhealthy", "pending"


class HealthTracker:
    """ELB-style thresholds with a start grace: a new target is 'initial', its failures do not count until it
    has answered once or the grace period is over, so a slow start is not mistaken for a failure."""

    def __init__(self, healthy_threshold: int, unhealthy_threshold: int, grace_end: float) -> None:
        self.healthy_threshold = healthy_threshold
        self.unhealthy_threshold = unhealthy_threshold
        self.grace_end = grace_end
        self.successes = 0
        self.failures = 0
        self.seen_up = False
        self.changes = 0
        self.last_ok: Optional[bool] = None

    def observe(self, ok: bool, now: float) -> str:
        if self.last_ok is not None and ok != self.last_ok:
            self.changes += 1
        self.last_ok = ok
        if ok:
            self.seen_up = True
            self.successes += 1
            self.failures = 0
            return HEALTHY if self.successes >= self.healthy_threshold else PENDING
        self.successes = 0
        if not self.seen_up and now < self.grace_end:
            return PENDING
        self.failures += 1
        return UNHEALTHY if self.failures >= self.unhealthy_threshold else PENDING

    def progress(self) -> str:
        if self.last_ok:
            return f"{self.successes}/{self.healthy_threshold} successes"
        if self.failures == 0:
            return "not counted: starting, within HEALTH_START_GRACE"
        return f"{self.failures}/{self.unhealthy_threshold} failures"


class HealthSettings:
    __slots__ = (
        "url",
        "interval",
        "timeout",
        "healthy",
        "unhealthy",
        "codes",
        "expect_body",
        "grace",
        "deadline",
    )

    def __init__(self, config: Config) -> None:
        self.url = config.require("HEALTH_URL", "set HEALTH_URL, or APP_PORT for the default URL")
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"HEALTH_URL={self.url} is not an http(s) URL; use e.g. http://127.0.0.1:8080/health"
            )
        try:
            _ = parts.port
        except ValueError:
            raise ConfigError(
                f"HEALTH_URL={self.url} has a bad port; use e.g. http://127.0.0.1:8080/health"
            ) from None
        self.interval = config.number("HEALTH_INTERVAL", minimum=0.01)
        self.timeout = config.number("HEALTH_TIMEOUT", minimum=0.01)
        if self.timeout > self.interval:
            raise ConfigError(
                f"HEALTH_TIMEOUT={self.timeout:g} exceeds HEALTH_INTERVAL={self.interval:g}; "
                "make the timeout at most the interval, as ELB requires"
            )
        self.healthy = config.integer("HEALTH_HEALTHY_THRESHOLD", minimum=1)
        self.unhealthy = config.integer("HEALTH_UNHEALTHY_THRESHOLD", minimum=1)
        self.codes = SuccessCodes.parse(config.get("HEALTH_SUCCESS_CODES") or "")
        self.expect_body = config.get("HEALTH_EXPECT_BODY")
        self.grace = config.number("HEALTH_START_GRACE", minimum=0)
        self.deadline = config.number("HEALTH_DEADLINE", minimum=0.01)


def wait_until_healthy(settings: HealthSettings, log: HookLog) -> None:
    """Probe until the healthy threshold is met; HealthCheckFailed on the unhealthy threshold or deadline."""
    start = time.monotonic()
    deadline = start + settings.deadline
    tracker = HealthTracker(settings.healthy, settings.unhealthy, start + settings.grace)
    s = settings
    body = f", body contains {s.expect_body!r}" if s.expect_body else ""
    log.step(
        f"probing {s.url} every {s.interval:g}s (timeout {s.timeout:g}s, healthy {s.healthy}, "
        f"unhealthy {s.unhealthy}, codes {s.codes}{body}, grace {s.grace:g}s, deadline {s.deadline:g}s)"
    )
    count = 0
    last: Optional[ProbeResult] = None
    while True:
        began = time.monotonic()
        remaining = deadline - began
        if remaining <= 0:
            break
        count += 1
        last = probe(settings.url, min(settings.timeout, remaining), settings.codes, settings.expect_body)
        verdict = tracker.observe(last.ok, began)
        log.step(f"probe {count}: {last} ({tracker.progress()})")
        if verdict == HEALTHY:
            log.step(f"healthy after {count} probes in {time.monotonic() - start:.1f}s")
            return
        if verdict == UNHEALTHY:
            raise HealthCheckFailed(
                f"unhealthy: {tracker.failures} consecutive failed probes of {settings.url}; "
                f"last: {last.detail}"
            )
        next_start = began + settings.interval
        if next_start >= deadline:
            break
        time.sleep(max(0.0, next_start - time.monotonic()))
    flapping = (
        f" (flapping: {tracker.changes} changes between success and failure)" if tracker.changes > 1 else ""
    )
    last_detail = last.detail if last else "none"
    raise HealthCheckFailed(
        f"not healthy within HEALTH_DEADLINE={settings.deadline:g}s: "
        f"{tracker.successes}/{settings.healthy} consecutive successes{flapping}; last probe: {last_detail}"
    )


def port_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------------------
# Process control: a systemd unit when systemd runs and a unit is configured, else a daemon with a pidfile.

SYSTEMD_RUN_DIR = "/run/systemd/system"


def systemd_unit(config: Config, log: HookLog) -> Optional[str]:
    """The unit to use, or None for pidfile mode (no unit configured, or systemd is not running)."""
    unit = config.get("APP_SYSTEMD_UNIT")
    if unit and not os.path.isdir(SYSTEMD_RUN_DIR):
        log.step(
            f"APP_SYSTEMD_UNIT={unit} but systemd is not running here ({SYSTEMD_RUN_DIR} missing): "
            "using the pidfile"
        )
        return None
    return unit


def systemctl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            ("systemctl",) + args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
    except FileNotFoundError:
        raise PrerequisiteError(
            f"systemctl not found although {SYSTEMD_RUN_DIR} exists; unset APP_SYSTEMD_UNIT"
        ) from None
    except subprocess.TimeoutExpired:
        raise AppError("systemctl {} did not return within {:g}s".format(" ".join(args), timeout)) from None


def _boot_time() -> Optional[float]:
    try:
        with open("/proc/stat") as handle:
            for line in handle:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def process_start_time(pid: int) -> Optional[float]:
    """Wall-clock start of pid from /proc (Linux), or None when unknown."""
    boot = _boot_time()
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return None if boot is None else boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def process_alive(pid: int) -> bool:
    """True while pid exists and is not a zombie (an unreaped zombie has already exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class PidFile:
    """The pidfile of a daemon started by application_start: the pid on one line."""

    def __init__(self, path: str) -> None:
        self.path = path

    def read(self) -> Optional[int]:
        try:
            with open(self.path) as handle:
                text = handle.read().strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AppError(f"cannot read pidfile {self.path}: {exc}") from None
        return int(text) if text.isdigit() and int(text) > 1 else None

    def write(self, pid: int) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        temporary = self.path + ".tmp"
        with open(temporary, "w") as handle:
            handle.write(f"{pid}\n")
        os.replace(temporary, self.path)

    def remove(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def owned_pid(self, log: HookLog) -> Optional[int]:
        """The live pid this pidfile names, or None; a stale pidfile (dead pid, or a pid reused by a program
        started after the pidfile was written) is reported and ignored."""
        pid = self.read()
        if pid is None:
            if os.path.exists(self.path):
                log.step(f"pidfile {self.path} holds no pid: ignoring it")
            return None
        if not process_alive(pid):
            log.step(f"stale pidfile {self.path}: pid {pid} is not running")
            return None
        started = process_start_time(pid)
        written = os.stat(self.path).st_mtime
        if started is not None and started > written + 2:
            log.step(
                f"stale pidfile {self.path}: pid {pid} belongs to a program "
                "started after the pidfile was written"
            )
            return None
        return pid


def _signal_process(pid: int, signum: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)  # the daemon leads its own group: reach its children too
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass
    except PermissionError:
        raise AppError(
            f"not allowed to signal pid {pid}: run the hook as the app's user or root (runas)"
        ) from None


def wait_for_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    pause = 0.01
    while process_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.2)
    return True


def stop_process(pid: int, grace: float, log: HookLog) -> None:
    """SIGTERM, wait up to grace seconds, then SIGKILL."""
    started = time.monotonic()
    log.step(f"sending SIGTERM to pid {pid}, waiting up to {grace:g}s")
    _signal_process(pid, signal.SIGTERM)
    if wait_for_exit(pid, grace):
        log.step(f"pid {pid} exited after {time.monotonic() - started:.1f}s")
        return
    log.step(f"pid {pid} still running after {grace:g}s: sending SIGKILL")
    _signal_process(pid, signal.SIGKILL)
    if not wait_for_exit(pid, 10):
        raise AppError(f"pid {pid} survived SIGKILL for 10s (uninterruptible I/O?)")
    log.step(f"pid {pid} killed")


def read_env_file(path: str) -> Dict[str, str]:
    """Variables of an environment file written by after_install (KEY=VALUE lines); {} when absent."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read APP_ENV_FILE {path}: {exc}") from None
    return parse_config_text(text, path, check_names=False)[0]


def log_tail(path: str, offset: int, lines: int) -> List[str]:
    """The last lines of path written after offset."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-lines:] if lines > 0 else []


# ---------------------------------------------------------------------------------------------------------
# The run wrapper: --help, config loading, one line per failure and the exit code.


def help_text(uses: Sequence[str]) -> str:
    lines = [f"settings (environment variables, or KEY=VALUE lines in {CONFIG_FILE_NAME}):"]
    for name in uses:
        setting = SETTINGS[name]
        default = "" if setting.default is None else f" [default: {setting.default}]"
        lines.append(f"  {name:<27} {setting.doc}{default}")
    lines.append("")
    lines.append("exit codes:")
    lines.extend(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES)
    lines.append("")
    lines.append("Config file: $HOOKS_CONFIG, else hooks.env beside this script, else at the revision root.")
    lines.append(
        f"Precedence: NAME in the environment, then {CONFIG_FILE_NAME}, then {GROUP_DEFAULT_PREFIX}NAME "
        "in the environment (the deployment group's default), then the default shown above."
    )
    lines.append("Reference: docs/hooks.md")
    return "\n".join(lines)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(f"terminated by signal {signum}: the script's timeout in appspec.yml expired?")


def run(
    script_path: str, doc: Optional[str], uses: Iterable[str], main: Callable[[Config, HookLog], None]
) -> None:
    """Entry point of every hook: parses --help, loads the config, runs main, exits with the table's code."""
    name = os.path.splitext(os.path.basename(script_path))[0]
    uses = tuple(uses)
    parser = argparse.ArgumentParser(
        prog=os.path.basename(script_path),
        description=(doc or "").strip(),
        epilog=help_text(uses),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args()  # only --help; anything else is a usage error (exit 2)
    log = HookLog(name)
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        config = Config.load(script_path)
        log.step(deployment_summary(config.environ))
        if config.source:
            log.step(f"config file {config.source}")
        for warning in config.warnings:
            log.warn(warning)
        main(config, log)
    except HookError as exc:
        log.fail(str(exc), exc.exit_code)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        log.fail("interrupted", EXIT_TERMINATED)
        sys.exit(EXIT_TERMINATED)
    except Exception as exc:  # a bug: say so in one line, keep the traceback for the report
        log.fail(f"internal error: {type(exc).__name__}: {exc}", EXIT_INTERNAL)
        traceback.print_exc()
        sys.exit(EXIT_INTERNAL)
    log.step("done")
    sys.exit(EXIT_OK)
