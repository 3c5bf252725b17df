"""botocore's exceptions as one-line messages that say what is wrong and how to fix it.

`translated(action, **context)` wraps a call; the context (application, group, bucket, key, region,
profile) lets a message name the thing that was not found. botocore is imported lazily so that this
module loads even when boto3 is missing (the session says so in one line).
"""

from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator, Optional

from appspec_tools.errors import CommandError, one_line


class AwsError(CommandError):
    """A failed AWS call or setup, as one line for the user; the CLI exits 2."""


_ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403", "Forbidden"}
_BAD_CREDENTIALS = {
    "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "InvalidAccessKeyId",
    "IncompleteSignature", "AuthFailure",
}  # fmt: skip
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
_OTHER_REGION = {
    "PermanentRedirect",
    "AuthorizationHeaderMalformed",
    "IllegalLocationConstraintException",
    "301",
}


def _client_error(exc: Any, context: Dict[str, Any]) -> str:
    error = exc.response.get("Error", {}) or {}
    code = str(error.get("Code", "") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    message = one_line(error.get("Message", "") or "")
    operation = getattr(exc, "operation_name", "") or "the request"
    region = context.get("region") or "this region"
    app, group, bucket = context.get("application"), context.get("group"), context.get("bucket")
    s3_object = f"s3://{bucket}/{context['key']}" if bucket and context.get("key") else f"bucket {bucket!r}"
    if code == "ApplicationDoesNotExistException":
        return (
            f"application {app!r} does not exist in {region} "
            "(check the name, --region and --profile; `aws deploy list-applications` lists them)"
        )
    if code == "DeploymentGroupDoesNotExistException":
        return (
            f"deployment group {group!r} does not exist in application {app!r} ({region}); "
            f"`aws deploy list-deployment-groups --application-name {app}` lists them"
        )
    if code == "DeploymentConfigDoesNotExistException":
        return f"deployment configuration {context.get('deployment_config')!r} does not exist in {region}"
    if code in _OTHER_REGION:
        return (
            f"bucket {bucket!r} is in another region than {region}: CodeDeploy reads revisions only from a "
            "bucket in the deployment's region (use a bucket there, or pass --region)"
        )
    if code in _ACCESS_DENIED:
        detail = f": {message}" if message and message != "Forbidden" else ""
        return (
            f"access denied to {operation}{detail} (the identity boto3 found lacks the permission; "
            "check --profile, or `aws sts get-caller-identity`)"
        )
    if code in _EXPIRED:
        return f"the AWS credentials have expired ({code}); refresh them (e.g. `aws sso login`) and retry"
    if code in _BAD_CREDENTIALS:
        return f"AWS rejected the credentials ({code}: {message}); check the keys or --profile"
    if code in ("NoSuchBucket",):
        return f"bucket {bucket!r} does not exist (or is not visible to these credentials)"
    if code in ("NoSuchKey", "404", "NotFound"):
        return f"{s3_object} does not exist"
    if code == "DeploymentLimitExceededException":
        return f"deployment group {group!r} already has a deployment in progress: {message}"
    return f"{operation} failed: {code}: {message}" if message else f"{operation} failed: {code}"


def explain(exc: BaseException, context: Optional[Dict[str, Any]] = None) -> Optional[str]:
    """One line for a botocore exception, or None when `exc` is not one."""
    try:
        from botocore import exceptions as bce
    except ImportError:
        return None
    context = context or {}
    if isinstance(exc, bce.ClientError):
        return _client_error(exc, context)
    if isinstance(exc, (bce.NoCredentialsError, bce.PartialCredentialsError)):
        profile = context.get("profile") or "default"
        return (
            "no AWS credentials found: boto3 looked in the environment, the shared credentials and config "
            f"files (profile {profile!r}), SSO and the instance role; run `aws configure` or `aws sso login`, "
            "or pass --profile"
        )
    if isinstance(exc, bce.ProfileNotFound):
        return f"AWS profile {exc.kwargs.get('profile')!r} not found in ~/.aws/config or ~/.aws/credentials"
    if isinstance(exc, bce.NoRegionError):
        return "no AWS region: pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or set `region` in the profile"
    if isinstance(exc, (bce.SSOTokenLoadError, bce.TokenRetrievalError, bce.UnauthorizedSSOTokenError)):
        return f"the AWS SSO session is missing or expired ({one_line(exc)}); run `aws sso login`"
    if isinstance(exc, (bce.EndpointConnectionError, bce.ConnectTimeoutError, bce.ReadTimeoutError)):
        where = exc.kwargs.get("endpoint_url", "the AWS endpoint")
        return f"cannot reach {where}: check the region ({context.get('region')}), the network and any proxy"
    if isinstance(exc, bce.BotoCoreError):
        return one_line(exc)
    return None


@contextlib.contextmanager
def translated(action: str, **context: Any) -> Iterator[None]:
    """Run a block of AWS calls; botocore exceptions leave it as AwsError with one clear line."""
    try:
        yield
    except AwsError:
        raise
    except Exception as exc:
        message = explain(exc, context)
        if message is None:
            raise
        raise AwsError(f"{action}: {message}") from None
