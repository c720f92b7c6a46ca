"""support.progress: what a person at the terminal sees while a long phase runs."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest

from support import progress as progress_module
from support.clock import Clock
from support.progress import Progress, read_status, worker_lines


class Terminal(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_a_terminal_gets_a_live_line_with_phase_elapsed_limit_and_state(monkeypatch):
    monkeypatch.setattr(progress_module, "REDRAW", 0.01)
    terminal = Terminal(tty=True)
    shown = Progress(Clock(60), stream=terminal)
    shown.journey = "Rent the cheapest GPU"
    with shown.waiting("running", 600):
        shown.seen("actual_status='loading'")
        wait_until(lambda: "actual_status='loading'" in terminal.getvalue())
    text = terminal.getvalue()
    last = text.rsplit("\r\033[K", 2)[-2]
    assert last.startswith("⏳ Rent the cheapest GPU · running ")
    assert len(Progress(Clock(), stream=terminal).line() or "") == 0 and " s of 600 s · actual_status='loading'" in last
    assert text.endswith("\r\033[K")                     # cleared before behave prints the step's result


def test_without_a_terminal_a_line_now_and_then(monkeypatch):
    monkeypatch.setattr(progress_module, "REDRAW", 0.01)
    log = Terminal(tty=False)
    shown = Progress(Clock(1), stream=log, every=0.05)
    with shown.waiting("model_install", 1200):
        shown.seen("downloading")
        wait_until(lambda: log.getvalue().count("\n") >= 2)
    lines = log.getvalue().splitlines()
    assert all(line.startswith("⏳ model_install ") and "of 1200 s · downloading" in line for line in lines)
    assert "\r" not in log.getvalue()


def test_elapsed_is_real_time_from_the_phase_start(monkeypatch):
    shown = Progress(Clock(60), stream=Terminal(tty=False))
    with shown.waiting("running", 600, since=time.monotonic() - 2.0):
        assert shown.status()["elapsed"] == pytest.approx(120, abs=6)       # 2 wall seconds at ×60


def test_the_parallel_runner_reads_each_workers_status(tmp_path, monkeypatch):
    monkeypatch.setattr(progress_module, "REDRAW", 0.01)
    status_file = tmp_path / "w1" / "progress.json"
    status_file.parent.mkdir()
    shown = Progress(Clock(60), stream=Terminal(tty=False), status_file=status_file)
    shown.journey = "Snapshot"
    inside = threading.Event()
    with shown.waiting("restore", 600):
        shown.seen("restoring")
        wait_until(lambda: (read_status(status_file) or {}).get("state") == "restoring")
        inside.set()
        [line] = worker_lines({"1": read_status(status_file), "2": {"journey": "Quick", "phase": None}})
    assert line.startswith("[1] Snapshot · restore ") and line.endswith("of 600 s · restoring")
    assert json.loads(status_file.read_text())["phase"] is None          # the phase is over
