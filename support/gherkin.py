"""Step definitions in two languages: one function, an English and a Portuguese sentence."""

from __future__ import annotations

import functools

from behave import step

from support.errors import ApiError, ConnectionProblem, LoginFailed, ServerSaidNo
from support.spending import Plan, Spends


def steps(en: str, pt: str, spends: Spends | None = None):
    """Register ``func`` under both sentences (any keyword: Given/When/Then, Dado/Quando/Então).

    The function's docstring is the step's meaning in the steps catalogue (``make steps``).
    ``spends`` says what the step may do to the bill (machines it rents, time limits it may use):
    a journey's worst case is the sum over its steps (support.spending.Plan).
    """

    def register(func):
        implementation = in_one_line(func)
        step(en)(implementation)
        step(pt)(implementation)
        func.sentences = implementation.sentences = {"en": en, "pt": pt}
        func.spends = implementation.spends = spends
        return func

    return register


def in_one_line(func):
    """The step, with the server's refusals (and missing answers) failing it in one line, not a traceback."""

    @functools.wraps(func)
    def implementation(context, *args, **kwargs):
        try:
            return func(context, *args, **kwargs)
        except (ApiError, ConnectionProblem, LoginFailed) as error:
            run = getattr(context, "run", None)
            if run is not None and run.config.debug:
                raise
            raise ServerSaidNo(error) from None

    return implementation


def plan_for(scenario, step_registry) -> Plan:
    """The worst case of a scenario's steps (background included), from what each step declares.

    ``step_registry`` is the one the running behave matches steps with (``context._runner.step_registry``).
    """
    matched = (step_registry.find_match(s) for s in scenario.all_steps)
    return Plan.of(getattr(match.func, "spends", None) for match in matched if match is not None)
