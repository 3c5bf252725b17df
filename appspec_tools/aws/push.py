"""`appspec push`: bundle (or take a bundle), upload it to S3, register it with CodeDeploy, and print
how to deploy it, like `aws deploy push` but linted, reproducible and not limited to zip."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import tempfile
from dataclasses import dataclass
from typing import Any, Dict, Optional, TextIO

from appspec_tools.aws.errors import AwsError, translated
from appspec_tools.aws.s3 import S3Location, bundle_type_of, check_bucket_region, upload
from appspec_tools.aws.session import AwsClients, connect
from appspec_tools.bundler import (
    Bundle,
    BundleError,
    LintRefused,
    build_bundle,
    human_size,
    lint_revision,
    report_refusal,
    sha256_of,
)
from appspec_tools.errors import EXIT_FAILED as EXIT_REFUSED
from appspec_tools.errors import EXIT_OK
from appspec_tools.errors import EXIT_USAGE as EXIT_ERROR


@dataclass(frozen=True)
class PushResult:
    application: str
    bundle: Bundle
    location: S3Location
    registered: bool

    @property
    def parts(self) -> int:
        """How many parts S3 assembled the object from (a multipart ETag ends in `-N`)."""
        etag = self.location.etag or ""
        return int(etag.rsplit("-", 1)[1]) if "-" in etag else 1

    def create_deployment_command(self) -> str:
        return (
            f"aws deploy create-deployment --application-name {shlex.quote(self.application)} "
            f"--s3-location {self.location.shorthand()} --deployment-group-name <deployment-group-name>"
        )

    def appspec_deploy_command(self) -> str:
        query = "&".join(
            f"{name}={value}"
            for name, value in (("versionId", self.location.version), ("etag", self.location.etag))
            if value
        )
        url = self.location.url + (f"?{query}" if query else "")
        return (
            f"appspec aws deploy --application {shlex.quote(self.application)} "
            f"--deployment-group <deployment-group-name> --s3 {shlex.quote(url)} --wait"
        )

    def to_dict(self) -> Dict[str, Any]:
        return {
            "application": self.application,
            "bundle": {**self.bundle.to_dict(), "path": os.path.basename(self.bundle.path)},
            "revision": self.location.to_dict(),
            "parts": self.parts,
            "registered": self.registered,
            "createDeployment": self.create_deployment_command(),
            "appspecDeploy": self.appspec_deploy_command(),
        }


def _existing_bundle(path: str, bundle_type: Optional[str], lint: bool, err: Optional[TextIO]) -> Bundle:
    from appspec_tools.revision import RevisionError, open_revision

    if not os.path.exists(path):
        raise BundleError(f"{path}: no such file or directory")
    kind = bundle_type or bundle_type_of(path)
    if kind is None:
        raise BundleError(f"{path}: cannot tell the bundle type from the name; pass --type zip, tar or tgz")
    if lint:
        lint_revision(path, err)
    try:
        with open_revision(path) as revision:
            if revision.appspec_member is None:
                raise BundleError(f"{path}: the archive has no AppSpec at its root")
            entries = sum(1 for _ in revision.entries())
    except RevisionError as exc:
        raise BundleError(str(exc)) from None
    return Bundle(path, kind, os.path.getsize(path), sha256_of(path), entries)


def push(
    clients: AwsClients,
    source: str,
    destination: S3Location,
    *,
    application: str,
    register: bool = True,
    description: Optional[str] = None,
    multipart_threshold: int = 8 * 1024 * 1024,
    bundle_type: Optional[str] = None,
    ignore_file: Optional[str] = None,
    lint: bool = True,
    preserve_modes: bool = False,
    err: Optional[TextIO] = None,
    progress_to: Optional[TextIO] = None,
) -> PushResult:
    """Bundle `source` (a folder, or an archive taken as it is), upload it under `destination` (a prefix:
    the key is APPLICATION-SHA256PREFIX.EXT, else the exact key) and register it when asked. A terminal
    `progress_to` shows the bundling and the upload."""
    context = {"application": application, "region": clients.region, "bucket": destination.bucket}
    kind = bundle_type or (None if destination.is_prefix else bundle_type_of(destination.key)) or "zip"
    with tempfile.TemporaryDirectory(prefix="appspec-push-") as folder:
        if os.path.isdir(source):
            output = os.path.join(folder, f"revision.{kind}")
            bundle = build_bundle(
                source, output, bundle_type=kind, ignore_file=ignore_file, lint=lint,
                preserve_modes=preserve_modes, err=err, progress_to=progress_to,
            )  # fmt: skip
        else:
            bundle = _existing_bundle(source, bundle_type, lint, err)
        key = destination.key
        if destination.is_prefix:
            key = f"{destination.key}{application}-{bundle.sha256[:16]}.{bundle.bundle_type}"
        location = S3Location(destination.bucket, key, bundle.bundle_type)
        if register:
            with translated("cannot register the revision", **context):
                clients.codedeploy.get_application(applicationName=application)
        check_bucket_region(clients, destination.bucket)
        location = upload(clients, bundle.path, location, bundle.sha256, multipart_threshold, progress_to)
    if register:
        extra = {"description": description} if description else {}
        with translated("cannot register the revision", **context):
            clients.codedeploy.register_application_revision(
                applicationName=application, revision=location.revision(), **extra
            )
    return PushResult(application, bundle, location, register)


def _report(result: PushResult, out: TextIO) -> None:
    bundle, location = result.bundle, result.location
    out.write(
        f"bundled {bundle.entries} entries as {bundle.bundle_type} ({human_size(bundle.size)}) "
        f"sha256 {bundle.sha256}\n"
    )
    parts = f"{result.parts} parts" if result.parts > 1 else "1 part"
    version = f", version {location.version}" if location.version else ""
    out.write(f"uploaded {location.url} ({parts}, ETag {location.etag}{version})\n")
    if result.registered:
        out.write(f"registered the revision with application {result.application}\n")
    out.write("To deploy it, run one of:\n")
    out.write(f"  {result.create_deployment_command()}\n")
    out.write(f"  {result.appspec_deploy_command()}\n")


def run(args: argparse.Namespace, out: TextIO, err: TextIO, clients: Optional[AwsClients] = None) -> int:
    try:
        destination = S3Location.parse(args.s3)
        clients = clients or connect(args.region, args.profile)
        result = push(
            clients,
            args.directory,
            destination,
            application=args.application,
            register=args.register,
            description=args.description,
            multipart_threshold=args.multipart_threshold,
            bundle_type=args.bundle_type,
            ignore_file=args.ignore_file,
            lint=args.lint,
            preserve_modes=args.preserve_modes,
            err=err,
            progress_to=None if args.quiet else err,
        )
    except LintRefused as exc:
        report_refusal(exc, err, "push")
        return EXIT_REFUSED
    except (AwsError, BundleError, ValueError) as exc:
        err.write(f"appspec push: {exc}\n")
        return EXIT_ERROR
    except OSError as exc:
        err.write(
            f"appspec push: {exc.filename}: {exc.strerror}\n" if exc.filename else f"appspec push: {exc}\n"
        )
        return EXIT_ERROR
    if args.output_format == "json":
        json.dump(result.to_dict(), out, indent=2)
        out.write("\n")
    else:
        _report(result, out)
    return EXIT_OK
