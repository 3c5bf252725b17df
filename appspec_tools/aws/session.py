"""One boto3 session per command, and the clients made from it.

Nothing here handles credentials: boto3 resolves them, the region and the endpoint exactly as the AWS
CLI does (environment, shared files, SSO, instance role; `AWS_ENDPOINT_URL*`). Tests make their clients
with `connect` too and put a botocore Stubber on the one they need.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from appspec_tools import __version__
from appspec_tools.aws.errors import AwsError, translated


class AwsClients:
    """The session's region and its clients, made on first use and then reused."""

    def __init__(self, session: Any, region: str) -> None:
        self.session = session
        self.region = region
        self._clients: Dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            from botocore.config import Config

            config = Config(user_agent_extra=f"appspec-tools/{__version__}", retries={"mode": "standard"})
            with translated(f"cannot create the {service} client"):
                self._clients[service] = self.session.client(service, region_name=self.region, config=config)
        return self._clients[service]

    @property
    def codedeploy(self) -> Any:
        return self.client("codedeploy")

    @property
    def s3(self) -> Any:
        return self.client("s3")


def connect(region: Optional[str] = None, profile: Optional[str] = None) -> AwsClients:
    """A boto3 session for `--region`/`--profile` (None: boto3's own resolution)."""
    try:
        import boto3
    except ImportError:
        raise AwsError("boto3 is not installed; install it with `pip install boto3`") from None
    with translated("cannot start an AWS session"):
        session = boto3.Session(profile_name=profile, region_name=region)
    if not session.region_name:
        raise AwsError(
            "no AWS region: pass --region, set AWS_REGION or AWS_DEFAULT_REGION, "
            "or set `region` in the profile (~/.aws/config)"
        )
    return AwsClients(session, session.region_name)
