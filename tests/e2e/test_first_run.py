"""A first run (empty reports/) is not blind: the prior says where each phase's events fall, and a run without
one still passes, with more calls (support/timings.py, bench/prior.py)."""

from __future__ import annotations

import sandbox
from bench import prior as make
from tests.behave_run import run_behave

FEATURE = "features/instance.feature"


def first_run(tmp_path, name: str, prior: str):
    """The instance journey from an empty reports directory, against a fresh sandbox of the same seed (so that
    both runs meet the same machines, with the same boot, pause and resume times)."""
    with sandbox.start(data_dir=tmp_path / f"sandbox-{name}", time_scale=60.0, seed=7) as sb:
        result = run_behave([FEATURE], tmp_path / name, sb.url, f"e2e-first-{name}",
                            extra_env={"DUMONT_PHASE_PRIOR": prior})
    assert result.returncode == 0, result.explain()
    return result


def test_the_prior_is_used_on_a_first_run_and_a_run_without_one_still_passes(tmp_path):
    blind = first_run(tmp_path, "blind", "none")
    # A prior made from that run's history, as `make prior` makes one from bench runs.
    prior = tmp_path / "prior.json"
    assert make.main(["--from", str(tmp_path / "blind"), "--out", str(prior)]) == 0
    informed = first_run(tmp_path, "informed", str(prior))
    blind_calls = blind.metrics["journeys"][0]["api"]["calls"]
    informed_calls = informed.metrics["journeys"][0]["api"]["calls"]
    # The same journey, the same machines: polls dense only where the prior expects the events.
    assert informed_calls < blind_calls, (informed_calls, blind_calls)
