"""`make report` builds the Allure 3 HTML; headless Chromium opens it the README's way, served over
http by support.report_server (`make open-report`), finds the three journeys and their timing
attachments, and leaves screenshots in reports/. Of an all-pass parallel run, opened through
`make open-report` itself, it reads the numbers the page shows: every scenario passed, none skipped,
none retried; Ctrl-C then stops the server without a traceback.

Skips, saying why, where Node.js/npx or Chromium is missing (.ci/run installs both in CI).
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support import report_server
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


@pytest.fixture(scope="module")
def served(html):
    """The report as `make open-report` serves it (the same server, here in a thread): its URL."""
    with report_server.serving(html) as url:
        yield url


#: The line `make open-report` prints once it serves: the URL to open.
URL_LINE = re.compile(r"HTML report: (http://127\.0\.0\.1:\d+/) ")
#: How long `make open-report` may take to print its URL, and to stop after Ctrl-C.
START_TIMEOUT, STOP_TIMEOUT = 120, 15


@dataclass
class OpenReport:
    """A running `make open-report`: its URL, and what it printed."""

    proc: subprocess.Popen
    url: str = ""
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)

    def interrupt(self) -> int:
        """Ctrl-C as a terminal sends it (to make and the server, one process group); make's exit status."""
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(timeout=STOP_TIMEOUT)


@contextmanager
def open_report(reports: Path):
    """`make open-report` for ``reports``, in its own process group; yields once it has printed its URL."""
    env = dict(os.environ, DUMONT_REPORTS_DIR=str(reports))
    proc = subprocess.Popen(["make", "--no-print-directory", "open-report"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    running = OpenReport(proc)
    lines: queue.Queue[str] = queue.Queue()

    def pump(stream, into: list[str], announce: bool) -> None:
        for line in stream:
            into.append(line)
            if announce:
                lines.put(line)
        if announce:
            lines.put("")                      # end of output: make stopped before printing a URL

    pumps = [threading.Thread(target=pump, args=(proc.stdout, running.out, True), daemon=True),
             threading.Thread(target=pump, args=(proc.stderr, running.err, False), daemon=True)]
    for thread in pumps:
        thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while not running.url:
            try:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                pytest.fail(f"make open-report printed no URL in {START_TIMEOUT} s: {''.join(running.out)}")
            assert line, f"make open-report ended without a URL: {''.join(running.out + running.err)}"
            if match := URL_LINE.search(line):
                running.url = match.group(1)
        yield running
    finally:
        if proc.poll() is None:            # the test failed before its Ctrl-C: stop make and the server
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT)
        for thread in pumps:
            thread.join(5)


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
    # The counts the page shows: one journey passed, one failed, one interrupted (Allure's "broken").
    numbers = overview_numbers(dom)
    assert {item: numbers.get(item, 0) for item in ("total", "passed", "failed", "broken", "skipped")} == \
        {"total": 3, "passed": 1, "failed": 1, "broken": 1, "skipped": 0}, numbers
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
    """Read from the page `make open-report` serves: an all-pass `make acceptance` shows every scenario
    passed, 0 retried; Ctrl-C then stops the server cleanly."""
    summary = json.loads((parallel_html / "summary.json").read_text(encoding="utf-8"))
    assert summary["stats"] == {"total": len(PARALLEL_JOURNEYS), "passed": len(PARALLEL_JOURNEYS),
                                "new": len(PARALLEL_JOURNEYS)}, summary["stats"]
    with open_report(parallel_html.parent) as served_report:
        dom = browser(served_report.url, "--dump-dom")
        shot = screenshots_dir() / "allure-overview-parallel.png"
        browser(served_report.url, f"--screenshot={shot}")
        status = served_report.interrupt()
    out, err = "".join(served_report.out), "".join(served_report.err)
    assert "allure generate" not in out, out           # the report was up to date: served, not built again
    # make, interrupted, ends by the same signal (and says "Interrupt") or, when the server's clean exit reaches
    # it first, with the server's 0; either way the server says it stopped, with no traceback.
    assert status in (0, -signal.SIGINT), (status, out, err)
    assert out.rstrip().endswith("report server stopped"), out
    assert "Traceback" not in err, err
    assert all("Interrupt" in line for line in err.splitlines()), err
    numbers = overview_numbers(dom)
    assert numbers.get("total") == len(PARALLEL_JOURNEYS), numbers
    assert numbers.get("passed") == len(PARALLEL_JOURNEYS), numbers
    for status in ("failed", "broken", "skipped", "unknown", "retries", "flaky"):
        assert numbers.get(status, 0) == 0, (status, numbers)
    for journey in set(PARALLEL_JOURNEYS.values()):          # the tree groups the scenarios by journey
        assert journey in dom, journey
    assert shot.stat().st_size > 10_000


def make_reports(base: Path, *, built: bool) -> Path:
    """A reports directory holding a run's results and metrics, and (``built``) its report after them."""
    reports = base / "reports"
    (reports / "allure-results").mkdir(parents=True)
    (reports / "allure-results" / "a-result.json").write_text("{}")
    (reports / "metrics.json").write_text("{}")
    if built:
        (reports / "allure-report").mkdir()
        (reports / "allure-report" / "index.html").write_text("<html>report</html>")
        run = (reports / "metrics.json").stat().st_mtime_ns
        os.utime(reports / "allure-report" / "index.html", ns=(run + 10**9, run + 10**9))
    return reports


def later(path: Path, than: Path) -> None:
    """Give ``path`` a modification time one second after ``than``'s (a new run wrote it)."""
    when = than.stat().st_mtime_ns + 10**9
    os.utime(path, ns=(when, when))


def test_open_report_builds_only_a_missing_or_older_report(tmp_path):
    """`make open-report` runs `make report` first exactly when report_server.stale says so."""
    assert report_server.stale(make_reports(tmp_path / "missing", built=False))
    reports = make_reports(tmp_path / "built", built=True)
    index = reports / "allure-report" / "index.html"
    assert not report_server.stale(reports)
    assert report_server.main(["--up-to-date", str(reports)]) == 0
    later(reports / "allure-results" / "a-result.json", than=index)     # a new run's results
    assert report_server.stale(reports)
    assert report_server.main(["--up-to-date", str(reports)]) == 1
    reports = make_reports(tmp_path / "new-metrics", built=True)
    later(reports / "metrics.json", than=reports / "allure-report" / "index.html")
    assert report_server.stale(reports)


def test_report_server_serves_the_folder_on_loopback_without_caching(tmp_path):
    reports = make_reports(tmp_path, built=True)
    with report_server.serving(reports / "allure-report") as url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url), url
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert answer.read() == b"<html>report</html>"
            assert answer.headers["Content-Type"] == "text/html"
            assert answer.headers["Cache-Control"] == "no-cache"   # a rebuilt report shows on reload
    with pytest.raises(OSError):                                    # stopped when the block ends
        urllib.request.urlopen(url, timeout=10)


def report_server_cli(*args: str) -> subprocess.CompletedProcess:
    # A process of its own, with a time limit: were it to serve after all, it would not hang the test.
    return subprocess.run([sys.executable, "-m", "support.report_server", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)


def test_report_server_says_in_one_line_what_stops_it(tmp_path):
    """No report, or a port already taken: exit 2 and one line, no traceback."""
    done = report_server_cli(str(tmp_path / "allure-report"))
    assert done.returncode == 2 and "run `make report` first" in done.stderr, done
    reports = make_reports(tmp_path, built=True)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = report_server_cli("--port", str(taken.getsockname()[1]), str(reports / "allure-report"))
    assert done.returncode == 2, done
    assert done.stderr.startswith("report server: ") and done.stderr.count("\n") == 1, done.stderr
