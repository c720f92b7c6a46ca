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
import time
from contextlib import contextmanager
from typing import Callable


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
        #: Named deadlines (monotonic) and the check that runs when one passes: it returns the
        #: exception that stops the scenario, or None (and may have set a later deadline).
        self._deadlines: dict[str, tuple[float, Callable[[], BaseException | None]]] = {}
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
            self._arm(minimum=0.05)           # a delete is under way: look again once it is over
            return
        now = time.monotonic()
        for name, (at, check) in sorted(self._deadlines.items(), key=lambda item: item[1][0]):
            if at <= now:
                del self._deadlines[name]
                stop = check()
                if stop is not None:
                    self._arm()
                    raise stop
        self._arm()

    def _arm(self, minimum: float = 0.0) -> None:
        if not self._deadlines:
            signal.setitimer(signal.ITIMER_REAL, 0)
            return
        due = min(at for at, _ in self._deadlines.values()) - time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, max(due, minimum, 0.001))

    def watch(self, name: str, at: float, check: Callable[[], BaseException | None]) -> None:
        """Run ``check`` when the monotonic time ``at`` passes; raise what it returns in the step."""
        self._deadlines[name] = (at, check)
        self._arm()

    def unwatch(self, name: str) -> None:
        self._deadlines.pop(name, None)
        self._arm()

    def start_time_limit(self, seconds: float) -> None:
        message = f"scenario exceeded its maximum time of {seconds:.0f} s"
        self.watch("time limit", time.monotonic() + seconds, lambda: ScenarioTimeLimit(message))

    def stop_time_limit(self) -> None:
        self._deadlines.clear()
        self._arm()

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
