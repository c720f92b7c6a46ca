"""The project installs the standard way: what the code imports is declared, and the lock pins it.

* Every third-party import (found with ``ast``, at any depth of a module) belongs to a distribution
  declared in pyproject.toml, in the part of it that code may rely on: the suite (support/, steps/,
  environment.py, bench/) and the sandbox's Python handle (sandbox/__init__.py and what it imports)
  on the core dependencies only; the sandbox server on the core and the ``sandbox`` extra; the tests
  on those and the ``dev`` extra.
* constraints.txt pins every package exactly (``==``), holds every declared package at a version the
  declaration allows, and holds everything they pull in.
* The Makefile installs from the two; ``make clean`` keeps the ledger.

Cheap: reads files and the installed metadata, creates no venv.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = ROOT / "constraints.txt"

#: Our own top-level names: never looked up as distributions.
FIRST_PARTY = {"support", "sandbox", "steps", "bench", "soak", "tests", "environment"}
#: The sandbox's Python handle: imported by the suite, so it must need only the core dependencies.
HANDLE = ROOT / "sandbox" / "__init__.py"


def declared(group: str) -> list[Requirement]:
    """The requirements of ``core`` ([project] dependencies) or of one optional extra."""
    project = PYPROJECT["project"]
    lines = project["dependencies"] if group == "core" else project["optional-dependencies"][group]
    return [Requirement(line) for line in lines]


def names(*groups: str) -> set[str]:
    return {canonicalize_name(req.name) for group in groups for req in declared(group)}


def where(groups: tuple[str, ...]) -> str:
    parts = {"core": "[project] dependencies"}
    return " or ".join(parts.get(g, f"the '{g}' extra ([project.optional-dependencies] {g})") for g in groups)


# -- imports ---------------------------------------------------------------------------------------------


def python_files(*relative: str) -> list[Path]:
    files = []
    for name in relative:
        path = ROOT / name
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return files


def imports(path: Path) -> dict[str, int]:
    """Top-level names of the absolute imports in ``path``, with the first line of each."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        for module in modules:
            top = module.partition(".")[0]
            found.setdefault(top, node.lineno)
    return found


def relative_imports(path: Path) -> set[Path]:
    """The sibling modules ``path`` imports with ``from . import x`` or ``from .x import y``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            candidates = [node.module] if node.module else [alias.name for alias in node.names]
            for name in candidates:
                module = path.parent / f"{name.partition('.')[0]}.py"
                if module.is_file():
                    found.add(module)
    return found


def handle_modules() -> list[Path]:
    """sandbox/__init__.py and every sandbox module it imports, directly or not."""
    seen, todo = set(), [HANDLE]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += relative_imports(path)
    return sorted(seen)


def undeclared(files: list[Path], groups: tuple[str, ...]) -> list[str]:
    """One line per third-party import in ``files`` whose distribution ``groups`` do not declare."""
    allowed = names(*groups)
    providers = metadata.packages_distributions()
    problems = []
    for path in files:
        for top, line in sorted(imports(path).items()):
            if top in sys.stdlib_module_names or top in FIRST_PARTY:
                continue
            place = f"{path.relative_to(ROOT)}:{line}"
            dists = providers.get(top)
            if not dists:
                problems.append(f"{place} imports '{top}', which no installed distribution provides: "
                                f"declare its distribution in pyproject.toml, {where(groups)}")
            elif not {canonicalize_name(d) for d in dists} & allowed:
                problems.append(f"{place} imports '{top}' (distribution {' or '.join(sorted(set(dists)))}), "
                                f"which pyproject.toml does not declare in {where(groups)}")
    return problems


SUITE = ("core",)
SERVER = ("core", "sandbox")
TESTS = ("core", "sandbox", "dev")


@pytest.mark.parametrize("label,files,groups", [
    ("the suite (support/, steps/, environment.py, bench/, soak/)",
     lambda: python_files("support", "steps", "environment.py", "bench", "soak"), SUITE),
    ("the sandbox's Python handle (sandbox/__init__.py and what it imports)", handle_modules, SUITE),
    ("the sandbox server (sandbox/)",
     lambda: [p for p in python_files("sandbox") if p not in handle_modules()], SERVER),
    ("the tests (tests/)", lambda: python_files("tests"), TESTS),
], ids=["suite", "sandbox-handle", "sandbox-server", "tests"])
def test_every_third_party_import_is_declared(label, files, groups):
    paths = files()
    assert paths, f"no Python files found for {label}"
    problems = undeclared(paths, groups)
    assert not problems, f"undeclared imports in {label}:\n  " + "\n  ".join(problems)


def test_the_check_names_an_undeclared_import(tmp_path, monkeypatch):
    """The check itself: an import of a package pyproject.toml leaves out is reported by name and file."""
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    module = tmp_path / "support" / "new.py"
    module.parent.mkdir()
    module.write_text("import os\nimport requests\n\ndef later():\n    from jsonschema import validate\n")
    problems = undeclared([module], SUITE)
    assert len(problems) == 1
    assert problems[0].startswith("support/new.py:5 imports 'jsonschema' (distribution jsonschema)")
    assert "[project] dependencies" in problems[0]


def test_the_packages_are_support_and_sandbox_with_their_subpackages():
    find = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    assert set(find["include"]) == {"support", "support.*", "sandbox", "sandbox.*"}
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"


# -- the lock ----------------------------------------------------------------------------------------------


def lock_lines() -> list[tuple[int, str]]:
    lines = LOCK.read_text(encoding="utf-8").splitlines()
    return [(number, line.strip()) for number, line in enumerate(lines, 1)
            if line.strip() and not line.strip().startswith("#")]


def pins() -> dict[str, str]:
    return {canonicalize_name(Requirement(line).name): str(next(iter(Requirement(line).specifier)).version)
            for _, line in lock_lines()}


def test_every_pin_in_the_lock_is_exact():
    problems, seen = [], set()
    for number, line in lock_lines():
        try:
            req = Requirement(line)
        except ValueError as error:
            problems.append(f"constraints.txt:{number}: '{line}' is not a requirement ({error})")
            continue
        specs = list(req.specifier)
        if req.url or req.extras or req.marker or len(specs) != 1 or specs[0].operator != "==" \
                or "*" in specs[0].version:
            problems.append(f"constraints.txt:{number}: '{line}' is not an exact pin (name==version)")
        name = canonicalize_name(req.name)
        if name in seen:
            problems.append(f"constraints.txt:{number}: {req.name} is pinned twice")
        seen.add(name)
    assert lock_lines(), "constraints.txt pins nothing"
    assert not problems, "\n".join(problems)


def test_the_lock_pins_every_declared_package_at_an_allowed_version():
    locked = pins()
    problems = []
    for group in ["core", *PYPROJECT["project"]["optional-dependencies"]]:
        for req in declared(group):
            name = canonicalize_name(req.name)
            if name not in locked:
                problems.append(f"{req.name} ({group}) has no pin in constraints.txt: run `make lock`")
            elif not req.specifier.contains(locked[name], prereleases=True):
                problems.append(f"{req.name} ({group}): pyproject.toml asks {req.specifier}, "
                                f"constraints.txt pins {locked[name]}")
    assert not problems, "\n".join(problems)


def test_the_lock_holds_everything_the_declared_packages_pull_in():
    """Walks the installed metadata from the declared requirements (all extras), markers evaluated."""
    locked = pins()
    environment = default_environment()
    todo = [(req, "pyproject.toml") for group in ["core", *PYPROJECT["project"]["optional-dependencies"]]
            for req in declared(group)]
    seen, missing = set(), []
    while todo:
        req, wanted_by = todo.pop()
        name = canonicalize_name(req.name)
        if name not in locked:
            missing.append(f"{req.name} (needed by {wanted_by})")
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            pytest.fail(f"{req.name} is not installed: install the project with "
                        f"pip install -c constraints.txt -e \".[sandbox,dev]\" (make venv)")
        for line in requires:
            sub = Requirement(line)
            extras = [""] + sorted(req.extras)
            if sub.marker is None or any(sub.marker.evaluate({**environment, "extra": e}) for e in extras):
                todo.append((sub, req.name))
    assert not missing, "constraints.txt lacks: " + ", ".join(sorted(set(missing))) + " (run `make lock`)"


# -- the Makefile --------------------------------------------------------------------------------------------


def makefile_rule(target: str) -> tuple[str, list[str]]:
    """The prerequisites and recipe lines of ``target`` in the Makefile."""
    lines = (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if line.startswith(f"{target}:"):
            recipe = []
            for following in lines[index + 1:]:
                if not following.startswith("\t"):
                    break
                recipe.append(following.strip())
            return line.partition(":")[2].strip(), recipe
    raise AssertionError(f"no rule for {target} in the Makefile")


def test_the_venv_is_installed_from_the_lock_and_rebuilt_when_it_changes():
    prerequisites, recipe = makefile_rule("$(STAMP)")
    assert set(prerequisites.split()) == {"pyproject.toml", "constraints.txt"}
    assert any('install' in line and '-c constraints.txt -e ".[sandbox,dev]"' in line for line in recipe), recipe
    assert not any(".pth" in line or "PYTHONPATH" in line for line in recipe), recipe


def test_make_test_runs_the_linter_first():
    # The linter first, then what the tests need installed (the npm packages), then the tests.
    assert makefile_rule("test")[0].split() == ["lint", "node-packages"]
    assert any("ruff check" in line for line in makefile_rule("lint")[1])


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_clean_keeps_the_ledger_and_deletes_the_generated_reports(tmp_path):
    reports = tmp_path / "reports"
    kept = ["ledger.jsonl", "history.jsonl", "README.md"]
    generated = ["metrics.json", "report-pt.txt", "report-en.txt", "timeline.svg", "allure-results/x-result.json",
                 "junit/TESTS-quick.xml", "workers/1/metrics.json", "allure-report/index.html"]
    for name in kept + generated:
        (reports / name).parent.mkdir(parents=True, exist_ok=True)
        (reports / name).write_text("x")
    done = subprocess.run(["make", "-f", str(ROOT / "Makefile"), "clean"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert [name for name in kept if not (reports / name).exists()] == []
    assert [name for name in generated if (reports / name).exists()] == []
