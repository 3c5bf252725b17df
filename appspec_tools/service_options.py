"""The `appspec aws VERB` arguments: deployments by the AWS CodeDeploy service itself, through boto3.
Defined here so that building the parser never imports boto3."""

from __future__ import annotations

import argparse

from appspec_tools.deploy_options import (
    add_agent_options,
    add_format_option,
    add_revision_options,
    non_negative,
    positive_int,
)


def add_account_options(parser: argparse.ArgumentParser) -> None:
    """Where boto3 talks to: every command that calls AWS (these verbs and `appspec push`)."""
    parser.add_argument(
        "--region", metavar="REGION", help="default: as boto3 resolves it (AWS_REGION, profile)"
    )
    parser.add_argument("--profile", metavar="PROFILE", help="default: AWS_PROFILE or the default profile")


def _group_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--application", metavar="NAME", required=True, help="the CodeDeploy application")
    parser.add_argument("--deployment-group", metavar="NAME", required=True, help="its deployment group")


def _follow_options(parser: argparse.ArgumentParser, until: str = "") -> None:
    parser.add_argument("--wait", action="store_true", help="follow the deployment until it ends" + until)
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="text format: no live view and no upload progress, only the result",
    )
    parser.add_argument(
        "--poll-interval",
        type=non_negative,
        default=None,
        metavar="SECONDS",
        help="how often --wait polls (default 5)",
    )


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = "Deployments by the AWS CodeDeploy service, through boto3 (docs/aws.md)."
    sub = parser.add_subparsers(dest="aws_verb", metavar="VERB", required=True)
    deploy = sub.add_parser(
        "deploy",
        help="create a deployment (uploading a local revision first) and, with --wait, follow it",
        description="Create a deployment on AWS CodeDeploy and, with --wait, follow it to the end.",
    )
    add_revision_options(
        deploy,
        "a local folder, .zip, .tar or .tgz to upload to --s3, or s3://bucket/key",
        types=("zip", "tar", "tgz"),
        appspec_filename=False,
    )
    deploy.add_argument(
        "--s3",
        metavar="s3://BUCKET/KEY",
        help="the revision in S3, or the prefix a local --bundle is uploaded to",
    )
    _group_options(deploy)
    deploy.add_argument("--deployment-config", metavar="NAME", help="e.g. CodeDeployDefault.OneAtATime")
    deploy.add_argument("--description", metavar="TEXT")
    add_agent_options(deploy.add_argument_group("the agent on each instance"))
    _follow_options(deploy)
    add_format_option(deploy, ("text", "json"), "text (with --wait, a live view); json (one document)")
    add_account_options(deploy)

    status = sub.add_parser(
        "status",
        help="one deployment: its status, targets and failed scripts; --wait attaches and follows it",
        description="Read one deployment (GetDeployment and its targets); with --wait, follow it until it ends "
        "or --timeout passes. Changes nothing.",
    )
    status.add_argument("deployment_id", metavar="ID", help="the deployment id (d-...)")
    _follow_options(status, " (or --timeout passes)")
    status.add_argument(
        "--timeout",
        type=non_negative,
        default=None,
        metavar="SECONDS",
        help="with --wait: stop following after this long (exit 1; the deployment goes on)",
    )
    add_format_option(status, ("text", "json"), "text (with --wait, a live view); json (one document)")
    add_account_options(status)

    listing = sub.add_parser(
        "list",
        help="a deployment group's deployments, newest first",
        description="List a deployment group's deployments, newest first (ListDeployments). Changes nothing.",
    )
    _group_options(listing)
    listing.add_argument(
        "--status",
        action="append",
        choices=("Created", "Queued", "InProgress", "Baking", "Succeeded", "Failed", "Stopped", "Ready"),
        help="only deployments with this status (repeatable)",
    )
    listing.add_argument("--limit", type=positive_int, default=20, metavar="N", help="at most N (default 20)")
    add_format_option(listing, ("text", "json"), "text (a table) or json")
    add_account_options(listing)

    stop = sub.add_parser(
        "stop",
        help="stop a deployment in progress (StopDeployment); --rollback also rolls it back",
        description="Stop a deployment in progress (StopDeployment). Without --rollback, the instances keep "
        "what they have.",
    )
    stop.add_argument("deployment_id", metavar="ID", help="the deployment id (d-...)")
    stop.add_argument(
        "--rollback", action="store_true", help="roll back to the last good revision as it stops"
    )
    add_format_option(stop, ("text", "json"), "text or json")
    add_account_options(stop)
