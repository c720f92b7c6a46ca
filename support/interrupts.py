"""Ctrl-C, SIGTERM and the scenario time limit, handled so cleanup always finishes.

behave turns a KeyboardInterrupt in a step into an aborted run, but an
interrupt that lands inside cleanup would cut it short (its cleanup loop
catches only ``Exception``). So: the first SIGINT or SIGTERM raises
KeyboardInterrupt where the step is; inside :meth:`InterruptGuard.protect`
signals are only noted, a warning is printed, and the interrupt is raised
once the protected block (a delete and its verification) is over.
"""

from __future__ import annotations

import signal
import sys
from contextlib import contextmanager


class ScenarioTimeLimit(AssertionError):
    """The scenario ran past its maximum time (the brief's rule 4)."""


class InterruptGuard:
    def __init__(self, warn=lambda text: print(text, file=sys.__stderr__, flush=True)):
        # sys.__stderr__: behave captures sys.stderr during steps and hooks, and this must be seen now.
        self.received: str | None = None   # "SIGINT" / "SIGTERM" once interrupted
        self._protecting = 0
        self._pending = False
        self._warn = warn
        self._previous = {}
        self._time_limit: float | None = None
        self.alive_count = lambda: 0

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._on_signal)
        self._previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._on_alarm)

    def uninstall(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    @property
    def interrupted(self) -> bool:
        return self.received is not None

    def _on_signal(self, signum, frame) -> None:
        name = signal.Signals(signum).name
        if self._protecting:
            self.received = self.received or name
            self._pending = True
            self._warn(f"\n{name} received during cleanup: finishing the deletes first "
                       f"({self.alive_count()} resource(s) still alive are kept in the ledger "
                       f"for `make sweep`).")
            return
        if self.received is None:
            self.received = name
            self._warn(f"\n{name} received: stopping and cleaning up (interrupting again will not skip the deletes).")
        raise KeyboardInterrupt(name)

    def _on_alarm(self, signum, frame) -> None:
        if self._protecting:
            return
        raise ScenarioTimeLimit(f"scenario exceeded its maximum time of {self._time_limit:.0f} s")

    def start_time_limit(self, seconds: float) -> None:
        self._time_limit = seconds
        signal.setitimer(signal.ITIMER_REAL, seconds)

    def stop_time_limit(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)

    @contextmanager
    def protect(self):
        """No interrupt inside: for deleting paid resources and recording that in the ledger."""
        self._protecting += 1
        try:
            yield
        finally:
            self._protecting -= 1
        if self._pending and not self._protecting:
            self._pending = False
            raise KeyboardInterrupt(self.received)
