"""allure-behave's formatter, writing into ``<DUMONT_REPORTS_DIR>/allure-results``, with a result
only for the scenarios this behave process runs.

behave builds formatters before any hook runs, and its ``outfiles`` setting is
fixed text; this subclass follows the configured reports directory instead,
so one setting moves every output of a run.

``behave features/failover.feature:35`` (how ``support.parallel`` runs each scenario) marks the
feature's other scenarios skipped before the run starts, and allure-behave would write each of them
as a "skipped" result with the same history id as the worker that does run it: the merged report
then counted phantom skips and "retries". A scenario behave decided not to run before it started
(not selected by location, tags or name) gets no result here. A scenario that starts and is then
skipped (a spending guard refused it, in ``before_scenario``) still gets its "skipped" result.
"""

from __future__ import annotations

import shutil

from allure_behave.formatter import AllureFormatter as _AllureFormatter
from behave.formatter.base import StreamOpener
from behave.model import ScenarioOutline

from support.config import exit_with_problems, reports_dir, writable_dir_problem


def selected(scenario, config) -> bool:
    """Whether behave means to run ``scenario`` (checked when its feature starts, before any hook)."""
    return scenario.should_run(config)


class AllureFormatter(_AllureFormatter):
    def __init__(self, stream_opener, config):
        folder = reports_dir(config.userdata)
        problem = writable_dir_problem(folder)
        if problem:
            # Formatters are built before any hook: report it the way before_all would.
            exit_with_problems([problem])
        for stale in ("allure-results", "junit"):   # this run's results only; Allure history: history.jsonl
            shutil.rmtree(folder / stale, ignore_errors=True)
        super().__init__(StreamOpener(filename=str(folder / "allure-results")), config)
        self._unselected: set[int] = set()
        self._in_unselected = False

    def _wrap_scenario(self, scenarios):
        # allure-behave wraps each scenario's run() to open and close its result: leave out the
        # scenarios behave will not run, so they never get one.
        scenarios = list(scenarios)
        for scenario in scenarios:
            if not isinstance(scenario, ScenarioOutline) and not selected(scenario, self.config):
                self._unselected.add(id(scenario))
        super()._wrap_scenario([s for s in scenarios if id(s) not in self._unselected])

    def scenario(self, scenario):
        self._in_unselected = id(scenario) in self._unselected
        super().scenario(scenario)

    # behave still shows the steps of an unselected scenario (show_skipped): they must not reach
    # allure-behave's step queue, where the next scenario that runs would pick them up.
    def step(self, step):
        if not self._in_unselected:
            super().step(step)

    def match(self, match):
        if not self._in_unselected:
            super().match(match)

    def result(self, result):
        if not self._in_unselected:
            super().result(result)
