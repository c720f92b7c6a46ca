"""When to retry an API call, and how long to wait first.

The rules, from the brief and from the real server's behaviour:

* 429, with or without ``Retry-After``, is a rate limit. So is the real
  server's 500 whose error starts with "Limite de requisições excedido": it is
  VAST.ai's 429 after the server gave up retrying.
* A rate-limited request was not carried out, so any call may be retried.
* Other 5xx answers and broken connections are retried only for idempotent
  calls; for the rest the caller must find out what happened (see
  :meth:`support.client.DumontClient.create_instance`).
* Waits honour ``Retry-After`` when given, else grow from 2 s by ×1.5 with
  jitter, capped, all under one deadline for the call.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

RATE_LIMIT_MESSAGE = "limite de requisições excedido"


class ApiError(Exception):
    """The API answered with an error status.

    The message names the call and the server's own words; it never holds
    request bodies, headers or tokens.
    """

    def __init__(self, method: str, path: str, status: int, error: str,
                 retry_after: float | None = None):
        self.method = method
        self.path = path
        self.status = status
        self.error = error
        self.retry_after = retry_after
        super().__init__(f"{method} {path} → {status}: {error}")

    @property
    def rate_limited(self) -> bool:
        return self.status == 429 or (
            self.status == 500 and RATE_LIMIT_MESSAGE in self.error.lower())

    @property
    def server_error(self) -> bool:
        return self.status >= 500 and not self.rate_limited


class ConnectionProblem(Exception):
    """No answer: connection refused, dropped, or timed out."""

    def __init__(self, method: str, path: str, reason: str):
        self.method = method
        self.path = path
        super().__init__(f"{method} {path}: no answer ({reason})")


def is_retryable(error: BaseException, idempotent: bool) -> bool:
    """Whether a failed call may simply be sent again."""
    if isinstance(error, ApiError):
        return error.rate_limited or (idempotent and error.server_error)
    if isinstance(error, ConnectionProblem):
        return idempotent
    return False


@dataclass(frozen=True)
class BackoffPolicy:
    """Exponential backoff with jitter, in real-world seconds.

    ``time_scale`` divides every computed wait (not a server's ``Retry-After``)
    so that the sandbox's compressed time keeps the same proportions.
    """

    first: float = 2.0
    factor: float = 1.5
    cap: float = 60.0
    jitter: float = 0.2
    deadline: float = 300.0
    time_scale: float = 1.0

    def wait_before(self, attempt: int, error: BaseException | None,
                    rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1 for the first retry)."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return max(0.0, retry_after)
        rng = rng or random
        base = min(self.cap, self.first * self.factor ** (attempt - 1))
        return base * rng.uniform(1 - self.jitter, 1 + self.jitter) / self.time_scale

    #: The deadline never shrinks below this (wall seconds), so that a server's
    #: Retry-After, which is not scaled, can still be honoured against the sandbox.
    min_deadline: float = 15.0

    @property
    def scaled_deadline(self) -> float:
        return max(self.deadline / self.time_scale, min(self.deadline, self.min_deadline))


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds; HTTP dates are rare from APIs and treated as absent."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
