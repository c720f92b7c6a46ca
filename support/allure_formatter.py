"""allure-behave's formatter, writing into ``<DUMONT_REPORTS_DIR>/allure-results``.

behave builds formatters before any hook runs, and its ``outfiles`` setting is
fixed text; this subclass follows the configured reports directory instead,
so one setting moves every output of a run.
"""

from __future__ import annotations

from allure_behave.formatter import AllureFormatter as _AllureFormatter
from behave.formatter.base import StreamOpener

from support.config import reports_dir


class AllureFormatter(_AllureFormatter):
    def __init__(self, stream_opener, config):
        target = reports_dir(config.userdata) / "allure-results"
        super().__init__(StreamOpener(filename=str(target)), config)
