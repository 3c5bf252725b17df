"""`appspec init`: write an AppSpec into a revision folder, and for EC2/On-Premises the chosen hook scripts
(byte copies of hooks/) with a hooks.env that configures them. Flags for CI, prompts on a terminal.

Nothing is written when a file exists (without --force) or when the AppSpec would have lint errors; after
writing, the folder is linted as a revision: each finding (a warning the user's values asked for, such as
FILE009) on stderr as `appspec lint` words it, the summary on stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Dict, List, Optional, TextIO, Tuple

from appspec_tools.agent_names import FILE_EXISTS_BEHAVIORS
from appspec_tools.init_files import (
    PlannedFile,
    appspec_text,
    env_value,
    existing_appspec,
    hook_source,
    literal,
    refuse_lint_errors,
    write_files,
)
from appspec_tools.init_values import (
    DEFAULT_HOOKS,
    HOOK_CHOICES,
    InitError,
    absolute,
    app_name,
    capacity_provider,
    comma_list,
    flag_name,
    nearest,
    one_of,
    parse_hooks,
    source_in,
    tcp_port,
    user_name,
)

DEFAULT_PORT = 8080
SCRIPTS_DIR = "scripts"
CONFIG_FILE = "hooks.env"  # beside the scripts: the first place hookkit looks (docs/hooks.md)
# What `appspec deploy --install-root DIR` installs under and gives the hooks; unset (empty) on a real host.
INSTALL_ROOT = "${INSTALL_ROOT:-}"
SHARED_MODULES = ("hookkit.py",)
LB_MODULES = ("loadbalancer.py",)


# EC2 flags that are read only when one of these hooks is chosen.
_LB = ("deregister", "register")
_FLAG_NEEDS_HOOKS = {
    "health_url": ("validate",),
    "start_command": ("start",),
    "systemd_unit": ("stop", "start"),
    "port": ("start", "validate"),
    **dict.fromkeys(
        ("lb_events", "target_group_arns", "haproxy_socket", "haproxy_backends", "haproxy_server"), _LB
    ),
}


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Write appspec.yml, hook scripts and their hooks.env (EC2/On-Premises), or appspec.yaml (ECS, "
        "Lambda), into a revision folder. Asks for missing values on a terminal; never overwrites "
        "without --force."
    )
    add = parser.add_argument
    add("directory", nargs="?", default=".", metavar="DIR", help="the revision folder (default: .)")
    add("--platform", choices=("ec2", "ecs", "lambda"), help="compute platform (default: ec2)")
    add("--force", action="store_true", help="overwrite files that exist")
    add("--yes", "--no-input", dest="no_input", action="store_true", help="never ask: take the defaults")
    platform_of: Dict[str, str] = {}  # dest -> the one platform that reads it
    parser.set_defaults(platform_of=platform_of)

    def group(title: str, platform: str) -> Callable[..., None]:
        adder = parser.add_argument_group(title).add_argument

        def add_flag(*names: str, **options: Any) -> None:
            platform_of[adder(*names, **options).dest] = platform

        return add_flag

    ec2 = group("EC2/On-Premises", "ec2")
    ec2("--source", help="what to install, relative to DIR (default: / = the whole revision)")
    ec2(
        "--destination",
        type=absolute,
        metavar="PATH",
        help="install folder, APP_DIR (default: /opt/DIRNAME)",
    )
    hooks = ", ".join(c.name for c in HOOK_CHOICES)
    ec2("--hooks", type=parse_hooks, metavar="LIST", help=f"{hooks}, all or none (default: {DEFAULT_HOOKS})")
    ec2(
        "--lb-events",
        choices=("traffic", "app"),
        help="deregister/register in BeforeBlockTraffic/AfterAllowTraffic (traffic, the default) or, "
        "for a group without a CodeDeploy load balancer, in ApplicationStop/ValidateService (app)",
    )
    ec2("--runas", type=user_name, metavar="USER", help="run every hook script as this user")
    ec2(
        "--file-exists-behavior",
        type=str.upper,
        choices=FILE_EXISTS_BEHAVIORS,
        help="what Install does with a file already at a target path (default: the deployment's setting)",
    )
    ec2("--port", type=tcp_port, help=f"APP_PORT, the port the app listens on (default: {DEFAULT_PORT})")
    ec2("--health-url", metavar="URL", help="HEALTH_URL (default: http://127.0.0.1:PORT/health)")
    ec2("--start-command", metavar="CMD", help="APP_START_COMMAND: runs the app in the foreground")
    ec2("--systemd-unit", metavar="UNIT", help="APP_SYSTEMD_UNIT: stop/start this unit instead")
    ec2("--target-group-arns", metavar="ARNS", help="TARGET_GROUP_ARNS (comma-separated)")
    ec2("--haproxy-socket", metavar="ADDR", help="HAPROXY_SOCKET: admin socket path or host:port")
    ec2("--haproxy-backends", metavar="LIST", help="HAPROXY_BACKENDS (comma-separated)")
    ec2("--haproxy-server", metavar="NAME", help="HAPROXY_SERVER: this host's server name")
    ecs = group("Amazon ECS", "ecs")
    ecs("--task-definition", metavar="ARN", help="task definition ARN (required)")
    ecs("--container-name", metavar="NAME", help="container that receives traffic (required)")
    ecs("--container-port", type=tcp_port, metavar="PORT", help="its port (required)")
    ecs("--platform-version", metavar="VERSION", help="Fargate platform version, e.g. LATEST")
    ecs("--subnets", metavar="IDS", help="subnet-... ids, comma-separated (with --security-groups)")
    ecs("--security-groups", metavar="IDS", help="sg-... ids, comma-separated (with --subnets)")
    ecs("--assign-public-ip", type=str.upper, choices=("ENABLED", "DISABLED"), help="default: DISABLED")
    ecs("--capacity-provider", type=capacity_provider, action="append", metavar="NAME[:WEIGHT[:BASE]]")
    lam = group("AWS Lambda", "lambda")
    lam("--function-name", metavar="NAME", help="function name (required)")
    lam("--alias", metavar="ALIAS", help="alias that shifts traffic (required)")
    lam("--current-version", metavar="N", help="version the alias points to now (required)")
    lam("--target-version", metavar="N", help="version to shift traffic to (required)")
    parser.add_argument_group("Amazon ECS and AWS Lambda").add_argument(
        "--hook", action="append", metavar="EVENT=FUNCTION", help="a hook function (repeatable)"
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        return _init(args, out, err)
    except InitError as exc:
        err.write(f"appspec init: {exc}\n")
        return 2


def _init(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from appspec_tools.formatters import summary, text_line
    from appspec_tools.linter import LintOptions, lint_paths

    directory = args.directory
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise InitError(f"{directory} is not a directory; pass the revision folder")
    terminal = sys.stdin is not None and sys.stdin.isatty() and getattr(out, "isatty", lambda: False)()
    interactive = terminal and not args.no_input
    ask = Prompter(args, interactive, out)
    platform = ask.get("platform", "Platform (ec2, ecs, lambda)", "ec2", one_of(("ec2", "ecs", "lambda")))
    for dest, owner in args.platform_of.items():
        if getattr(args, dest) is not None and owner != platform:
            raise InitError(f"{flag_name(dest)} is for --platform {owner}, not {platform}")
    if args.hook and platform == "ec2":
        raise InitError("--hook is for --platform ecs or lambda; on ec2 choose scripts with --hooks")
    name = existing_appspec(directory) or ("appspec.yml" if platform == "ec2" else "appspec.yaml")
    if platform == "ec2":
        spec, files, notes = _ec2(ask, directory)
    else:
        spec, files, notes = (_ecs if platform == "ecs" else _lambda)(ask), [], []
    if ask.missing:
        raise InitError(
            f"--platform {platform} needs {', '.join(ask.missing)} (or answer prompts on a terminal)"
        )
    files.insert(0, PlannedFile(name, appspec_text(spec, name).encode("utf-8"), 0o644))
    refuse_lint_errors(files[0])
    write_files(directory, files, args.force)
    for planned in files:
        out.write(f"wrote {os.path.normpath(os.path.join(directory, planned.path))}\n")
    report = lint_paths([directory], LintOptions())
    for message in report.errors:
        err.write(f"appspec lint: {message}\n")
    for problem in report.problems:
        err.write(text_line(problem) + "\n")
    out.write(summary(report.problems, report.files) + "\n")
    for note in notes:
        out.write(f"next: {note}\n")
    return 0


class Prompter:
    """Values from the flags, else from a prompt on a terminal, else the default. Required values that no
    flag gives are collected in `missing` (non-interactive) so that one message names them all."""

    def __init__(self, args: argparse.Namespace, interactive: bool, out: TextIO) -> None:
        self.args, self.interactive, self.out = args, interactive, out
        self.missing: List[str] = []

    def get(
        self,
        dest: str,
        question: str,
        default: Any = None,
        check: Optional[Callable[[str], Any]] = None,
        required: bool = False,
    ) -> Any:
        value = getattr(self.args, dest)
        if value is None and not self.interactive:
            if required:
                self.missing.append(flag_name(dest))
            value = default
        if value is not None or not self.interactive:  # argparse converted most flags; not defaults
            try:
                return self._set(dest, check(value) if check and isinstance(value, str) else value)
            except argparse.ArgumentTypeError as exc:
                raise InitError(f"{flag_name(dest)}: {exc}") from None
        shown = " (required)" if required else f" [{'none' if default in (None, '') else default}]"
        while True:
            self.out.write(f"{question}{shown}: ")
            self.out.flush()
            try:
                line = input().strip()
            except EOFError:
                raise InitError(
                    f"no answer for {question!r} (end of input); pass {flag_name(dest)}"
                ) from None
            if not line and required:
                self.out.write("  a value is required\n")
                continue
            try:
                answer = line or default
                return self._set(dest, check(answer) if check and isinstance(answer, str) else answer)
            except argparse.ArgumentTypeError as exc:
                self.out.write(f"  {exc}\n")

    def _set(self, dest: str, value: Any) -> Any:
        setattr(self.args, dest, value)
        return value


def _ec2(ask: Prompter, directory: str) -> Tuple[Any, List[PlannedFile], List[str]]:
    from appspec_tools.model import AppSpec, FileMapping, HookScript, LifecycleHooks

    args = ask.args
    source = ask.get("source", "Install which files (relative to DIR; / = all)", "/", source_in(directory))
    default_destination = "/opt/" + app_name(directory)
    destination = ask.get("destination", "Install them to (APP_DIR)", default_destination, absolute)
    chosen = ask.get(
        "hooks", f"Hooks ({', '.join(c.name for c in HOOK_CHOICES)}, all, none)", DEFAULT_HOOKS, parse_hooks
    )
    names = {c.name for c in chosen}
    for dest, needs in _FLAG_NEEDS_HOOKS.items():
        if getattr(args, dest) is not None and not names & set(needs):
            raise InitError(
                f"{flag_name(dest)} is used by the {' or '.join(needs)} hook, which --hooks leaves out"
            )
    has_lb = bool(names & set(_LB))
    if has_lb:
        question = (
            "Load-balancer hooks in traffic events (the group has a CodeDeploy load balancer) or app events"
        )
        ask.get("lb_events", question, "traffic", one_of(("traffic", "app")))
        ask.get("target_group_arns", "ELBv2 target group ARNs (comma-separated)")
    if names & {"start", "validate"} and not (names == {"validate"} and args.health_url):
        ask.get("port", "Port the app listens on (APP_PORT)", str(DEFAULT_PORT), tcp_port)
    if "start" in names and not args.systemd_unit:
        ask.get("start_command", "Command that runs the app in the foreground (APP_START_COMMAND)")
    if "validate" in names:
        ask.get(
            "health_url", "Health check URL", f"http://127.0.0.1:{args.port}/health" if args.port else None
        )
    runas = ask.get("runas", "Run the hooks as user (runas)", None, user_name)
    app_events = args.lb_events == "app"
    events: Dict[str, List[Any]] = {}
    for choice in chosen:
        script = HookScript(f"{SCRIPTS_DIR}/{choice.script}", choice.timeout, runas=runas or None)
        events.setdefault(choice.app_event if app_events else choice.event, []).append(script)
    from appspec_tools.lifecycle import EC2_ORDER

    spec = AppSpec(
        files=(FileMapping(source, destination),),
        hooks=LifecycleHooks([(event, events[event]) for event in EC2_ORDER if event in events]),
        file_exists_behavior=args.file_exists_behavior,
    )
    if not chosen:
        return spec, [], []
    modules = SHARED_MODULES + (LB_MODULES if has_lb else ())
    files = [PlannedFile(f"{SCRIPTS_DIR}/{c.script}", hook_source(c.script), 0o755) for c in chosen]
    files += [PlannedFile(f"{SCRIPTS_DIR}/{m}", hook_source(m), 0o644) for m in modules]
    text, notes = hooks_env(args, names)
    files.append(PlannedFile(f"{SCRIPTS_DIR}/{CONFIG_FILE}", text.encode("utf-8"), 0o644))
    return spec, files, notes


def hooks_env(args: argparse.Namespace, names: set) -> Tuple[str, List[str]]:
    """The hooks.env for the chosen hooks, and what is still to fill in; names are hookkit.SETTINGS'."""
    lines = [
        "# Configuration of the hook scripts beside this file (written by `appspec init`): KEY=VALUE lines,",
        "# overridden by environment variables of the same name. Every setting: docs/hooks.md.",
        "# Relative paths resolve against APP_DIR; ${NAME} refers to another setting or a deployment variable.",
        "# INSTALL_ROOT is set by `appspec deploy --install-root` (rehearsals without root); empty on real hosts.",
        f"APP_DIR={env_value(INSTALL_ROOT + literal(args.destination))}",
    ]
    todo: List[str] = []

    def setting(name: str, value: Any, missing: str = "") -> None:
        if value not in (None, ""):
            lines.append(f"{name}={env_value(str(value))}")
        elif missing:
            lines.extend([f"# To do: {missing}", f"# {name}="])
            todo.append(f"set {name} in {SCRIPTS_DIR}/{CONFIG_FILE}: {missing}")

    if names & {"start", "validate"}:
        setting("APP_PORT", args.port)
    if names & {"stop", "start"}:
        setting("APP_SYSTEMD_UNIT", args.systemd_unit)
    if "start" in names and not args.systemd_unit:
        setting("APP_START_COMMAND", args.start_command, "the command that runs the app in the foreground")
    if "validate" in names and args.health_url != f"http://127.0.0.1:{args.port}/health":
        setting("HEALTH_URL", args.health_url)
    if names & set(_LB):
        setting("TARGET_GROUP_ARNS", args.target_group_arns)
        for name in ("HAPROXY_SOCKET", "HAPROXY_BACKENDS", "HAPROXY_SERVER"):
            setting(name, getattr(args, name.lower()))
        if not (args.target_group_arns or args.haproxy_socket):
            setting("TARGET_GROUP_ARNS", None, "the ELBv2 target groups, or HAPROXY_SOCKET/_BACKENDS/_SERVER")
    return "\n".join(lines) + "\n", todo


def _ecs(ask: Prompter) -> Any:
    from appspec_tools.model import (
        AwsvpcConfiguration,
        CapacityProviderStrategyItem,
        EcsAppSpec,
        TargetService,
    )

    args = ask.args
    task = ask.get("task_definition", "Task definition ARN", required=True)
    container = ask.get("container_name", "Container name", required=True)
    port = ask.get("container_port", "Container port", None, tcp_port, required=True)
    network = None
    if ask.get("subnets", "Subnet ids for the new tasks (comma-separated; empty: the service's)"):
        ask.get("security_groups", "Security group ids (comma-separated)", required=True)
        ask.get(
            "assign_public_ip", "Assign a public IP", "DISABLED", one_of(("ENABLED", "DISABLED"), str.upper)
        )
    if args.subnets or args.security_groups or args.assign_public_ip:
        if not (args.subnets and args.security_groups):
            raise InitError("--subnets and --security-groups go together (with --assign-public-ip)")
        network = AwsvpcConfiguration(
            tuple(comma_list(args.subnets)),
            tuple(comma_list(args.security_groups)),
            args.assign_public_ip or "DISABLED",
        )
    strategy = tuple(CapacityProviderStrategyItem(*item) for item in args.capacity_provider or ())
    service = TargetService(task, container, port, args.platform_version, network, strategy)
    return EcsAppSpec(service, hooks=_hook_functions(ask, "ecs"))


def _lambda(ask: Prompter) -> Any:
    from appspec_tools.model import LambdaAppSpec, LambdaFunction

    name = ask.get("function_name", "Function name", required=True)
    alias = ask.get("alias", "Alias", required=True)
    current = ask.get("current_version", "Current version", required=True)
    target = ask.get("target_version", "Target version", required=True)
    logical = "".join(ch for ch in str(name or "").rsplit(":function:", 1)[-1] if ch.isalnum()) or "Function"
    function = LambdaFunction(logical, name, alias, current, target)
    return LambdaAppSpec(function, hooks=_hook_functions(ask, "lambda"))


def _hook_functions(ask: Prompter, platform: str) -> Tuple[Any, ...]:
    from appspec_tools.lifecycle import SCRIPTABLE
    from appspec_tools.model import HookFunction

    events = SCRIPTABLE[platform]
    if ask.args.hook is None and ask.interactive:
        answer = ask.get("hook", f"Hook functions, EVENT=FUNCTION comma-separated ({', '.join(events)})")
        ask.args.hook = comma_list(answer or "")
    hooks = []
    for text in ask.args.hook or ():
        event, _, function = (part.strip() for part in text.partition("="))
        if event not in events or not function:
            near = nearest(event, events)
            raise InitError(
                f"--hook {text}: expected EVENT=FUNCTION with EVENT one of {', '.join(events)}{near}"
            )
        hooks.append(HookFunction(event, function))
    return tuple(hooks)
