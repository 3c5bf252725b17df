"""Revisions in S3: `s3://bucket/key` locations as CodeDeploy names them, and the upload.

A location may carry `?versionId=…&etag=…` like `codedeploy-local --bundle-location`. CodeDeploy reads a
revision only from a bucket in its own region, so that is checked before anything is uploaded or
deployed (when the credentials may ask where the bucket is).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any, Dict, Optional, TextIO
from urllib.parse import parse_qs, urlsplit

from appspec_tools.aws.errors import AwsError, explain, translated
from appspec_tools.aws.session import AwsClients
from appspec_tools.progress import progress_on

MIN_PART_SIZE = 5 * 1024 * 1024
_DENIED = ("AccessDenied", "AccessDeniedException", "403", "Forbidden")
CONTENT_TYPES = {"zip": "application/zip", "tar": "application/x-tar", "tgz": "application/gzip"}


def bundle_type_of(key: str) -> Optional[str]:
    lower = key.lower()
    if lower.endswith((".tgz", ".tar.gz")):
        return "tgz"
    if lower.endswith(".tar"):
        return "tar"
    return "zip" if lower.endswith(".zip") else None


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str
    bundle_type: Optional[str] = None
    version: Optional[str] = None
    etag: Optional[str] = None

    @classmethod
    def parse(cls, url: str, bundle_type: Optional[str] = None) -> S3Location:
        """`s3://bucket/key[?versionId=…&etag=…]`; ValueError (one line) for anything else."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"{url!r} is not an S3 location; write s3://BUCKET/KEY or s3://BUCKET/PREFIX/")
        query = {name.lower(): values[-1] for name, values in parse_qs(parts.query).items()}
        key = parts.path.lstrip("/")
        return cls(
            parts.netloc,
            key,
            bundle_type or bundle_type_of(key),
            query.get("versionid"),
            query.get("etag", "").strip('"') or None,
        )

    @property
    def is_prefix(self) -> bool:
        return not self.key or self.key.endswith("/")

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def revision(self) -> Dict[str, Any]:
        """The RevisionLocation of CreateDeployment and RegisterApplicationRevision."""
        s3: Dict[str, Any] = {"bucket": self.bucket, "key": self.key, "bundleType": self.bundle_type}
        if self.version:
            s3["version"] = self.version
        if self.etag:
            s3["eTag"] = self.etag
        return {"revisionType": "S3", "s3Location": s3}

    def shorthand(self) -> str:
        """The AWS CLI's `--s3-location` value."""
        fields = [f"bucket={self.bucket}", f"key={self.key}", f"bundleType={self.bundle_type}"]
        fields += [f"eTag={self.etag}"] if self.etag else []
        fields += [f"version={self.version}"] if self.version else []
        return ",".join(fields)

    def to_dict(self) -> Dict[str, Any]:
        return {"url": self.url, **self.revision()["s3Location"]}


def check_bucket_region(clients: AwsClients, bucket: str) -> None:
    """Refuse a bucket in another region; say nothing when the credentials may not ask."""
    from botocore.exceptions import ClientError

    try:
        answer = clients.s3.get_bucket_location(Bucket=bucket)
    except Exception as exc:
        if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in _DENIED:
            return
        message = explain(exc, {"bucket": bucket, "region": clients.region})
        if message is None:
            raise
        raise AwsError(f"cannot use bucket {bucket!r}: {message}") from None
    region = answer.get("LocationConstraint") or "us-east-1"
    region = "eu-west-1" if region == "EU" else region
    if region != clients.region:
        raise AwsError(
            f"bucket {bucket!r} is in {region}, the deployment in {clients.region}: CodeDeploy reads revisions "
            f"only from a bucket in its own region (use a bucket in {clients.region}, or pass --region {region})"
        )


def upload(
    clients: AwsClients,
    path: str,
    location: S3Location,
    sha256: str,
    multipart_threshold: int,
    progress_to: Optional[TextIO] = None,
) -> S3Location:
    """Upload with boto3's transfer manager (in parts above the threshold) and return the location with
    the ETag and version S3 recorded; the archive's SHA-256 is kept as object metadata. A terminal
    `progress_to` shows the bytes sent (boto3's Callback)."""
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=multipart_threshold, multipart_chunksize=max(MIN_PART_SIZE, multipart_threshold)
    )
    extra = {"Metadata": {"sha256": sha256}, "ContentType": CONTENT_TYPES.get(location.bundle_type or "zip")}
    context = {"bucket": location.bucket, "key": location.key, "region": clients.region}
    shown = progress_on(progress_to, f"uploading {location.url}", os.path.getsize(path))
    with translated(f"cannot upload to {location.url}", **context), shown:
        clients.s3.upload_file(
            path, location.bucket, location.key, ExtraArgs=extra, Config=config, Callback=shown.advance
        )
        head = clients.s3.head_object(Bucket=location.bucket, Key=location.key)
    return replace(location, etag=head["ETag"].strip('"'), version=head.get("VersionId"))
