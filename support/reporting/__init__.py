"""The reporting layer: the domain records, these modules report.

Journeys record what happened (``support.metrics.JourneyMetrics``: phases with their uncertainty,
machines, API figures; ``support.attachments``: what a step wants shown). Reporting turns that into
files and never changes it:

* :mod:`support.reporting.summary` — the run summary (metrics.json), one function for a single
  behave process and for a run merged from parallel workers or shards;
* :mod:`support.reporting.junit` — the JUnit XML: interrupted scenarios marked, workers' files merged;
* :mod:`support.reporting.names` — a journey's name, in the report's language;
* :mod:`support.reporting.numbers` — numbers, money and dates as each language writes them;
* :mod:`support.reporting.gpu_lines` — the GPU check's line per machine in the final report;
* :mod:`support.report` — the final text report (pt/en), and writing it with metrics.json;
* :mod:`support.charts` — the timeline and cost charts (SVG);
* :mod:`support.allure_out` — Allure: labels, attachments, run-level files, history;
* :mod:`support.files` — the one atomic write every report file goes through.
"""
