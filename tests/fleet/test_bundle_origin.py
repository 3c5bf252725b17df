"""S3 revisions on a fleet: the controller downloads the object once (from moto's S3 server on loopback)
and gives each host the archive, yet the hooks see BUNDLE_BUCKET/KEY/VERSION/ETAG as they do from the
agent; rollback and sync redeploy the stored archive with the same S3 origin."""

from __future__ import annotations

import io
import json
import os
import uuid
from typing import Dict, List

import pytest
from controller_support import LocalFleet
from test_aws_emulator import use_emulator

from agent_shim.fleet.contracts import FAILED, SUCCEEDED
from appspec_tools import bundler
from appspec_tools.cli import main

pytestmark = [pytest.mark.fleet, pytest.mark.slow]

# appended to BeforeInstall: one line per deployment on the host, "unset" for a variable that is not set
SEEN = 'echo "${BUNDLE_BUCKET-unset} ${BUNDLE_KEY-unset} ${BUNDLE_VERSION-unset} ${BUNDLE_ETAG-unset}" \\\n'
SEEN += '  >> "$OUT/bundle-$HOST_NAME"\n'


@pytest.fixture
def s3(endpoint, monkeypatch, tmp_path):
    """A boto3 S3 client on the emulator; the controller (this process) and its runners see the same."""
    import boto3

    use_emulator(monkeypatch, endpoint, tmp_path)
    return boto3.client("s3")


def cli(*argv: str):
    out, err = io.StringIO(), io.StringIO()
    code = main(["fleet", *argv, "--format", "json"], out, err)
    return code, json.loads(out.getvalue()) if out.getvalue().strip() else {}, err.getvalue()


def put_revision(s3, fleet: LocalFleet, bucket: str, key: str, version: str) -> Dict[str, str]:
    """The fleet's test revision `version` as a .tgz object; returns S3's answer (VersionId, ETag)."""
    archive = fleet.tmp / f"{version}.tgz"
    bundler.build_bundle(str(fleet.revision(version, BeforeInstall=SEEN)), str(archive), bundle_type="tgz")
    with open(archive, "rb") as body:
        return s3.put_object(Bucket=bucket, Key=key, Body=body)


def seen(fleet: LocalFleet, host: str) -> List[List[str]]:
    """BUNDLE_BUCKET, _KEY, _VERSION, _ETAG as the host's BeforeInstall saw them, one list per deployment."""
    path = fleet.out / f"bundle-{host}"
    return [line.split(" ") for line in path.read_text().splitlines()] if path.exists() else []


def test_the_hooks_of_every_host_see_the_s3_object_they_were_deployed_from(s3, tmp_path):
    bucket = f"revisions-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    fleet = LocalFleet(tmp_path, ("a", "b"))
    put = put_revision(s3, fleet, bucket, "web/app.tgz", "v1")

    code, result, err = cli(
        "deploy", "--group", str(fleet.group_path), "--bundle", f"s3://{bucket}/web/app.tgz"
    )
    assert code == 0, err
    assert result["deployment"]["status"] == SUCCEEDED
    expected = [bucket, "web/app.tgz", put["VersionId"], put["ETag"].strip('"')]
    assert seen(fleet, "a") == [expected] and seen(fleet, "b") == [expected]
    assert [fleet.installed(h) for h in "ab"] == ["v1", "v1"]
    # the hosts got the controller's copy, not a download of their own
    with fleet.history() as history:
        archive = history.details(result["deployment"]["deployment_id"])["archive"]
    for host in "ab":
        (deployment,) = fleet.host_deployments(host)
        bundle = tmp_path / "hosts" / host / "root" / "web" / deployment / "bundle.tar"
        assert os.path.realpath(bundle) == os.path.realpath(archive)


def test_an_unversioned_object_leaves_bundle_version_unset_on_the_hosts(s3, tmp_path):
    bucket = f"revisions-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    fleet = LocalFleet(tmp_path, ("a",))
    put = put_revision(s3, fleet, bucket, "app.tgz", "v1")
    code, _, err = cli("deploy", "--group", str(fleet.group_path), "--bundle", f"s3://{bucket}/app.tgz")
    assert code == 0, err
    assert seen(fleet, "a") == [[bucket, "app.tgz", "unset", put["ETag"].strip('"')]]


def test_rollback_and_sync_keep_the_s3_origin_of_the_revision_they_redeploy(s3, tmp_path):
    bucket = f"revisions-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    fleet = LocalFleet(tmp_path, ("a",), auto_rollback=True)
    location = f"s3://{bucket}/app.tgz"
    good = put_revision(s3, fleet, bucket, "app.tgz", "v1")
    assert cli("deploy", "--group", str(fleet.group_path), "--bundle", location)[0] == 0
    bad = put_revision(s3, fleet, bucket, "app.tgz", "v2")  # a newer version of the same key
    fleet.fail("AfterInstall", "a", version="v2")

    code, result, err = cli("deploy", "--group", str(fleet.group_path), "--bundle", location)
    assert code == 1, err
    assert result["deployment"]["status"] == FAILED and result["rollback"]["status"] == SUCCEEDED
    v1 = [bucket, "app.tgz", good["VersionId"], good["ETag"].strip('"')]
    v2 = [bucket, "app.tgz", bad["VersionId"], bad["ETag"].strip('"')]
    assert seen(fleet, "a") == [v1, v2, v1]  # the rollback's hooks: v1's object, not the failed one's
    assert fleet.installed("a") == "v1"

    fleet.add_host("new")
    code, result, err = cli("sync", "new", "--group", str(fleet.group_path))
    assert code == 0, err
    assert seen(fleet, "new") == [v1] and fleet.installed("new") == "v1"
