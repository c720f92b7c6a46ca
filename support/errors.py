"""Everything the suite raises, in one place, each saying in words what went wrong.

None of these messages ever holds a request body, a header or a token: they
name the call and quote the server's own words.
"""

from __future__ import annotations

import re

#: The real server's own rate-limit answer (VAST.ai's 429 after its retries gave up).
RATE_LIMIT_MESSAGE = "limite de requisições excedido"
#: A provider 429 as the real server passes it on inside a 503/500 ("Vast.ai API unreachable: 429 ...").
_PROVIDER_RATE_LIMIT = re.compile(r"\b429\b|too many requests|requests too frequent", re.IGNORECASE)
#: Prerequisites missing on the server or the account: asking again changes nothing.
_NOT_CONFIGURED = re.compile(r"not configured|please update settings|credentials not configured", re.IGNORECASE)
#: An offer the provider will not rent (taken, or refused): sending the same create again cannot help.
_OFFER_GONE = re.compile(r"já foi alugada|already (been )?rented|oferta inválid|offer \S+ is not available",
                         re.IGNORECASE)
#: 4xx answers that a retry could change: a timeout, a conflict of the moment, and rate limits.
_TRANSIENT_CLIENT_ERRORS = {408, 409, 425, 429}


class ApiError(Exception):
    """The API answered with an error status."""

    def __init__(self, method: str, path: str, status: int, error: str, retry_after: float | None = None):
        self.method = method
        self.path = path
        self.status = status
        self.error = error
        self.retry_after = retry_after
        super().__init__(f"{method} {path} → {status}: {error}")

    @property
    def rate_limited(self) -> bool:
        """A rate limit in any of the forms it reaches a Dumont client (see docs/dumont-api.md)."""
        if self.status == 429:
            return True
        if self.status in (500, 502, 503):
            text = self.error.lower()
            return text.startswith(RATE_LIMIT_MESSAGE) or bool(_PROVIDER_RATE_LIMIT.search(text))
        return False

    @property
    def permanent(self) -> bool:
        """Asking again cannot help: bad input, refused credentials, no money, a missing setting.

        Such an error is reported at once, in the server's words, never retried for minutes.
        """
        if self.rate_limited:
            return False
        if _NOT_CONFIGURED.search(self.error) or _OFFER_GONE.search(self.error):
            return True
        return 400 <= self.status < 500 and self.status not in _TRANSIENT_CLIENT_ERRORS

    @property
    def server_error(self) -> bool:
        """A 5xx that may pass: worth another try when the call is idempotent."""
        return self.status >= 500 and not self.rate_limited and not self.permanent

    @property
    def not_found(self) -> bool:
        return self.status == 404


class ConnectionProblem(Exception):
    """No answer: connection refused, dropped, or timed out."""

    def __init__(self, method: str, path: str, reason: str):
        self.method = method
        self.path = path
        self.reason = reason
        super().__init__(f"{method} {path}: no answer ({reason})")


class LoginFailed(Exception):
    """The credentials were refused; the message names the user, never the password."""


class SpendRefused(AssertionError):
    """A guard refused to spend money; the message carries the numbers."""


class MissingStep(AssertionError):
    """A step needs something an earlier step makes (an instance, a model, a snapshot...)."""


class PhaseTimeout(AssertionError):
    """A phase did not finish in time. Names the phase, the limit and the last state seen."""

    def __init__(self, phase: str, limit: float, last_state: str, elapsed: float, scale: float = 1.0):
        self.phase = phase
        self.limit = limit            # real-world seconds, as configured
        self.last_state = last_state
        self.elapsed = elapsed        # real-world seconds
        compressed = f" ({limit / scale:.1f} s of wall time at ×{scale:g})" if scale != 1 else ""
        super().__init__(f"phase '{phase}' did not finish within {limit:.0f} s{compressed} "
                         f"(waited {elapsed:.0f} s); last observed: {last_state}")


class PhaseFailed(AssertionError):
    """A phase reached a state it cannot come back from (e.g. ``exited``), or was refused."""

    def __init__(self, phase: str, reason: str, elapsed: float):
        self.phase = phase
        self.reason = reason
        self.elapsed = elapsed
        super().__init__(f"phase '{phase}' failed after {elapsed:.1f} s: {reason}")


class CleanupFailed(AssertionError):
    """A paid resource could not be confirmed deleted: it may still be billing."""


class ServerSaidNo(AssertionError):
    """An API error or a missing answer, as a step's failure: one line in the server's full words.

    behave prints a traceback for any exception but an AssertionError; a refusal from the server is
    not a bug of the suite, and its traceback buried the server's words (``DUMONT_DEBUG=1`` keeps it).
    """

    def __init__(self, error: ApiError | ConnectionProblem | LoginFailed):
        self.error = error
        if isinstance(error, ApiError):
            text = f"the server answered {error.method} {error.path} with {error.status}: {error.error}"
        else:
            text = str(error)
        super().__init__(text)

