"""The minimum-healthy-hosts scheduler against every example of the user guide and the API reference
(AGENT-FACTS §7), plus property tests of its invariants."""

from __future__ import annotations

from typing import Dict, List, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_shim.fleet.config import (
    ALL_AT_ONCE,
    CURRENT,
    FLEET_PERCENT,
    HALF_AT_A_TIME,
    HEALTHY,
    HOST_COUNT,
    OLD,
    ONE_AT_A_TIME,
    PREDEFINED,
    UNHEALTHY,
    UNKNOWN,
    HostHealth,
    MinimumHealthyHosts,
    RollingWindow,
    deployment_config,
    deployment_order,
    simulate,
)
from agent_shim.fleet.contracts import FAILED, STOPPED, SUCCEEDED

pytestmark = pytest.mark.fleet


def hosts(n: int) -> List[str]:
    return [f"h{i}" for i in range(1, n + 1)]


def run(window: RollingWindow, fails: Sequence[str] = ()) -> List[List[str]]:
    """Drive the window to its end: every wave of hosts that may start starts, then they end in order
    (failing when named in `fails`); returns the waves."""
    waves = []
    while window.verdict is None:
        wave = window.start_next()
        assert wave, "the window neither started a host nor ended"
        waves.append(wave)
        for host in wave:
            window.finished(host, host not in fails)
    return waves


def window_for(config: str, n: int) -> RollingWindow:
    return RollingWindow(hosts(n), deployment_config(config).minimum(n))


# The user guide's ten-instance examples (instances-health.md) -----------------------------------------------
def test_minimum_9_of_10_deploys_one_at_a_time():
    window = window_for("HOST_COUNT:9", 10)
    assert run(window) == [[h] for h in hosts(10)]
    assert window.verdict.status == SUCCEEDED


def test_minimum_9_of_10_fails_at_the_first_failure_and_skips_the_rest():
    window = window_for("HOST_COUNT:9", 10)
    assert run(window, fails=["h3"]) == [["h1"], ["h2"], ["h3"]]
    assert window.verdict.status == FAILED
    assert window.skipped == hosts(10)[3:]


def test_minimum_9_of_10_a_failure_on_the_last_host_still_succeeds():
    window = window_for("HOST_COUNT:9", 10)
    run(window, fails=["h10"])
    assert window.verdict.status == SUCCEEDED
    assert window.failed == ["h10"]


def test_minimum_8_of_10_deploys_two_at_a_time():
    window = window_for("HOST_COUNT:8", 10)
    assert run(window) == [["h1", "h2"], ["h3", "h4"], ["h5", "h6"], ["h7", "h8"], ["h9", "h10"]]


def test_minimum_8_of_10_goes_on_after_one_failure_one_at_a_time_and_fails_at_the_second():
    window = window_for("HOST_COUNT:8", 10)
    assert window.start_next() == ["h1", "h2"]
    window.finished("h1", False)
    assert window.start_next() == []  # H = 8: another start would leave 7 < 8
    window.finished("h2", True)
    assert window.start_next() == ["h3"]  # H = 9: one more fits
    window.finished("h3", False)
    assert window.verdict.status == FAILED
    assert window.skipped == hosts(10)[3:]


def test_minimum_8_of_10_the_last_host_being_the_second_failure_still_succeeds():
    window = window_for("HOST_COUNT:8", 10)
    run(window, fails=["h1", "h10"])
    assert window.verdict.status == SUCCEEDED
    assert len(window.succeeded) == 8


def test_minimum_0_deploys_to_every_host_at_once():
    window = window_for("HOST_COUNT:0", 10)
    assert run(window, fails=hosts(9)) == [hosts(10)]
    assert window.verdict.status == SUCCEEDED  # one success is enough


def test_minimum_0_still_needs_one_success():
    window = window_for("HOST_COUNT:0", 10)
    run(window, fails=hosts(10))
    assert window.verdict.status == FAILED


def test_85_percent_of_10_rounds_up_to_9_and_fails_at_the_first_failure():
    assert deployment_config("FLEET_PERCENT:85").minimum(10) == 9
    window = window_for("FLEET_PERCENT:85", 10)
    assert run(window, fails=["h1"]) == [["h1"]]
    assert window.verdict.status == FAILED


def test_95_percent_of_10_fails_at_once_without_deploying():
    window = window_for("FLEET_PERCENT:95", 10)
    assert window.start_next() == []
    assert window.verdict.status == FAILED
    assert "none of the 10" in window.verdict.message
    assert window.skipped == hosts(10)


@pytest.mark.parametrize("minimum,n", [(3, 3), (5, 3), (1, 1)])
def test_a_minimum_not_below_the_host_count_fails_at_once(minimum, n):
    window = RollingWindow(hosts(n), minimum)
    assert window.start_next() == [] and window.verdict.status == FAILED


# The API reference's nine-instance examples (MinimumHealthyHosts) -------------------------------------------
def test_half_at_a_time_of_9_deploys_4_at_a_time_and_needs_5():
    assert deployment_config(HALF_AT_A_TIME).minimum(9) == 5
    window = window_for(HALF_AT_A_TIME, 9)
    assert [len(w) for w in run(window)] == [4, 4, 1]
    failing = window_for(HALF_AT_A_TIME, 9)
    assert failing.start_next() == hosts(4)
    for host in hosts(4):
        failing.finished(host, host in ("h1", "h2"))  # 2 failed: H = 7, so 2 more fit
    assert failing.start_next() == ["h5", "h6"]


def test_half_at_a_time_of_9_succeeds_with_5_and_fails_with_4():
    five = window_for(HALF_AT_A_TIME, 9)
    run(five, fails=["h6", "h7", "h8", "h9"])
    assert five.verdict.status == SUCCEEDED and len(five.succeeded) == 5
    four = RollingWindow(hosts(9), 5)
    four.start_next()
    for host in hosts(4):
        four.finished(host, host == "h1")  # 3 failed: H = 6, H - 1 = 5 >= 5: one more may start
    assert four.start_next() == ["h5"]
    four.finished("h5", False)  # 4 failed, H = 5: stop
    assert four.verdict.status == FAILED


def test_host_count_6_of_9_deploys_3_at_a_time_and_needs_6():
    window = window_for("HOST_COUNT:6", 9)
    assert run(window) == [hosts(9)[0:3], hosts(9)[3:6], hosts(9)[6:9]]
    last_three_fail = window_for("HOST_COUNT:6", 9)
    run(last_three_fail, fails=["h7", "h8", "h9"])
    assert last_three_fail.verdict.status == SUCCEEDED


def test_fleet_percent_40_of_9_deploys_5_at_a_time_and_needs_4():
    assert deployment_config("FLEET_PERCENT:40").minimum(9) == 4
    window = window_for("FLEET_PERCENT:40", 9)
    assert [len(w) for w in run(window)] == [5, 4]
    some_fail = window_for("FLEET_PERCENT:40", 9)
    run(some_fail, fails=["h6", "h7", "h8", "h9"])
    assert some_fail.verdict.status == SUCCEEDED and len(some_fail.succeeded) == 5


# Predefined configurations ------------------------------------------------------------------------------------
def test_one_at_a_time_is_all_but_one_healthy_not_99_percent():
    config = PREDEFINED[ONE_AT_A_TIME]
    assert [config.minimum(n) for n in (1, 2, 10, 101)] == [0, 1, 9, 100]
    assert MinimumHealthyHosts(FLEET_PERCENT, 99).minimum(101) == 100  # the same here ...
    assert MinimumHealthyHosts(FLEET_PERCENT, 99).minimum(200) == 198  # ... but not in general
    assert config.minimum(200) == 199


def test_one_at_a_time_with_one_host_needs_that_host():
    ok, bad = window_for(ONE_AT_A_TIME, 1), window_for(ONE_AT_A_TIME, 1)
    run(ok)
    run(bad, fails=["h1"])
    assert ok.verdict.status == SUCCEEDED and bad.verdict.status == FAILED


@pytest.mark.parametrize("n", [2, 3, 5])
def test_one_at_a_time_stops_at_the_first_failure_except_on_the_last_host(n):
    for failing in hosts(n):
        window = window_for(ONE_AT_A_TIME, n)
        waves = run(window, fails=[failing])
        assert all(len(w) == 1 for w in waves)
        last = failing == hosts(n)[-1]
        assert window.verdict.status == (SUCCEEDED if last else FAILED)
        assert window.skipped == ([] if last else hosts(n)[hosts(n).index(failing) + 1 :])


def test_all_at_once_needs_one_success():
    window = window_for(ALL_AT_ONCE, 4)
    assert window.start_next() == hosts(4)
    for host in hosts(4):
        window.finished(host, host == "h4")
    assert window.verdict.status == SUCCEEDED


def test_deployment_config_spellings():
    assert deployment_config(None).name == ONE_AT_A_TIME
    assert deployment_config({"type": HOST_COUNT, "value": 3}).name == "HOST_COUNT:3"
    assert deployment_config("FLEET_PERCENT:75").minimum(4) == 3
    for bad in (
        "CodeDeployDefault.Fast",
        "HOST_COUNT:x",
        {"type": "MOST_CONCURRENCY", "value": 1},
        "FLEET_PERCENT:101",
    ):
        with pytest.raises(ValueError):
            deployment_config(bad)


def test_describe_says_the_minimum_and_the_window():
    assert deployment_config(HALF_AT_A_TIME).describe(9) == (
        "CodeDeployDefault.HalfAtATime: at least 5 of 9 hosts healthy, up to 4 at a time"
    )
    assert "fails at once" in deployment_config("FLEET_PERCENT:95").describe(10)


# Order, stop, simulation ------------------------------------------------------------------------------------
def test_order_is_unhealthy_first_then_unknown_old_current_revision():
    health = {
        "cur": HostHealth(HEALTHY, CURRENT),
        "old": HostHealth(HEALTHY, OLD),
        "unk": HostHealth(HEALTHY, UNKNOWN),
        "sick-cur": HostHealth(UNHEALTHY, CURRENT),
        "sick-old": HostHealth(UNHEALTHY, OLD),
    }
    names = ["cur", "old", "new", "unk", "sick-cur", "sick-old"]  # "new": never deployed
    assert deployment_order(names, health) == ["new", "sick-old", "sick-cur", "unk", "old", "cur"]


def test_order_keeps_the_group_file_order_among_equals():
    assert deployment_order(["b", "a", "c"], {}) == ["b", "a", "c"]


def test_stop_lets_hosts_in_flight_finish_and_starts_no_other():
    window = window_for("HOST_COUNT:2", 6)
    assert window.start_next() == hosts(4)
    window.stop()
    window.finished("h1", True)
    assert window.start_next() == [] and window.verdict is None
    for host in hosts(4)[1:]:
        window.finished(host, True)
    assert window.verdict.status == STOPPED and window.skipped == ["h5", "h6"]


def test_start_next_honours_a_limit_of_free_connections():
    window = window_for(ALL_AT_ONCE, 5)
    assert window.start_next(limit=2) == ["h1", "h2"]
    assert window.start_next(limit=0) == []


def test_simulate_gives_the_plan_batches():
    assert simulate(hosts(9), 5) == [hosts(4), hosts(9)[4:8], ["h9"]]
    assert simulate(hosts(5), 0, limit=2) == [["h1", "h2"], ["h3", "h4"], ["h5"]]
    assert simulate(hosts(3), 3) == []


def test_finishing_a_host_not_in_flight_is_a_bug():
    with pytest.raises(ValueError):
        RollingWindow(hosts(2), 0).finished("h1", True)


# Properties ------------------------------------------------------------------------------------------------
@st.composite
def scenarios(draw):
    n = draw(st.integers(1, 12))
    kind = draw(st.sampled_from([HOST_COUNT, FLEET_PERCENT, "predefined"]))
    if kind == "predefined":
        config = PREDEFINED[draw(st.sampled_from(sorted(PREDEFINED)))]
    else:
        config = deployment_config(
            {"type": kind, "value": draw(st.integers(0, 100 if kind == FLEET_PERCENT else n + 1))}
        )
    results = {h: draw(st.booleans()) for h in hosts(n)}
    picks = draw(st.lists(st.integers(0, 100), min_size=3 * n, max_size=3 * n))
    limit = draw(st.one_of(st.none(), st.integers(1, 4)))
    stop_after = draw(st.one_of(st.none(), st.integers(0, n)))
    return n, config.minimum(n), results, picks, limit, stop_after


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_the_window_never_takes_the_fleet_below_the_minimum_and_always_ends(scenario):
    n, m, results, picks, limit, stop_after = scenario
    window = RollingWindow(hosts(n), m)
    finished: Dict[str, bool] = {}
    steps = 0
    while window.verdict is None:
        steps += 1
        assert steps <= 4 * n + 2, "the window does not end"
        if stop_after is not None and len(finished) >= stop_after:
            window.stop()
        before = len(window.in_flight)
        started = window.start_next(limit)
        if window.stopping:
            assert started == []
        if started:
            # our own starts never take the healthy count below m, nor put more than N - m in flight
            assert window.healthy >= m
            assert len(window.in_flight) <= n - m
        if limit is not None:
            assert len(started) <= limit
        assert len(window.in_flight) == before + len(started)
        if window.verdict is not None:
            break
        host = window.in_flight[picks[steps % len(picks)] % len(window.in_flight)]
        window.finished(host, results[host])
        finished[host] = results[host]
    verdict = window.verdict
    assert not window.in_flight
    everyone = window.succeeded + window.failed + window.skipped
    assert sorted(everyone) == sorted(hosts(n)) and len(set(everyone)) == n
    if verdict.status == SUCCEEDED:
        assert len(window.succeeded) >= max(m, 1) and not window.skipped
    if verdict.status == FAILED and window.skipped:
        assert window.healthy - 1 < m  # it stopped only because the rule said so
    if verdict.status == STOPPED:
        assert window.stopping and window.skipped
    if m >= n:
        assert verdict.status == FAILED and window.skipped == hosts(n)
    if all(results.values()) and stop_after is None and m < n:
        assert verdict.status == SUCCEEDED


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 30), st.integers(0, 30))
def test_with_every_host_succeeding_the_first_wave_is_n_minus_m(n, m):
    waves = simulate(hosts(n), m)
    if m >= n:
        assert waves == []
    else:
        assert len(waves[0]) == n - m and sum(map(len, waves)) == n
