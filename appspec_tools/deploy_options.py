"""The `appspec deploy` arguments (one deployment on this host), and the option groups that `appspec
fleet` and `appspec aws` share with it; defined here so that building the parser never imports agent_shim
or boto3. Each program adds only the options it reads: a flag that does not apply is a usage error."""

from __future__ import annotations

import argparse
from typing import Sequence

from appspec_tools.agent_names import FILE_EXISTS_BEHAVIORS

BUNDLE_TYPES = ("directory", "zip", "tar", "tgz")


def _upper(value: str) -> str:
    return value.upper()


def non_negative(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds (0 or more)")
    return number


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of 1 or more")
    return number


def add_revision_options(
    parser: argparse.ArgumentParser,
    where: str,
    types: Sequence[str] = BUNDLE_TYPES,
    required: bool = False,
    appspec_filename: bool = True,
) -> None:
    what = parser.add_argument_group("revision")
    what.add_argument("--bundle", metavar="PATH_OR_URL", required=required, help=f"revision: {where}")
    what.add_argument(
        "--type", dest="bundle_type", choices=types, help="bundle type (default: from the name)"
    )
    if appspec_filename:
        what.add_argument(
            "--appspec-filename",
            default="appspec.yml",
            metavar="NAME",
            help="AppSpec file name in the revision",
        )


def add_agent_options(group: argparse._ArgumentGroup) -> None:
    """What a deployment asks of the agent, on this host or through the service."""
    group.add_argument(
        "--file-exists-behavior",
        type=_upper,
        choices=FILE_EXISTS_BEHAVIORS,
        help="default DISALLOW; the AppSpec's own value wins",
    )
    group.add_argument(
        "--ignore-application-stop-failures",
        action="store_true",
        help="continue past failures of ApplicationStop, BeforeBlockTraffic and AfterBlockTraffic",
    )


def add_format_option(parser: argparse.ArgumentParser, choices: Sequence[str], help: str) -> None:
    parser.add_argument("--format", dest="output_format", choices=choices, default="text", help=help)


def add_quiet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="text format: no live progress, only the result at the end"
    )


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """`appspec deploy`: one deployment on this host, as the CodeDeploy agent runs it."""
    parser.description = (
        "Run a deployment on this host like the CodeDeploy agent. A group of hosts over SSH: `appspec "
        "fleet`; the AWS CodeDeploy service: `appspec aws`."
    )
    add_revision_options(
        parser, "a folder, .zip, .tar, .tgz, or s3://bucket/key[?versionId=...]", required=True
    )
    common = parser.add_argument_group("deployment")
    common.add_argument(
        "--application",
        "--application-name",
        dest="application",
        metavar="NAME",
        help="application name (APPLICATION_NAME; default: the bundle location, as codedeploy-local)",
    )
    common.add_argument(
        "--deployment-group",
        metavar="ID",
        help="deployment group id: names its folder under the root (DEPLOYMENT_GROUP_ID; default "
        "default-local-deployment-group)",
    )
    common.add_argument(
        "--deployment-group-name",
        metavar="NAME",
        help="deployment group name (DEPLOYMENT_GROUP_NAME; default LocalFleet, as codedeploy-local)",
    )
    add_agent_options(common)
    add_format_option(
        parser,
        ("text", "json", "jsonl"),
        "text (live lines, then a summary); json (one report at the end); jsonl (one JSON line per event, "
        "then the result)",
    )
    add_quiet_option(parser)

    local = parser.add_argument_group("this host (the agent shim)")
    local.add_argument(
        "--root", metavar="DIR", help="deployment root (default /opt/codedeploy-agent/deployment-root)"
    )
    local.add_argument(
        "--max-revisions",
        type=positive_int,
        default=5,
        metavar="N",
        help="revisions kept per group, counting this one (default 5)",
    )
    local.add_argument(
        "--events",
        metavar="EVENT,...",
        help="run these lifecycle events, in this order, instead of the default",
    )
    local.add_argument(
        "--exact-events",
        action="store_true",
        help="run --events exactly as listed (nothing added): a step of a deployment run in parts",
    )
    local.add_argument(
        "--deployment-id",
        metavar="ID",
        help="use this deployment id; an existing one is continued (its scripts.log is appended to)",
    )
    local.add_argument(
        "--skip-lint",
        action="store_true",
        help="do not lint the revision first (the fleet controller already linted these exact bytes); "
        "the unsafe-archive check still runs",
    )
    local.add_argument(
        "--bundle-origin",
        metavar="s3://BUCKET/KEY",
        help="for the fleet: the archive given with --bundle was downloaded from this S3 location "
        "(s3://BUCKET/KEY[?versionId=...&etag=...]); hooks get its BUNDLE_* variables",
    )
    local.add_argument(
        "--creator",
        choices=("user", "codeDeployRollback"),
        default="user",
        help="for the fleet: who created the deployment (a rollback changes where blue/green traffic hooks "
        "take their scripts from, as in the agent)",
    )
    local.add_argument(
        "--deployment-type",
        choices=("IN_PLACE", "BLUE_GREEN"),
        default="IN_PLACE",
        help="for the fleet: the deployment's type (default IN_PLACE)",
    )
    traffic = local.add_mutually_exclusive_group()
    traffic.add_argument(
        "--with-load-balancer",
        dest="with_load_balancer",
        action="store_true",
        default=True,
        help="run the four traffic hooks (BeforeBlockTraffic ... AfterAllowTraffic), as codedeploy-local "
        "always does (the default)",
    )
    traffic.add_argument(
        "--without-load-balancer",
        dest="with_load_balancer",
        action="store_false",
        help="leave the traffic hooks out, as the service does for a group without a load balancer",
    )
    local.add_argument(
        "--rollback",
        action="store_true",
        help="on failure, redeploy the last good revision as a new deployment",
    )
    local.add_argument(
        "--install-root",
        metavar="DIR",
        help="install `files` destinations under DIR (like DESTDIR), to rehearse without root; hooks get INSTALL_ROOT",
    )
    local.add_argument(
        "--check-url",
        action="append",
        default=[],
        metavar="URL",
        help="after a successful deployment, GET this URL and report it (repeatable)",
    )
    local.add_argument(
        "--kill-grace",
        type=non_negative,
        metavar="SECONDS",
        help="SIGKILL a timed-out script's group this long after SIGTERM (the agent never does: it waits "
        "for the script to exit; --safe: 5)",
    )
    local.add_argument(
        "--safe",
        action="store_true",
        help="protect the host where the agent does not (docs/deploy.md): refuse a revision with lint "
        "errors, unknown --events or setuid files before any event; check file conflicts before removing "
        "the previous install; install archive files as the deploying user; chown a symlink, not its "
        "target; SIGKILL a timed-out script after --kill-grace. The fleet's host runner uses it",
    )
