"""allure-behave's formatter, writing into ``<DUMONT_REPORTS_DIR>/allure-results``.

behave builds formatters before any hook runs, and its ``outfiles`` setting is
fixed text; this subclass follows the configured reports directory instead,
so one setting moves every output of a run.
"""

from __future__ import annotations

import shutil

from allure_behave.formatter import AllureFormatter as _AllureFormatter
from behave.formatter.base import StreamOpener

from support.config import exit_with_problems, reports_dir, writable_dir_problem


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
