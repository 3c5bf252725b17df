"""S3 revisions from moto's server (AGENT-FACTS §4): the bundle is downloaded by the shim's boto3, which
keeps the AWS credentials, while the hooks see BUNDLE_* and no credentials."""

from __future__ import annotations

from pathlib import Path

import pytest
from shim_support import ENV_DUMP, read_env, tar_tree, zip_tree


def s3_revision(host, name: str, version: str):
    return host.revision(
        name,
        files=[("app", str(host.dest))],
        content={"app/version.txt": version},
        hooks={"BeforeInstall": ENV_DUMP},
    )


def upload(s3, bucket: str, key: str, path: Path) -> dict:
    with open(path, "rb") as body:
        return s3.put_object(Bucket=bucket, Key=key, Body=body)


@pytest.fixture
def versioned_bucket(s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    s3.put_bucket_versioning(Bucket=bucket_name, VersioningConfiguration={"Status": "Enabled"})
    return bucket_name


def test_a_versioned_s3_revision_gives_the_hooks_every_bundle_variable(host, s3, versioned_bucket):
    old = upload(
        s3, versioned_bucket, "apps/rev.zip", zip_tree(s3_revision(host, "v1", "1"), host.tmp / "v1.zip")
    )
    new = upload(
        s3, versioned_bucket, "apps/rev.zip", zip_tree(s3_revision(host, "v2", "2"), host.tmp / "v2.zip")
    )
    assert old["VersionId"] != new["VersionId"]
    result = host.deploy(f"s3://{versioned_bucket}/apps/rev.zip")
    assert result.succeeded, result.message
    assert (host.dest / "version.txt").read_text() == "2"
    env = read_env(host.out / "env-BeforeInstall")
    assert env["BUNDLE_BUCKET"] == versioned_bucket
    assert env["BUNDLE_KEY"] == "apps/rev.zip"
    assert env["BUNDLE_VERSION"] == new["VersionId"]
    assert env["BUNDLE_ETAG"] == new["ETag"].strip('"')
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env, "only the shim keeps them"
    bundle = Path(result.deployment_dir) / "bundle.tar"
    assert bundle.is_file() and not bundle.is_symlink(), "downloaded to bundle.tar although it is a zip"


def test_a_version_id_in_the_location_deploys_that_version(host, s3, versioned_bucket):
    old = upload(s3, versioned_bucket, "rev.zip", zip_tree(s3_revision(host, "v1", "1"), host.tmp / "v1.zip"))
    upload(s3, versioned_bucket, "rev.zip", zip_tree(s3_revision(host, "v2", "2"), host.tmp / "v2.zip"))
    result = host.deploy(f"s3://{versioned_bucket}/rev.zip?versionId={old['VersionId']}")
    assert result.succeeded, result.message
    assert (host.dest / "version.txt").read_text() == "1"
    assert read_env(host.out / "env-BeforeInstall")["BUNDLE_VERSION"] == old["VersionId"]


def test_an_unversioned_object_leaves_bundle_version_unset(host, s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    put = upload(
        s3, bucket_name, "rev.tgz", tar_tree(s3_revision(host, "v", "1"), host.tmp / "rev.tgz", mode="w:gz")
    )
    result = host.deploy(f"s3://{bucket_name}/rev.tgz")
    assert result.succeeded, result.message
    env = read_env(host.out / "env-BeforeInstall")
    assert "BUNDLE_VERSION" not in env, "unset, not empty"
    assert env["BUNDLE_ETAG"] == put["ETag"].strip('"')
    assert (env["BUNDLE_BUCKET"], env["BUNDLE_KEY"]) == (bucket_name, "rev.tgz")


def test_an_s3_key_without_a_type_needs_type(host, s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    upload(
        s3, bucket_name, "revision", tar_tree(s3_revision(host, "v", "1"), host.tmp / "rev.tgz", mode="w:gz")
    )
    refused = host.deploy(f"s3://{bucket_name}/revision")
    assert refused.events == [] and "pass --type" in refused.message
    assert host.deploy(f"s3://{bucket_name}/revision", bundle_type="tgz").succeeded


def test_an_etag_mismatch_is_refused_before_any_event(host, s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    upload(s3, bucket_name, "rev.zip", zip_tree(s3_revision(host, "v", "1"), host.tmp / "rev.zip"))
    result = host.deploy(f"s3://{bucket_name}/rev.zip?etag=0123456789abcdef0123456789abcdef")
    assert result.events == [] and "the revision changed" in result.message


def test_a_missing_object_is_refused_with_s3s_reason(host, s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    result = host.deploy(f"s3://{bucket_name}/nope.zip")
    assert result.events == [] and result.status == "Failed"
    assert "S3 refused the download" in result.message and "NoSuchKey" in result.message
    assert "\n" not in result.message


def test_an_unsafe_s3_archive_is_refused_like_a_local_one(host, s3, bucket_name):
    import zipfile

    s3.create_bucket(Bucket=bucket_name)
    bad = host.tmp / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("appspec.yml", "version: 0.0\nos: linux\n")
        archive.writestr("../../../../escaped", "x")
    upload(s3, bucket_name, "bad.zip", bad)
    result = host.deploy(f"s3://{bucket_name}/bad.zip")
    assert result.events == [] and "unsafe archive" in result.message
    assert not (host.tmp / "escaped").exists()


def test_a_rollback_gives_the_hooks_the_origin_of_the_revision_it_redeploys(host):
    """--bundle-origin (the fleet's runner): a rollback's hooks see where *its* revision came from."""
    good = tar_tree(s3_revision(host, "good", "1"), host.tmp / "good.tgz", mode="w:gz")
    first = host.deploy(good, bundle_origin="s3://bucket/app.tgz?versionId=v1&etag=e1")
    assert first.succeeded, first.message
    bad = host.revision("bad", hooks={"BeforeInstall": ENV_DUMP, "AfterInstall": "exit 3"})
    archive = tar_tree(bad, host.tmp / "bad.tgz", mode="w:gz")
    failed = host.deploy(archive, bundle_origin="s3://bucket/app.tgz?versionId=v2", rollback=True)
    assert not failed.succeeded and failed.rollback is not None and failed.rollback.succeeded
    env = read_env(host.out / "env-BeforeInstall")  # the rollback's BeforeInstall ran last
    assert (env["BUNDLE_KEY"], env["BUNDLE_VERSION"], env["BUNDLE_ETAG"]) == ("app.tgz", "v1", "e1")
