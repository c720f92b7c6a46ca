"""support.progress: what a person at the terminal sees while a long phase runs."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import struct
import termios
import threading
import time

import pytest

from support import progress as progress_module
from support.clock import Clock
from support.progress import CLEAR, Progress, clip, read_status, worker_lines


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


@pytest.fixture
def no_ticker(monkeypatch):
    """The ticker never fires: the test draws the line itself (``redraw``), at the moments it chooses."""
    monkeypatch.setattr(progress_module, "REDRAW", 3600)


def test_a_terminal_gets_a_live_line_with_phase_elapsed_limit_and_what_was_seen(monkeypatch):
    monkeypatch.setattr(progress_module, "REDRAW", 0.01)
    monkeypatch.setenv("COLUMNS", "120")                # wide enough for the whole line
    terminal = Terminal(tty=True)
    shown = Progress(Clock(60), stream=terminal)
    shown.journey = "Rent the cheapest GPU"
    with shown.waiting("running", 600):
        shown.seen("loading", "API")
        wait_until(lambda: "API: loading" in terminal.getvalue())
    text = terminal.getvalue()
    last = text.rsplit(CLEAR, 2)[-2]
    assert last.startswith("⏳ Rent the cheapest GPU · running ")
    assert " s of 10.0 s (wall clock, time ×60) · API: loading" in last     # 600 real s are 10 wall s at ×60
    assert text.endswith(CLEAR)                     # cleared before behave prints the step's result


def test_the_same_observation_in_a_row_is_counted_and_a_new_one_starts_again(no_ticker):
    shown = Progress(Clock(1), stream=Terminal(tty=False))
    with shown.waiting("ssh", 300):
        for _ in range(12):
            shown.seen("connection refused", "SSH")
        assert shown.line().endswith(" · SSH: connection refused ×12")
        shown.seen("timed out", "SSH")
        assert shown.line().endswith(" · SSH: timed out")                  # once: no "×1"
        shown.seen("loading", "API")
        shown.seen("loading", "API")
        shown.seen("timed out", "SSH")
        # Each source keeps its own last observation and count, in the order the sources first spoke.
        assert shown.line().endswith(" · SSH: timed out ×2 · API: loading ×2")
    with shown.waiting("ssh", 300):
        shown.seen("timed out", "SSH")
        assert shown.line().endswith(" · SSH: timed out")                  # a new phase counts anew
    shown.seen("late", "SSH")                                             # after its phase: shown nowhere
    with shown.waiting("pause", 300):
        assert shown.line().endswith("of 5 min 0 s")


def test_the_seconds_are_the_reports_wall_seconds_labelled_when_the_target_runs_faster(no_ticker):
    against_sandbox = Progress(Clock(60), stream=Terminal(tty=False))
    started = time.monotonic()
    with against_sandbox.waiting("ssh", 300, since=started - 2.0):
        line = against_sandbox.line()
        status = against_sandbox.status()
    taken = time.monotonic() - started          # the most a busy machine can have added to the 2 s
    # 300 real seconds are 5 wall seconds at ×60; 2 wall seconds have passed (not 120 "sandbox" seconds).
    elapsed = float(re.search(r"ssh (\d+\.\d) s of 5\.0 s \(wall clock, time ×60\)", line).group(1))
    assert 2.0 <= elapsed <= 2.0 + taken + 0.05                        # shown to a tenth
    assert status["limit"] == pytest.approx(5.0) and 2.0 <= status["elapsed"] <= 2.0 + taken
    assert status["scale"] == 60
    against_upstream = Progress(Clock(1), stream=Terminal(tty=False))
    started = time.monotonic()
    with against_upstream.waiting("ssh", 300, since=started - 161):
        line = against_upstream.line()
    taken = time.monotonic() - started
    minutes, seconds = re.search(r"ssh (\d+) min (\d+) s of 5 min 0 s$", line).groups()   # one clock: no label
    assert 161 <= int(minutes) * 60 + int(seconds) <= 161 + taken + 0.5    # shown to the second
    assert "wall" not in line


def test_without_a_terminal_a_line_now_and_then_with_what_was_seen(monkeypatch):
    monkeypatch.setattr(progress_module, "REDRAW", 0.01)
    log = Terminal(tty=False)
    shown = Progress(Clock(1), stream=log, every=0.05)
    with shown.waiting("model_install", 1200):
        shown.seen("downloading")
        shown.seen("downloading")
        wait_until(lambda: log.getvalue().count("\n") >= 2)
    lines = log.getvalue().splitlines()
    assert all(line.startswith("⏳ model_install ") and line.endswith("of 20 min 0 s · downloading ×2")
               for line in lines)
    assert "\r" not in log.getvalue()


def test_clip_counts_terminal_columns_not_characters():
    assert clip("⏳ ssh", 10) == "⏳ ssh"
    assert clip("⏳ abcdef", 6) == "⏳ ab…"            # the hourglass takes two columns
    assert clip("abc", 3) == "abc" and clip("abcd", 3) == "ab…"


def test_the_live_line_never_reaches_the_terminals_last_column_even_after_a_resize(no_ticker):
    controller, terminal_fd = pty.openpty()

    def resize(columns):
        fcntl.ioctl(terminal_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))

    def drawn():
        text = os.read(controller, 65536).decode()
        assert text.startswith(CLEAR) and text.count(CLEAR) == 1
        return text[len(CLEAR):]

    resize(30)
    terminal = os.fdopen(terminal_fd, "w", encoding="utf-8")
    try:
        shown = Progress(Clock(60), stream=terminal)
        assert shown.live                                   # a real terminal
        shown.journey = "Failover CPU Standby — The GPU fails; the standby takes over by itself"
        with shown.waiting("standby", 600):
            shown.seen("connection refused", "SSH")
            shown.redraw()
            narrow = drawn()
            resize(60)                                      # read again at each redraw
            shown.redraw()
            wide = drawn()
        assert os.read(controller, 65536).decode() == CLEAR
    finally:
        terminal.close()
        os.close(controller)
    assert narrow.endswith("…") and sum(2 if c == "⏳" else 1 for c in narrow) == 29
    assert wide.endswith("…") and sum(2 if c == "⏳" else 1 for c in wide) == 59
    assert wide.startswith(narrow[:-1])


@pytest.mark.parametrize("columns, name", [(100, "Failover CPU Standby …"), (80, None)])
def test_in_a_narrow_terminal_the_journeys_name_gives_way_before_what_was_seen(no_ticker, monkeypatch, columns,
                                                                               name):
    monkeypatch.setenv("COLUMNS", str(columns))
    terminal = Terminal(tty=True)
    shown = Progress(Clock(60), stream=terminal)
    shown.journey = "Failover CPU Standby — The GPU fails and the operator triggers the failover"
    with shown.waiting("ssh", 300):
        for _ in range(12):
            shown.seen("connection refused", "SSH")
        shown.redraw()
    drawn = terminal.getvalue().split(CLEAR)[1]
    assert drawn.startswith(f"⏳ {name} · ssh " if name else "⏳ ssh ")       # shortened, or left out
    assert drawn.endswith(" s of 5.0 s (wall clock, time ×60) · SSH: connection refused ×12")
    assert sum(2 if c == "⏳" else 1 for c in drawn) <= columns - 1


def test_a_stream_that_is_not_a_terminal_is_cut_to_the_environments_width(no_ticker, monkeypatch):
    monkeypatch.setenv("COLUMNS", "20")
    terminal = Terminal(tty=True)                           # says it is a terminal, has no file descriptor
    shown = Progress(Clock(1), stream=terminal)
    with shown.waiting("running", 600):
        shown.seen("loading", "API")
        shown.redraw()
    assert terminal.getvalue() == CLEAR + "⏳ running 0.0 s o…" + CLEAR     # 19 columns, the hourglass counting two


def test_nothing_is_drawn_once_the_phase_is_over(no_ticker):
    terminal = Terminal(tty=True)
    shown = Progress(Clock(1), stream=terminal)
    with shown.waiting("running", 600):
        generation = shown._generation
        shown.redraw(generation)
    after = terminal.getvalue()
    assert after.endswith(CLEAR) and "running" in after
    shown.redraw(generation)                      # the ticker of the phase that ended, one tick too late
    shown.redraw()
    with shown.waiting("ssh", 600):
        shown.redraw(generation)                  # ... or a tick of it during the next phase
        assert terminal.getvalue() == after
    assert terminal.getvalue() == after          # nothing drawn, so nothing to clear either


class BlockingTerminal(Terminal):
    """A terminal whose first live line is held in ``write`` until ``release`` (a slow or paused terminal)."""

    def __init__(self):
        super().__init__(tty=True)
        self.writing = threading.Event()
        self.release = threading.Event()
        self.writes: list[str] = []
        self.lock = threading.Lock()

    def write(self, text):
        if text != CLEAR and not self.writing.is_set():
            self.writing.set()
            assert self.release.wait(10)
        with self.lock:
            self.writes.append(text)
        return super().write(text)


def test_the_clear_waits_for_a_redraw_in_flight_and_nothing_is_drawn_after_it(monkeypatch):
    monkeypatch.setattr(progress_module, "REDRAW", 0.01)
    terminal = BlockingTerminal()
    shown = Progress(Clock(1), stream=terminal)
    block = shown.waiting("ssh", 600)
    block.__enter__()
    assert terminal.writing.wait(5)                 # the ticker is in the middle of drawing the line
    closer = threading.Thread(target=block.__exit__, args=(None, None, None))
    closer.start()
    # While the line is being drawn the clear must wait: written first, it would be drawn over. The old
    # code waited for the ticker one second, then cleared, and the late line landed after the clear: this
    # window (longer than that second) is where such a clear would show; none may.
    window = time.monotonic() + 1.5
    while time.monotonic() < window and CLEAR not in terminal.writes:
        time.sleep(0.01)
    assert CLEAR not in terminal.writes and closer.is_alive()
    terminal.release.set()
    closer.join(5)
    assert not closer.is_alive()
    assert terminal.writes[-1] == CLEAR and terminal.writes[-2].startswith(CLEAR + "⏳ ssh ")
    # And no ticker is left that could draw again.
    assert not any(thread.name == "progress" and thread.is_alive() for thread in threading.enumerate())


class FakeWatch:
    """What :class:`support.waits.Watch` offers a follower: observations, from ``observe`` until it ends."""

    def __init__(self, latest=None):
        self.latest = latest
        self.tell = None

    def observe(self, tell):
        self.tell = tell
        if self.latest:
            tell(self.latest)
        return lambda: setattr(self, "tell", None)


def test_a_followed_watch_is_shown_under_its_source_while_the_block_runs(no_ticker):
    shown = Progress(Clock(1), stream=Terminal(tty=False))
    watch = FakeWatch(latest="connection refused")
    with shown.waiting("ssh", 300, follow={"SSH": watch}):
        assert shown.line().endswith(" · SSH: connection refused")       # what it saw last, at once
        tell = watch.tell
        tell("connection refused")
        assert shown.line().endswith(" · SSH: connection refused ×2")
    assert watch.tell is None                                            # no longer followed
    with shown.waiting("pause", 300):
        tell("timed out")                     # a look of the earlier phase's watch that ended late
        assert " · " not in shown.line()


def test_the_parallel_runner_shows_each_workers_line(tmp_path, monkeypatch):
    monkeypatch.setattr(progress_module, "REDRAW", 0.01)
    status_file = tmp_path / "w1" / "progress.json"
    status_file.parent.mkdir()
    shown = Progress(Clock(60), stream=Terminal(tty=False), status_file=status_file)
    shown.journey = "Snapshot"
    with shown.waiting("restore", 600):
        for _ in range(3):
            shown.seen("restoring", "API")
        wait_until(lambda: (read_status(status_file) or {}).get("observations") == [["API", "restoring", 3]])
        [line] = worker_lines({"1": read_status(status_file), "2": {"journey": "Quick", "phase": None}})
    assert line.startswith("[1] Snapshot · restore ")
    assert line.endswith(" s of 10.0 s (wall clock, time ×60) · API: restoring ×3")
    assert json.loads(status_file.read_text())["phase"] is None          # the phase is over
    # A worker's file written before it saw anything (or by an older suite): still a line.
    assert worker_lines({"3": {"journey": "long", "phase": "running"}}) == ["[3] long · running 0.0 s of 0.0 s"]
