"""``python -m support.catalogue``: every step sentence in English and Portuguese, with its meaning.

For product staff writing or reading scenarios: a step may be used with any
keyword (Given/When/Then/And, Dado/Quando/Então/E).
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from behave.step_registry import registry

STEPS_DIR = Path(__file__).resolve().parent.parent / "steps"


def load_steps() -> list:
    """The step functions, in file order, each once."""
    for path in sorted(STEPS_DIR.glob("*.py")):
        runpy.run_path(str(path))
    seen, functions = set(), []
    for matchers in registry.steps.values():
        for matcher in matchers:
            func = matcher.func
            if hasattr(func, "sentences") and id(func) not in seen:
                seen.add(id(func))
                functions.append(func)
    return functions


def render(functions) -> str:
    lines = ["| English | Português | What it does |", "|---|---|---|"]
    for func in functions:
        meaning = " ".join((func.__doc__ or "").split())
        lines.append(f"| {func.sentences['en']} | {func.sentences['pt']} | {meaning} |")
    return "\n".join(lines)


def main() -> int:
    print(render(load_steps()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
