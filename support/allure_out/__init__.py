"""What the suite gives Allure, one job per module.

The domain never talks to Allure: a journey records its phases, metrics and attachments
(:mod:`support.attachments`); this package publishes them. Two routes, because allure-behave
cannot attach in ``before_all``/``after_all`` (allure-python #764) and a Ctrl-C can skip
``after_scenario``:

* while a scenario is open, :mod:`.publish` attaches through allure-behave's runtime API;
* at the end of the run, :mod:`.finish` writes files straight into
  ``<reports>/allure-results`` and :mod:`.completion` gives a journey cut short what it never
  attached (an interrupted scenario is also marked as such, so it is not a silent "skipped").

Modules:

* :mod:`.categories` — the Allure categories (interrupted, budget refused, rate limited, ...);
* :mod:`.labels` — the runtime-label plugin, severity, a journey's labels (epic, GPU);
* :mod:`.publish` — a journey's attachments (phase timings, metrics, timeline, what its steps
  recorded), redacted, published while its scenario is open;
* :mod:`.results_dir` — the files written into the results directory: environment.xml,
  categories.json, executor.json, attachment files, the charts as global attachments;
* :mod:`.completion` — completing the results of journeys an interrupt cut short;
* :mod:`.finish` — the end of a run: of one behave process, or merged from workers or shards;
* :mod:`.history` — ``python -m support.allure_out prepare`` (``make report``): run files and history.
"""
