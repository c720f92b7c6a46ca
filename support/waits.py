"""Waiting on a condition, never on the clock alone.

:func:`wait_for` polls a probe until a condition holds, a terminal state is
seen, or the time limit passes. The poll interval starts short and grows in
proportion to the time already waited, so a phase is timed to within about
``Polling.fraction`` of its length however long it turns out to be, while a
long wait costs few calls.

The moment the condition became true is known as a bracket
(:class:`support.clock.Moment`): after the last "not yet" was *sent* (the
server looked at some point after that) and before the first "yes" was
*answered*. A server that stalls for minutes widens the bracket; it never
makes a late answer look early.
"""

from __future__ import annotations

import math
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any, Callable

from support.clock import Clock, Moment, Span
from support.errors import ApiError, ConnectionProblem, PhaseFailed, PhaseTimeout
from support.timings import Expected

__all__ = ["NotYet", "PhaseFailed", "PhaseTimeout", "Polling", "Stopped", "Waited", "Watch", "first_done",
           "wait_for"]


class NotYet(Exception):
    """Raised by a probe that *observed* the condition does not hold yet (SSH refused, say),
    as opposed to a probe that learnt nothing (no answer, a rate limit)."""


@dataclass(frozen=True)
class Polling:
    """When to look again, in real-world seconds.

    Without history: every ``fraction`` × the time waited (clamped to ``shortest``..``longest``), so a
    phase is timed to within about that fraction whatever its length. With the window where earlier
    runs saw the event (:class:`support.timings.Expected`): a few looks on the way there (an early event
    is still caught, with a wider bracket), every ``precision`` × the time waited inside it, and the
    fraction again past it.
    """

    shortest: float = 0.25
    longest: float = 15.0
    fraction: float = 0.02
    precision: float = 0.02
    #: Looks before the expected window: each covers this share of the way there (two looks: halfway, and
    #: where the window begins; an event that comes early is still caught, with a wider bracket).
    approach: float = 1 / 2
    #: The most looks a window gets: a wide one (history that varies a lot, a prior made elsewhere) is looked
    #: at less densely than ``precision`` rather than costing calls without end; a narrow one is not affected.
    window_looks: int = 15

    def interval(self, waited: float, expected: Expected | None = None) -> float:
        if expected is not None and waited < expected.high:
            gap_start = 0.0
            for low, high in expected.stretches():
                if waited < low:            # on the way to a stretch: a few looks, each a share of the way
                    step = max(self.shortest, self.approach * (low - gap_start))
                    return min(step, low - waited) if low - waited > self.shortest else self.shortest
                if waited < high:           # inside one: dense
                    return max(self.shortest, self.within(low, high) * waited)
                gap_start = high
        return min(self.longest, max(self.shortest, self.fraction * waited))

    def within(self, low: float, high: float) -> float:
        """The share of the time waited between two looks inside ``low``..``high``: ``precision``, or coarser
        where the stretch is too wide for ``window_looks`` looks at that precision (looks every p × t from low
        to high number ln(high / low) / p)."""
        if low <= 0:
            return self.precision
        return max(self.precision, math.log(high / low) / self.window_looks)

    def finer(self, share: float) -> "Polling":
        """The same polling with every interval past the shortest ``share`` as long: for looks that cost
        the server nothing (a connection attempt to a machine's SSH port is not an API call)."""
        return replace(self, fraction=self.fraction * share, precision=self.precision * share)

    @classmethod
    def every(cls, seconds: float) -> "Polling":
        """A look every ``seconds`` (real), however long the wait: for looks that only watch for something
        going wrong."""
        return cls(shortest=seconds, longest=seconds)

    def first_look(self, waited: float, expected: Expected | None = None) -> float:
        """How long to wait before the first look: with history, nothing is worth asking at the very start."""
        if expected is None:
            return 0.0
        return max(0.0, min(self.approach * expected.low, expected.low) - waited)


@dataclass
class Waited:
    """What a wait found: the probe's last value, when the condition became true, and how many polls it took."""

    value: Any
    event: Moment          # when the condition became true, as bracketed by the polls
    span: Span             # from the wait's start (``since``) to the event, wall seconds
    polls: int

    @property
    def seconds(self) -> float:
        return self.span.seconds


TRANSIENT = (ConnectionProblem, ConnectionError, TimeoutError, OSError)


def wait_for(phase: str, probe: Callable[[], Any], *, until: Callable[[Any], bool], limit: float,
             clock: Clock, polling: Polling, since: Moment | None = None, not_before: float | None = None,
             expected: Expected | None = None, progress=None, observe: Callable[[str], None] | None = None,
             fail_if: Callable[[Any], str | None] | None = None,
             describe: Callable[[Any], str] = repr,
             now: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> Waited:
    """Poll ``probe()`` until ``until(value)``; the limit and intervals are real-world seconds.

    ``since`` lets a phase start before the wait does (e.g. at the create
    request); ``not_before`` (monotonic) is when the event is known not to have
    happened yet, if that is later (SSH cannot answer before the machine runs).
    ``expected`` is where earlier runs saw the event: polls are dense there and sparse elsewhere.
    ``progress`` (support.progress.Progress) shows the phase and what each look saw while it runs;
    ``observe(text)`` is told the same (a :class:`Watch` hands it to whoever follows it).
    ``fail_if(value)`` returns a reason to stop at once. Transient
    probe errors (no answer, a rate limit, a 5xx) count as "not yet", tell
    nothing about when the event happened, and are reported as the last state
    if the time runs out; any other :class:`ApiError` stops the wait.
    """
    started = now()
    since = since or Moment(started, started)
    shown = progress.waiting(phase, limit, since.earliest) if progress is not None else nullcontext()
    with shown:
        return _poll(phase, probe, until=until, limit=limit, clock=clock, polling=polling, since=since,
                     not_before=not_before, expected=expected, fail_if=fail_if, describe=describe, now=now,
                     sleep=sleep, started=started,
                     seen=[tell for tell in (progress.seen if progress is not None else None, observe) if tell])


def _poll(phase, probe, *, until, limit, clock, polling, since, not_before, expected, fail_if, describe, now,
          sleep, started, seen) -> Waited:
    deadline = since.earliest + clock.wall(limit)
    last_state = "nothing observed yet"
    last_no_sent = max(since.earliest, not_before or since.earliest)
    polls = 0
    first = min(clock.wall(polling.first_look(clock.real(started - since.earliest), expected)),
                max(0.0, deadline - started))
    if first > 0:
        sleep(first)
    while True:
        sent = now()
        polls += 1
        try:
            value = probe()
        except ApiError as error:
            if error.permanent:
                raise
            last_state, observed = str(error), _api_trouble(error)
        except NotYet as not_yet:
            last_no_sent = sent
            last_state = observed = str(not_yet)
        except TRANSIENT as error:
            last_state, observed = f"{type(error).__name__}: {error}", _no_answer(error)
        else:
            answered = now()
            if until(value):
                event = Moment(last_no_sent, answered)
                return Waited(value, event, since.until(event), polls)
            last_no_sent = sent
            last_state = observed = describe(value)
            if fail_if is not None:
                reason = fail_if(value)
                if reason:
                    raise PhaseFailed(phase, reason, clock.real(answered - since.earliest))
        for tell in seen:
            tell(observed)
        current = now()
        if current >= deadline:
            raise PhaseTimeout(phase, limit, last_state, clock.real(current - since.earliest), clock.scale)
        waited_real = clock.real(current - since.earliest)
        sleep(min(clock.wall(polling.interval(waited_real, expected)), max(0.0, deadline - current)))


def _api_trouble(error: ApiError) -> str:
    """A transient API error in a few words, for the live line (the timeout message keeps the full text)."""
    return "API rate limit" if error.rate_limited else f"API error {error.status}"


def _no_answer(error: BaseException) -> str:
    """A look that got no answer, in a few words: the live line has one row for everything it shows."""
    if isinstance(error, ConnectionProblem):
        return "no API answer yet"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):              # socket.timeout too
        return "timed out"
    return str(error) or type(error).__name__


class Stopped(Exception):
    """A background watch was told to stop before its condition held."""


class Watch:
    """A wait that runs in the background, so that two things can be watched at once.

    A server that stalls after a create answers no API call for minutes, but the machine's SSH port can
    still be watched directly; and a standby can be watched while the GPU boots. ``start`` runs
    :func:`wait_for` in a thread; :meth:`result` waits for it and returns its :class:`Waited` (or raises
    what it raised); :meth:`stop` ends it early. Signals (Ctrl-C, the scenario's time limit) reach only
    the main thread, so the main thread always joins a watch through :meth:`result` or :meth:`stop`.
    """

    def __init__(self, phase: str, probe: Callable[[], Any], **wait_args):
        self.phase = phase
        self._stop = threading.Event()
        self._nudged = threading.Event()     # set to end the current pause between looks early
        self._outcome: Waited | BaseException | None = None
        self._done = threading.Event()
        self._listeners: list[threading.Event] = []
        self._listening = threading.Lock()
        #: When the latest "not yet" was sent (monotonic): the lower end of the event's bracket so far.
        self.last_no_sent: float | None = None
        #: What the latest look saw, in a few words (None before the first), and who is told each one.
        self.last_seen: str | None = None
        self._observers: list[Callable[[str], None]] = []
        also_tell = wait_args.pop("observe", None)
        until = wait_args["until"]

        def observed(text: str) -> None:
            with self._listening:
                self.last_seen = text
                observers = list(self._observers)
            for tell in observers + ([also_tell] if also_tell else []):
                tell(text)

        def stoppable_probe():
            if self._stop.is_set():
                raise Stopped(phase)
            sent = time.monotonic()
            try:
                value = probe()
            except NotYet:
                self.last_no_sent = sent
                raise
            if not until(value):
                self.last_no_sent = sent
            return value

        def pause(seconds: float) -> None:
            self._nudged.wait(seconds)
            self._nudged.clear()

        def run():
            try:
                self._outcome = wait_for(phase, stoppable_probe, sleep=pause, observe=observed, **wait_args)
            except BaseException as error:  # noqa: B902 - handed to the thread that asks for the result
                self._outcome = error
            finally:
                with self._listening:
                    self._done.set()
                    for listener in self._listeners:
                        listener.set()

        self._thread = threading.Thread(target=run, name=f"watch {phase}", daemon=True)

    @classmethod
    def start(cls, phase: str, probe: Callable[[], Any], **wait_args) -> "Watch":
        watch = cls(phase, probe, **wait_args)
        watch._thread.start()
        return watch

    def done(self) -> bool:
        return self._done.is_set()

    def succeeded(self) -> Waited | None:
        """The result if the watch is over and its condition held; else None (never blocks)."""
        return self._outcome if self.done() and isinstance(self._outcome, Waited) else None

    def result(self, until: float | None = None) -> Waited | None:
        """The watch's result; None if it is still going at ``until`` (monotonic)."""
        while not self._done.wait(0.05):      # short waits: a signal in the main thread is handled promptly
            if until is not None and time.monotonic() >= until:
                return None
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        return self._outcome

    def observe(self, tell: Callable[[str], None]) -> Callable[[], None]:
        """Tell ``tell(text)`` what each look sees from now on, starting with the latest one if any (a watch
        that began at the boot has been seeing things before a phase follows it); returns what ends it."""
        with self._listening:
            self._observers.append(tell)
            latest = self.last_seen
        if latest is not None:
            tell(latest)

        def stop_telling() -> None:
            with self._listening:
                if tell in self._observers:
                    self._observers.remove(tell)

        return stop_telling

    def look_now(self) -> None:
        """Look again at once instead of at the next planned look: something else (the machine's SSH
        answering) says the event is likely to have happened, and the schedule may be sparse there."""
        self._nudged.set()

    def stop(self, wait: bool = True) -> None:
        """End the watch. ``wait=False`` leaves a probe that is still in flight (a request the server holds
        during a stall) to end by itself in its thread, without holding up the caller."""
        self._stop.set()
        self._nudged.set()
        if wait:
            self._done.wait(5.0)

    def _notify(self, listener: threading.Event) -> None:
        with self._listening:
            self._listeners.append(listener)
            if self._done.is_set():
                listener.set()


def first_done(*watches: Watch) -> Watch:
    """The first of ``watches`` to be over (the earliest in the list when several are), waiting as long as it takes."""
    over = threading.Event()
    for watch in watches:
        watch._notify(over)
    while not over.wait(0.05):            # short waits: a signal in the main thread is handled promptly
        pass
    return next(watch for watch in watches if watch.done())
