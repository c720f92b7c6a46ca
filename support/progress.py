"""What a person at the terminal sees while a long phase runs.

A wait can last ten minutes (running) or twenty (a model install), and behave
shows a step only once it ends. While a phase runs, :class:`Progress` shows its
name, the time spent against its limit and what the waits see: a live line
redrawn in place on a terminal, or a plain line every ``every`` seconds
otherwise (CI logs). It writes to the process's real stderr, never to the
output behave captures. For the parallel runner it also keeps a small status
file per worker, which the runner shows as one line per worker.

Its seconds are the ones the final report gives: wall-clock seconds here, which
against the sandbox (time ×60) are not the target's simulated seconds; the
line then says so, and shows the limit in the same unit.

Each observation (``SSH: connection refused``, ``API: loading``) is shown with
how many looks in a row saw it (``×12``), per source, so a five-minute wait
says what it has been seeing all along, not only at its end.

A small writer of our own rather than a progress-bar library: behave owns
stdout and redraws its own step lines (cursor up N rows), so the one thing that
fits beside it is a single row on stderr that never wraps (it is cut to the
terminal's width) and is cleared before the step's result is printed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
import unicodedata
from contextlib import contextmanager
from pathlib import Path

from support.files import write_atomically
from support.report import format_duration

#: How often a live line is redrawn (wall seconds).
REDRAW = 0.25

#: Erase the row the cursor is on and go to its start.
CLEAR = "\r\033[K"


class Progress:
    def __init__(self, clock, stream=None, live: bool | None = None, every: float = 30.0,
                 status_file: Path | None = None):
        self.clock = clock
        self.stream = stream or sys.__stderr__
        self.live = self.stream.isatty() if live is None else live
        self.every = every
        self.status_file = Path(status_file) if status_file else None
        self.journey = ""
        self._phase: str | None = None
        self._limit = 0.0
        self._started = 0.0
        #: source → [last observation, looks in a row that saw it], in the order the sources first spoke.
        self._observations: dict[str, list] = {}
        #: Which phase is shown: bumped when one starts and when it ends, so that a ticker or a watch
        #: still running for an earlier phase cannot draw or report into a later one.
        self._generation = 0
        self._lock = threading.Lock()          # the state above
        self._drawing = threading.Lock()       # one write to the terminal at a time; the clear waits for it
        self._drawn = False                    # a live line is on screen now
        self._saving = threading.Lock()        # one status file write at a time, in order

    # -- what the suite tells it ---------------------------------------------------------------------

    @contextmanager
    def waiting(self, phase: str, limit: float, since: float | None = None, follow: dict | None = None):
        """A phase is running since ``since`` (monotonic; now by default), bounded by ``limit`` real seconds;
        shown until the block ends.

        ``follow`` maps a source's name to a background watch (:class:`support.waits.Watch`) whose
        observations are shown under that name while the block runs (``{"SSH": machine.ssh_watch}``).
        """
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._phase, self._limit, self._observations = phase, limit, {}
            self._started = time.monotonic() if since is None else since
        unfollow = [watch.observe(_Reporter(self, generation, source)) for source, watch in (follow or {}).items()]
        self._save()                # at once: the parallel runner starts the other workers on it
        stop = threading.Event()
        ticker = threading.Thread(target=self._tick, args=(generation, stop), name="progress", daemon=True)
        ticker.start()
        try:
            yield self
        finally:
            for stop_following in unfollow:
                stop_following()
            stop.set()
            # Under the drawing lock: a redraw the ticker has begun ends first, and none can begin after
            # (the generation has moved on), so nothing is drawn once the row is cleared for behave.
            with self._drawing:
                with self._lock:
                    self._phase = None
                    self._generation += 1
                if self._drawn:
                    self._write(CLEAR)
                    self._drawn = False
            ticker.join(1.0)
            self._save()

    def seen(self, observation: str, source: str = "") -> None:
        """What a wait observed (shown beside the phase), from ``source`` ("API", "SSH"; none by default).
        The same observation seen again in a row is counted, not repeated."""
        with self._lock:
            self._observe(self._generation, observation, source)

    def _observe(self, generation: int, observation: str, source: str) -> None:
        if self._phase is None or generation != self._generation:
            return              # a look that ended after its phase: it says nothing about the current one
        last = self._observations.get(source)
        if last is not None and last[0] == observation:
            last[1] += 1
        else:
            self._observations[source] = [observation, 1]

    # -- drawing --------------------------------------------------------------------------------------

    def line(self, columns: int | None = None) -> str | None:
        """The phase in one line; within ``columns`` the journey's name gives way first (see :func:`describe`)."""
        with self._lock:
            if self._phase is None:
                return None
            return "⏳ " + describe(self.journey, self._phase, time.monotonic() - self._started,
                                   self.clock.wall(self._limit), self.clock.scale,
                                   [(source, text, count) for source, (text, count) in self._observations.items()],
                                   None if columns is None else columns - _text_width("⏳ "))

    def status(self) -> dict:
        """What the parallel runner shows for this worker: the same figures as the live line."""
        with self._lock:
            if self._phase is None:
                return {"journey": self.journey, "phase": None, "t": time.time()}
            return {"journey": self.journey, "phase": self._phase, "limit": self.clock.wall(self._limit),
                    "elapsed": round(time.monotonic() - self._started, 2), "scale": self.clock.scale,
                    "observations": [[source, text, count] for source, (text, count) in self._observations.items()],
                    "t": time.time()}

    def redraw(self, generation: int | None = None) -> None:
        """Draw the live line once (the ticker does it every ``REDRAW`` seconds), cut to the terminal's
        width as it is now (a resized terminal is honoured at the next redraw). Nothing when no phase is
        shown, or when ``generation``'s phase is over."""
        with self._drawing:
            with self._lock:
                if self._phase is None or (generation is not None and generation != self._generation):
                    return
            columns = terminal_columns(self.stream) - 1      # the last column would wrap on some terminals
            text = self.line(columns)
            if text is not None:
                self._write(CLEAR + clip(text, columns))
                self._drawn = True

    def _tick(self, generation: int, stop: threading.Event) -> None:
        last_line = time.monotonic()
        while not stop.wait(REDRAW):
            self._save(generation)
            if self.live:
                self.redraw(generation)
            elif time.monotonic() - last_line >= self.every:
                last_line = time.monotonic()
                with self._drawing:
                    text = self.line() if generation == self._generation else None
                    if text is not None:
                        self._write(text + "\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass            # a closed terminal must not fail the journey

    def _save(self, generation: int | None = None) -> None:
        """Write the status file; from the ticker (``generation``), only while its phase is shown, so that a
        late tick cannot show a phase the runner was already told is over."""
        if self.status_file is None:
            return
        with self._saving:
            if generation is not None and generation != self._generation:
                return
            try:
                write_atomically(self.status_file, json.dumps(self.status(), ensure_ascii=False))
            except OSError:
                pass


class _Reporter:
    """A followed watch's observations, into the phase they were followed for (and no later one)."""

    def __init__(self, progress: Progress, generation: int, source: str):
        self.progress, self.generation, self.source = progress, generation, source

    def __call__(self, observation: str) -> None:
        with self.progress._lock:
            self.progress._observe(self.generation, observation, self.source)


def describe(journey: str, phase: str, elapsed: float, limit: float, scale: float,
             observations, columns: int | None = None) -> str:
    """A phase in words: ``elapsed`` and ``limit`` are wall seconds, as the final report gives them; with a
    time scale (the sandbox) they are labelled, since the target's own clock runs ``scale`` times faster.

    Within ``columns`` the journey's name is shortened, or left out, before anything else: what the wait
    sees is at the end of the line, and is what a person watching it wants most.
    """
    clock = f" (wall clock, time ×{scale:g})" if scale != 1 else ""
    seen = "".join(f" · {source + ': ' if source else ''}{text}{f' ×{count}' if count > 1 else ''}"
                   for source, text, count in observations)
    what = f"{phase} {format_duration(elapsed, 'en')} of {format_duration(limit, 'en')}{clock}{seen}"
    who = _short(journey)
    if columns is not None:
        room = columns - _text_width(what) - len(" · ")
        who = who if _text_width(who) <= room else _short(journey, room) if room >= SHORTEST_NAME else ""
    return f"{who} · {what}" if who else what


def terminal_columns(stream) -> int:
    """The width of the terminal ``stream`` writes to, read afresh (it may have been resized); the
    environment's COLUMNS, or 80, when the stream is not a terminal."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):      # no fd (a StringIO), or not a terminal
        return shutil.get_terminal_size().columns


#: A journey's name cut shorter than this says nothing: it is left out instead.
SHORTEST_NAME = 12


def _text_width(text: str) -> int:
    return sum(_width(char) for char in text)


def _width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1      # ⏳ takes two columns


def clip(text: str, columns: int) -> str:
    """``text`` cut to at most ``columns`` terminal columns (an ellipsis where it was cut): a longer line
    would wrap, and clearing it would then clear only its last row."""
    if _text_width(text) <= columns:
        return text
    kept, used = [], 0
    for char in text:
        if used + _width(char) > columns - 1:       # room for the ellipsis
            break
        kept.append(char)
        used += _width(char)
    return "".join(kept) + "…" if columns > 0 else ""


def _short(name: str, width: int = 48) -> str:
    return name if len(name) <= width else name[:width - 1] + "…"


def worker_lines(statuses: dict[str, dict], columns: int | None = None) -> list[str]:
    """One line per worker that is running a phase, for the parallel runner: the worker's own live line,
    each within ``columns`` when given (a live display: see :func:`clip`)."""
    lines = []
    for worker, status in sorted(statuses.items()):
        if status.get("phase"):
            who = f"[{worker}] "
            line = who + describe(status.get("journey", ""), status["phase"], status.get("elapsed", 0),
                                  status.get("limit", 0), status.get("scale", 1), status.get("observations", []),
                                  None if columns is None else columns - len(who))
            lines.append(line if columns is None else clip(line, columns))
    return lines


def read_status(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
