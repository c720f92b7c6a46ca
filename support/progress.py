"""What a person at the terminal sees while a long phase runs.

A wait can last ten minutes (running) or twenty (a model install), and behave
shows a step only once it ends. While a phase runs, :class:`Progress` shows its
name, the time spent against its limit (real-world seconds) and the last state
seen: a live line redrawn in place on a terminal, or a plain line every
``every`` seconds otherwise (CI logs). It writes to the process's real stderr,
never to the output behave captures. For the parallel runner it also keeps a
small status file per worker, which the runner shows as one line per worker.

A small writer of our own rather than a progress-bar library: behave owns
stdout and redraws its own step lines, so the one thing that fits beside it is
a single line on stderr that is cleared before the step's result is printed.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from support.files import write_atomically

#: How often a live line is redrawn (wall seconds).
REDRAW = 0.25


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
        self._state = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # -- what the suite tells it ---------------------------------------------------------------------

    @contextmanager
    def waiting(self, phase: str, limit: float, since: float | None = None):
        """A phase is running since ``since`` (monotonic; now by default), bounded by ``limit`` real seconds;
        shown until the block ends."""
        with self._lock:
            self._phase, self._limit, self._state = phase, limit, ""
            self._started = time.monotonic() if since is None else since
        self._save()                # at once: the parallel runner starts the other workers on it
        self._stop.clear()
        self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
        self._ticker.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._ticker.join(1.0)
            with self._lock:
                self._phase = None
            if self.live:
                self._write("\r\033[K")
            self._save()

    def seen(self, state: str) -> None:
        """The last state observed (shown beside the phase)."""
        with self._lock:
            self._state = state

    # -- drawing --------------------------------------------------------------------------------------

    def line(self) -> str | None:
        with self._lock:
            if self._phase is None:
                return None
            elapsed = self.clock.real(time.monotonic() - self._started)
            state = f" · {self._state}" if self._state else ""
            who = f"{_short(self.journey)} · " if self.journey else ""
            return f"⏳ {who}{self._phase} {elapsed:.0f} s of {self._limit:.0f} s{state}"

    def status(self) -> dict:
        with self._lock:
            if self._phase is None:
                return {"journey": self.journey, "phase": None, "t": time.time()}
            return {"journey": self.journey, "phase": self._phase, "state": self._state, "limit": self._limit,
                    "elapsed": round(self.clock.real(time.monotonic() - self._started), 1), "t": time.time()}

    def _tick(self) -> None:
        last_line = time.monotonic()
        while not self._stop.wait(REDRAW):
            self._save()
            text = self.line()
            if text is None:
                return
            if self.live:
                self._write("\r\033[K" + text[:200])
            elif time.monotonic() - last_line >= self.every:
                last_line = time.monotonic()
                self._write(text + "\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass            # a closed terminal must not fail the journey

    def _save(self) -> None:
        if self.status_file is None:
            return
        try:
            write_atomically(self.status_file, json.dumps(self.status(), ensure_ascii=False))
        except OSError:
            pass


def _short(name: str, width: int = 48) -> str:
    return name if len(name) <= width else name[:width - 1] + "…"


def worker_lines(statuses: dict[str, dict]) -> list[str]:
    """One line per worker that is running a phase, for the parallel runner."""
    lines = []
    for worker, status in sorted(statuses.items()):
        if status.get("phase"):
            state = f" · {status['state']}" if status.get("state") else ""
            lines.append(f"[{worker}] {_short(status.get('journey', ''))} · {status['phase']} "
                         f"{status.get('elapsed', 0):.0f} s of {status.get('limit', 0):.0f} s{state}")
    return lines


def read_status(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
