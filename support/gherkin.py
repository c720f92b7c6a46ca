"""Step definitions in two languages: one function, an English and a Portuguese sentence."""

from __future__ import annotations

from behave import step


def steps(en: str, pt: str):
    """Register ``func`` under both sentences (any keyword: Given/When/Then, Dado/Quando/Então).

    The function's docstring is the step's meaning in the steps catalogue (``make steps``).
    """

    def register(func):
        step(en)(func)
        step(pt)(func)
        func.sentences = {"en": en, "pt": pt}
        return func

    return register
