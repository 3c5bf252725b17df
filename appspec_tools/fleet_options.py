"""The `appspec fleet VERB --group FILE` arguments: a deployment group over SSH, one subcommand a verb,
each with only the options it reads (so `--help` shows them and any other flag is a usage error).
Defined here so that building the parser never imports agent_shim or fabric."""

from __future__ import annotations

import argparse

from appspec_tools.deploy_options import add_format_option, add_quiet_option, add_revision_options

# verb -> (the controller's action, the positional it takes, its one-line help)
VERBS = {
    "deploy": ("run", None, "deploy a revision to the group's hosts by its deployment configuration"),
    "plan": ("plan", None, "dry run: order, batches, what each host runs (--connect adds the preflight)"),
    "check": (
        "check",
        None,
        "the preflight alone: every host answers over SSH, every load-balancer name resolves",
    ),
    "status": ("status", "ID", "the latest (or ID) deployment, each host's state, which hosts take traffic"),
    "history": ("history", None, "the group's deployments, newest first, and its last good one"),
    "show": ("show", "ID", "one deployment in full"),
    "rollback": (
        "rollback",
        "ID",
        "roll back the latest (or ID) deployment: redeploy the last good revision",
    ),
    "stop": ("stop", "ID", "ask the running deployment to stop: hosts in flight finish, no other starts"),
    "sync": ("sync", "HOST", "give HOST the group's last good revision (a new or repaired host)"),
}
LIVE_FORMATS = ("text", "json", "jsonl")
READ_FORMATS = ("text", "json")
_LIVE_HELP = (
    "text (a live view, then the hosts table); json (one document at the end); jsonl (one line per host "
    "event as it happens, then the result)"
)
REVISION = "a folder (archived as .tgz), .zip, .tar, .tgz, or s3://bucket/key[?versionId=...]"


def _timeline(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeline",
        metavar="FILE",
        help="also write the deployment's timeline (hosts x lifecycle events) to FILE: an .svg picture or "
        "an .html page; refused before anything is changed when FILE cannot be written",
    )


def _no_preflight(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-preflight",
        action="store_true",
        help="skip the preflight; unreachable hosts then fail one by one, by the minimum healthy hosts",
    )


def _verb(sub: argparse._SubParsersAction, verb: str) -> argparse.ArgumentParser:
    action, positional, summary = VERBS[verb]
    parser = sub.add_parser(verb, help=summary, description=summary[0].upper() + summary[1:] + ".")
    parser.set_defaults(action=action, target=None)
    if positional == "ID":
        parser.add_argument(
            "target",
            nargs="?" if verb != "show" else None,
            metavar="ID",
            help="a deployment id" + (" (default: the latest)" if verb != "show" else ""),
        )
    elif positional == "HOST":
        parser.add_argument("target", metavar="HOST", help="a host's name in the group file")
    parser.add_argument(
        "--group", metavar="FILE", required=True, help="the deployment group file (YAML; docs/fleet.md)"
    )
    return parser


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Deploy to a group of hosts over SSH the way the CodeDeploy service does: minimum healthy hosts, "
        "load-balancer drain and re-enable, automatic rollback, blue/green (docs/fleet.md)."
    )
    sub = parser.add_subparsers(dest="fleet_verb", metavar="VERB", required=True)

    deploy = _verb(sub, "deploy")
    add_revision_options(deploy, REVISION, required=True)
    add_format_option(deploy, LIVE_FORMATS, _LIVE_HELP)
    add_quiet_option(deploy)
    _timeline(deploy)
    _no_preflight(deploy)

    plan = _verb(sub, "plan")
    add_revision_options(plan, REVISION + " (optional: linted, and its hooks shown)")
    plan.add_argument(
        "--connect",
        action="store_true",
        help="also run the preflight (every host answers over SSH, every load-balancer name resolves)",
    )
    add_format_option(plan, READ_FORMATS, "text, or json (the plan as one document)")

    check = _verb(sub, "check")
    add_revision_options(check, REVISION + " (optional: linted too)", appspec_filename=False)
    add_format_option(check, READ_FORMATS, "text, or json (the problems as one document)")

    for verb in ("status", "show"):
        reader = _verb(sub, verb)
        add_format_option(reader, READ_FORMATS, "text, or json (one document)")
        _timeline(reader)
    add_format_option(_verb(sub, "history"), READ_FORMATS, "text, or json (one document)")
    add_format_option(_verb(sub, "stop"), READ_FORMATS, "text, or json (which deployment was asked to stop)")

    for verb in ("rollback", "sync"):
        changer = _verb(sub, verb)
        add_format_option(changer, LIVE_FORMATS, _LIVE_HELP)
        add_quiet_option(changer)
        _timeline(changer)
        if verb == "sync":
            _no_preflight(changer)
