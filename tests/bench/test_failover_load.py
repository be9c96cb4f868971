"""The failover figures: the outage window is judged by calls made after the failure."""

from __future__ import annotations

from bench.failover_load import Call, outage_window


def call(started: float, ended: float, status: int) -> Call:
    return Call("register", f"u{started}", "http://gw", started, ended, status, False)


def test_no_failure_no_window() -> None:
    assert outage_window([call(0, 1, 201), call(1, 2, 200)], after=0) is None


def test_the_window_runs_from_the_first_failure_to_a_later_calls_success() -> None:
    calls = [
        call(0.0, 0.5, 201),  # before the kill: not counted
        call(1.0, 1.1, 503),  # the first failure
        call(0.9, 1.5, 201),  # in flight across the failure: it does not end the outage
        call(1.2, 1.3, 503),
        call(2.0, 2.4, 201),  # the first success of a call made after the failure
        call(2.5, 2.6, 201),
    ]

    assert outage_window(calls, after=1.0) == (1.1, 2.4)


def test_an_outage_that_never_ends_has_no_end() -> None:
    first, last = outage_window([call(1, 1.1, 503), call(0.5, 2, 201)], after=1.0) or (0, 0)

    assert first == 1.1
    assert last != last  # NaN: no later call succeeded
