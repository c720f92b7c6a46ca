"""Step definitions in two languages: one function, an English and a Portuguese sentence."""

from __future__ import annotations

from behave import step

from support.spending import Plan, Spends


def steps(en: str, pt: str, spends: Spends | None = None):
    """Register ``func`` under both sentences (any keyword: Given/When/Then, Dado/Quando/Então).

    The function's docstring is the step's meaning in the steps catalogue (``make steps``).
    ``spends`` says what the step may do to the bill (machines it rents, time limits it may use):
    a journey's worst case is the sum over its steps (support.spending.Plan).
    """

    def register(func):
        step(en)(func)
        step(pt)(func)
        func.sentences = {"en": en, "pt": pt}
        func.spends = spends
        return func

    return register


def plan_for(scenario, step_registry) -> Plan:
    """The worst case of a scenario's steps (background included), from what each step declares.

    ``step_registry`` is the one the running behave matches steps with (``context._runner.step_registry``).
    """
    matched = (step_registry.find_match(s) for s in scenario.all_steps)
    return Plan.of(getattr(match.func, "spends", None) for match in matched if match is not None)
