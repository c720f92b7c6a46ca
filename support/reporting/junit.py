"""The JUnit XML of a run (behave's reporter, one TESTS-<feature>.xml per feature), made to agree with it.

* An interrupted scenario, which behave writes as skipped, becomes an error that says so
  (:func:`mark_interrupted_in_junit`).
* The files of parallel workers or shards become one file per feature holding the scenarios that ran
  (:func:`merge_junit`): ``behave file:line`` writes the feature's other scenarios as skipped, and
  those phantom cases are left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

from support.files import write_atomically

#: A testcase's outcome elements and the testsuite counter each one counts in.
OUTCOMES = {"failure": "failures", "error": "errors", "skipped": "skipped"}


def _write(path: Path, suite: ElementTree.Element) -> None:
    write_atomically(path, ElementTree.tostring(suite, encoding="utf-8", xml_declaration=True))


def mark_interrupted_in_junit(junit_dir: Path, summary: dict) -> int:
    """behave's JUnit reporter writes an interrupted scenario as "untested"/skipped; make it an error that
    says so, so a CI that reads JUnit does not count it as skipped. Returns how many were changed."""
    interrupted = {j["test_name"]: j for j in summary["journeys"] if j["status"] == "interrupted"}
    if not interrupted or not junit_dir.is_dir():
        return 0
    signal = summary["run"].get("interrupted") or "an interrupt"
    changed = 0
    for path in sorted(junit_dir.glob("TESTS-*.xml")):
        tree = ElementTree.parse(path)
        suite = tree.getroot()
        dirty = False
        for case in suite.iter("testcase"):
            journey = interrupted.get(case.get("name"))
            if journey is None or case.get("status") == "interrupted":
                continue
            # behave wrote it as skipped ("untested") or as an error of type KeyboardInterrupt.
            details = []
            for outcome, counter in (("skipped", "skipped"), ("failure", "failures"), ("error", "errors")):
                for element in case.findall(outcome):
                    details.append(" ".join(filter(None, (element.get("type"), element.get("message")))))
                    case.remove(element)
                    suite.set(counter, str(max(0, int(suite.get(counter, "0")) - 1)))
            error = ElementTree.Element("error", {"type": "Interrupted",
                                                  "message": f"Interrupted by {signal}; the journey's cleanup ran"})
            error.text = "\n".join(filter(None, [journey.get("error_message"), *details]))
            case.insert(0, error)
            case.set("status", "interrupted")
            suite.set("errors", str(int(suite.get("errors", "0")) + 1))
            dirty = True
            changed += 1
        if dirty:
            _write(path, suite)
    return changed


def _count(suite: ElementTree.Element) -> None:
    """Set a testsuite's counters and time from the testcases it holds."""
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for outcome, counter in OUTCOMES.items():
        suite.set(counter, str(sum(1 for case in cases if case.find(outcome) is not None)))
    suite.set("time", f"{sum(float(case.get('time') or 0) for case in cases):.6f}".rstrip("0").rstrip("."))


def ran_in(folder: Path) -> set[str] | None:
    """The scenarios a reports folder ran (its metrics.json journeys), or None when it has no metrics.json."""
    try:
        summary = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {journey["test_name"] for journey in summary.get("journeys", [])}


def phantom(case: ElementTree.Element, ran: set[str] | None) -> bool:
    """A case behave wrote only because it was in the same feature file as the scenario it ran."""
    return ran is not None and case.get("name") not in ran and case.find("skipped") is not None


def merge_junit(folders: list[Path], target: Path) -> list[Path]:
    """One ``TESTS-<feature>.xml`` per feature in ``target`` from the ``junit/`` of each reports folder,
    holding the scenarios that folder ran; the files written."""
    suites: dict[str, ElementTree.Element] = {}
    for folder in folders:
        ran = ran_in(folder)
        for path in sorted((folder / "junit").glob("TESTS-*.xml")):
            suite = ElementTree.parse(path).getroot()
            cases = [case for case in suite.findall("testcase") if not phantom(case, ran)]
            if not cases:
                continue
            merged = suites.setdefault(path.name, suite)
            for case in suite.findall("testcase"):
                suite.remove(case)
            merged.extend(cases)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, suite in sorted(suites.items()):
        _count(suite)
        _write(target / name, suite)
        written.append(target / name)
    return written
