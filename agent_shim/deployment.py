"""One deployment on this host, event by event, as the CodeDeploy agent runs it.

revision → preflight (fetch, safe-archive check, lint: nothing on the host changes if it fails) →
events in order (ApplicationStop … ValidateService), each from the right revision → result.
`deploy()` adds CodeDeploy's automatic rollback: a new deployment of the group's last good revision.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO, Tuple

from agent_shim import install as installer
from agent_shim.appspec_parser import agent_error
from agent_shim.bundle import BundleError, BundleLocation, fetch, parse_location, refuse_unsafe, unpack
from agent_shim.events import EventRecord, EventStatus
from agent_shim.hook_executor import UNKNOWN_ERROR, HookExecutor, ScriptFailure, hook_environment
from agent_shim.layout import (
    DEFAULT_MAX_REVISIONS,
    DEFAULT_ROOT,
    LOCAL_GROUP_ID,
    LOCAL_GROUP_NAME,
    DeploymentRoot,
    check_id,
    new_deployment_id,
)
from agent_shim.local_events import lifecycle_events_problem, unknown_event_names
from agent_shim.lock import GroupLock
from agent_shim.plan import (
    DOWNLOAD_BUNDLE,
    IN_PLACE,
    INSTALL,
    MOST_RECENT_INSTALL,
    ROLLBACK_CREATOR,
    STOP_EVENTS,
    earlier_install,
    plan_events,
)
from agent_shim.script_log import ScriptLog
from appspec_tools.agent_names import INSTALL_APPSPEC_FALLBACKS
from appspec_tools.fileio import write_atomically

SUCCEEDED, FAILED, SKIPPED = EventStatus.SUCCEEDED, EventStatus.FAILED, EventStatus.SKIPPED


@dataclass
class DeploymentRequest:
    bundle: str
    bundle_type: Optional[str] = None
    application: Optional[str] = None
    group_name: Optional[str] = None
    group_id: Optional[str] = None
    file_exists_behavior: Optional[str] = None
    ignore_application_stop_failures: bool = False
    events: Optional[Sequence[str]] = None
    with_load_balancer: bool = True  # codedeploy-local runs the traffic hooks on every deployment
    root: str = DEFAULT_ROOT
    max_revisions: int = DEFAULT_MAX_REVISIONS
    appspec_filename: str = "appspec.yml"
    rollback: bool = False
    kill_grace: Optional[float] = None  # None: wait for a timed-out script to exit, like the agent
    safe: bool = False  # protections the agent lacks (docs/deploy.md); the fleet's host runner sets it
    deployment_id: Optional[str] = None
    creator: str = "user"  # or ROLLBACK_CREATOR
    deployment_type: str = IN_PLACE  # or BLUE_GREEN: a blue/green rollback has its own script mapping
    install_root: str = ""
    exact_events: bool = False
    skip_lint: bool = False  # the caller linted the same archive (the fleet controller)
    bundle_origin: str = ""  # the S3 location the fleet controller downloaded the bundle from: its BUNDLE_*
    extra_environment: Dict[str, str] = field(default_factory=dict)
    progress_to: Optional[TextIO] = None  # a terminal to show an S3 download's bytes on


@dataclass
class DeploymentResult:
    deployment_id: str
    group_id: str
    group_name: str
    application: str
    bundle: str
    creator: str
    status: str = FAILED
    message: str = ""
    error_code: int = 0
    events: List[EventRecord] = field(default_factory=list)
    lint: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    deployment_dir: str = ""
    started: float = 0.0
    duration: float = 0.0
    changed_host: bool = False
    input_error: bool = (
        False  # refused for its input (not a revision at all, an unknown --events name): exit 2
    )
    rollback: Optional[DeploymentResult] = None

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    @property
    def failed_event(self) -> Optional[EventRecord]:
        return next(
            (e for e in self.events if e.status == FAILED and not e.message.startswith("ignored: ")), None
        )

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


EventCallback = Callable[[str, Optional[EventRecord], DeploymentResult], None]


def deploy(request: DeploymentRequest, on_event: Optional[EventCallback] = None) -> DeploymentResult:
    """A deployment; on failure with `request.rollback`, CodeDeploy's rollback as a new deployment."""
    result = Deployment(request, on_event).run()
    if result.succeeded or not request.rollback:
        return result
    if not result.changed_host:
        result.warnings.append("no rollback: the deployment failed before it changed anything on this host")
        return result
    result.rollback = _roll_back(request, result, on_event)
    return result


def _roll_back(
    request: DeploymentRequest, failed: DeploymentResult, on_event: Optional[EventCallback]
) -> Optional[DeploymentResult]:
    root = DeploymentRoot(request.root)
    record = read_last_good(root, failed.group_id)
    if record is None:
        failed.warnings.append(
            "no rollback: this deployment group has no earlier successful deployment on this host"
        )
        return None
    archive = os.path.join(record["deployment_dir"], "deployment-archive")
    staging = tempfile.mkdtemp(prefix=".rollback-", dir=root.root)
    try:
        kind: Optional[str]
        if os.path.isdir(archive):  # copy first: this deployment's max_revisions pruning may remove it
            source, kind = os.path.join(staging, "revision"), "directory"
            shutil.copytree(archive, source, symlinks=True)
        elif os.path.exists(record["bundle"]) or str(record["bundle"]).startswith("s3://"):
            source, kind = record["bundle"], record.get("bundle_type")
        else:
            failed.warnings.append(
                f"no rollback: the revision of {record['deployment_id']} is no longer on this host"
            )
            return None
        rollback = replace(
            request,
            bundle=source,
            bundle_type=kind,
            file_exists_behavior=record.get("file_exists_behavior") or request.file_exists_behavior,
            bundle_origin=record.get("bundle_origin") or "",
            rollback=False,
            deployment_id=None,
            creator=ROLLBACK_CREATOR,
        )
        result = Deployment(
            rollback, on_event, shown_bundle=f"{record['bundle']} (revision of {record['deployment_id']})"
        ).run()
        return result
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def origin_location(origin: str) -> BundleLocation:
    """The S3 location an archive was downloaded from (`--bundle-origin`), for its BUNDLE_* variables.
    Raises BundleError unless it is s3://BUCKET/KEY[?versionId=V&etag=E]."""
    if not origin.startswith("s3://"):
        raise BundleError(f"{origin}: not an S3 location; give s3://BUCKET/KEY[?versionId=V&etag=E]")
    return parse_location(origin, "zip")  # the archive's type is the local bundle's, not the origin's


def read_last_good(root: DeploymentRoot, group_id: str) -> Optional[Dict[str, Any]]:
    try:
        with open(root.history_file(group_id), encoding="utf-8") as handle:
            record = json.load(handle)
        return record if isinstance(record, dict) else None
    except (OSError, ValueError):
        return None


class Deployment:
    def __init__(
        self, request: DeploymentRequest, on_event: Optional[EventCallback] = None, shown_bundle: str = ""
    ) -> None:
        self.request = request
        self.on_event = on_event or (lambda name, event, result: None)
        self.root = DeploymentRoot(request.root)
        self.group_id = check_id(request.group_id or request.group_name or LOCAL_GROUP_ID, "deployment group")
        self.deployment_id = (
            check_id(request.deployment_id, "deployment id") if request.deployment_id else new_deployment_id()
        )
        self.result = DeploymentResult(
            deployment_id=self.deployment_id,
            group_id=self.group_id,
            group_name=request.group_name or LOCAL_GROUP_NAME,
            application=request.application or request.bundle,
            bundle=shown_bundle or request.bundle,
            creator=request.creator,
            deployment_dir=self.root.deployment_dir(self.group_id, self.deployment_id),
        )
        self.location: Optional[BundleLocation] = None
        self.origin: Optional[BundleLocation] = None  # where the fleet controller downloaded the archive
        self.prefix = ""  # the top-level folder the agent strips, found in preflight
        self.continuing = False
        self._appspecs: Dict[str, Tuple[bytes, Any]] = {}  # path → (bytes, model): parsed once per content

    # The run ------------------------------------------------------------------------------------
    def run(self) -> DeploymentResult:
        result = self.result
        result.started = time.time()
        events = plan_events(self.request.events, self.request.with_load_balancer, self.request.exact_events)
        with GroupLock(self.root.lock_file(self.group_id), self.group_id, self.deployment_id) as lock:
            if lock.interrupted:
                stale = self.root.ongoing_file(str(lock.interrupted.get("deployment_id", "")))
                if lock.interrupted.get("deployment_id") and os.path.exists(stale):
                    os.remove(stale)
                result.warnings.append(
                    f"the previous deployment {lock.interrupted.get('deployment_id')} of this group was interrupted "
                    f"(pid {lock.interrupted.get('pid')} is gone); its lock was released"
                )
            self.continuing = os.path.isdir(result.deployment_dir)  # a later step of the same deployment
            os.makedirs(result.deployment_dir, exist_ok=True)
            ongoing = self.root.ongoing_file(self.deployment_id)
            os.makedirs(os.path.dirname(ongoing), exist_ok=True)
            with open(ongoing, "w", encoding="utf-8") as handle:
                handle.write(self.group_id)
            try:
                self.log = ScriptLog(
                    self.root.scripts_log(self.group_id, self.deployment_id),
                    self.root.deployments_log,
                    self.deployment_id,
                )
                if self._preflight():
                    self._run_events(events)
            finally:
                os.remove(ongoing)
        result.duration = time.time() - result.started
        if result.status == SUCCEEDED and os.path.isdir(self.archive_dir):  # not a step before the download
            self._remember_success()
        return result

    def _preflight(self) -> bool:
        """Fetch and check the revision before any event runs: a refused revision changes nothing. Lint
        errors and unknown `--events` are warnings here and fail where the agent meets them; `safe` refuses
        them now."""
        from appspec_tools.linter import lint_revision
        from appspec_tools.problem import Severity
        from appspec_tools.revision import RevisionError, open_revision

        request, result = self.request, self.result
        try:
            location = parse_location(request.bundle, request.bundle_type)
            if request.bundle_origin:
                self.origin = origin_location(request.bundle_origin)
            self.location = fetch(
                location, self.root.bundle_file(self.group_id, self.deployment_id), request.progress_to
            )
            directory = self.location.bundle_type == "directory"
            target = (
                self.location.path
                if directory
                else os.path.realpath(self.root.bundle_file(self.group_id, self.deployment_id))
            )
            opened = contextlib.ExitStack()
            revision = opened.enter_context(open_revision(target))  # one read for the safety check and lint
        except (BundleError, RevisionError) as exc:
            result.input_error = True  # not a revision at all: an input error, as in `appspec lint`
            return self._refuse(str(exc))
        try:
            with opened:
                if not directory:
                    self.prefix = refuse_unsafe(revision, request.bundle, allow_setuid=not request.safe)
                problems = [] if request.skip_lint else lint_revision(revision)
                unknown = unknown_event_names(request.events, revision)
        except (BundleError, RevisionError) as exc:
            return self._refuse(str(exc))
        if unknown and request.safe:
            result.input_error = True
            return self._refuse(unknown)
        if unknown:
            result.warnings.append(f"{unknown}; the agent fails at Install (--safe refuses it now)")
        shown = [
            f"{p.path}:{p.line}:{p.column}: {p.severity.label} {p.rule_id} {p.message}" for p in problems
        ]
        errors = [line for line, p in zip(shown, problems) if p.severity >= Severity.ERROR]
        result.lint = shown
        if errors:
            count = f"{len(errors)} AppSpec error{'s' if len(errors) != 1 else ''}"
            if request.safe:
                return self._refuse(f"the revision has {count}; nothing was changed on this host")
            result.warnings.append(
                f"the revision has {count}: the agent fails at the first event that meets one "
                "(--safe refuses it before any event)"
            )
        return True

    def _refuse(self, message: str) -> bool:
        """Refused before any event: remove what the preflight created, so nothing is left on the host."""
        self.result.status, self.result.message, self.result.error_code = FAILED, message, UNKNOWN_ERROR
        if not self.continuing:
            shutil.rmtree(self.result.deployment_dir, ignore_errors=True)
        return False

    def _run_events(self, events: Sequence[str]) -> None:
        result = self.result
        for name in events:
            self.on_event(name, None, result)
            event = self._run_event(name)
            result.events.append(event)
            self.on_event(name, event, result)
            if event.status != FAILED:
                continue
            if name in STOP_EVENTS and self.request.ignore_application_stop_failures:
                event.message = f"ignored: {event.message}"
                result.warnings.append(f"{name} failed and was ignored (--ignore-application-stop-failures)")
                continue
            result.status, result.error_code = FAILED, event.error_code
            result.message = f"{name} failed: {event.message}"
            return
        result.status, result.message = SUCCEEDED, "the deployment succeeded"

    def _run_event(self, name: str) -> EventRecord:
        started = time.time()
        clock = time.monotonic()
        status, failure = SUCCEEDED, None
        try:
            if name == DOWNLOAD_BUNDLE:
                self._download_bundle()
            elif name == INSTALL:
                self._install()
            elif not self._run_hooks(name):
                status = SKIPPED
        except ScriptFailure as exc:
            failure = exc
        except (installer.InstallError, BundleError, AppSpecProblem) as exc:
            failure = ScriptFailure(UNKNOWN_ERROR, "", str(exc))  # the agent sends no log with code 5
        except OSError as exc:
            failure = ScriptFailure(UNKNOWN_ERROR, "", f"{type(exc).__name__}: {exc}")
        event = EventRecord(name, status, started, time.monotonic() - clock)
        if failure is not None:
            event.status = FAILED
            event.error_code, event.error_name = failure.error_code, failure.error_name
            event.script_name, event.message, event.log_tail = (
                failure.script_name,
                failure.message,
                failure.log,
            )
        return event

    # Events ------------------------------------------------------------------------------------
    @property
    def archive_dir(self) -> str:
        return self.root.archive_dir(self.group_id, self.deployment_id)

    def _download_bundle(self) -> None:
        assert self.location is not None
        removed = self.root.prune(self.group_id, self.deployment_id, self.request.max_revisions)
        for path in removed:
            self.result.warnings.append(f"max_revisions: removed the old revision {path}")
        unpack(
            self.location,
            self.root.bundle_file(self.group_id, self.deployment_id),
            self.archive_dir,
            self.prefix,
            keep_owners=not self.request.safe,
        )
        self.result.changed_host = True
        self.root.write_pointer(self.root.most_recent_install_file(self.group_id), self.result.deployment_dir)

    def _install(self) -> None:
        spec = self._load_appspec(self.archive_dir, install=True)  # `os` is this host's, or it failed
        if not self.request.exact_events:  # codedeploy-local's check; the service's agent has none
            problem = lifecycle_events_problem(
                spec, self.request.events, self._appspec_path(self.archive_dir, True) or ""
            )
            if problem:
                raise AppSpecProblem(problem)
        behavior = spec.file_exists_behavior or self.request.file_exists_behavior or "DISALLOW"
        self.result.changed_host = True
        installer.install(
            self.archive_dir,
            self.root.instructions_dir,
            self.group_id,
            spec,
            behavior,
            self._warn,
            self.request.install_root,
            safe=self.request.safe,
        )
        self.root.write_pointer(
            self.root.last_successful_install_file(self.group_id), self.result.deployment_dir
        )

    def _run_hooks(self, name: str) -> bool:
        """Run an event's scripts; False when the event had nothing to run."""
        archive = self.archive_dir
        earlier = earlier_install(name, self.request.creator, self.request.deployment_type)
        if earlier and not os.path.exists(archive):
            last = self.root.read_pointer(
                self.root.most_recent_install_file(self.group_id)
                if earlier == MOST_RECENT_INSTALL
                else self.root.last_successful_install_file(self.group_id)
            )
            if last is None:
                return False  # first deployment of this group: a silent no-op, as the agent does
            archive = os.path.join(last, "deployment-archive")
        spec = self._load_appspec(archive)
        scripts = spec.scripts(name) if spec is not None else ()
        if not scripts:
            return False
        self.result.changed_host = True
        executor = HookExecutor(
            archive, self.log, self._environment(), kill_grace=self.request.kill_grace, warn=self._warn
        )
        executor.run_event(name, scripts)
        return True

    # Helpers -----------------------------------------------------------------------------------
    def _environment(self) -> Dict[str, str]:
        assert self.location is not None
        variables: Dict[str, Optional[str]] = {
            "DEPLOYMENT_ID": self.deployment_id,
            "APPLICATION_NAME": self.result.application,
            "DEPLOYMENT_GROUP_NAME": self.result.group_name,
            "DEPLOYMENT_GROUP_ID": self.group_id,
        }
        variables.update((self.origin or self.location).variables())
        if self.request.install_root:
            variables["INSTALL_ROOT"] = os.path.abspath(self.request.install_root)
        variables.update(self.request.extra_environment)
        return hook_environment(os.environ, variables)

    def _appspec_path(self, archive: str, install: bool = False) -> Optional[str]:
        names = [self.request.appspec_filename] + (list(INSTALL_APPSPEC_FALLBACKS) if install else [])
        return next(
            (os.path.join(archive, n) for n in names if os.path.isfile(os.path.join(archive, n))), None
        )

    def _load_appspec(self, archive: str, install: bool = False) -> Any:
        """The AppSpec as the agent parses it at an event: its first error fails the event with its words
        (agent_shim/appspec_parser.py); lint errors the agent does not raise were warnings before the
        first event, and what fails later (at Install) fails there."""
        from appspec_tools.model.build import build
        from appspec_tools.source import read_source

        path = self._appspec_path(archive, install)
        if path is None:
            expected = os.path.join(archive, self.request.appspec_filename)
            raise AppSpecProblem(
                "The CodeDeploy agent did not find an AppSpec file within the unpacked revision directory at "
                f'revision-relative path "{self.request.appspec_filename}". The revision was unpacked to directory '
                f'"{archive}", and the AppSpec file was expected but not found at path "{expected}". Consult the AWS '
                "CodeDeploy Appspec documentation for more information at "
                "http://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file.html"
            )
        with open(path, "rb") as handle:
            raw = handle.read()
        cached = self._appspecs.get(path)
        if cached is not None and cached[0] == raw:  # a hook may rewrite it: then it is read again
            return cached[1]
        source = read_source(raw, path, "yaml")  # the agent YAML-loads any name; JSON is flow-style YAML
        message = agent_error(source, raw)
        if message is None and source.root is None:  # Psych loads what our reader could not: say why
            message = "invalid AppSpec: " + (source.findings[0].message if source.findings else "unreadable")
        if message is not None:
            raise AppSpecProblem(message)
        spec = build(source.root, "ec2")
        self._appspecs[path] = (raw, spec)
        return spec

    def _warn(self, message: str) -> None:
        self.result.warnings.append(message)

    def _remember_success(self) -> None:
        assert self.location is not None
        record = {
            "deployment_id": self.deployment_id,
            "deployment_dir": self.result.deployment_dir,
            "bundle": self.location.source if self.result.creator != ROLLBACK_CREATOR else self.result.bundle,
            "bundle_type": self.location.bundle_type,
            "bundle_origin": self.request.bundle_origin,
            "file_exists_behavior": self.request.file_exists_behavior,
            "application": self.result.application,
            "finished": time.time(),
        }
        write_atomically(self.root.history_file(self.group_id), json.dumps(record, indent=2))


class AppSpecProblem(Exception):
    """An AppSpec the agent cannot use at an event (missing, invalid, wrong os): error code 5."""
