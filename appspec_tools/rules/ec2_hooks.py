"""EC2/On-Premises `hooks`: the shape the agent's parser needs (`application_specification.rb`,
`script_info.rb`), the events it actually runs (`command_poller.rb`) and how scripts are run."""

from __future__ import annotations

import itertools
import re
from typing import Iterator, List, NamedTuple, Optional, Tuple

from appspec_tools.lifecycle import (
    DEFAULT_SCRIPT_TIMEOUT,
    EC2_FROM_LAST_INSTALL,
    EC2_ORDER,
    EC2_RESERVED,
    EC2_SCRIPTABLE,
    EC2_TRAFFIC,
    ECS_ORDER,
    ECS_RESERVED,
    LAMBDA_ORDER,
    MAX_EVENT_SECONDS,
)
from appspec_tools.nodes import Mapping, Node, Scalar, Sequence, describe
from appspec_tools.reading import RubyInteger, items, ruby_to_i
from appspec_tools.rules import ERROR, INFO, WARNING, Context, Finding, did_you_mean, rule
from appspec_tools.rules.ec2_files import described, shown, target_os, unknown_entry_keys

SCRIPT_KEYS = ("location", "timeout", "runas", "sudo")
# fmt: off
SCRIPT_KEY_ALIASES = {
    "path": "location", "script": "location", "file": "location", "command": "location", "cmd": "location",
    "source": "location", "user": "runas", "run_user": "runas", "as": "runas", "time": "timeout",
}
# fmt: on
_OTHER_PLATFORM_EVENTS = (set(ECS_ORDER) | ECS_RESERVED | set(LAMBDA_ORDER)) - set(EC2_ORDER)
# Patterns are strings, compiled by `re` (and cached) on first use: not at import, every start-up.
_DRIVE = r"^[A-Za-z]:[\\/]"


class Event(NamedTuple):
    name: object
    key: Node
    value: Node


class Script(NamedTuple):
    event: str
    entry: Mapping


def _events(ctx: Context) -> List[Event]:
    hooks = ctx.doc.get("hooks")
    if not isinstance(hooks, Mapping):
        return []
    return [Event(name, key, value) for name, key, value in hooks.items()]


def _used(value: Node) -> bool:
    """True when an event has scripts (null and `[]` do nothing)."""
    return not (isinstance(value, Scalar) and value.tag == "null") and not (
        isinstance(value, Sequence) and not value.items
    )


def _scripts(ctx: Context) -> List[Script]:
    return [
        Script(str(event.name), item)
        for event in _events(ctx)
        for item in items(event.value)
        if isinstance(item, Mapping)
    ]


@rule(
    "HOOK001",
    ERROR,
    "`hooks` is not a mapping of events",
    hint="write `hooks:` as a mapping: `AfterInstall:` followed by a list of `- location: …` entries",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nhooks:\n  - AfterInstall:\n      - location: scripts/migrate.sh",
    good="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/migrate.sh",
)
def hooks_not_a_mapping(ctx: Context) -> Iterator[Finding]:
    """The agent walks `hooks` with `each_pair`; written as a list (the ECS/Lambda shape) or a string it
    crashes with a Ruby NoMethodError. An empty `hooks:` is fine."""
    node = ctx.doc.get("hooks")
    if node is None or isinstance(node, Mapping) or (isinstance(node, Scalar) and node.tag == "null"):
        return
    tip = " (the list form is for ECS and Lambda AppSpecs)" if isinstance(node, Sequence) else ""
    yield Finding(node, f"`hooks` is {describe(node)}, not a mapping of lifecycle events{tip}")


@rule(
    "HOOK002",
    ERROR,
    "A lifecycle event is not a list of scripts",
    hint="list the scripts under the event, each starting with `- location:`",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    location: scripts/migrate.sh",
    good="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/migrate.sh",
)
def event_not_a_list(ctx: Context) -> Iterator[Finding]:
    """Each event maps to a list of script mappings. A single mapping (the `-` forgotten) or a string
    crashes the agent with a NoMethodError. A null event is ignored."""
    for event in _events(ctx):
        value = event.value
        if isinstance(value, Sequence) or (isinstance(value, Scalar) and value.tag == "null"):
            continue
        tip = ": put a `-` before `location`" if isinstance(value, Mapping) else ""
        yield Finding(value, f"{event.name} is {describe(value)}, not a list of scripts{tip}")


@rule(
    "HOOK003",
    ERROR,
    "A hook script entry is not a mapping",
    hint="write each script as `- location: path/in/revision.sh`",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - scripts/migrate.sh",
    good="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/migrate.sh",
)
def script_not_a_mapping(ctx: Context) -> Iterator[Finding]:
    """The agent calls `has_key?('location')` on every entry; a bare path (a list of strings) crashes it
    with a NoMethodError."""
    for event in _events(ctx):
        for item in items(event.value):
            if not isinstance(item, Mapping):
                fix = f": write - location: {item.text}" if isinstance(item, Scalar) else ""
                yield Finding(item, f"script in {event.name} is {describe(item)}, not a mapping{fix}")


@rule(
    "HOOK004",
    ERROR,
    "A hook script has no `location`",
    hint="add `location:` — the script's path relative to the revision root",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - timeout: 300",
    good="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/migrate.sh\n      timeout: 300",
)
def location_missing(ctx: Context) -> Iterator[Finding]:
    """ "The application specification file specifies a script with no location value": `location` must
    be present, not null and not blank. A list or mapping is no path either: the script is missing."""
    for script in _scripts(ctx):
        node = script.entry.get("location")
        if node is None or (isinstance(node, Scalar) and (node.tag == "null" or not str(node.value).strip())):
            yield Finding(node or script.entry, f"script in {script.event} has no location value")
        elif not isinstance(node, Scalar):
            yield Finding(node, f"location is {describe(node)}, not a path")


@rule(
    "HOOK005",
    WARNING,
    "Unknown lifecycle event: its scripts never run",
    hint="use one of " + ", ".join(EC2_SCRIPTABLE) + " (case-sensitive)",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nhooks:\n  AfterInstal:\n    - location: scripts/migrate.sh",
    good="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/migrate.sh",
)
def unknown_event(ctx: Context) -> Iterator[Finding]:
    """The agent does not check event names: it runs the events the service asks for and looks each one
    up, so a misspelled (`AfterInstal`, `afterinstall`) or an ECS/Lambda-only event
    (`AfterAllowTestTraffic`) is accepted and its scripts silently never run. (`codedeploy-local`
    rejects such a file: "contains unknown lifecycle events".)"""
    for event in _events(ctx):
        name = event.name
        if name in EC2_SCRIPTABLE or name in EC2_RESERVED or not _used(event.value):
            continue
        guess = did_you_mean(name, EC2_SCRIPTABLE)
        if name in _OTHER_PLATFORM_EVENTS:
            message = f"{name} is an ECS/Lambda lifecycle event: EC2/On-Premises deployments never run it"
        else:
            message = f"unknown lifecycle event '{shown(event.key)}': its scripts never run"
        yield Finding(event.key, message + (f"; did you mean {guess}?" if guess else ""))


@rule(
    "HOOK006",
    WARNING,
    "Scripts on a reserved event never run",
    hint="attach the scripts to BeforeInstall or AfterInstall (around Install), or to the traffic hooks",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nhooks:\n  Install:\n    - location: scripts/install.sh",
    good="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/install.sh",
)
def reserved_event(ctx: Context) -> Iterator[Finding]:
    """Start, DownloadBundle, Install, BlockTraffic, AllowTraffic and End are performed by the agent or
    the service and cannot run scripts. The agent accepts the key and never runs what is listed under
    it — a warning rather than an error because the deployment itself goes through, like a
    misspelled event (HOOK005); `codedeploy-local` rejects BlockTraffic, AllowTraffic, Start and End."""
    for event in _events(ctx):
        if event.name in EC2_RESERVED and _used(event.value):
            before, after = f"Before{event.name}", f"After{event.name}"
            tip = f"; use {before} or {after}" if before in EC2_SCRIPTABLE else ""
            yield Finding(event.key, f"{event.name} is reserved for CodeDeploy: its scripts never run{tip}")


@rule(
    "HOOK007",
    WARNING,
    "Unknown key in a hook script entry",
    hint="a script entry has `location`, `timeout`, `runas` and (Linux) `sudo`; keys are case-sensitive",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/migrate.sh\n      timout: 300",
    good="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/migrate.sh\n      timeout: 300",
)
def unknown_script_keys(ctx: Context) -> Iterator[Finding]:
    """The agent reads only `location`, `timeout`, `runas` and `sudo`; a misspelled `timout` leaves the
    default 3600 s and `run_as` runs the script as the agent's user (root), silently."""
    for script in _scripts(ctx):
        where = f"a script of {script.event}"
        for key_node, message in unknown_entry_keys(script.entry, SCRIPT_KEYS, where, SCRIPT_KEY_ALIASES):
            yield Finding(key_node, message)


@rule(
    "HOOK008",
    WARNING,
    "`location` is an instance path, or climbs out of the revision",
    hint="give the path relative to the revision root, e.g. `scripts/start.sh` (`scripts\\start.bat`)",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: /opt/app/scripts/start.sh",
    good="version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: scripts/start.sh",
)
def absolute_location(ctx: Context) -> Iterator[Finding]:
    """The agent joins `location` to the unpacked revision (`deployment-archive/`), so
    `/opt/app/scripts/start.sh` means `opt/app/scripts/start.sh` inside the bundle, not the file on
    the instance (hooks.md; aws/aws-codedeploy-agent#138). Usually the script is then missing. With
    `os: windows`, `\\scripts\\start.bat` (AWS's Windows sample) is the revision's `scripts\\start.bat` as
    meant, so only a drive letter (`C:\\...`) is reported; on both, a `..` above the root names no script."""
    windows = target_os(ctx) == "windows"
    for script in _scripts(ctx):
        node = script.entry.get("location")
        value = node.value.strip() if isinstance(node, Scalar) and isinstance(node.value, str) else ""
        if _climbs_out(value, windows):
            yield Finding(node, f"location '{value}' climbs out of the revision: no script is found there")
        elif re.match(_DRIVE, value) or (value.startswith(("/", "\\")) and not windows):
            yield Finding(node, f"location '{value}' is looked up inside the revision, not on the instance")


def _climbs_out(location: str, windows: bool) -> bool:
    """True when `..` segments lead above the revision root (`\\` separates too on Windows)."""
    parts = re.split(r"[\\/]" if windows else "/", location)
    steps = [-1 if part == ".." else int(part not in ("", ".")) for part in parts]
    return any(depth < 0 for depth in itertools.accumulate(steps))


def read_timeout(node: Optional[Node]) -> RubyInteger:
    """`script_info.rb`: `(timeout || 3600).to_i`."""
    return ruby_to_i(node, DEFAULT_SCRIPT_TIMEOUT)


def _timeouts(ctx: Context) -> Iterator[Tuple[Script, Node, RubyInteger]]:
    for script in _scripts(ctx):
        node = script.entry.get("timeout")
        if node is not None:
            yield script, node, read_timeout(node)


@rule(
    "HOOK009",
    ERROR,
    "Invalid `timeout`",
    hint="give the timeout as a whole number of seconds greater than 0, e.g. `timeout: 300`",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/migrate.sh\n      timeout: 0",
    good="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/migrate.sh\n      timeout: 300",
)
def timeout_invalid(ctx: Context) -> Iterator[Finding]:
    """The agent reads `timeout.to_i` and rejects anything not above 0 ("an invalid timeout value was
    provided"): `0`, `-5`, `foo` (which is 0). `true`, a list or a mapping have no `to_i` and crash it."""
    for _, node, timeout in _timeouts(ctx):
        if timeout.value is None:
            yield Finding(node, f"invalid timeout value ({shown(node)}): {timeout.read_as}")
        elif timeout.value <= 0:
            read = "" if timeout.read_as == "int" else f", read as {timeout.value}"
            yield Finding(node, f"invalid timeout value ({shown(node)}{read}): it must be above 0 seconds")


@rule(
    "HOOK010",
    WARNING,
    "`timeout` text is read as a different number of seconds",
    hint="write the timeout in seconds as a plain number: `timeout: 300` for five minutes",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/migrate.sh\n      timeout: 5m",
    good="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/migrate.sh\n      timeout: 300",
)
def timeout_text(ctx: Context) -> Iterator[Finding]:
    """Ruby's `to_i` reads the leading digits and drops the rest, so `5m` is 5 seconds and `1h` is 1
    second: the script is killed long before the intended time. (`"30"` in quotes is fine.)"""
    for _, node, timeout in _timeouts(ctx):
        if timeout.read_as == "text" and timeout.value and timeout.value > 0:
            yield Finding(node, f"timeout {shown(node)} is read as {timeout.value} seconds")


@rule(
    "HOOK011",
    INFO,
    "Fractional `timeout` is truncated",
    hint="write whole seconds",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/migrate.sh\n      timeout: 30.9",
    good="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/migrate.sh\n      timeout: 30",
)
def timeout_fraction(ctx: Context) -> Iterator[Finding]:
    """`to_i` drops the fraction: `30.9` is 30 seconds."""
    for _, node, timeout in _timeouts(ctx):
        if timeout.read_as == "fraction" and timeout.value and timeout.value > 0:
            yield Finding(node, f"timeout {shown(node)} is truncated to {timeout.value} seconds")


@rule(
    "HOOK012",
    WARNING,
    f"`timeout` over {MAX_EVENT_SECONDS} seconds",
    hint=f"keep each script, and each event's scripts together, within {MAX_EVENT_SECONDS} seconds",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/migrate.sh\n      timeout: 7200",
    good="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/migrate.sh\n      timeout: 3600",
)
def timeout_too_long(ctx: Context) -> Iterator[Finding]:
    """The user guide documents 3600 s (one hour) as the maximum for a lifecycle event. The agent
    itself sets no bound, but the service limits the event, so a longer script is cut off there."""
    for _, node, timeout in _timeouts(ctx):
        if timeout.value is not None and timeout.value > MAX_EVENT_SECONDS:
            yield Finding(node, f"timeout {timeout.value} is over the {MAX_EVENT_SECONDS}-second maximum")


@rule(
    "HOOK013",
    WARNING,
    f"An event's script timeouts add up to more than {MAX_EVENT_SECONDS} seconds",
    hint=f"lower the timeouts so that each event's scripts together stay within {MAX_EVENT_SECONDS} seconds",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/a.sh\n      timeout: 1800\n"
    "    - location: scripts/b.sh\n      timeout: 2400",
    good="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/a.sh\n      timeout: 1200\n"
    "    - location: scripts/b.sh\n      timeout: 2400",
)
def event_timeouts_too_long(ctx: Context) -> Iterator[Finding]:
    """The 3600 s maximum is for all of an event's scripts together (hooks.md); the agent asks the
    service for the sum, clamped to 4200 s. Only timeouts written in the file are added up (scripts
    without one default to 3600 s, which would flag every event with two scripts), and an event
    already reported by HOOK012 is not reported again."""
    for event in _events(ctx):
        seconds = []
        for item in items(event.value):
            node = item.get("timeout") if isinstance(item, Mapping) else None
            timeout = read_timeout(node) if node is not None else None
            if timeout is not None and timeout.value is not None and timeout.value > 0:
                seconds.append(timeout.value)
        if len(seconds) > 1 and max(seconds) <= MAX_EVENT_SECONDS and sum(seconds) > MAX_EVENT_SECONDS:
            yield Finding(
                event.key,
                f"{event.name} script timeouts add up to {sum(seconds)} seconds, over the "
                f"{MAX_EVENT_SECONDS}-second maximum for one event",
            )


@rule(
    "HOOK014",
    WARNING,
    "`runas` or `sudo` with `os: windows` is ignored",
    hint="remove `runas`/`sudo`; on Windows scripts run as the agent's account (LocalSystem by default)",
    platforms={"ec2"},
    bad="version: 0.0\nos: windows\nhooks:\n  AfterInstall:\n    - location: scripts\\setup.ps1\n"
    "      runas: Administrator",
    good="version: 0.0\nos: windows\nhooks:\n  AfterInstall:\n    - location: scripts\\setup.ps1",
)
def runas_on_windows(ctx: Context) -> Iterator[Finding]:
    """The Windows agent runs every script as its own account and silently ignores `runas` and `sudo`
    (they are Linux-only: `su USER -c SCRIPT`)."""
    if target_os(ctx) != "windows":
        return
    for script in _scripts(ctx):
        for key in ("runas", "sudo"):
            if key in script.entry:
                yield Finding(script.entry.key_node(key), f"{key} is ignored on Windows")


@rule(
    "HOOK015",
    ERROR,
    "`runas` is not a user name",
    hint="give the user name as a string: `runas: app`",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n      runas: 1000",
    good="version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n      runas: app",
)
def runas_not_a_name(ctx: Context) -> Iterator[Finding]:
    """The agent runs `su <runas> -c <script>` with the value turned into text, so a uid (`1000`), a
    boolean (`yes` is `true`) or a list is taken as a user name that does not exist, and the script
    fails."""
    if target_os(ctx) == "windows":
        return
    for script in _scripts(ctx):
        node = script.entry.get("runas")
        if node is not None and not (isinstance(node, Scalar) and node.tag in ("str", "null")):
            yield Finding(node, f"runas is {described(node)}, not a user name")


@rule(
    "HOOK016",
    WARNING,
    "`sudo` is not a boolean",
    hint="write `sudo: true` or `sudo: false` without quotes, or leave it out",
    platforms={"ec2"},
    bad='version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n      sudo: "no"',
    good="version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n      sudo: false",
)
def sudo_not_boolean(ctx: Context) -> Iterator[Finding]:
    """The undocumented `sudo` key is read by Ruby truthiness: only `false` and null turn it off, so
    the string `"no"`, `"false"` or the number 0 all mean *run with sudo*."""
    if target_os(ctx) == "windows":
        return
    for script in _scripts(ctx):
        node = script.entry.get("sudo")
        if node is not None and not (isinstance(node, Scalar) and node.tag in ("bool", "null")):
            yield Finding(node, f"sudo is {described(node)}: any value but false turns sudo on")


def _first_used(ctx: Context, names: frozenset) -> Tuple[Optional[Node], List[str]]:
    used = [e for e in _events(ctx) if e.name in names and _used(e.value)]
    ordered = [n for n in EC2_ORDER if any(e.name == n for e in used)]
    return (used[0].key if used else None), ordered


@rule(
    "HOOK017",
    INFO,
    "Traffic hooks run only with a load balancer",
    hint="make sure the deployment group has a load balancer, or move the scripts to ValidateService",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nhooks:\n  BeforeAllowTraffic:\n    - location: scripts/warm_up.sh",
    good="version: 0.0\nos: linux\nhooks:\n  ValidateService:\n    - location: scripts/warm_up.sh",
)
def traffic_hooks(ctx: Context) -> Iterator[Finding]:
    """BeforeBlockTraffic, AfterBlockTraffic, BeforeAllowTraffic and AfterAllowTraffic are part of the
    lifecycle only when the deployment group has a Classic, Application or Network Load Balancer
    (hooks.md); without one their scripts are skipped without a word. Reported once per file."""
    where, names = _first_used(ctx, EC2_TRAFFIC - EC2_RESERVED)
    if where is not None:
        yield Finding(
            where,
            f"traffic hooks ({', '.join(names)}) run only when the deployment group has a load balancer",
        )


@rule(
    "HOOK018",
    INFO,
    "ApplicationStop runs the previous revision's scripts",
    hint="a fix to these scripts takes effect one deployment later; get past a broken one with "
    "`--ignore-application-stop-failures`",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nhooks:\n  ApplicationStop:\n    - location: scripts/stop.sh",
    good="version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n    - location: scripts/stop.sh",
    enabled=False,
)
def previous_revision_hooks(ctx: Context) -> Iterator[Finding]:
    """ApplicationStop, BeforeBlockTraffic and AfterBlockTraffic run the scripts of the *last
    successfully installed* revision of the deployment group, not of the one being deployed: a new or
    fixed stop script first runs one deployment later, the first deployment runs none, and a broken
    one keeps failing until you deploy with `--ignore-application-stop-failures`. Reported once per
    file, and only when one of these events has scripts: that is exactly when the surprise can happen,
    and an info finding never fails the lint. (Stopping the app in BeforeInstall, from the new
    revision, avoids the trap.)"""
    where, names = _first_used(ctx, EC2_FROM_LAST_INSTALL)
    if where is not None:
        yield Finding(
            where,
            f"{' and '.join(names)} scripts come from the last successfully installed revision, not from this one",
        )
