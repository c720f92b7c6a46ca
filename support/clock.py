"""One clock for the run: limits in real-world seconds, and when things happened, as known.

Every limit, interval and backoff wait is configured in real-world seconds.
Against the sandbox, time runs ``scale`` times faster: :class:`Clock` is the
one object that turns real seconds into the wall seconds to wait, and wall
seconds back into real ones. Nothing else divides or multiplies by the scale.

What the suite observes it knows only to within a bracket: a request acted on
the server somewhere between the moment it was sent and the moment its answer
came, and an event seen by polling happened after the last "not yet" was asked
and before the first "yes" came back. :class:`Moment` keeps that bracket, so a
phase's time comes with its uncertainty, and a stalled answer widens the
bracket instead of being stamped at its send time.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass


def _measure_epoch_offset(tries: int = 5) -> tuple[float, float]:
    """Epoch seconds at monotonic zero, and how far off that may be (half the width of its bracket).

    The two clocks cannot be read at once: reading the epoch between two monotonic reads brackets the
    offset by them. A thread preempted between two reads (a loaded machine) would widen that bracket by
    milliseconds, so the narrowest of a few tries is kept.
    """
    best = None
    for _ in range(tries):
        before = time.monotonic()
        epoch = time.time()
        after = time.monotonic()
        if best is None or after - before < best[1] - best[0]:
            best = (before, after, epoch)
    before, after, epoch = best
    # An epoch near 1.8e9 is a float with steps of about 0.24 µs: a conversion (one addition) cannot be
    # finer than that, however narrow the bracket, and the uncertainty says so.
    return epoch - (before + after) / 2, (after - before) / 2 + 2 * math.ulp(epoch)


#: Epoch seconds at monotonic zero: one offset for the whole process, so converted times agree.
#: Times converted with it are off by at most EPOCH_OFFSET_UNCERTAINTY (barring a step of the system
#: clock during the run); durations need no conversion and carry no such error.
_EPOCH_AT_MONOTONIC_ZERO, EPOCH_OFFSET_UNCERTAINTY = _measure_epoch_offset()


def epoch_of(monotonic_at: float) -> float:
    return _EPOCH_AT_MONOTONIC_ZERO + monotonic_at


@dataclass(frozen=True)
class Clock:
    """Real-world seconds ⇄ wall seconds of the target (``scale`` is 1 against the real service)."""

    scale: float = 1.0

    def wall(self, real_seconds: float) -> float:
        """How long to wait here for ``real_seconds`` of the target's time."""
        return real_seconds / self.scale

    def real(self, wall_seconds: float) -> float:
        """What ``wall_seconds`` measured here amount to in the target's (real-world) time."""
        return wall_seconds * self.scale

    def wall_rate(self, per_real_second: float) -> float:
        """A rate of the target's time (events per real second) as events per wall second here."""
        return per_real_second * self.scale

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def describe(self) -> str:
        return "" if self.scale == 1 else f"time ×{self.scale:g}"


@dataclass(frozen=True)
class Moment:
    """When something happened: no earlier than ``earliest``, no later than ``latest`` (monotonic seconds)."""

    earliest: float
    latest: float

    @classmethod
    def now(cls) -> "Moment":
        t = time.monotonic()
        return cls(t, t)

    @classmethod
    def of_epoch(cls, epoch: float, uncertainty: float = 0.0) -> "Moment":
        """The moment at ``epoch`` (seconds since 1970), give or take ``uncertainty``."""
        at = epoch - _EPOCH_AT_MONOTONIC_ZERO
        return cls(at - uncertainty, at + uncertainty)

    @classmethod
    def during(cls, sent: float, answered: float) -> "Moment":
        """What a request did, it did between being sent and being answered."""
        return cls(sent, max(sent, answered))

    @property
    def at(self) -> float:
        """The best single estimate: the middle of the bracket."""
        return (self.earliest + self.latest) / 2

    @property
    def uncertainty(self) -> float:
        """Half the width of the bracket, in wall seconds."""
        return (self.latest - self.earliest) / 2

    @property
    def epoch(self) -> float:
        return epoch_of(self.at)

    def until(self, later: "Moment") -> "Span":
        """The time from this moment to ``later``, with both brackets' uncertainty."""
        return Span(later.at - self.at, self.uncertainty + later.uncertainty)

    def since_now(self) -> "Span":
        return self.until(Moment.now())


@dataclass(frozen=True)
class Span:
    """A duration in wall seconds and its uncertainty (the half-width of what it could have been)."""

    seconds: float
    uncertainty: float = 0.0

    def real(self, clock: Clock) -> "Span":
        return Span(clock.real(self.seconds), clock.real(self.uncertainty))
