"""`appspec push` against moto's S3 and CodeDeploy over HTTP; RegisterApplicationRevision, which moto
lacks, is answered by botocore's Stubber on the client the command itself uses."""

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.stub import ANY, Stubber
from test_aws_emulator import REGION, create_group, use_emulator

from appspec_tools.aws import push
from appspec_tools.aws.session import connect
from appspec_tools.bundler import human_size
from appspec_tools.cli import build_parser, main

REPO = Path(__file__).resolve().parent.parent
CLEAN = REPO / "tests" / "fixtures" / "revisions" / "clean"
BUCKET = "releases-bucket"


@pytest.fixture
def aws(endpoint, monkeypatch, tmp_path):
    """The emulator, a bucket and an application; returns the clients the commands will use."""
    use_emulator(monkeypatch, endpoint, tmp_path)
    clients = connect()
    clients.s3.create_bucket(Bucket=BUCKET)
    create_group(clients)
    return clients


def run(*argv, clients=None):
    out, err = io.StringIO(), io.StringIO()
    argv = [str(arg) for arg in argv]
    if clients is None:
        code = main(argv, out, err)
    else:
        code = push.run(build_parser().parse_args(argv), out, err, clients=clients)
    return code, out.getvalue(), err.getvalue()


def bundle_locally(tmp_path, source=CLEAN, name="local.zip") -> bytes:
    assert main(["bundle", str(source), "-o", str(tmp_path / name)], io.StringIO(), io.StringIO()) == 0
    return (tmp_path / name).read_bytes()


def test_push_uploads_the_reproducible_bundle_and_prints_how_to_deploy_it(aws, tmp_path):
    local = bundle_locally(tmp_path)
    digest = hashlib.sha256(local).hexdigest()
    code, out, err = run(
        "push", CLEAN, "--s3", f"s3://{BUCKET}/web/", "--application", "web", "--no-register"
    )
    assert (code, err) == (0, "")
    key = f"web/web-{digest[:16]}.zip"
    stored = aws.s3.get_object(Bucket=BUCKET, Key=key)
    assert stored["Body"].read() == local
    assert stored["Metadata"] == {"sha256": digest}
    etag = stored["ETag"].strip('"')
    assert etag == hashlib.md5(local).hexdigest()
    assert out.splitlines()[1:] == [
        f"uploaded s3://{BUCKET}/{key} (1 part, ETag {etag})",
        "To deploy it, run one of:",
        f"  aws deploy create-deployment --application-name web --s3-location bucket={BUCKET},key={key},"
        f"bundleType=zip,eTag={etag} --deployment-group-name <deployment-group-name>",
        f"  appspec aws deploy --application web --deployment-group <deployment-group-name> "
        f"--s3 's3://{BUCKET}/{key}?etag={etag}' --wait",
    ]
    assert out.startswith(f"bundled 10 entries as zip ({human_size(len(local))}) sha256 {digest}\n")


def test_multipart_upload_above_the_threshold_records_the_multipart_etag(aws, tmp_path):
    revision = tmp_path / "rev"
    shutil.copytree(CLEAN, revision)
    (revision / "app" / "blob.bin").write_bytes(os.urandom(6 * 1024 * 1024))  # incompressible
    code, out, err = run(
        "push", revision, "--s3", f"s3://{BUCKET}/big/app.zip", "--application", "web",
        "--no-register", "--multipart-threshold", "5MiB", "--format", "json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["parts"] == 2
    head = aws.s3.head_object(Bucket=BUCKET, Key="big/app.zip")
    assert report["revision"]["eTag"] == head["ETag"].strip('"')
    assert report["revision"]["eTag"].endswith("-2")
    assert report["revision"]["key"] == "big/app.zip"


def test_below_the_threshold_it_is_one_part(aws, tmp_path):
    code, out, _ = run(
        "push", CLEAN, "--s3", f"s3://{BUCKET}/small.zip", "--application", "web", "--no-register",
        "--multipart-threshold", "5MiB", "--format", "json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["parts"] == 1
    assert "-" not in json.loads(out)["revision"]["eTag"]


def test_register_sends_bundle_type_etag_and_version(aws, tmp_path):
    aws.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    local = bundle_locally(tmp_path, name="local.tgz")
    etag = hashlib.md5(local).hexdigest()
    key = f"web/web-{hashlib.sha256(local).hexdigest()[:16]}.tgz"
    with Stubber(aws.codedeploy) as stub:
        stub.add_response(
            "get_application",
            {"application": {"applicationName": "web", "computePlatform": "Server"}},
            {"applicationName": "web"},
        )
        revision = {
            "revisionType": "S3",
            "s3Location": {"bucket": BUCKET, "key": key, "bundleType": "tgz", "eTag": etag, "version": ANY},
        }
        stub.add_response(
            "register_application_revision",
            {},
            {"applicationName": "web", "revision": revision, "description": "release 42"},
        )
        code, out, err = run(
            "push", CLEAN, "--s3", f"s3://{BUCKET}/web/", "--application", "web", "--type", "tgz",
            "--description", "release 42", "--format", "json", clients=aws,
        )  # fmt: skip
        stub.assert_no_pending_responses()
    assert (code, err) == (0, "")
    report = json.loads(out)
    version = aws.s3.head_object(Bucket=BUCKET, Key=key)["VersionId"]
    assert report["revision"] == {
        "url": f"s3://{BUCKET}/{key}", "bucket": BUCKET, "key": key, "bundleType": "tgz",
        "version": version, "eTag": etag,
    }  # fmt: skip
    assert report["registered"] is True
    assert f"version={version}" in report["createDeployment"]


def test_a_bundle_is_pushed_as_it_is(aws, tmp_path):
    local = bundle_locally(tmp_path, name="release.tar")
    code, out, _ = run(
        "push", tmp_path / "release.tar", "--s3", f"s3://{BUCKET}/r/", "--application", "web",
        "--no-register", "--format", "json",
    )  # fmt: skip
    assert code == 0
    report = json.loads(out)
    assert report["revision"]["bundleType"] == "tar"
    stored = aws.s3.get_object(Bucket=BUCKET, Key=report["revision"]["key"])["Body"].read()
    assert stored == local


def test_unknown_application_fails_before_anything_is_uploaded(aws, tmp_path):
    code, out, err = run("push", CLEAN, "--s3", f"s3://{BUCKET}/web/", "--application", "nope")
    assert code == 2
    assert err == (
        f"appspec push: cannot register the revision: application 'nope' does not exist in {REGION} "
        "(check the name, --region and --profile; `aws deploy list-applications` lists them)\n"
    )
    assert aws.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_bucket_in_another_region_is_refused(aws, tmp_path):
    aws.s3.create_bucket(Bucket="eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    code, _, err = run("push", CLEAN, "--s3", "s3://eu-bucket/web/", "--application", "web", "--no-register")
    assert code == 2
    assert err.startswith("appspec push: bucket 'eu-bucket' is in eu-west-1, the deployment in us-east-1:")
    assert err.count("\n") == 1


def test_missing_bucket_is_one_line(aws, tmp_path):
    code, _, err = run(
        "push", CLEAN, "--s3", "s3://no-such-bucket/web/", "--application", "web", "--no-register"
    )
    assert code == 2
    assert (
        err
        == "appspec push: cannot use bucket 'no-such-bucket': bucket 'no-such-bucket' does not exist (or is not visible to these credentials)\n"
    )


def test_missing_credentials_are_one_line(endpoint, monkeypatch, tmp_path):
    use_emulator(monkeypatch, endpoint, tmp_path, credentials=False)
    code, _, err = run("push", CLEAN, "--s3", f"s3://{BUCKET}/web/", "--application", "web")
    assert code == 2
    assert err.startswith("appspec push: cannot register the revision: no AWS credentials found:")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_region_is_one_line(endpoint, monkeypatch, tmp_path):
    use_emulator(monkeypatch, endpoint, tmp_path)
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    code, _, err = run("push", CLEAN, "--s3", f"s3://{BUCKET}/web/", "--application", "web")
    assert (code, err) == (
        2,
        "appspec push: no AWS region: pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or set `region` in the profile (~/.aws/config)\n",
    )


def test_unknown_profile_is_one_line(endpoint, monkeypatch, tmp_path):
    use_emulator(monkeypatch, endpoint, tmp_path)
    code, _, err = run(
        "push", CLEAN, "--s3", f"s3://{BUCKET}/w/", "--application", "web", "--profile", "ghost"
    )
    assert code == 2
    assert err == (
        "appspec push: cannot start an AWS session: AWS profile 'ghost' not found in ~/.aws/config "
        "or ~/.aws/credentials\n"
    )


def test_lint_errors_refuse_the_push(aws, tmp_path):
    code, _, err = run(
        "push", REPO / "tests" / "fixtures" / "revisions" / "missing-script", "--s3", f"s3://{BUCKET}/web/",
        "--application", "web", "--no-register",
    )  # fmt: skip
    assert code == 1
    assert "REV010" in err and "not bundling" in err
    assert aws.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_not_an_s3_location(aws):
    code, _, err = run("push", CLEAN, "--s3", "releases/web/", "--application", "web")
    assert (code, err) == (
        2,
        "appspec push: 'releases/web/' is not an S3 location; write s3://BUCKET/KEY or s3://BUCKET/PREFIX/\n",
    )


def test_lint_never_loads_boto3():
    """The AWS modules load only when their command runs, so `appspec lint` starts without boto3."""
    code = (
        "import io, sys; from appspec_tools.cli import main; "
        f"main(['lint', '--no-config', {str(CLEAN)!r}], io.StringIO(), io.StringIO()); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore') or '.aws' in m))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == "[]\n"
