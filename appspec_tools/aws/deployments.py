"""`appspec aws status|list|stop`: existing CodeDeploy deployments. `status` and `list` only read;
`status ID --wait` attaches to a deployment and follows it like `deploy --wait` (with `--timeout`),
`stop` is StopDeployment, rolling back only when asked."""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, TextIO

from appspec_tools.aws.errors import AwsError, translated
from appspec_tools.aws.follow import DEFAULT_POLL_INTERVAL, DeploymentState, poll
from appspec_tools.aws.report import Clock, LiveView, document, summary, utc_now
from appspec_tools.aws.session import AwsClients, connect
from appspec_tools.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from appspec_tools.errors import EXIT_USAGE as EXIT_ERROR

BATCH = 25  # BatchGetDeployments takes at most 25 ids


def run(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    clients: Optional[AwsClients] = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Clock = utc_now,
    monotonic: Callable[[], float] = time.monotonic,
) -> int:
    verb = args.aws_verb
    try:
        clients = clients or connect(args.region, args.profile)
        if verb == "status":
            return _status(args, clients, out, sleep, clock, monotonic)
        if verb == "list":
            return _list(args, clients, out)
        return _stop(args, clients, out)
    except AwsError as exc:
        err.write(f"appspec aws {verb}: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        following = getattr(args, "deployment_id", None)
        if following:
            err.write(f"appspec aws {verb}: stopped following {following}; it goes on in CodeDeploy\n")
        return EXIT_INTERRUPTED


def _status(
    args: argparse.Namespace,
    clients: AwsClients,
    out: TextIO,
    sleep: Callable[[float], None],
    clock: Clock,
    monotonic: Callable[[], float],
) -> int:
    text = args.output_format == "text"
    live = LiveView(out, tty=text and out.isatty(), clock=clock)
    interval = args.poll_interval or DEFAULT_POLL_INTERVAL
    deadline = monotonic() + args.timeout if args.timeout else None
    with translated(f"cannot read deployment {args.deployment_id}", region=clients.region):
        while True:
            state = poll(clients.codedeploy, args.deployment_id)
            if not args.wait or state.finished:
                break
            if text and not args.quiet:
                live.update(state)
            if deadline is not None and monotonic() + interval > deadline:
                break
            sleep(interval)
    return _report(state, args, out, clock)


def _report(state: DeploymentState, args: argparse.Namespace, out: TextIO, clock: Clock) -> int:
    waited_out = args.wait and not state.finished
    if args.output_format == "text":
        summary(state, out, clock)
        if waited_out:
            out.write(f"  still {state.status} after --timeout {args.timeout:g}s; it goes on in CodeDeploy\n")
    else:
        json.dump(document(state), out, indent=2)
        out.write("\n")
    if not state.finished:
        return EXIT_FAILED if waited_out else EXIT_OK  # a plain look at a running deployment is no failure
    return EXIT_OK if state.succeeded else EXIT_FAILED


def _list(args: argparse.Namespace, clients: AwsClients, out: TextIO) -> int:
    request: Dict[str, Any] = {
        "applicationName": args.application,
        "deploymentGroupName": args.deployment_group,
    }
    if args.status:
        request["includeOnlyStatuses"] = args.status
    context = {"application": args.application, "group": args.deployment_group, "region": clients.region}
    ids: List[str] = []
    with translated("cannot list the deployments", **context):
        while len(ids) < args.limit:
            answer = clients.codedeploy.list_deployments(**request)
            ids += answer.get("deployments") or []
            if not answer.get("nextToken"):
                break
            request["nextToken"] = answer["nextToken"]
        infos: List[Dict[str, Any]] = []
        for start in range(0, len(ids), BATCH):
            chunk = clients.codedeploy.batch_get_deployments(deploymentIds=ids[start : start + BATCH])
            infos += chunk.get("deploymentsInfo") or []
    infos.sort(key=lambda info: str(info.get("createTime") or ""), reverse=True)
    infos = infos[: args.limit]
    rows = [_brief(info) for info in infos]
    if args.output_format == "json":
        json.dump(rows, out, indent=2)
        out.write("\n")
        return EXIT_OK
    if not rows:
        out.write(f"no deployments of {args.application}/{args.deployment_group}\n")
        return EXIT_OK
    out.write(f"{'DEPLOYMENT':<12} {'STATUS':<11} {'CREATED':<20} {'CREATOR':<12} REVISION\n")
    for row in rows:
        out.write(
            f"{row['deploymentId']:<12} {row['status']:<11} {row['created']:<20} {row['creator']:<12} "
            f"{row['revision']}".rstrip()
            + "\n"
        )
    return EXIT_OK


def _brief(info: Dict[str, Any]) -> Dict[str, str]:
    created = info.get("createTime")
    location = (info.get("revision") or {}).get("s3Location") or {}
    revision = f"s3://{location['bucket']}/{location['key']}" if location.get("bucket") else ""
    return {
        "deploymentId": str(info.get("deploymentId", "")),
        "status": str(info.get("status", "")),
        "created": created.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(created, datetime)
        else str(created or ""),
        "creator": str(info.get("creator", "")),
        "revision": revision,
    }


def _stop(args: argparse.Namespace, clients: AwsClients, out: TextIO) -> int:
    with translated(f"cannot stop {args.deployment_id}", region=clients.region):
        answer = clients.codedeploy.stop_deployment(
            deploymentId=args.deployment_id, autoRollbackEnabled=args.rollback
        )
    status = answer.get("status", "Pending")
    if args.output_format == "json":
        json.dump({"deploymentId": args.deployment_id, "status": status, **_message(answer)}, out)
        out.write("\n")
    else:
        message = f": {answer['statusMessage']}" if answer.get("statusMessage") else ""
        rollback = " and roll back" if args.rollback else ""
        out.write(f"stop{rollback} requested for {args.deployment_id} ({status}{message})\n")
    return EXIT_OK


def _message(answer: Dict[str, Any]) -> Dict[str, str]:
    return {"statusMessage": answer["statusMessage"]} if answer.get("statusMessage") else {}
