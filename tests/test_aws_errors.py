"""botocore's exceptions become one line that names the thing and the fix; S3 locations parse like the
AWS CLI's and codedeploy-local's."""

import pytest
from botocore import exceptions as bce

from appspec_tools.aws.errors import AwsError, explain, translated
from appspec_tools.aws.s3 import S3Location

CONTEXT = {
    "application": "web",
    "group": "prod",
    "bucket": "releases",
    "key": "web/r.zip",
    "region": "eu-west-1",
}


def client_error(code, message="", operation="CreateDeployment", status=400):
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return bce.ClientError(response, operation)


@pytest.mark.parametrize(
    "error, expected",
    [
        (client_error("ApplicationDoesNotExistException"), "application 'web' does not exist in eu-west-1"),
        (client_error("DeploymentGroupDoesNotExistException"), "deployment group 'prod' does not exist in application 'web'"),
        (client_error("AccessDenied", "Access Denied", "PutObject", 403), "access denied to PutObject: Access Denied"),
        (client_error("AccessDeniedException", "not authorized"), "access denied to CreateDeployment: not authorized"),
        (client_error("PermanentRedirect", "use the specified endpoint", "PutObject", 301),
         "bucket 'releases' is in another region than eu-west-1: CodeDeploy reads revisions only from a bucket"),
        (client_error("AuthorizationHeaderMalformed", "the region 'eu-west-1' is wrong; expecting 'us-east-2'"),
         "bucket 'releases' is in another region than eu-west-1"),
        (client_error("ExpiredToken", "The security token included in the request is expired"),
         "the AWS credentials have expired (ExpiredToken); refresh them (e.g. `aws sso login`) and retry"),
        (client_error("InvalidClientTokenId", "The security token is invalid"),
         "AWS rejected the credentials (InvalidClientTokenId: The security token is invalid)"),
        (client_error("NoSuchBucket", "The specified bucket does not exist", "HeadBucket", 404),
         "bucket 'releases' does not exist"),
        (client_error("404", "Not Found", "HeadObject", 404), "s3://releases/web/r.zip does not exist"),
        (client_error("DeploymentLimitExceededException", "The deployment group has an active deployment"),
         "deployment group 'prod' already has a deployment in progress"),
        (client_error("InvalidRevisionException", "The revision is invalid"),
         "CreateDeployment failed: InvalidRevisionException: The revision is invalid"),
        (bce.NoCredentialsError(), "no AWS credentials found: boto3 looked in the environment"),
        (bce.ProfileNotFound(profile="ghost"), "AWS profile 'ghost' not found"),
        (bce.NoRegionError(), "no AWS region: pass --region"),
        (bce.EndpointConnectionError(endpoint_url="https://codedeploy.eu-west-1.amazonaws.com/"),
         "cannot reach https://codedeploy.eu-west-1.amazonaws.com/: check the region (eu-west-1)"),
    ],
)  # fmt: skip
def test_botocore_errors_become_one_line(error, expected):
    message = explain(error, CONTEXT)
    assert message.startswith(expected)
    assert "\n" not in message


def test_translated_prefixes_the_action_and_hides_the_traceback():
    with pytest.raises(AwsError) as raised, translated("cannot deploy", **CONTEXT):
        raise client_error("ApplicationDoesNotExistException")
    assert str(raised.value).startswith("cannot deploy: application 'web' does not exist")
    assert raised.value.__suppress_context__


def test_translated_leaves_other_exceptions_alone():
    with pytest.raises(KeyError), translated("cannot deploy"):
        raise KeyError("not AWS")


@pytest.mark.parametrize(
    "url, bundle_type, expected",
    [
        ("s3://releases/web/r.zip", None, S3Location("releases", "web/r.zip", "zip")),
        ("s3://releases/web/r.tar.gz", None, S3Location("releases", "web/r.tar.gz", "tgz")),
        ("s3://releases/web/r.bin", "tar", S3Location("releases", "web/r.bin", "tar")),
        ("s3://releases/web/r.tgz?versionId=v1&etag=%22abc%22", None,
         S3Location("releases", "web/r.tgz", "tgz", version="v1", etag="abc")),
        ("s3://releases/web/", None, S3Location("releases", "web/", None)),
    ],
)  # fmt: skip
def test_s3_locations_parse(url, bundle_type, expected):
    assert S3Location.parse(url, bundle_type) == expected


def test_revision_location_and_cli_shorthand():
    location = S3Location("releases", "web/r.zip", "zip", version="v1", etag="abc")
    assert location.revision() == {
        "revisionType": "S3",
        "s3Location": {
            "bucket": "releases",
            "key": "web/r.zip",
            "bundleType": "zip",
            "version": "v1",
            "eTag": "abc",
        },
    }
    assert location.shorthand() == "bucket=releases,key=web/r.zip,bundleType=zip,eTag=abc,version=v1"


@pytest.mark.parametrize(
    "url", ["releases/web.zip", "https://releases.s3.amazonaws.com/web.zip", "s3:///web.zip"]
)
def test_other_urls_are_refused(url):
    with pytest.raises(ValueError, match="is not an S3 location"):
        S3Location.parse(url)
