"""`appspec aws status|list|stop`: existing deployments. Reading against moto's server (never creating
one); attaching, following with a time limit and stopping through botocore's Stubber (moto has no
deployment targets and no StopDeployment)."""

import io
from datetime import timedelta

import pytest
from botocore.stub import Stubber
from test_aws_deploy import (
    BUCKET,
    DEPLOYMENT,
    T0,
    aws,
    deployment_info,
    expect_poll,
    instances_finished,
    instances_in_progress,
    run,
)

from appspec_tools.aws import deployments
from appspec_tools.cli import build_parser

__all__ = ["aws"]  # the moto fixture, shared with test_aws_deploy


def create(aws, key: str) -> str:
    revision = {"revisionType": "S3", "s3Location": {"bucket": BUCKET, "key": key, "bundleType": "zip"}}
    return aws.codedeploy.create_deployment(
        applicationName="web", deploymentGroupName="prod", revision=revision
    )["deploymentId"]


def listed(aws):
    return aws.codedeploy.list_deployments(applicationName="web", deploymentGroupName="prod")["deployments"]


def verb(*argv, clients, **options):
    out, err = io.StringIO(), io.StringIO()
    options.setdefault("sleep", lambda seconds: None)
    options.setdefault("clock", lambda: T0 + timedelta(minutes=5))
    code = deployments.run(
        build_parser().parse_args([str(a) for a in argv]), out, err, clients=clients, **options
    )
    return code, out.getvalue(), err.getvalue()


def test_list_shows_the_groups_deployments_and_creates_none(aws):
    first, second = create(aws, "web/release.zip"), create(aws, "web/release.zip")
    code, out, err = run("aws", "list", "--application", "web", "--deployment-group", "prod")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["DEPLOYMENT", "STATUS", "CREATED", "CREATOR", "REVISION"]
    assert {line.split()[0] for line in lines[1:]} == {first, second}
    assert all(line.endswith(f"s3://{BUCKET}/web/release.zip") for line in lines[1:])
    assert sorted(listed(aws)) == sorted([first, second])  # read, nothing created


def test_list_of_an_unknown_group_is_one_line(aws):
    with Stubber(aws.codedeploy) as stub:
        stub.add_client_error(
            "list_deployments",
            "DeploymentGroupDoesNotExistException",
            "No Deployment Group found for name: nope",
        )
        code, out, err = verb(
            "aws", "list", "--application", "web", "--deployment-group", "nope", clients=aws
        )
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and err.startswith("appspec aws list: ")
    assert "nope" in err


def test_status_reads_one_deployment_and_creates_none(aws):
    deployment_id = create(aws, "web/release.zip")
    code, out, err = run("aws", "status", deployment_id)
    assert (code, err) == (0, ""), err  # a look at a deployment that is not over is no failure
    assert f"deployment {deployment_id} " in out
    assert listed(aws) == [deployment_id]


def test_status_wait_attaches_and_follows_to_the_end(aws):
    naps = []
    with Stubber(aws.codedeploy) as stub:
        expect_poll(stub, deployment_info("InProgress", {"InProgress": 2}), instances_in_progress())
        finished = deployment_info(
            "Failed", {"Failed": 1, "Succeeded": 1}, completeTime=T0 + timedelta(seconds=23)
        )
        expect_poll(stub, finished, instances_finished())
        code, out, err = verb("aws", "status", DEPLOYMENT, "--wait", clients=aws, sleep=naps.append)
        stub.assert_no_pending_responses()
    assert (code, err) == (1, "") and naps == [deployments.DEFAULT_POLL_INTERVAL]
    assert f"deployment {DEPLOYMENT} Failed after 23.0s" in out and "AfterInstall" in out


def test_status_wait_quiet_prints_only_the_summary(aws):
    with Stubber(aws.codedeploy) as stub:
        expect_poll(stub, deployment_info("InProgress", {"InProgress": 2}), instances_in_progress())
        finished = deployment_info(
            "Failed", {"Failed": 1, "Succeeded": 1}, completeTime=T0 + timedelta(seconds=23)
        )
        expect_poll(stub, finished, instances_finished())
        code, out, err = verb("aws", "status", DEPLOYMENT, "--wait", "-q", clients=aws)
        stub.assert_no_pending_responses()
    assert (code, err) == (1, "")
    assert out.startswith(f"\ndeployment {DEPLOYMENT} Failed after 23.0s")  # no line while it ran


def test_status_wait_gives_up_at_its_timeout_and_says_the_deployment_goes_on(aws):
    clock = iter(
        [0.0, 0.0, 3.0, 9.0]
    )  # the start, then after each poll: the third leaves no time for a fourth
    with Stubber(aws.codedeploy) as stub:
        for _ in range(3):
            expect_poll(stub, deployment_info("InProgress", {"InProgress": 2}), instances_in_progress())
        code, out, err = verb(
            "aws", "status", DEPLOYMENT, "--wait", "--timeout", "10", "--poll-interval", "3",
            clients=aws, monotonic=lambda: next(clock),
        )  # fmt: skip
        stub.assert_no_pending_responses()
    assert code == 1 and err == ""
    assert "still InProgress after --timeout 10s; it goes on in CodeDeploy" in out


@pytest.mark.parametrize("rollback", [False, True])
def test_stop_asks_codedeploy_to_stop_and_rolls_back_only_when_asked(aws, rollback):
    with Stubber(aws.codedeploy) as stub:
        stub.add_response(
            "stop_deployment",
            {"status": "Pending", "statusMessage": "Stop requested"},
            {"deploymentId": DEPLOYMENT, "autoRollbackEnabled": rollback},
        )
        code, out, err = verb("aws", "stop", DEPLOYMENT, *(["--rollback"] if rollback else []), clients=aws)
        stub.assert_no_pending_responses()
    assert (code, err) == (0, "")
    assert (
        out
        == f"stop{' and roll back' if rollback else ''} requested for {DEPLOYMENT} (Pending: Stop requested)\n"
    )


def test_read_verbs_have_no_option_that_changes_anything():
    for name in ("status", "list"):
        parser = next(a for a in build_parser()._actions if a.dest == "command").choices["aws"]
        helped = next(a for a in parser._actions if a.dest == "aws_verb").choices[name].format_help()
        assert "--rollback" not in helped and "--s3" not in helped and "--bundle" not in helped
