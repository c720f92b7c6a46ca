"""Which journeys this server can run, told before anything is rented.

The real server needs more than an account to run a journey (docs/dumont-api.md, "Verified"): its own
provider key (offers), the user's provider key (balance, instances), a restic repository (snapshots),
GCP credentials (CPU standby) and instance-scoped failover routes that do something. Most of these
answer a free request with a permanent error that names what is missing; the quick checks ask each
once and say, in one line per journey, whether it can run here and if not, why in the server's words.
What cannot be seen from a client (the server's own SSH key on the provider account) is said as such.
"""

from __future__ import annotations

from dataclasses import dataclass

from support.errors import ApiError, ConnectionProblem

#: The journeys, what each needs, and a line the report shows for it.
NEEDS = {
    "instance": ("server provider key", "account provider key", "snapshot repository"),
    "snapshot": ("server provider key", "account provider key", "snapshot repository"),
    "failover": ("server provider key", "account provider key", "failover routes"),
}
#: Needed by a journey, but not visible to a client: said, never assumed (the report words them).
UNSEEN = {"instance": "server SSH key", "snapshot": "server SSH key", "failover": "GCP credentials"}


@dataclass(frozen=True)
class Prerequisite:
    name: str
    present: bool
    said: str = ""          # the server's words when it is missing


def look(client, is_sandbox: bool) -> dict[str, Prerequisite]:
    """Ask the server, one free request each, what it has."""
    found = {}
    for name, ask in (("server provider key", lambda: client.offers(num_gpus=1, limit=1)),
                      ("account provider key", client.balance),
                      ("snapshot repository", client.list_snapshots)):
        found[name] = _answered(name, ask)
    found["failover routes"] = (Prerequisite("failover routes", True) if is_sandbox else Prerequisite(
        "failover routes", False, "POST /instances/{id}/failover and /failback are stubs on the real server"))
    return found


def _answered(name: str, ask) -> Prerequisite:
    try:
        ask()
    except ApiError as error:
        if error.permanent:
            return Prerequisite(name, False, f"{error.status}: {error.error}")
        raise
    except ConnectionProblem:
        raise
    return Prerequisite(name, True)


def journeys(found: dict[str, Prerequisite], is_sandbox: bool) -> dict[str, dict]:
    """Per journey: whether it can run on this server, what is missing (with the server's words) and, on a
    real server, what it needs that cannot be seen from here."""
    return {journey: {"ready": all(found[need].present for need in needs),
                      "missing": [{"name": found[need].name, "said": found[need].said}
                                  for need in needs if not found[need].present],
                      "unseen": None if is_sandbox else UNSEEN[journey]}
            for journey, needs in NEEDS.items()}
