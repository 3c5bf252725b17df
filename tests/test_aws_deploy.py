"""`appspec aws deploy`: creating deployments against moto's server, and following them (instance
targets and lifecycle events, which moto lacks) with botocore's Stubber on the same client."""

import io
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from botocore.stub import ANY, Stubber
from test_aws_emulator import REGION, create_group, use_emulator

from appspec_tools.aws import deploy
from appspec_tools.aws.session import connect
from appspec_tools.cli import build_parser, main

REPO = Path(__file__).resolve().parent.parent
CLEAN = REPO / "tests" / "fixtures" / "revisions" / "clean"
BUCKET = "releases-bucket"
DEPLOYMENT = "d-A1B2C3D4E"
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
LOG_TAIL = (
    "[stdout]Running migrations for shop\n"
    '[stderr]psql: error: connection to server at "db.internal" (10.0.3.7), port 5432 failed: timeout\n'
)


@pytest.fixture
def aws(endpoint, monkeypatch, tmp_path):
    use_emulator(monkeypatch, endpoint, tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # no terminal: Ctrl-C never asks
    clients = connect()
    clients.s3.create_bucket(Bucket=BUCKET)
    clients.s3.put_object(Bucket=BUCKET, Key="web/release.zip", Body=(REPO / "README.md").read_bytes())
    create_group(clients)
    return clients


class Terminal(io.StringIO):
    def isatty(self):
        return True


def run(*argv, clients=None, out=None, **options):
    out = out or io.StringIO()
    err = io.StringIO()
    argv = [str(arg) for arg in argv]
    if clients is None:
        code = main(argv, out, err)
    else:
        options.setdefault("sleep", lambda seconds: None)
        options.setdefault("clock", lambda: T0 + timedelta(minutes=5))
        code = deploy.run(build_parser().parse_args(argv), out, err, clients=clients, **options)
    return code, out.getvalue(), err.getvalue()


# --- creating deployments (moto) ---------------------------------------------------------------------


def test_creates_the_deployment_with_revision_config_and_file_exists_behavior(aws):
    etag = aws.s3.head_object(Bucket=BUCKET, Key="web/release.zip")["ETag"].strip('"')
    code, out, err = run(
        "aws", "deploy", "--application", "web", "--deployment-group", "prod",
        "--s3", f"s3://{BUCKET}/web/release.zip?etag={etag}", "--deployment-config", "CodeDeployDefault.AllAtOnce",
        "--file-exists-behavior", "overwrite", "--description", "release 42", "--ignore-application-stop-failures",
    )  # fmt: skip
    assert (code, err) == (0, "")
    deployment_id = out.split()[2].rstrip(":")
    info = aws.codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["revision"] == {
        "revisionType": "S3",
        "s3Location": {"bucket": BUCKET, "key": "web/release.zip", "bundleType": "zip", "eTag": etag},
    }
    assert info["deploymentConfigName"] == "CodeDeployDefault.AllAtOnce"
    assert info["fileExistsBehavior"] == "OVERWRITE"
    assert info["description"] == "release 42"
    assert info["ignoreApplicationStopFailures"] is True
    assert out == (
        f"created deployment {deployment_id}: application web, group prod, revision s3://{BUCKET}/web/release.zip\n"
        f"  console: https://{REGION}.console.aws.amazon.com/codesuite/codedeploy/deployments/{deployment_id}"
        f"?region={REGION}\n"
        f"  status: aws deploy get-deployment --deployment-id {deployment_id}\n"
    )


def test_a_local_folder_is_linted_bundled_and_uploaded_then_deployed(aws):
    code, out, err = run(
        "aws", "deploy", "--application", "web", "--deployment-group", "prod",
        "--bundle", CLEAN, "--s3", f"s3://{BUCKET}/web/", "--format", "json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    created = json.loads(out)
    key = created["revision"]["key"]
    assert key.startswith("web/web-") and key.endswith(".zip")
    info = aws.codedeploy.get_deployment(deploymentId=created["deploymentId"])["deploymentInfo"]
    head = aws.s3.head_object(Bucket=BUCKET, Key=key)
    assert info["revision"]["s3Location"]["eTag"] == head["ETag"].strip('"')
    assert "fileExistsBehavior" not in info or info["fileExistsBehavior"] is None


def test_unknown_application_is_one_line(aws):
    code, out, err = run("aws", "deploy", "--application", "shop", "--deployment-group", "prod",
                         "--s3", f"s3://{BUCKET}/web/release.zip")  # fmt: skip
    assert (code, out) == (2, "")
    assert err == (
        f"appspec aws deploy: cannot deploy: application 'shop' does not exist in {REGION} "
        "(check the name, --region and --profile; `aws deploy list-applications` lists them)\n"
    )


def test_unknown_deployment_group_is_one_line(aws):
    code, _, err = run("aws", "deploy", "--application", "web", "--deployment-group", "staging",
                       "--s3", f"s3://{BUCKET}/web/release.zip")  # fmt: skip
    assert code == 2
    assert err == (
        f"appspec aws deploy: cannot deploy: deployment group 'staging' does not exist in application 'web' "
        f"({REGION}); `aws deploy list-deployment-groups --application-name web` lists them\n"
    )


def test_missing_credentials_are_one_line(endpoint, monkeypatch, tmp_path):
    use_emulator(monkeypatch, endpoint, tmp_path, credentials=False)
    code, _, err = run("aws", "deploy", "--application", "web", "--deployment-group", "prod",
                       "--s3", f"s3://{BUCKET}/web/release.zip")  # fmt: skip
    assert code == 2
    assert err.startswith("appspec aws deploy: cannot deploy: no AWS credentials found: boto3 looked in")
    assert err.count("\n") == 1


def test_access_denied_is_one_line(aws):
    with Stubber(aws.codedeploy) as stub:
        stub.add_client_error(
            "get_deployment_group",
            service_error_code="AccessDeniedException",
            service_message="User: arn:aws:iam::123456789012:user/ci is not authorized to perform: "
            "codedeploy:GetDeploymentGroup",
            http_status_code=400,
        )
        code, _, err = run("aws", "deploy", "--application", "web", "--deployment-group", "prod",
                           "--s3", f"s3://{BUCKET}/web/release.zip", clients=aws)  # fmt: skip
    assert code == 2
    assert err == (
        "appspec aws deploy: cannot deploy: access denied to GetDeploymentGroup: User: arn:aws:iam::123456789012:"
        "user/ci is not authorized to perform: codedeploy:GetDeploymentGroup (the identity boto3 found lacks "
        "the permission; check --profile, or `aws sts get-caller-identity`)\n"
    )


def test_bucket_in_another_region_is_refused_before_creating(aws):
    aws.s3.create_bucket(Bucket="eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    code, _, err = run("aws", "deploy", "--application", "web", "--deployment-group", "prod",
                       "--s3", "s3://eu-bucket/web/release.zip")  # fmt: skip
    assert code == 2
    assert "bucket 'eu-bucket' is in eu-west-1, the deployment in us-east-1" in err
    assert (
        aws.codedeploy.list_deployments(applicationName="web", deploymentGroupName="prod")["deployments"]
        == []
    )


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "a revision is needed: --s3 s3://BUCKET/KEY, or --bundle DIR with --s3 s3://BUCKET/PREFIX/"),
        (["--bundle", CLEAN], "a local --bundle needs --s3 s3://BUCKET/PREFIX/ to upload it to"),
        (["--s3", f"s3://{BUCKET}/web/"], f"s3://{BUCKET}/web/ is a prefix; name the object (s3://BUCKET/KEY), "
         "or pass --bundle DIR to upload one"),
        (["--s3", f"s3://{BUCKET}/web/release"], f"cannot tell the bundle type of s3://{BUCKET}/web/release from "
         "its name; pass --type zip, tar or tgz"),
    ],
)  # fmt: skip
def test_revision_usage_errors(aws, extra, message):
    code, _, err = run("aws", "deploy", "--application", "web", "--deployment-group", "prod", *extra)
    assert (code, err) == (2, f"appspec aws deploy: {message}\n")


def test_application_and_group_are_required(aws):
    code, _, err = run("aws", "deploy", "--s3", f"s3://{BUCKET}/web/release.zip")
    assert code == 2 and err == (
        "appspec aws deploy: the following arguments are required: --application, --deployment-group "
        "(see `appspec aws deploy --help`)\n"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ("deploy", "plan", "--aws"),  # the old single command's spellings: a read verb with --aws
        ("deploy", "history", "--aws"),
        ("deploy", "stop", "--aws"),
        ("deploy", "rollback", "--aws"),
        ("deploy", "--aws"),
        ("aws", "plan"),
        ("aws", "status"),
        ("aws", "deploy", "--group", "g.yml"),  # the fleet's flag
        ("aws", "deploy", "--root", "/x"),  # this host's flag
        ("fleet", "deploy", "--group", "g.yml", "--bundle", "b.zip", "--region", "xx"),  # the service's flag
    ],
)
def test_no_misplaced_or_read_verb_creates_a_deployment(aws, argv):
    revision = (
        "--application",
        "web",
        "--deployment-group",
        "prod",
        "--s3",
        f"s3://{BUCKET}/web/release.zip",
    )
    before = aws.codedeploy.list_deployments(applicationName="web", deploymentGroupName="prod")["deployments"]
    code, out, err = run(*argv, *revision)
    after = aws.codedeploy.list_deployments(applicationName="web", deploymentGroupName="prod")["deployments"]
    assert (code, out, after) == (2, "", before), err
    assert len(err.splitlines()) == 1 and err.startswith("appspec ") and "Traceback" not in err


# --- following deployments (Stubber: moto has no instance targets or lifecycle events) -----------------


def event(name, status, start=None, seconds=None, **diagnostics):
    raw = {"lifecycleEventName": name, "status": status}
    if start is not None:
        raw["startTime"] = T0 + timedelta(seconds=start)
        if seconds is not None:
            raw["endTime"] = T0 + timedelta(seconds=start + seconds)
    if diagnostics:
        raw["diagnostics"] = diagnostics
    return raw


def instance(target_id, status, events):
    return {
        "deploymentTargetType": "InstanceTarget",
        "instanceTarget": {
            "deploymentId": DEPLOYMENT,
            "targetId": target_id,
            "targetArn": f"arn:aws:ec2:{REGION}:123456789012:instance/{target_id}",
            "status": status,
            "lastUpdatedAt": T0,
            "lifecycleEvents": events,
        },
    }


EVENTS = ("ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall", "ApplicationStart",
          "ValidateService")  # fmt: skip
FAILED_AFTER_INSTALL = dict(
    errorCode="ScriptFailed",
    scriptName="scripts/migrate.sh",
    message="Script at specified location: scripts/migrate.sh run as user root failed with exit code 1",
    logTail=LOG_TAIL,
)


def instances_in_progress():
    first = [event(n, "Succeeded", i * 2, 1.5) for i, n in enumerate(EVENTS[:4])] + [
        event("AfterInstall", "InProgress", 8)
    ] + [event(n, "Pending") for n in EVENTS[5:]]  # fmt: skip
    second = [event(n, "Succeeded", i * 2, 1.5) for i, n in enumerate(EVENTS[:2])] + [
        event("BeforeInstall", "InProgress", 4)
    ] + [event(n, "Pending") for n in EVENTS[3:]]  # fmt: skip
    return [
        instance("i-0aaa1111bbbb2222c", "InProgress", first),
        instance("i-0ddd3333eeee4444f", "InProgress", second),
    ]


def instances_finished():
    failed = [event(n, "Succeeded", i * 2, 1.5) for i, n in enumerate(EVENTS[:4])] + [
        event("AfterInstall", "Failed", 8, 12.1, **FAILED_AFTER_INSTALL)
    ] + [event(n, "Skipped") for n in EVENTS[5:]]  # fmt: skip
    fine = [event(n, "Succeeded", i * 2, 1.5) for i, n in enumerate(EVENTS)]
    return [
        instance("i-0aaa1111bbbb2222c", "Failed", failed),
        instance("i-0ddd3333eeee4444f", "Succeeded", fine),
    ]


def deployment_info(status, overview, **extra):
    info = {
        "deploymentId": DEPLOYMENT,
        "applicationName": "web",
        "deploymentGroupName": "prod",
        "deploymentConfigName": "CodeDeployDefault.OneAtATime",
        "status": status,
        "createTime": T0,
        "deploymentOverview": overview,
        **extra,
    }
    return {"deploymentInfo": info}


HEALTH = {
    "code": "HEALTH_CONSTRAINTS",
    "message": "The overall deployment failed because too many individual instances failed deployment, too few "
    "healthy instances are available for deployment, or some instances in your deployment group are "
    "experiencing problems.",
}


def expect_creation(stub, rollback_events=("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST")):
    stub.add_response(
        "get_deployment_group",
        {
            "deploymentGroupInfo": {
                "applicationName": "web",
                "deploymentGroupName": "prod",
                "deploymentConfigName": "CodeDeployDefault.OneAtATime",
                "autoRollbackConfiguration": {"enabled": True, "events": list(rollback_events)},
            }
        },
        {"applicationName": "web", "deploymentGroupName": "prod"},
    )
    stub.add_response(
        "create_deployment",
        {"deploymentId": DEPLOYMENT},
        {"applicationName": "web", "deploymentGroupName": "prod", "revision": ANY},
    )


def expect_poll(stub, info, targets):
    stub.add_response("get_deployment", info, {"deploymentId": DEPLOYMENT})
    ids = [target["instanceTarget"]["targetId"] for target in targets]
    stub.add_response("list_deployment_targets", {"targetIds": ids}, {"deploymentId": DEPLOYMENT})
    stub.add_response(
        "batch_get_deployment_targets",
        {"deploymentTargets": targets},
        {"deploymentId": DEPLOYMENT, "targetIds": ids},
    )


def expect_failed_deployment(stub):
    expect_creation(stub)
    stub.add_response("get_deployment", deployment_info("Created", {}), {"deploymentId": DEPLOYMENT})
    expect_poll(stub, deployment_info("InProgress", {"InProgress": 2}), instances_in_progress())
    finished = deployment_info(
        "Failed", {"Failed": 1, "Succeeded": 1}, errorInformation=HEALTH, completeTime=T0 + timedelta(seconds=23.5),
        rollbackInfo={"rollbackDeploymentId": "d-ROLLBACK1", "rollbackMessage": "Deployment d-ROLLBACK1 rolls back"},
    )  # fmt: skip
    expect_poll(stub, finished, instances_finished())


WAIT = ("aws", "deploy", "--application", "web", "--deployment-group", "prod",
        "--s3", f"s3://{BUCKET}/web/release.zip", "--wait")  # fmt: skip


def test_a_failed_deployment_names_the_instance_event_script_error_code_and_log_tail(aws):
    naps = []
    with Stubber(aws.codedeploy) as stub:
        expect_failed_deployment(stub)
        code, out, err = run(*WAIT, clients=aws, sleep=naps.append)
        stub.assert_no_pending_responses()
    assert (code, err) == (1, "")
    assert naps == [deploy.DEFAULT_POLL_INTERVAL, deploy.DEFAULT_POLL_INTERVAL]
    summary = out[out.index("\ndeployment d-A1B2C3D4E Failed") :]
    assert summary == (
        "\ndeployment d-A1B2C3D4E Failed after 23.5s (application web, group prod, CodeDeployDefault.OneAtATime)\n"
        f"  HEALTH_CONSTRAINTS: {HEALTH['message']}\n"
        "  rolled back by deployment d-ROLLBACK1: Deployment d-ROLLBACK1 rolls back\n"
        "  targets: 1 failed, 1 succeeded (of 2)\n"
        "\n"
        "TARGET               STATUS         TIME  EVENTS  FAILED EVENT\n"
        "i-0aaa1111bbbb2222c  Failed        20.1s  4/7     AfterInstall\n"
        "i-0ddd3333eeee4444f  Succeeded     13.5s  7/7\n"
        "\n"
        "i-0aaa1111bbbb2222c Failed:\n"
        "  ApplicationStop   Succeeded     1.5s\n"
        "  DownloadBundle    Succeeded     1.5s\n"
        "  BeforeInstall     Succeeded     1.5s\n"
        "  Install           Succeeded     1.5s\n"
        "  AfterInstall      Failed       12.1s  ScriptFailed in scripts/migrate.sh\n"
        "      message: Script at specified location: scripts/migrate.sh run as user root failed with exit code 1\n"
        "      log tail:\n"
        "        [stdout]Running migrations for shop\n"
        '        [stderr]psql: error: connection to server at "db.internal" (10.0.3.7), port 5432 failed: timeout\n'
        "  ApplicationStart  Skipped\n"
        "  ValidateService   Skipped\n"
    )


def test_without_a_terminal_progress_is_one_line_per_change(aws):
    with Stubber(aws.codedeploy) as stub:
        expect_failed_deployment(stub)
        _, out, _ = run(*WAIT, clients=aws)
    live = out[: out.index("\ndeployment d-A1B2C3D4E Failed")].splitlines()
    assert live[:4] == [
        f"created deployment {DEPLOYMENT}: application web, group prod, revision s3://{BUCKET}/web/release.zip",
        f"  console: https://{REGION}.console.aws.amazon.com/codesuite/codedeploy/deployments/{DEPLOYMENT}"
        f"?region={REGION}",
        f"deployment {DEPLOYMENT}: Created",
        f"deployment {DEPLOYMENT}: InProgress (InProgress 2)",
    ]
    assert "  i-0aaa1111bbbb2222c  AfterInstall       InProgress" in live
    assert (
        "  i-0aaa1111bbbb2222c  AfterInstall       Failed       12.1s  ScriptFailed in scripts/migrate.sh"
        in live
    )
    assert "  i-0ddd3333eeee4444f  ValidateService    Succeeded     1.5s" in live
    once = "  i-0aaa1111bbbb2222c  ApplicationStop    Succeeded     1.5s"
    assert live.count(once) == 1  # printed when it changed, not at every poll
    assert f"deployment {DEPLOYMENT}: Failed (Succeeded 1, Failed 1)" in live


def test_on_a_terminal_the_view_is_redrawn_in_place(aws):
    terminal = Terminal()
    with Stubber(aws.codedeploy) as stub:
        expect_failed_deployment(stub)
        code, out, _ = run(*WAIT, clients=aws, out=terminal)
    assert code == 1
    assert out.count("\x1b[J") == 2  # three frames: the second and third each redraw the one before
    frames = out[: out.index("\n\ndeployment")].split("\x1b[J")
    assert frames[1].splitlines()[1:] == [
        "  i-0aaa1111bbbb2222c  InProgress  4/7 events  AfterInstall 4m52s",
        "  i-0ddd3333eeee4444f  InProgress  2/7 events  BeforeInstall 4m56s",
        "\x1b[3F",
    ]
    assert frames[2].splitlines() == [
        "deployment d-A1B2C3D4E  Failed  23.5s  (Succeeded 1, Failed 1)",
        "  i-0aaa1111bbbb2222c  Failed      4/7 events  failed at AfterInstall (ScriptFailed)",
        "  i-0ddd3333eeee4444f  Succeeded   7/7 events",
    ]


@pytest.mark.parametrize("out", [io.StringIO, Terminal])
def test_quiet_prints_no_live_view_only_the_result(aws, out):
    with Stubber(aws.codedeploy) as stub:
        expect_failed_deployment(stub)
        code, quiet, err = run(*WAIT, "-q", clients=aws, out=out())
    with Stubber(aws.codedeploy) as stub:
        expect_failed_deployment(stub)
        _, loud, _ = run(*WAIT, clients=aws)
    assert (code, err) == (1, "")
    created, _, summary = quiet.partition("\ndeployment d-A1B2C3D4E Failed")
    assert created.splitlines() == loud.splitlines()[:2]  # the id and the console link, nothing live
    assert "\x1b[" not in quiet and summary == loud.partition("\ndeployment d-A1B2C3D4E Failed")[2]


def test_json_is_one_document_at_the_end(aws):
    with Stubber(aws.codedeploy) as stub:
        expect_failed_deployment(stub)
        code, out, _ = run(*WAIT, "--format", "json", clients=aws)
    assert code == 1
    report = json.loads(out)
    assert report["status"] == "Failed"
    assert report["errorInformation"]["code"] == "HEALTH_CONSTRAINTS"
    assert report["failures"] == [
        {
            "targetId": "i-0aaa1111bbbb2222c",
            "lifecycleEvent": "AfterInstall",
            "scriptName": "scripts/migrate.sh",
            "errorCode": "ScriptFailed",
            "message": FAILED_AFTER_INSTALL["message"],
            "logTail": LOG_TAIL,
        }
    ]
    events = report["targets"][0]["lifecycleEvents"]
    assert [(e["name"], e["status"], e["durationSeconds"]) for e in events][3:6] == [
        ("Install", "Succeeded", 1.5), ("AfterInstall", "Failed", 12.1), ("ApplicationStart", "Skipped", None),
    ]  # fmt: skip
    assert report["revision"]["key"] == "web/release.zip"


def test_a_successful_deployment_exits_0(aws):
    fine = [event(n, "Succeeded", i * 2, 1.5) for i, n in enumerate(EVENTS)]
    with Stubber(aws.codedeploy) as stub:
        expect_creation(stub)
        done = deployment_info("Succeeded", {"Succeeded": 1}, completeTime=T0 + timedelta(seconds=14))
        expect_poll(stub, done, [instance("i-0aaa1111bbbb2222c", "Succeeded", fine)])
        code, out, _ = run(*WAIT, clients=aws)
    assert code == 0
    assert "\ndeployment d-A1B2C3D4E Succeeded after 14.0s" in out
    assert "log tail" not in out


def test_a_stopped_deployment_exits_1(aws):
    with Stubber(aws.codedeploy) as stub:
        expect_creation(stub)
        stopped = deployment_info(
            "Stopped", {}, errorInformation={"code": "MANUAL_STOP", "message": "stopped"}
        )
        expect_poll(stub, stopped, [])
        code, out, _ = run(*WAIT, clients=aws)
    assert code == 1
    assert "  MANUAL_STOP: stopped\n" in out


def interrupted(seconds):
    raise KeyboardInterrupt


def test_ctrl_c_at_a_terminal_offers_to_stop_with_rollback(aws):
    questions = []
    with Stubber(aws.codedeploy) as stub:
        expect_creation(stub)
        expect_poll(stub, deployment_info("InProgress", {"InProgress": 2}), instances_in_progress())
        stub.add_response(
            "stop_deployment",
            {"status": "Pending", "statusMessage": "Stop request for deployment d-A1B2C3D4E accepted"},
            {"deploymentId": DEPLOYMENT, "autoRollbackEnabled": True},
        )
        code, _, err = run(*WAIT, clients=aws, sleep=interrupted, ask=lambda q: questions.append(q) or "y\n")
        stub.assert_no_pending_responses()
    assert code == 130
    assert questions == [f"\nstop deployment {DEPLOYMENT} and roll back? [y/N] "]
    assert err == (
        f"stop requested for {DEPLOYMENT} and roll back (Pending: Stop request for deployment {DEPLOYMENT} accepted)\n"
    )


def test_ctrl_c_answered_no_leaves_it_running(aws):
    with Stubber(aws.codedeploy) as stub:
        expect_creation(stub, rollback_events=("DEPLOYMENT_FAILURE",))
        expect_poll(stub, deployment_info("InProgress", {"InProgress": 2}), instances_in_progress())
        code, _, err = run(*WAIT, clients=aws, sleep=interrupted, ask=lambda q: "\n")
        stub.assert_no_pending_responses()
    assert code == 130
    assert err == (
        f"stopped following {DEPLOYMENT}; it goes on in CodeDeploy. "
        f"To stop it: aws deploy stop-deployment --deployment-id {DEPLOYMENT}\n"
    )


def test_ctrl_c_without_a_terminal_only_stops_following(aws):
    with Stubber(aws.codedeploy) as stub:
        expect_creation(stub)
        expect_poll(stub, deployment_info("InProgress", {"InProgress": 2}), instances_in_progress())
        code, _, err = run(*WAIT, clients=aws, sleep=interrupted)
        stub.assert_no_pending_responses()
    assert code == 130
    assert err.endswith(f"aws deploy stop-deployment --deployment-id {DEPLOYMENT} --auto-rollback-enabled\n")


def test_losing_track_of_the_deployment_is_one_line(aws):
    with Stubber(aws.codedeploy) as stub:
        expect_creation(stub)
        stub.add_client_error("get_deployment", "ThrottlingException", "Rate exceeded", http_status_code=400)
        code, _, err = run(*WAIT, clients=aws)
    assert code == 2
    assert err == (
        f"appspec aws deploy: lost track of deployment {DEPLOYMENT} (it goes on in CodeDeploy): "
        "GetDeployment failed: ThrottlingException: Rate exceeded\n"
    )
