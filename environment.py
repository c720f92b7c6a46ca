"""behave hooks: start the run, guard spending, always clean up, always report.

Cleanup has three layers (see docs/known-traps.md): each scenario's
stack in ``after_scenario``; leftovers of interrupted scenarios in
``after_all`` (and at interpreter exit if behave never gets there); and the
ledger on disk for ``make sweep`` after a ``kill -9``.
"""

import atexit
import signal

from support import config as configuration
from support import preflight, report
from support.allure_out.finish import write_run_files
from support.allure_out.publish import attach_journey, attach_recorded
from support.gherkin import plan_for
from support.journey import Journey
from support.redact import redact
from support.reporting.summary import summarize_run
from support.run import Run
from support.verdict import behave_problems, judge


def before_all(context):
    try:
        config = configuration.load(context.config.userdata)
        if config.progress_file is None:            # a parallel worker: its runner has said them already
            configuration.print_warnings(config.warnings)
        context.run = Run.start(config)
    except configuration.ConfigError as error:
        configuration.exit_with_problems(error.problems, error.warnings)
    run = context.run
    runner = context._runner
    if run.settle(preflight.selected(runner.features, context.config, runner.step_registry)).problems:
        run.close()                     # nothing was rented: stop the sandbox, and leave with exit 2
        configuration.exit_with_problems(run.preflight.problems)
    run.guard.alive_count = run.alive_count
    run.guard.install()
    # atexit runs the last registered first: the verdict is printed after the report and behave's tally.
    atexit.register(print_verdict, run)
    atexit.register(finish_run, run)
    context.config.junit_directory = str(config.reports_dir / "junit")  # JUnit XML follows DUMONT_REPORTS_DIR
    run.sweep_earlier_runs()
    scale = run.clock.describe()
    print(f"Dumont Acceptance run {config.run_id} against {run.target.mode} {run.target.url}"
          + (f" ({scale})" if scale else ""), flush=True)


def before_scenario(context, scenario):
    run = context.run
    journey = context.journey = Journey(run, scenario.name, scenario.location.filename,
                                        list(scenario.effective_tags),
                                        plan_for(scenario, context._runner.step_registry))
    run.spend_guard.begin(journey)          # the guard at the point of spending, whatever the tags say
    run.progress.journey = journey.metrics.test_name
    reason = run.preflight.skips(scenario.effective_tags, journey.plan)
    if reason:
        journey.finish("skipped", reason)
        scenario.skip(reason)
        return
    run.guard.start_time_limit(run.clock.wall(run.timeouts.scenario))


def after_step(context, step):
    attach_recorded(context.journey, context.run.secrets())   # the step is still open in Allure here


def after_scenario(context, scenario):
    run = context.run
    journey = context.journey
    run.guard.stop_time_limit()
    failures = journey.clean_up()
    run.spend_guard.end(journey.spent())
    if journey.metrics.status != "skipped":
        journey.finish(scenario_status(run, scenario), first_error(scenario, run.secrets()))
    attach_journey(journey, run.secrets())
    if failures:
        # A cleanup that failed must fail the run: the machine may still be billing.
        raise AssertionError("cleanup failed, resources may still be billed: "
                             + "; ".join(f"{f.description}: {f.error}" for f in failures))


def after_all(context):
    run = getattr(context, "run", None)
    if run is not None:
        run.runner_problems = behave_problems(context._runner)     # gone by the time the verdict is printed
        finish_run(run)
        problems = run.leak_check.problems() if run.leak_check else ["the leak check did not run"]
        if problems:
            # Alive, or not known to be gone: either way the run must not pass.
            raise AssertionError("; ".join(problems))


after_all.capture = False   # the final report is printed in after_all: never swallow it


def finish_run(run) -> None:
    """Clean up what interrupted scenarios left, check for leaks, write and print the report. Runs once."""
    if run.finished:
        return
    run.finished = True
    try:
        # A signal now would leave no report and no leak check: it is noted, and raised once they are done.
        with run.guard.protect():
            for journey in run.open_journeys():
                journey.clean_up()
                run.spend_guard.end(journey.spent())
                journey.finish("interrupted", run.guard.received or "interrupted before its cleanup")
            run.check_leaks()
            summary = run.summary = summarize_run(run)
            text = report.write(summary, run.config.reports_dir, run.config.language)
            write_run_files(run, summary)
            print("\n" + redact(text, run.secrets()), flush=True)
    finally:
        run.close()


def print_verdict(run) -> None:
    # Nothing is left to do after the verdict: a signal now must not turn its exit code into another.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    verdict = judge(run.summary, run.config.language, run.runner_problems, interrupted=run.guard.received)
    print(verdict.line(run.config.language), flush=True)


def scenario_status(run, scenario) -> str:
    if run.guard.interrupted:
        return "interrupted"
    return {"passed": "passed", "skipped": "skipped"}.get(scenario.status.name, "failed")


def first_error(scenario, secrets) -> str | None:
    """The first failed step's error, whole (a server's message can span lines), secrets redacted."""
    for step in scenario.all_steps:
        if step.error_message:
            exception = getattr(step, "exception", None)
            text = str(exception).strip() if exception is not None and str(exception).strip() else \
                step.error_message.strip().splitlines()[-1]
            return redact(text, secrets)
    return None
