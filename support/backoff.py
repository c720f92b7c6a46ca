"""When to retry an API call, and how long to wait first.

The rules, from the brief and from the real server's behaviour (docs/dumont-api.md):

* A rate limit, in any form (429; a 503/500 quoting the provider's 429; the
  real server's 500 "Limite de requisições excedido"), was not carried out,
  so any call may be sent again after a wait.
* A permanent error (bad input, refused credentials, no money, a prerequisite
  not configured on the server) is never retried: it is reported at once.
* Other 5xx answers and broken connections are retried only for idempotent
  calls; for the rest the caller must find out what happened (see
  :meth:`support.client.DumontClient.create_instance`).
* Waits honour ``Retry-After`` when given, else grow from 2 s by ×1.5 with
  jitter, capped, all under one deadline for the call.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from support.clock import Clock
from support.errors import ApiError, ConnectionProblem


def is_retryable(error: BaseException, idempotent: bool) -> bool:
    """Whether a failed call may simply be sent again."""
    if isinstance(error, ApiError):
        return error.rate_limited or (idempotent and error.server_error)
    if isinstance(error, ConnectionProblem):
        return idempotent
    return False


@dataclass(frozen=True)
class BackoffPolicy:
    """Exponential backoff with jitter, in real-world seconds; the clock turns them into wall seconds."""

    first: float = 2.0
    factor: float = 1.5
    cap: float = 60.0
    jitter: float = 0.2
    deadline: float = 300.0
    clock: Clock = Clock()
    #: The deadline never shrinks below this (wall seconds), so that a server's
    #: Retry-After, which is not scaled, can still be honoured against the sandbox.
    min_deadline: float = 15.0

    def wait_before(self, attempt: int, error: BaseException | None,
                    rng: random.Random | None = None) -> float:
        """Wall seconds to wait before retry number ``attempt`` (1 for the first retry)."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return max(0.0, retry_after)
        rng = rng or random
        base = min(self.cap, self.first * self.factor ** (attempt - 1))
        return self.clock.wall(base * rng.uniform(1 - self.jitter, 1 + self.jitter))

    @property
    def wall_deadline(self) -> float:
        return max(self.clock.wall(self.deadline), min(self.deadline, self.min_deadline))


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds; HTTP dates are rare from APIs and treated as absent."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
