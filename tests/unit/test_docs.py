"""The references a successor needs are in the repository and current.

* docs/known-traps.md names, for each trap, the code that guards against it: every such name
  (``support.module.function``, ``environment.hook``) must still exist.
* No doc or code comment of the suite points outside the repository or at one machine
  (a shared folder beside the checkout, a home directory). sandbox/ is left out: its README is
  being rewritten with the sandbox.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRAPS = ROOT / "docs" / "known-traps.md"
#: Dotted names of our code in backticks: `support.cleanup.Cleanup.run`, `environment.finish_run`.
CODE_NAME = re.compile(r"`((?:support|environment)\.[A-Za-z_][\w.]*)`")
#: Allure's files, not our code.
FILE_NAMES = {"environment.properties", "environment.xml"}
MACHINE_PATH = re.compile(r"\.\./shared\b|/work/|/home/|/root/|shared/dumont-api|shared/known-traps")


def resolve(dotted: str):
    """Import the longest module prefix of ``dotted``, then follow the attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            fields = getattr(target, "__dataclass_fields__", {})
            target = fields[attribute] if attribute in fields else getattr(target, attribute)
        return target
    raise ModuleNotFoundError(dotted)


def test_known_traps_names_code_that_exists():
    names = sorted(set(CODE_NAME.findall(TRAPS.read_text(encoding="utf-8"))) - FILE_NAMES)
    assert len(names) > 20, "docs/known-traps.md should say where each trap is guarded against"
    missing = []
    for name in names:
        try:
            resolve(name)
        except (ImportError, AttributeError) as error:
            missing.append(f"{name} ({type(error).__name__}: {error})")
    assert not missing, "docs/known-traps.md names code that no longer exists: " + "; ".join(missing)


def test_every_trap_says_where_it_is_guarded_or_which_issue_covers_it():
    text = TRAPS.read_text(encoding="utf-8")
    traps = re.findall(r"^- \*\*(.+?)\*\*(.*?)(?=^- \*\*|^## |\Z)", text, flags=re.M | re.S)
    assert len(traps) >= 20
    for title, body in traps:
        assert "*Guarded:*" in body or "*Partly:*" in body or re.search(r"\*Open:\*.*issue \d+", body, re.S), title
        if "*Open:*" in body:
            assert re.search(r"see issue 1[0-3]\b", body), f"{title}: an open point names its issue"


def docs_and_comments() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "reports" / "README.md", ROOT / "Makefile", ROOT / "pyproject.toml",
             ROOT / "constraints.txt", ROOT / "environment.py", ROOT / ".ci" / "run",
             ROOT / ".github" / "workflows" / "acceptance.yml"]
    files += sorted((ROOT / "docs").glob("*.md"))
    for folder in ("support", "steps", "bench", "soak", "tests"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


@pytest.mark.parametrize("path", docs_and_comments(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_path_outside_the_repository(path):
    if path == Path(__file__):
        return
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if MACHINE_PATH.search(line)]
    assert not found, "use repository paths (docs/dumont-api.md, docs/known-traps.md):\n" + "\n".join(found)
