"""`appspec aws deploy`: create a deployment on AWS CodeDeploy and, with --wait, follow it to the end.

The revision is an S3 object (`--s3 s3://bucket/key`), or a local folder or bundle (`--bundle`) that is
linted, bundled and uploaded under `--s3 s3://bucket/prefix/` first. The exit code is the deployment's:
0 Succeeded, 1 Failed or Stopped, 2 when it could not be created or followed, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, TextIO

from appspec_tools.aws.errors import AwsError, translated
from appspec_tools.aws.follow import DEFAULT_POLL_INTERVAL, DeploymentState, follow
from appspec_tools.aws.report import Clock, LiveView, document, summary, utc_now
from appspec_tools.aws.s3 import S3Location, check_bucket_region
from appspec_tools.aws.session import AwsClients, connect
from appspec_tools.bundler import BundleError, LintRefused, human_size, report_refusal
from appspec_tools.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from appspec_tools.errors import EXIT_USAGE as EXIT_ERROR

Ask = Callable[[str], str]


@dataclass(frozen=True)
class DeploymentGroup:
    application: str
    name: str
    config: str
    rollback_on_stop: bool  # autoRollbackConfiguration has DEPLOYMENT_STOP_ON_REQUEST


def console_url(region: str, deployment_id: str) -> str:
    return f"https://{region}.console.aws.amazon.com/codesuite/codedeploy/deployments/{deployment_id}?region={region}"


def describe_group(clients: AwsClients, application: str, group: str) -> DeploymentGroup:
    """Read the group first: an unknown application or group fails before anything is uploaded."""
    context = {"application": application, "group": group, "region": clients.region}
    with translated("cannot deploy", **context):
        info = clients.codedeploy.get_deployment_group(applicationName=application, deploymentGroupName=group)
    info = info.get("deploymentGroupInfo") or {}
    rollback = info.get("autoRollbackConfiguration") or {}
    on_stop = bool(rollback.get("enabled")) and "DEPLOYMENT_STOP_ON_REQUEST" in (rollback.get("events") or ())
    return DeploymentGroup(application, group, info.get("deploymentConfigName") or "", on_stop)


def resolve_revision(args: argparse.Namespace, clients: AwsClients, out: TextIO, err: TextIO) -> S3Location:
    """The S3 revision to deploy, uploading a local folder or bundle first."""
    bundle_type = args.bundle_type
    if args.bundle and not args.bundle.startswith("s3://"):
        if not args.s3:
            raise ValueError("a local --bundle needs --s3 s3://BUCKET/PREFIX/ to upload it to")
        from appspec_tools.aws.push import push

        destination = S3Location.parse(args.s3)
        pushed = push(
            clients, args.bundle, destination, application=args.application, register=False,
            bundle_type=bundle_type, err=err, progress_to=None if args.quiet else err,
        )  # fmt: skip
        if args.output_format == "text":
            out.write(
                f"uploaded {pushed.location.url} ({pushed.bundle.bundle_type}, {human_size(pushed.bundle.size)}, "
                f"sha256 {pushed.bundle.sha256[:16]}…, ETag {pushed.location.etag})\n"
            )
        return pushed.location
    if args.bundle and args.s3:
        raise ValueError(
            "give the S3 revision once: --s3 s3://BUCKET/KEY (or --bundle DIR --s3 s3://BUCKET/PREFIX/)"
        )
    url = args.bundle or args.s3
    if not url:
        raise ValueError(
            "a revision is needed: --s3 s3://BUCKET/KEY, or --bundle DIR with --s3 s3://BUCKET/PREFIX/"
        )
    location = S3Location.parse(url, bundle_type)
    if location.is_prefix:
        raise ValueError(
            f"{url} is a prefix; name the object (s3://BUCKET/KEY), or pass --bundle DIR to upload one"
        )
    if location.bundle_type is None:
        raise ValueError(f"cannot tell the bundle type of {url} from its name; pass --type zip, tar or tgz")
    check_bucket_region(clients, location.bucket)
    return location


def create_deployment(
    clients: AwsClients, args: argparse.Namespace, group: DeploymentGroup, location: S3Location
) -> str:
    request: Dict[str, Any] = {
        "applicationName": group.application,
        "deploymentGroupName": group.name,
        "revision": location.revision(),
    }
    if args.deployment_config:
        request["deploymentConfigName"] = args.deployment_config
    if args.description:
        request["description"] = args.description
    if args.ignore_application_stop_failures:
        request["ignoreApplicationStopFailures"] = True
    if args.file_exists_behavior:
        request["fileExistsBehavior"] = args.file_exists_behavior
    context = {
        "application": group.application, "group": group.name, "region": clients.region,
        "bucket": location.bucket, "key": location.key, "deployment_config": args.deployment_config,
    }  # fmt: skip
    with translated("cannot create the deployment", **context):
        return clients.codedeploy.create_deployment(**request)["deploymentId"]


def _ask_on_terminal(prompt: str) -> str:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    return sys.stdin.readline()


def stop_on_interrupt(
    clients: AwsClients, deployment_id: str, group: DeploymentGroup, err: TextIO, ask: Optional[Ask]
) -> int:
    """Ctrl-C while following: with someone at a terminal (`ask`), offer to stop the deployment, rolling
    back when the group is configured to on a stop; otherwise just say how to stop it."""
    rollback = " and roll back" if group.rollback_on_stop else ""
    command = f"aws deploy stop-deployment --deployment-id {deployment_id}" + (
        " --auto-rollback-enabled" if group.rollback_on_stop else ""
    )
    answer = ""
    if ask is not None:
        try:
            answer = ask(f"\nstop deployment {deployment_id}{rollback}? [y/N] ").strip().lower()
        except (EOFError, KeyboardInterrupt):
            answer = ""
    if answer not in ("y", "yes"):
        err.write(f"stopped following {deployment_id}; it goes on in CodeDeploy. To stop it: {command}\n")
        return EXIT_INTERRUPTED
    with translated(f"cannot stop {deployment_id}", region=clients.region):
        answer_ = clients.codedeploy.stop_deployment(
            deploymentId=deployment_id, autoRollbackEnabled=group.rollback_on_stop
        )
    message = f": {answer_['statusMessage']}" if answer_.get("statusMessage") else ""
    err.write(f"stop requested for {deployment_id}{rollback} ({answer_.get('status', 'Pending')}{message})\n")
    return EXIT_INTERRUPTED


def run(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    clients: Optional[AwsClients] = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    ask: Optional[Ask] = None,
    clock: Clock = utc_now,
) -> int:
    """`ask` answers the stop question on Ctrl-C (default: the terminal when stdin is one)."""
    try:
        clients = clients or connect(args.region, args.profile)
        group = describe_group(clients, args.application, args.deployment_group)
        location = resolve_revision(args, clients, out, err)
        deployment_id = create_deployment(clients, args, group, location)
    except LintRefused as exc:
        report_refusal(exc, err, "deploy")
        return EXIT_FAILED
    except (AwsError, BundleError, ValueError) as exc:
        err.write(f"appspec aws deploy: {exc}\n")
        return EXIT_ERROR
    except OSError as exc:
        err.write(
            f"appspec aws deploy: {exc.filename}: {exc.strerror}\n"
            if exc.filename
            else f"appspec aws deploy: {exc}\n"
        )
        return EXIT_ERROR
    console = console_url(clients.region, deployment_id)
    text = args.output_format == "text"
    if text:
        out.write(
            f"created deployment {deployment_id}: application {group.application}, group {group.name}, "
            f"revision {location.url}\n  console: {console}\n"
        )
    if not args.wait:
        if text:
            out.write(f"  status: aws deploy get-deployment --deployment-id {deployment_id}\n")
        else:
            json.dump(
                {"deploymentId": deployment_id, "revision": location.to_dict(), "console": console},
                out,
                indent=2,
            )
            out.write("\n")
        return EXIT_OK
    if ask is None and sys.stdin is not None and sys.stdin.isatty():
        ask = _ask_on_terminal
    live = LiveView(out, tty=text and out.isatty(), clock=clock)
    interval = getattr(args, "poll_interval", None) or DEFAULT_POLL_INTERVAL
    shown = live.update if text and not args.quiet else lambda _: None
    try:
        with translated(
            f"lost track of deployment {deployment_id} (it goes on in CodeDeploy)", region=clients.region
        ):
            state: DeploymentState = follow(clients.codedeploy, deployment_id, shown, interval, sleep)
    except KeyboardInterrupt:
        try:
            return stop_on_interrupt(clients, deployment_id, group, err, ask)
        except AwsError as exc:
            err.write(f"appspec aws deploy: {exc}\n")
            return EXIT_INTERRUPTED
    except AwsError as exc:
        err.write(f"appspec aws deploy: {exc}\n")
        return EXIT_ERROR
    if text:
        summary(state, out, clock)
    else:
        json.dump(document(state, revision=location.to_dict(), console=console), out, indent=2)
        out.write("\n")
    return EXIT_OK if state.succeeded else EXIT_FAILED
