"""Waiting on a condition, never on the clock alone.

:func:`wait_for` polls a probe until a condition holds, a terminal state is
seen, or the time limit passes. The poll interval starts short and grows in
proportion to the time already waited, so a phase is timed to within about
``Polling.fraction`` of its length however long it turns out to be, while a
long wait costs few calls.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from support.backoff import ApiError, ConnectionProblem


class PhaseTimeout(AssertionError):
    """A phase did not finish in time. Names the phase, the limit and the last state seen."""

    def __init__(self, phase: str, timeout: float, last_state: str, elapsed: float):
        self.phase = phase
        self.timeout = timeout
        self.last_state = last_state
        self.elapsed = elapsed
        super().__init__(f"phase '{phase}' did not finish within {timeout:.1f} s "
                         f"(waited {elapsed:.1f} s); last observed: {last_state}")


class PhaseFailed(AssertionError):
    """A phase reached a state it cannot come back from (e.g. ``exited``)."""

    def __init__(self, phase: str, reason: str, elapsed: float):
        self.phase = phase
        self.reason = reason
        self.elapsed = elapsed
        super().__init__(f"phase '{phase}' failed after {elapsed:.1f} s: {reason}")


@dataclass(frozen=True)
class Polling:
    """Poll interval = clamp(fraction × time waited, shortest, longest), in real seconds.

    ``time_scale`` divides ``shortest`` and ``longest`` for the sandbox.
    """

    shortest: float = 0.125
    longest: float = 15.0
    fraction: float = 0.01
    time_scale: float = 1.0

    def interval(self, waited: float) -> float:
        low = self.shortest / self.time_scale
        high = self.longest / self.time_scale
        return min(high, max(low, self.fraction * waited))


@dataclass
class Waited:
    """What a wait found: the probe's last value, when it was seen, and how many polls it took."""

    value: Any
    seconds: float
    polls: int
    observed_at: float


TRANSIENT = (ConnectionProblem, ConnectionError, TimeoutError, OSError)


def wait_for(phase: str, probe: Callable[[], Any], *, until: Callable[[Any], bool], timeout: float,
             polling: Polling, started_at: float | None = None,
             fail_if: Callable[[Any], str | None] | None = None,
             describe: Callable[[Any], str] = repr,
             clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> Waited:
    """Poll ``probe()`` until ``until(value)``; return how long it took since ``started_at``.

    The condition became true somewhere between the last poll that said "not
    yet" and the first that said "yes": the midpoint is reported, so the
    error is at most half a poll interval either way.

    ``started_at`` (a ``clock()`` reading) lets a phase start before the wait
    does, e.g. when the create request was sent. ``fail_if(value)`` returns a
    reason to stop at once. Transient probe errors count as "not yet" and are
    reported as the last state if the time runs out; an :class:`ApiError`
    that is not a rate limit or server error stops the wait.
    """
    started_at = clock() if started_at is None else started_at
    deadline = started_at + timeout
    last_state = "nothing observed yet"
    last_no = None
    polls = 0
    while True:
        sent = clock()
        polls += 1
        try:
            value = probe()
        except ApiError as error:
            if not (error.rate_limited or error.server_error):
                raise
            last_state = str(error)
        except TRANSIENT as error:
            last_state = f"{type(error).__name__}: {error}"
            last_no = sent
        else:
            received = clock()
            if until(value):
                observed_at = sent if last_no is None else (last_no + sent) / 2
                return Waited(value, max(0.0, observed_at - started_at), polls, observed_at)
            last_no = sent
            last_state = describe(value)
            if fail_if is not None:
                reason = fail_if(value)
                if reason:
                    raise PhaseFailed(phase, reason, received - started_at)
        now = clock()
        if now >= deadline:
            raise PhaseTimeout(phase, timeout, last_state, now - started_at)
        sleep(min(polling.interval(now - started_at), max(0.0, deadline - now)))
