"""End to end on simulated hosts (real sshd in network namespaces, real HAProxy): the failure paths of a
fleet deployment. Each failure is made to happen for real (a revision whose load-balancer check fails, a
load balancer that stops answering, a network link that goes down, a controller interrupted or killed in
the middle of a traffic switch), and the deployment must end with a true verdict and traffic where the
tool says it is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest
from conftest import SAMPLE_APP, archive, sample_revision, write_script

pytestmark = [pytest.mark.fleet, pytest.mark.slow]

ONE, ALL = "CodeDeployDefault.OneAtATime", "CodeDeployDefault.AllAtOnce"
FOUR = ["h1", "h2", "h3", "h4"]

# A hook that holds the host while the test acts: with $GATE_DIR/hold-<event> present, the host writes
# reached-<event>-<address> and waits for $GATE_DIR/go (with skip-first-<event>, the first host passes).
GATE = """#!/bin/sh
[ -n "$GATE_DIR" ] && [ -e "$GATE_DIR/hold-$LIFECYCLE_EVENT" ] || exit 0
if [ -e "$GATE_DIR/skip-first-$LIFECYCLE_EVENT" ] && mkdir "$GATE_DIR/first-$LIFECYCLE_EVENT" 2>/dev/null; then
  exit 0
fi
touch "$GATE_DIR/reached-$LIFECYCLE_EVENT-$APP_HOST"
n=0
while [ ! -e "$GATE_DIR/go" ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done
"""
TRAFFIC_HOOKS = ("BeforeBlockTraffic", "AfterBlockTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")


def gated_revision(directory: Path, version: str, hooks_env: str = "") -> str:
    """The sample app at `version` with the gate in every traffic hook and ApplicationStart."""
    sample_revision(str(directory), version)
    write_script(str(directory), "scripts/gate.sh", GATE)
    appspec = (directory / "appspec.yml").read_text()
    extra = "".join(
        f"  {event}:\n    - location: scripts/gate.sh\n      timeout: 120\n" for event in TRAFFIC_HOOKS
    )
    appspec = appspec.replace(
        "  ApplicationStart:\n", "  ApplicationStart:\n    - location: scripts/gate.sh\n      timeout: 120\n"
    )
    (directory / "appspec.yml").write_text(appspec + extra)
    if hooks_env:
        with open(directory / "hooks.env", "a") as handle:
            handle.write(hooks_env)
    return archive(str(directory), str(directory) + ".tgz").path


class Gate:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        directory.mkdir(exist_ok=True)
        os.chmod(directory, 0o777)

    def hold(self, event: str, skip_first: bool = False) -> None:
        (self.dir / f"hold-{event}").touch()
        if skip_first:
            (self.dir / f"skip-first-{event}").touch()

    def reached(self, event: str, timeout: float = 120, hosts: int = 1) -> List[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [p.name.rsplit("-", 1)[1] for p in self.dir.glob(f"reached-{event}-*")]
            if len(found) >= hosts:
                return found
            time.sleep(0.05)  # the hook can only say so through the file system
        raise AssertionError(f"no host reached {event} within {timeout}s")

    def release(self) -> None:
        for hold in self.dir.glob("hold-*"):
            hold.unlink()
        (self.dir / "go").touch()


@pytest.fixture
def gated(make_fleet, tmp_path):
    """Four hosts behind HAProxy whose hooks see the gate, and v1/v2 revisions carrying it."""
    gate = Gate(tmp_path / "gate")
    fleet = make_fleet(4, environment={"APP_ENV_SAMPLE_APP_DRAIN_SECONDS": "0.5", "GATE_DIR": str(gate.dir)})
    revisions = {v: gated_revision(tmp_path / v, f"{v[1]}.0.0") for v in ("v1", "v2")}
    return fleet, gate, revisions


def controller(*arguments: str) -> subprocess.Popen:
    """`appspec fleet ARGUMENTS --format jsonl` in its own process group, as a user runs it."""
    return subprocess.Popen(
        [sys.executable, "-m", "appspec_tools", "fleet", *arguments, "--format", "jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def result_of(process: subprocess.Popen, timeout: float = 180) -> Dict:
    out, err = process.communicate(timeout=timeout)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    results = [line for line in lines if line.get("type") == "result"]
    return {"code": process.returncode, "result": results[-1] if results else {}, "lines": lines, "err": err}


def serving(fleet) -> List[str]:
    return sorted(name for name, ok in fleet.load_balancer().healthy(fleet.specs).items() if ok)


def last_good(cli, group: str) -> Optional[str]:
    history = cli.fleet("history", "--group", group)
    for deployment in history.result:
        if deployment["status"] == "Succeeded" and deployment["creator"] == "user":
            return deployment["deployment_id"]
    return None


# 1. A failed traffic step fails the host -----------------------------------------------------------------------
def test_a_revision_failing_the_load_balancer_check_is_rolled_back_with_no_failed_request(
    make_fleet, tmp_path, sample_bundles, load, cli
):
    """The revision's own ValidateService probes `/` (its hooks.env), while the load balancer checks
    /health, which answers 503 for an hour: the first host fails AllowTraffic, is taken back out, the
    rollout stops (OneAtATime), the automatic rollback restores v1, and no request fails."""
    fleet = make_fleet(4, environment={"APP_ENV_SAMPLE_APP_DRAIN_SECONDS": "0.5"})
    group = fleet.write_group_file(deployment_config=ONE, auto_rollback=True)
    assert cli.fleet("deploy", "--group", group, "--bundle", sample_bundles["v1"].path).code == 0
    good = last_good(cli, group)
    broken = Path(sample_revision(str(tmp_path / "v2"), "2.0.0"))
    with open(broken / "hooks.env", "a") as handle:
        handle.write("HEALTH_PATH=/\nHEALTH_EXPECT_BODY=\nAPP_ENV_SAMPLE_APP_STARTUP_DELAY=3600\n")
    bundle = archive(str(broken), str(tmp_path / "v2.tgz")).path

    traffic = load(fleet.url, rate=25, limit=120)
    time.sleep(1)
    done = cli.fleet("deploy", "--group", group, "--bundle", bundle)
    time.sleep(1)
    traffic.stop()

    assert done.code == 1, done.stderr
    d = done.deployment
    assert d["status"] == "Failed"
    first = d["batches"][0][0]
    assert [len(batch) for batch in d["batches"]] == [1]  # the rollout stopped at the first failure
    host = d["hosts"][first]
    assert host["status"] == "Failed" and host["reason"].startswith("AllowTraffic failed: web/")
    assert "failed its health check" in host["reason"] and "503" in host["reason"]
    assert "taken back out of the load balancer" in host["reason"]
    allow = next(e for e in host["events"] if e["event"] == "AllowTraffic")
    assert (allow["status"], allow["error_code"], allow["error_name"]) == ("Failed", 5, "UnknownError")
    assert "ValidateService" in [e["event"] for e in host["events"] if e["status"] == "Succeeded"]
    assert {n: s for n, s in done.statuses().items() if n != first} == dict.fromkeys(
        set(FOUR) - {first}, "Skipped"
    )
    rollback = done.result["rollback"]
    assert rollback["status"] == "Succeeded" and list(rollback["hosts"]) == [first]
    assert last_good(cli, group) == good  # never the broken revision
    assert cli.versions(fleet) == dict.fromkeys(FOUR, "1.0.0")
    assert serving(fleet) == FOUR
    assert traffic.failures == [] and len(traffic.results) >= 50
    assert set(cli.seen(traffic.results)) == {"1.0.0"}  # the failing host never got traffic back


def test_a_load_balancer_that_stops_answering_fails_block_traffic_and_the_rollout(gated, cli):
    fleet, gate, revisions = gated
    group = fleet.write_group_file(deployment_config=ONE)
    assert cli.fleet("deploy", "--group", group, "--bundle", revisions["v1"]).code == 0
    good = last_good(cli, group)
    gate.hold("BeforeBlockTraffic", skip_first=True)  # the second host waits before its BlockTraffic
    process = controller("deploy", "--group", group, "--bundle", revisions["v2"])
    gate.reached("BeforeBlockTraffic")
    fleet.haproxy.kill()
    fleet.haproxy.wait()
    gate.release()
    done = result_of(process)

    assert done["code"] == 1, done["err"]
    d = done["result"]["deployment"]
    assert d["status"] == "Failed"
    first, second = d["batches"][0][0], d["batches"][1][0]
    assert d["hosts"][first]["status"] == "Succeeded"
    failed = d["hosts"][second]
    assert failed["status"] == "Failed" and failed["reason"].startswith(
        "BlockTraffic failed: HAProxy runtime API"
    )
    block = next(e for e in failed["events"] if e["event"] == "BlockTraffic")
    assert block["error_code"] == 5 and block["status"] == "Failed"
    assert [e["event"] for e in failed["events"]] == [
        "BeforeBlockTraffic",
        "BlockTraffic",
    ]  # nothing deployed
    assert sorted(s for s in (h["status"] for h in d["hosts"].values())) == [
        "Failed",
        "Skipped",
        "Skipped",
        "Succeeded",
    ]
    assert last_good(cli, group) == good
    assert cli.versions(fleet, [second]) == {second: "1.0.0"}


# 2. A host that goes silent -------------------------------------------------------------------------------------
def test_a_host_whose_network_goes_down_is_failed_within_the_keepalive_window(make_fleet, make_bundle, cli):
    fleet = make_fleet(4, with_haproxy=False)
    if fleet.mode != "netns":
        pytest.skip(f"a link can only be taken down in a network namespace ({fleet.fallback_reason})")
    bundle = make_bundle("slow", {"ApplicationStart": "sleep 12"})
    group = fleet.write_group_file(
        deployment_config=ALL,
        ssh={"known_hosts": fleet.known_hosts, "server_alive_interval": 1, "server_alive_count_max": 3},
    )
    process = controller("deploy", "--group", group, "--bundle", bundle.path)
    started = {}
    for line in process.stdout:  # the hosts are in ApplicationStart: take h2's link down
        record = json.loads(line)
        if record.get("type") == "event-start" and record["event"] == "ApplicationStart":
            started[record["host"]] = time.monotonic()
        if len(started) == 4:
            break
    down_at = time.monotonic()
    subprocess.run(["ip", "-n", fleet.host("h2").namespace, "link", "set", "eth0", "down"], check=True)
    done = result_of(process)
    assert done["code"] == 0, done["err"]  # AllAtOnce: the three others succeed
    d = done["result"]["deployment"]
    assert done.get("result") and d["status"] == "Succeeded"
    h2 = d["hosts"]["h2"]
    assert h2["status"] == "Failed"
    assert "no answer over SSH for 3s" in h2["reason"] and "server_alive_interval" in h2["reason"]
    assert "the runner was stopped" not in h2["reason"]
    failed_after = h2["started"] + h2["duration"] - (time.time() - time.monotonic() + down_at)
    assert failed_after < 8, f"h2 failed {failed_after:.1f}s after its link went down"
    waiting = [r for r in done["lines"] if r.get("type") == "waiting" and r["host"] == "h2"]
    assert waiting and waiting[0]["on"].startswith("no answer over SSH for")
    assert {n: h["status"] for n, h in d["hosts"].items() if n != "h2"} == dict.fromkeys(
        ["h1", "h3", "h4"], "Succeeded"
    )


def test_one_at_a_time_stops_when_a_silent_host_fails(make_fleet, make_bundle, cli):
    fleet = make_fleet(3, with_haproxy=False)
    if fleet.mode != "netns":
        pytest.skip(f"a link can only be taken down in a network namespace ({fleet.fallback_reason})")
    bundle = make_bundle("slow", {"ApplicationStart": "sleep 6"})
    group = fleet.write_group_file(
        deployment_config=ONE,
        ssh={"known_hosts": fleet.known_hosts, "server_alive_interval": 1, "server_alive_count_max": 2},
    )
    process = controller("deploy", "--group", group, "--bundle", bundle.path)
    for line in process.stdout:
        record = json.loads(line)
        if record.get("type") == "event-start" and record["event"] == "ApplicationStart":
            victim = record["host"]
            break
    subprocess.run(["ip", "-n", fleet.host(victim).namespace, "link", "set", "eth0", "down"], check=True)
    done = result_of(process, timeout=60)
    assert done["code"] == 1
    d = done["result"]["deployment"]
    assert (
        d["hosts"][victim]["status"] == "Failed"
        and "no answer over SSH for 2s" in d["hosts"][victim]["reason"]
    )
    assert sorted(h["status"] for h in d["hosts"].values()) == ["Failed", "Skipped", "Skipped"]


# 3. and 4. Interrupted traffic switches ------------------------------------------------------------------------
BLUE, GREEN = ["h1", "h2"], ["h3", "h4"]


def blue_green_group(fleet, **settings) -> str:
    return fleet.write_group_file(
        deployment_config=ALL,
        blue_green={"blue": BLUE, "green": GREEN, "keep_blue_seconds": 3600},
        **settings,
    )


def test_ctrl_c_during_a_blue_green_switch_puts_traffic_back_on_the_originals(gated, load, cli):
    fleet, gate, revisions = gated
    group = blue_green_group(fleet)
    assert cli.fleet("deploy", "--group", group, "--bundle", revisions["v1"]).code == 0
    assert serving(fleet) == GREEN
    traffic = load(fleet.url, rate=25, limit=120)
    gate.hold("AfterAllowTraffic")  # blue (the replacements) serve v2 and wait in their AllowTraffic trio
    process = controller("deploy", "--group", group, "--bundle", revisions["v2"])
    gate.reached("AfterAllowTraffic", hosts=2)
    assert serving(fleet) == FOUR  # mid-switch: both sets serve
    os.killpg(process.pid, signal.SIGINT)  # one Ctrl-C: `stop`
    time.sleep(0.5)
    assert process.poll() is None, "one Ctrl-C must not leave at once"
    gate.release()
    done = result_of(process)
    traffic.stop()
    assert done["code"] == 1, done["err"]
    d, back = done["result"]["deployment"], done["result"]["rollback"]
    assert d["status"] == "Stopped" and "traffic goes back to green" in d["message"]
    assert back["status"] == "Succeeded" and back["rollback_of"] == d["deployment_id"]
    assert serving(fleet) == GREEN
    assert cli.versions(fleet, GREEN) == dict.fromkeys(GREEN, "1.0.0")
    assert traffic.failures == []
    status = cli.fleet("status", "--group", group)
    assert status.result["traffic"]["problems"] == []


def test_a_controller_killed_mid_switch_leaves_a_record_that_status_reads_and_rollback_restores(gated, cli):
    fleet, gate, revisions = gated
    group = blue_green_group(fleet)
    assert cli.fleet("deploy", "--group", group, "--bundle", revisions["v1"]).code == 0
    gate.hold("BeforeBlockTraffic")  # blue serves v2 already; green waits before its BlockTraffic
    process = controller("deploy", "--group", group, "--bundle", revisions["v2"])
    gate.reached("BeforeBlockTraffic", hosts=2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    gate.release()
    assert serving(fleet) == FOUR

    status = cli.fleet("status", "--group", group)
    assert status.code == 0, status.stderr
    assert status.result["status"] == "Interrupted"
    hosts = status.result["traffic"]["hosts"]
    assert {h: hosts[h]["state"] for h in FOUR} == {"h1": "in", "h2": "in", "h3": "in", "h4": "in"}
    assert {h: hosts[h]["revision"].endswith("v2.tgz") for h in BLUE} == dict.fromkeys(BLUE, True)
    assert {h: hosts[h]["revision"].endswith("v1.tgz") for h in GREEN} == dict.fromkeys(GREEN, True)
    problems = status.result["traffic"]["problems"]
    assert len(problems) == 2 and all("not in the serving set" in p and "rollback" in p for p in problems)
    assert {s for s in (h["status"] for h in status.result["hosts"].values())} <= {"Succeeded", "Interrupted"}
    assert all(status.result["hosts"][h]["status"] == "Interrupted" for h in GREEN)  # in their trio, not done

    time.sleep(1)  # the hosts' runners finish the gate hook they were in and release their locks
    rolled = cli.fleet("rollback", "--group", group)
    assert rolled.code == 0, rolled.stderr
    assert serving(fleet) == GREEN
    assert cli.fleet("status", "--group", group).result["traffic"]["problems"] == []


def test_a_host_left_drained_by_a_killed_controller_is_listed_and_synced_back(gated, cli):
    fleet, gate, revisions = gated
    group = fleet.write_group_file(deployment_config=ONE)
    assert cli.fleet("deploy", "--group", group, "--bundle", revisions["v1"]).code == 0
    gate.hold("ApplicationStart")
    process = controller("deploy", "--group", group, "--bundle", revisions["v2"])
    gate.reached("ApplicationStart")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    gate.release()
    drained = [name for name in FOUR if name not in serving(fleet)]
    assert len(drained) == 1
    name = drained[0]

    status = cli.fleet("status", "--group", group)
    problems = status.result["traffic"]["problems"]
    assert len(problems) == 1 and problems[0].startswith(
        f"{name} is out of the load balancer since BlockTraffic"
    )
    assert f"appspec fleet sync {name} --group {group}" in problems[0]
    assert status.result["traffic"]["hosts"][name]["state"] == "out"

    time.sleep(1)  # the host's runner ends the hook it was in and releases its lock
    again = cli.fleet("deploy", "--group", group, "--bundle", revisions["v2"])
    assert again.code == 0, again.stderr
    assert again.deployment["batches"][0] == [name]  # serving nothing, it goes first
    assert any(name in note and "not counted as healthy" in note for note in again.result["notes"])
    assert serving(fleet) == FOUR
    assert cli.fleet("status", "--group", group).result["traffic"]["problems"] == []


# 5. and 6. The preflight ----------------------------------------------------------------------------------------
def test_the_preflight_refuses_each_problem_in_one_line_and_deploys_nothing(
    make_fleet, sample_bundles, tmp_path, cli
):
    fleet = make_fleet(3)
    first = fleet.write_group_file(deployment_config=ALL)
    assert cli.fleet("deploy", "--group", first, "--bundle", sample_bundles["v1"].path).code == 0
    document = fleet.group_document(deployment_config=ALL)
    document["hosts"][0]["key"] = str(tmp_path / "no-such-key")
    wrong_key = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong_key)], check=True)
    document["hosts"][1]["key"] = str(wrong_key)
    document["hosts"][2]["lb_server"] = "no-such-server"
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host twin\n    HostName {fleet.hosts[2].address}\n    Port {fleet.hosts[2].spec.port}\n"
    )
    document["hosts"].append(dict(document["hosts"][2], name="twin", host="twin", lb_server="h3"))
    del document["hosts"][3]["port"]
    document["ssh"] = {"known_hosts": fleet.known_hosts, "config": str(config)}
    bad = tmp_path / "bad.yml"
    bad.write_text(json.dumps(document))

    done = cli.fleet("deploy", "--group", str(bad), "--bundle", sample_bundles["v2"].path)
    assert done.code == 2 and done.result == {}
    lines = done.stderr.splitlines()
    assert "Traceback" not in done.stderr and "printf" not in done.stderr
    problems, verdict = lines[:-1], lines[-1]
    assert "4 problems found before any host was changed; nothing was deployed" in verdict
    assert all(line.startswith(f"{bad}:") for line in problems), problems
    by_host = {line.split(": host ", 1)[1].split(":", 1)[0]: line for line in problems}
    assert set(by_host) == {"h1", "h2", "h3", "twin"}
    assert "no-such-key does not exist" in by_host["h1"]
    assert "authentication failed" in by_host["h2"] and "key" in by_host["h2"]
    assert "no server 'no-such-server'" in by_host["h3"] and "lb_server" in by_host["h3"]
    assert "same host as h3" in by_host["twin"]
    assert problems == sorted(problems, key=lambda line: int(line.split(":")[2]))  # in the file's order
    assert len(cli.fleet("history", "--group", first).result) == 1  # nothing recorded
    assert cli.versions(fleet) == dict.fromkeys(["h1", "h2", "h3"], "1.0.0")

    document = fleet.group_document(deployment_config=ALL)
    document["load_balancer"]["backend"] = "nope"
    document["ssh"] = {"known_hosts": str(tmp_path / "missing_known_hosts")}
    bad.write_text(json.dumps(document))
    done = cli.fleet("deploy", "--group", str(bad), "--bundle", sample_bundles["v2"].path)
    problems = done.stderr.splitlines()[:-1]
    assert done.code == 2 and len(problems) == 2, done.stderr
    assert any(
        "load_balancer.backend: HAProxy at" in p and "no backend 'nope' (its backends: web" in p
        for p in problems
    )
    assert any("ssh.known_hosts:" in p and "ssh-keyscan" in p for p in problems)


def test_check_and_plan_connect_run_the_preflight_without_changing_anything(make_fleet, cli):
    fleet = make_fleet(2)
    group = fleet.write_group_file(deployment_config=ALL)
    lb = fleet.load_balancer()
    before = {name: row["srv_admin_state"] for name, row in lb.states().items()}
    checked = cli.fleet("check", "--group", group)
    assert checked.code == 0 and checked.result["ok"] and checked.result["answered"] == ["h1", "h2"]
    fleet.kill_host("h2")
    checked = cli.fleet("check", "--group", group)
    assert checked.code == 2 and len(checked.result["problems"]) == 1
    assert ": host h2: ssh " in checked.result["problems"][0]
    planned = cli.fleet("plan", "--group", group, "--connect")
    assert planned.code == 2 and planned.result["preflight"]["answered"] == ["h1"]
    assert {name: row["srv_admin_state"] for name, row in lb.states().items()} == before
    assert cli.fleet("history", "--group", group).result == []
    assert os.listdir(os.path.join(fleet.host("h1").directory, "runner")) == []  # nothing uploaded


# 7. One definition of health -------------------------------------------------------------------------------
def test_the_group_health_check_drives_haproxy_and_the_hooks(make_fleet, cli):
    from agent_shim.fleet.group import HealthCheck

    check = HealthCheck(
        path="/health",
        interval=0.5,
        timeout=0.5,
        healthy_threshold=3,
        unhealthy_threshold=2,
        success_codes="200-299",
    )
    fleet = make_fleet(2, health_check=check, environment={"APP_ENV_SAMPLE_APP_DRAIN_SECONDS": "0.5"})
    config = (Path(fleet.base_dir) / "haproxy.cfg").read_text()
    assert "option httpchk GET /health\n" in config and "http-check expect rstatus ^(200|201|" in config
    assert "inter 500 fall 2 rise 3" in config
    group = fleet.write_group_file(deployment_config=ALL)
    done = cli.fleet("deploy", "--group", group, "--bundle", SAMPLE_APP)
    assert done.code == 0, done.stderr
    host = done.deployment["hosts"]["h1"]
    log = Path(fleet.host("h1").directory, "opt", "codedeploy-agent", "deployment-root")
    scripts = next(log.glob(f"*/{host['host_deployment_id']}/logs/scripts.log")).read_text()
    assert f"probing http://{fleet.host('h1').address}:8080/health every 0.5s" in scripts
    assert "healthy 3, unhealthy 2, codes 200-299" in scripts


def test_an_ssh_failure_is_one_line_in_the_users_terms(make_fleet, sample_bundles, tmp_path):
    """Without the preflight, a host with a wrong key fails on its own: its reason names the host, what
    failed and the fix, once in the summary (and once in the plain live lines), never shell text."""
    fleet = make_fleet(2)
    wrong_key = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong_key)], check=True)
    document = fleet.group_document(deployment_config=ALL)
    document["hosts"][1]["key"] = str(wrong_key)
    group = tmp_path / "group.yml"
    group.write_text(json.dumps(document))
    done = subprocess.run(
        [sys.executable, "-m", "appspec_tools", "fleet", "deploy", "--group", str(group), "--bundle"]
        + [sample_bundles["v1"].path, "--no-preflight"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr  # AllAtOnce: h1 succeeded
    lines = [line for line in done.stdout.splitlines() if "authentication failed" in line]
    assert len(lines) == 2, done.stdout  # the live line as it happened, the summary's row
    assert lines[0].startswith("host h2 failed") and lines[1].lstrip().startswith("h2 ")
    reason = "cannot prepare the host: ssh h2 ("
    assert all(reason in line and "check the host's key and user in the group file" in line for line in lines)
    assert "printf" not in done.stdout + done.stderr and "running '" not in done.stdout
