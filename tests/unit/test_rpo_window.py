"""The data-loss window (RPO) a failover journey reports: the true window always lies within it."""

from __future__ import annotations

import random

import pytest

from support.clock import Moment
from support.dataset import DataLoss, Written, copy_bracket, measure_loss

DATA_SET = "dataset/part-1.bin"


def canary(index: int) -> str:
    return f"canary/c{index:04d}.bin"


def written_with(made: dict[str, Moment]) -> Written:
    written = Written()
    for path, moment in made.items():
        written.add({path: f"sha-{path}"}, 4096, moment)
    return written


def standby_copy(written: Written, kept: set[str]) -> dict[str, str]:
    """What the standby holds: the files the last completed sync carried."""
    return {path: digest for path, digest in written.hashes.items() if path in kept}


def test_the_window_holds_a_failure_late_in_its_bracket():
    """The run that failed `make test` under load: the GPU stopped near the end of the polls' bracket, so the
    bracket's middle was too early and the window reported ended before the true one began."""
    written = written_with({DATA_SET: Moment(0.0, 0.05),
                            canary(0): Moment(1.000, 1.015), canary(1): Moment(1.020, 1.035),
                            canary(2): Moment(1.040, 1.055), canary(3): Moment(1.060, 1.075),
                            canary(4): Moment(1.079, 1.094), canary(5): Moment(1.100, 1.115)})
    # The sync started at 1.00 and completed at 1.09; it read the canary directory at 1.08, after c0004
    # was made. The GPU stopped at 1.30; the suite's polls saw it stopped between 1.26 and 1.305.
    found = standby_copy(written, {DATA_SET, *(canary(i) for i in range(5))})
    loss = measure_loss(written, found, Moment(1.26, 1.305))
    assert loss.lost_files == [canary(5)] and loss.lost_bytes == 4096
    assert loss.rpo_seconds_min <= 1.30 - 1.08 <= loss.rpo_seconds_max
    # The middle of the failure's bracket (1.2825) would have reported at most 1.2825 - 1.079 = 0.2035 s,
    # short of the shortest true window (1.30 - 1.09 = 0.21 s).
    assert loss.rpo_seconds_max >= 1.30 - 1.09
    assert loss.rpo_seconds_min == pytest.approx(1.26 - 1.115)
    assert loss.rpo_seconds_max == pytest.approx(1.305 - 1.079)


def test_a_copy_taken_before_the_first_canary_is_bounded_by_the_data_set():
    """No canary reached the standby: its copy came before them, so the first canary does not bound it
    from below (the data set the standby has does)."""
    written = written_with({DATA_SET: Moment(0.0, 0.05), canary(0): Moment(1.0, 1.02), canary(1): Moment(1.03, 1.05)})
    loss = measure_loss(written, standby_copy(written, {DATA_SET}), Moment(1.2, 1.21))
    copy_at = 0.5
    assert loss.rpo_seconds_min <= 1.205 - copy_at <= loss.rpo_seconds_max
    assert loss.rpo_seconds_max == pytest.approx(1.21 - 0.0)


def test_a_canary_damaged_on_the_standby_does_not_bound_the_copy():
    """A canary the standby lacks though a later one arrived was damaged, not made too late."""
    written = written_with({DATA_SET: Moment(0.0, 0.05), canary(0): Moment(1.0, 1.02), canary(1): Moment(1.03, 1.05)})
    found = standby_copy(written, {DATA_SET, canary(1)})
    assert copy_bracket(written, {canary(0)}, Moment(1.2, 1.21)) == Moment(1.03, 1.21)
    assert measure_loss(written, found, Moment(1.2, 1.21)).lost_files == [canary(0)]


def test_nothing_to_bound_the_window_with():
    without_canaries = written_with({DATA_SET: Moment(0.0, 0.05)})
    assert measure_loss(without_canaries, {}, Moment(1.0, 1.0)).rpo_seconds is None
    nothing_arrived = written_with({DATA_SET: Moment(0.0, 0.05), canary(0): Moment(1.0, 1.02)})
    loss = measure_loss(nothing_arrived, {}, Moment(1.2, 1.21))
    assert loss.rpo_seconds is None and loss.rounded_range() is None and loss.lost_bytes == 2 * 4096


def test_the_range_is_rounded_outwards():
    assert DataLoss([], 0, 0.2, 0.18749, 0.23511).rounded_range(3) == [0.187, 0.236]
    assert DataLoss([], 0, 0.2, 0.1875, 0.2355).rounded_range(3) == [0.187, 0.236]


def simulated_failover(rng: random.Random) -> tuple[Written, dict[str, str], Moment, float]:
    """One failover journey's timeline: a data set, canaries written back to back (each made at some moment
    between its command's sending and its answer), a sync's copy taken at some instant, the GPU stopping
    after the last canary and seen stopped by polls around that. Returns what the suite knows and the true
    window (failure minus copy)."""
    made: dict[str, Moment] = {DATA_SET: Moment(0.0, 0.05)}
    created = {DATA_SET: rng.uniform(0.0, 0.05)}
    sent = 1.0
    for index in range(rng.randint(1, 12)):
        answered = sent + rng.uniform(0.003, 0.04)          # an SSH command; longer under load
        made[canary(index)] = Moment(sent, answered)
        created[canary(index)] = rng.uniform(sent, answered)
        sent = answered + rng.uniform(0.0, 0.005)
    last_answer = max(moment.latest for moment in made.values())
    copy_at = rng.uniform(0.06, last_answer)                   # before the first canary, sometimes
    failed_at = last_answer + rng.uniform(0.05, 0.3)           # the pause, then the stop
    seen = Moment(failed_at - rng.uniform(0.0, 0.03), failed_at + rng.uniform(0.0, 0.03))
    written = written_with(made)
    found = standby_copy(written, {path for path, at in created.items() if at <= copy_at})
    return written, found, seen, failed_at - copy_at


def test_the_true_window_always_lies_within_the_reported_range():
    rng = random.Random(18)
    for _ in range(2000):
        written, found, seen, truth = simulated_failover(rng)
        loss = measure_loss(written, found, seen)
        low, high = loss.rounded_range(3)
        assert low <= truth <= high, (low, truth, high)
        assert loss.rpo_seconds_min <= loss.rpo_seconds <= loss.rpo_seconds_max
