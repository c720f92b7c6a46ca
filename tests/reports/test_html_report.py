"""`make report` builds the Allure 3 HTML; headless Chromium opens it and finds the three journeys
and their timing attachments, and leaves screenshots in reports/. Of an all-pass parallel run, it
reads the numbers the page shows: every scenario passed, none skipped, none retried.

Skips, saying why, where Node.js/npx or Chromium is missing (.ci/run installs both in CI).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import threading
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from support.config import reports_dir
from tests.reports.conftest import PARALLEL_JOURNEYS, ROOT, STATUSES

ATTACHMENTS = ("phase timings", "phase timings (json)", "journey metrics", "timeline (svg)")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--virtual-time-budget=15000"]


def chromium() -> str | None:
    return next((path for path in map(shutil.which, ("chromium", "chromium-browser")) if path), None)


def need_node() -> None:
    missing = [tool for tool in ("node", "npx", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not found: the HTML report is built by Allure 3 from npm "
                    f"(install Node.js 20; .ci/run does it in CI)")


def make_report(reports: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, DUMONT_REPORTS_DIR=str(reports))
    done = subprocess.run(["make", "--no-print-directory", "report"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def build_html(source: Path, tmp_path_factory, name: str) -> Path:
    """The HTML report of a run, built by `make report` in a copy of its reports directory."""
    need_node()
    reports = tmp_path_factory.mktemp(name) / "reports"
    shutil.copytree(source, reports)
    make_report(reports)
    report = reports / "allure-report"
    assert (report / "index.html").is_file()
    return report


@pytest.fixture(scope="module")
def html(triad, tmp_path_factory) -> Path:
    return build_html(triad.reports, tmp_path_factory, "html")


@pytest.fixture(scope="module")
def parallel_html(parallel_run, tmp_path_factory) -> Path:
    return build_html(parallel_run.reports, tmp_path_factory, "parallel-html")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextmanager
def serve(folder: Path):
    """A report over http on 127.0.0.1 (a file:// page may not fetch its data); yields its index URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def served(html):
    with serve(html) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    path = chromium()
    if path is None:
        pytest.skip("Chromium not found: install the Debian package (apt-get install chromium); .ci/run does it in CI")
    profile = tmp_path_factory.mktemp("chromium-profile")

    def run(url: str, *action: str) -> str:
        done = subprocess.run([path, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1400,1200",
                               *action, url], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    return run


def screenshots_dir() -> Path:
    folder = reports_dir()
    folder = folder if folder.is_absolute() else ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_report_data_has_the_journeys_and_their_timings(html, triad):
    """Without a browser: what `make report` wrote holds every journey with its attachments."""
    results = [json.loads(p.read_text(encoding="utf-8")) for p in (html / "data" / "test-results").glob("*.json")]
    assert len(results) == 3
    for result in results:
        names = {step.get("link", {}).get("name") for step in result["steps"] if step.get("type") == "attachment"}
        assert set(ATTACHMENTS) <= names, result["name"]
    statuses = sorted(r["status"] for r in results)
    assert statuses == ["broken", "failed", "passed"]


def test_overview_shows_the_three_journeys(served, browser, triad):
    dom = browser(served, "--dump-dom")
    assert "Dumont Cloud acceptance" in dom
    for journey in STATUSES:
        assert journey in dom, journey
    shot = screenshots_dir() / "allure-overview.png"
    browser(served, f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000
    shutil.copy2(shot, triad.reports / shot.name)


def test_each_journey_page_shows_its_timing_attachments(served, browser, html, triad):
    for path in (html / "data" / "test-results").glob("*.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        dom = browser(f"{served}#/{result['id']}", "--dump-dom")
        for attachment in ATTACHMENTS:
            assert attachment in dom, (result["name"], attachment)
        if result["status"] == "broken":
            assert "Interrupted by SIGINT" in dom and "Interrupted" in dom
            shot = screenshots_dir() / "allure-interrupted-journey.png"
            browser(f"{served}#/{result['id']}", f"--screenshot={shot}")
            assert shot.stat().st_size > 10_000


def test_history_is_kept_across_runs(html, triad):
    """A second run's report shows the first run in its history (reports/ kept: history.jsonl)."""
    reports = html.parent
    first = [json.loads(line) for line in (reports / "history.jsonl").read_text().splitlines()]
    assert len(first) == 1
    make_report(reports)                       # the same run again: no second history point
    assert len((reports / "history.jsonl").read_text().splitlines()) == 1
    summary = json.loads((reports / "metrics.json").read_text(encoding="utf-8"))
    summary["run"]["id"] = "reports-triad-2"   # stands for the next run of the same journeys
    (reports / "metrics.json").write_text(json.dumps(summary), encoding="utf-8")
    make_report(reports)
    assert len((reports / "history.jsonl").read_text().splitlines()) == 2
    results = [json.loads(p.read_text(encoding="utf-8")) for p in (html / "data" / "test-results").glob("*.json")]
    assert all(len(r["history"]) >= 1 for r in results), [r["history"] for r in results]


#: The overview's numbers: ``<div data-testid="metadata-item-passed">…<div data-testid="metadata-value">…4…``.
METADATA_ITEM = re.compile(r'data-testid="metadata-item-([\w-]+)"[^>]*>(.*?)data-testid="metadata-value"[^>]*>(.*?)'
                           r'</div></div>', re.S)


def overview_numbers(dom: str) -> dict[str, int]:
    """The numbers the overview page shows, by item (total, passed, failed, broken, skipped, retries, new, ...).

    Allure 3 shows an item only when its number is not zero.
    """
    numbers = {}
    for item, _, value in METADATA_ITEM.findall(dom):
        text = re.sub(r"<[^>]+>", " ", value)
        digits = re.findall(r"\d+", text)
        if digits:
            numbers.setdefault(item, int(digits[-1]))
    return numbers


def test_all_pass_parallel_run_shows_all_passed_none_skipped_none_retried(parallel_html, browser):
    """Read from the rendered page: an all-pass `make acceptance` shows every scenario passed, 0 retried."""
    summary = json.loads((parallel_html / "summary.json").read_text(encoding="utf-8"))
    assert summary["stats"] == {"total": len(PARALLEL_JOURNEYS), "passed": len(PARALLEL_JOURNEYS),
                                "new": len(PARALLEL_JOURNEYS)}, summary["stats"]
    with serve(parallel_html) as url:
        dom = browser(url, "--dump-dom")
        shot = screenshots_dir() / "allure-overview-parallel.png"
        browser(url, f"--screenshot={shot}")
    numbers = overview_numbers(dom)
    assert numbers.get("total") == len(PARALLEL_JOURNEYS), numbers
    assert numbers.get("passed") == len(PARALLEL_JOURNEYS), numbers
    for status in ("failed", "broken", "skipped", "unknown", "retries", "flaky"):
        assert numbers.get(status, 0) == 0, (status, numbers)
    for journey in set(PARALLEL_JOURNEYS.values()):          # the tree groups the scenarios by journey
        assert journey in dom, journey
    assert shot.stat().st_size > 10_000
