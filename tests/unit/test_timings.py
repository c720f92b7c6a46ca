"""The timing history and its checked-in prior (support/timings.py, made by bench/prior.py)."""

from __future__ import annotations

import json

import pytest

from bench import prior as make
from support.timings import (
    MARGIN,
    PRIOR_PATH,
    TRUSTED,
    Expected,
    Prior,
    TimingHistory,
    prior_path,
    target_kind,
)
from support.waits import Polling

PRIOR = Prior({"sandbox": {"resume on RTX 3060, instance": {"low": 60.0, "high": 66.0, "typical": 63.0},
                           "failure on RTX 3060": {"low": 12.0, "high": 18.0, "typical": 15.0,
                                                   "spans": [[12.0, 13.0], [16.0, 18.0]]}},
               "server": {"running": {"low": 200.0, "high": 240.0}}})


def test_a_first_run_expects_what_the_prior_says(tmp_path):
    history = TimingHistory(tmp_path / "h.jsonl", "sandbox", prior=PRIOR)
    window = history.expected("resume on RTX 3060, instance")
    assert (window.low, window.high, window.source) == (60.0, 66.0, "prior")
    assert history.expected("running") is None                       # the sandbox's prior does not know it
    assert TimingHistory(tmp_path / "h.jsonl", "http://real:8766", prior=PRIOR).expected("running").low == 200


def test_the_local_history_refines_the_prior_then_replaces_it(tmp_path):
    history = TimingHistory(tmp_path / "h.jsonl", "sandbox", prior=PRIOR)
    history.add("resume on RTX 3060, instance", 80.0)
    joined = history.expected("resume on RTX 3060, instance")
    assert joined.source == "prior+history"
    assert joined.stretches() == ((60.0, 66.0), (80.0 * (1 - MARGIN), 80.0 * (1 + MARGIN)))
    for _ in range(TRUSTED - 1):
        history.add("resume on RTX 3060, instance", 80.0)
    alone = history.expected("resume on RTX 3060, instance")
    assert alone.source == "history" and alone.low == pytest.approx(76.0)
    assert history.source("resume on RTX 3060, instance") == "history"


def test_without_a_prior_a_first_run_is_blind_as_before(tmp_path):
    history = TimingHistory(tmp_path / "h.jsonl", "sandbox", prior=None)
    assert history.expected("resume on RTX 3060, instance") is None and history.typical("hold instance") is None
    assert Prior.load(tmp_path / "missing.json") is None
    (tmp_path / "broken.json").write_text("{not json")
    assert Prior.load(tmp_path / "broken.json") is None


def test_the_prior_setting_names_a_file_or_none(tmp_path):
    from support import config

    assert prior_path() == PRIOR_PATH
    assert prior_path("none") is None and prior_path("") is None
    assert prior_path(str(tmp_path / "p.json")) == tmp_path / "p.json"
    read = config.load(environ={"DUMONT_PHASE_PRIOR": "none", "LANG": "C"}, dotenv_path=None,
                       userdata={"DUMONT_REPORTS_DIR": str(tmp_path / "reports")})
    assert prior_path(read.phase_prior) is None


def test_kinds_of_target():
    assert target_kind("sandbox") == "sandbox" and target_kind("https://dumont.example") == "server"


def test_times_that_fall_apart_make_separate_stretches(tmp_path):
    history = TimingHistory(tmp_path / "h.jsonl", "sandbox", prior=None)
    for seconds in (100.0, 160.0, 102.0):
        history.add("running on RTX 3060", seconds)
    window = history.expected("running on RTX 3060")
    assert len(window.stretches()) == 2 and window.low == pytest.approx(95.0) and window.high == pytest.approx(168.0)
    assert PRIOR.expected("sandbox", "failure on RTX 3060").stretches() == ((12.0, 13.0), (16.0, 18.0))


def test_a_wait_looks_densely_only_inside_the_stretches():
    polling = Polling()
    window = Expected.of([(100.0, 105.0), (150.0, 160.0)], "history")
    assert polling.interval(0.0, window) == pytest.approx(50.0)        # halfway to the first stretch
    assert polling.interval(101.0, window) == pytest.approx(2.02)      # inside: 2 % of the time waited
    assert polling.interval(106.0, window) == pytest.approx(22.5)      # the gap: halfway across it
    assert polling.interval(155.0, window) == pytest.approx(3.1)
    assert polling.interval(170.0, window) == pytest.approx(3.4)       # past them: 2 % again


def test_a_wide_stretch_is_looked_at_coarser_not_with_more_calls():
    polling = Polling()
    wide = Expected(20.0, 90.0)
    assert polling.within(20.0, 90.0) == pytest.approx(max(polling.precision, 1.504 / polling.window_looks), rel=1e-3)
    looks, waited = 0, 20.0
    while waited < 90.0:
        waited += polling.interval(waited, wide)
        looks += 1
    assert looks <= polling.window_looks + 1
    assert polling.within(100.0, 105.0) == polling.precision                 # a narrow one keeps the precision


def test_the_typical_value_is_the_local_median_or_the_priors(tmp_path):
    history = TimingHistory(tmp_path / "h.jsonl", "sandbox", prior=PRIOR)
    assert history.typical("failure on RTX 3060") == 15.0
    history.add("failure on RTX 3060", 17.0)
    assert history.typical("failure on RTX 3060") == 16.0                     # one local time, and the prior's
    assert history.source("failure on RTX 3060") == "prior+history"


def test_the_make_target_builds_the_prior_from_bench_histories(tmp_path):
    bench = tmp_path / "bench"
    (bench / "first" / "rep1-instance").mkdir(parents=True)
    lines = [{"target": "sandbox", "phase": "pause on RTX 3060, instance", "seconds": s} for s in (16.0, 16.5)]
    lines += [{"target": "sandbox", "phase": "running on RTX 3060", "seconds": s} for s in (100.0, 160.0)]
    lines += [{"target": "http://real", "phase": "running", "seconds": 222.0}, {"phase": "broken"}]
    (bench / "phase-history.jsonl").write_text("\n".join(json.dumps(x) for x in lines[:3]) + "\n")
    (bench / "first" / "rep1-instance" / "phase-history.jsonl").write_text(
        "\n".join(json.dumps(x) for x in lines[3:]) + "\nnot json\n")
    out = tmp_path / "prior.json"
    assert make.main(["--from", str(bench), "--out", str(out)]) == 0
    made = Prior.load(out)
    pause = made.expected("sandbox", "pause on RTX 3060, instance")
    assert pause.low == pytest.approx(16.0 * 0.95) and pause.high == pytest.approx(16.5 * 1.05, abs=1e-3)
    assert len(made.expected("sandbox", "running on RTX 3060").stretches()) == 2
    assert made.expected("server", "running").low == pytest.approx(222.0 * 0.95)
    assert made.typical("sandbox", "pause on RTX 3060, instance") == pytest.approx(16.25)


def test_the_checked_in_prior_is_small_and_knows_the_sandbox():
    data = json.loads(PRIOR_PATH.read_text())
    assert PRIOR_PATH.stat().st_size < 20_000
    prior = Prior.load(PRIOR_PATH)
    assert "sandbox" in prior.kinds
    assert any(name.startswith("resume on ") for name in prior.kinds["sandbox"])
    assert data["source"]
