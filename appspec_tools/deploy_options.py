"""The `appspec deploy` arguments, defined here so that building the parser never imports agent_shim
or boto3. One command, three targets: this host (the agent shim), a fleet over SSH (`--group FILE`),
or AWS CodeDeploy itself (`--aws`)."""

from __future__ import annotations

import argparse

FILE_EXISTS = ("DISALLOW", "OVERWRITE", "RETAIN")
FLEET_ACTIONS = ("run", "plan", "check", "status", "history", "show", "rollback", "stop", "sync")
BUNDLE_TYPES = ("directory", "zip", "tar", "tgz")


def _upper(value: str) -> str:
    return value.upper()


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run a deployment like the CodeDeploy agent: on this host (default), on a fleet over SSH "
        "(--group FILE) or on AWS CodeDeploy (--aws)."
    )
    parser.add_argument(
        "action",
        nargs="?",
        choices=FLEET_ACTIONS,
        default="run",
        help="with --group: run (default), plan (dry run), check (the preflight alone), status [ID], history, "
        "show ID, rollback [ID], stop, sync HOST",
    )
    parser.add_argument(
        "target", nargs="?", metavar="ID_OR_HOST", help="the deployment ID, or the HOST of sync"
    )
    fleet = parser.add_argument_group("a fleet (--group FILE)")
    fleet.add_argument(
        "--group",
        metavar="FILE",
        help="deployment group file (YAML): deploy to its hosts by its deployment configuration (docs/fleet.md)",
    )
    fleet.add_argument(
        "--timeline",
        metavar="FILE",
        help="with run, rollback, sync, show or status: also write the deployment's timeline (hosts x lifecycle events) "
        "to FILE, an .svg picture or an .html page",
    )
    fleet.add_argument(
        "--connect",
        action="store_true",
        help="with plan: also run the preflight (every host answers over SSH, every load-balancer name resolves)",
    )
    fleet.add_argument(
        "--no-preflight",
        action="store_true",
        help="with run or sync: skip the preflight; unreachable hosts then fail one by one, by the minimum "
        "healthy hosts",
    )
    what = parser.add_argument_group("revision")
    what.add_argument(
        "--bundle",
        metavar="PATH_OR_URL",
        help="revision: a folder, .zip, .tar, .tgz, or s3://bucket/key[?versionId=...]",
    )
    what.add_argument(
        "--type", dest="bundle_type", choices=BUNDLE_TYPES, help="bundle type (default: from the name)"
    )
    what.add_argument(
        "--appspec-filename", default="appspec.yml", metavar="NAME", help="AppSpec file name in the revision"
    )

    common = parser.add_argument_group("deployment")
    common.add_argument("--application", metavar="NAME", help="application name (APPLICATION_NAME)")
    common.add_argument(
        "--deployment-group", metavar="NAME", help="deployment group name (DEPLOYMENT_GROUP_NAME)"
    )
    common.add_argument(
        "--file-exists-behavior",
        type=_upper,
        choices=FILE_EXISTS,
        help="default DISALLOW; the AppSpec's own value wins",
    )
    common.add_argument(
        "--ignore-application-stop-failures",
        action="store_true",
        help="continue past failures of ApplicationStop, BeforeBlockTraffic and AfterBlockTraffic",
    )
    common.add_argument(
        "--format",
        dest="output_format",
        choices=("text", "json", "jsonl"),
        default="text",
        help="text; json (one report at the end); jsonl (one JSON line per event, then the result: for the fleet)",
    )

    local = parser.add_argument_group("this host (the agent shim)")
    local.add_argument(
        "--root", metavar="DIR", help="deployment root (default /opt/codedeploy-agent/deployment-root)"
    )
    local.add_argument(
        "--max-revisions",
        type=int,
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
    local.add_argument(
        "--with-load-balancer",
        action="store_true",
        help="also run the traffic hooks (BeforeBlockTraffic ... AfterAllowTraffic)",
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
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="SIGKILL a timed-out script's group this long after SIGTERM",
    )

    aws = parser.add_argument_group("AWS CodeDeploy (--aws)")
    aws.add_argument("--aws", action="store_true", help="create the deployment on AWS CodeDeploy with boto3")
    aws.add_argument("--s3", metavar="s3://BUCKET/KEY", help="revision already in S3 (with --aws)")
    aws.add_argument("--deployment-config", metavar="NAME", help="e.g. CodeDeployDefault.OneAtATime")
    aws.add_argument("--description", metavar="TEXT")
    aws.add_argument("--wait", action="store_true", help="follow the deployment until it ends")
    aws.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how often --wait polls (default 5)",
    )
    aws.add_argument("--region", metavar="REGION")
    aws.add_argument("--profile", metavar="PROFILE")
