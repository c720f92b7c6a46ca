"""A paid resource, and per kind how to list the live ones, delete one and prove it gone.

Cleanup, the ledger, the metrics, the sweep and the leak check all speak of
:class:`Resource`; what differs between an instance, a CPU standby and a
snapshot lives in that kind's entry of :data:`KINDS`, and only there.
Adding a kind is one new entry.

Proof of deletion is evidence a provider error cannot fake (docs/dumont-api.md,
"Verified"): the real server answers ``GET /instances/{id}`` with 404 for any
provider error, so an instance is gone only when GET says 404 *and* a listing
that answered 200 no longer holds it (and, with a provider key, neither does
the provider's own listing).

A listing that fails says nothing about what exists, with one exception a kind
may name (:meth:`Kind.none_can_exist`): the server saying it does not have that
kind at all. Snapshots live in a restic repository; a server that answers
"Restic repository not configured" has none to hold them, so "no snapshots" is
a complete answer there, not a blind spot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Protocol

from support.errors import ApiError, ConnectionProblem

INSTANCE, STANDBY, SNAPSHOT = "instance", "standby", "snapshot"

#: The server's refusal of every snapshot route when neither the user nor the server has a restic
#: repository ("Restic repository not configured. Please update settings.", docs/dumont-api.md, "Verified").
#: Matched on its words in any case, and with "backup" for "restic" (the contract's other name for it).
_NO_SNAPSHOT_REPOSITORY = re.compile(r"\b(?:restic|backup) repository (?:is )?not configured", re.IGNORECASE)
NO_SNAPSHOT_REPOSITORY = "the server has no snapshot repository configured"


def no_snapshot_repository(error: BaseException) -> bool:
    """Whether ``error`` is the server saying it has no snapshot repository, so that no snapshot can exist.

    Only that 400: a 5xx, a timeout, demo mode's 404 or any other 4xx says nothing about what exists.
    """
    return (isinstance(error, ApiError) and error.status == 400
            and bool(_NO_SNAPSHOT_REPOSITORY.search(error.error or "")))


@dataclass(frozen=True)
class Resource:
    """One paid resource the suite asked for. ``id`` is None until the create answered."""

    kind: str
    id: str | None
    label: str
    target: str = ""          # the ledger's name for the server it lives on (support.target.Target.key)

    def identified(self, resource_id) -> "Resource":
        return replace(self, id=str(resource_id))

    def __str__(self) -> str:
        return f"{self.kind} {self.id}" if self.id else f"{self.kind} labelled {self.label}"


@dataclass(frozen=True)
class Live:
    """A resource the server listed as alive, with the labels (or tags) it carries."""

    kind: str
    id: str
    labels: tuple[str, ...] = ()

    def labelled(self, prefix: str) -> str | None:
        """The first of its labels that starts with ``prefix``, or None."""
        return next((label for label in self.labels if label.startswith(prefix)), None)


class Kind(Protocol):
    name: str
    #: Sweeps delete the most expensive kinds first.
    sweep_order: int

    def list_live(self, client) -> list[Live]:
        """Everything of this kind alive on the account; raises when the server cannot say."""

    def delete(self, client, resource_id: str) -> None:
        """Ask for the deletion (the answer proves nothing: see is_gone)."""

    def is_gone(self, client, resource_id: str) -> bool:
        """True only on evidence a provider error cannot fake; raises when the server cannot say."""

    def none_can_exist(self, error: BaseException) -> str | None:
        """Why none of this kind can exist, when the listing failed with ``error`` because the server
        says it does not have this kind at all; None when the failure says nothing about what exists."""


class InstanceKind:
    name = INSTANCE
    sweep_order = 0

    def __init__(self, provider=None):
        self.provider = provider        # support.provider.ProviderListing, with VAST_API_KEY

    def list_live(self, client) -> list[Live]:
        return [Live(INSTANCE, str(i["id"]), (str(i.get("label") or ""),)) for i in client.list_instances()]

    def delete(self, client, resource_id: str) -> None:
        client.delete_instance(int(resource_id))

    def is_gone(self, client, resource_id: str) -> bool:
        # Not a GET of the instance: it answers 404 for a provider error too. The listing answers 503 on
        # provider errors, so a listing that answered without it is the proof (one call, gone or not).
        if any(live.id == resource_id for live in self.list_live(client)):
            return False
        return self.provider is None or not self.provider.holds(resource_id)

    def none_can_exist(self, error: BaseException) -> str | None:
        return None             # every failure of the instance listing is a blind spot


class StandbyKind:
    """A CPU standby, known by the id of the GPU instance it is paired with."""

    name = STANDBY
    sweep_order = 1

    def list_live(self, client) -> list[Live]:
        return [Live(STANDBY, gpu_id) for gpu_id in client.associations()]

    def delete(self, client, resource_id: str) -> None:
        client.delete_association(int(resource_id))

    def is_gone(self, client, resource_id: str) -> bool:
        # A listing that answered without it is the proof (one call, gone or not).
        return resource_id not in client.associations()

    def none_can_exist(self, error: BaseException) -> str | None:
        return None


class SnapshotKind:
    name = SNAPSHOT
    sweep_order = 2

    def list_live(self, client) -> list[Live]:
        return [Live(SNAPSHOT, str(s["id"]), tuple(str(t) for t in s.get("tags") or ()))
                for s in client.list_snapshots()]

    def delete(self, client, resource_id: str) -> None:
        client.delete_snapshot(resource_id)

    def is_gone(self, client, resource_id: str) -> bool:
        # There is no GET of one snapshot: a listing that answered 200 without it is the proof, and so is
        # the server saying it has no repository to keep any snapshot in.
        live, _ = list_or_none(self, client)
        return not any(same_snapshot(item.id, resource_id) for item in live)

    def none_can_exist(self, error: BaseException) -> str | None:
        return NO_SNAPSHOT_REPOSITORY if no_snapshot_repository(error) else None


def same_snapshot(one: str, other: str) -> bool:
    """Whether two ids name one snapshot: the real server's create answers an 8-character id, its listing
    the full one (restic's short id is the full id's start)."""
    if one == other:
        return True
    shorter, longer = sorted((str(one), str(other)), key=len)
    return len(shorter) >= 8 and longer.startswith(shorter)


def kinds(provider=None) -> dict[str, Kind]:
    """Every kind of paid resource, by name."""
    return {kind.name: kind for kind in (InstanceKind(provider), StandbyKind(), SnapshotKind())}


KINDS: dict[str, Kind] = kinds()


def list_or_none(kind: Kind, client) -> tuple[list[Live], str | None]:
    """The live resources of ``kind``, and why there are none when the server says it has no such kind.

    Any other failure of the listing is raised: it says nothing about what exists.
    """
    try:
        return kind.list_live(client), None
    except ApiError as error:
        why = kind.none_can_exist(error)
        if why is None:
            raise
        return [], why


def ids_labelled(kind: Kind, client, label: str) -> list[str]:
    """The ids of the live resources of ``kind`` that carry ``label`` (while a create's answer is unknown)."""
    live, _ = list_or_none(kind, client)
    return [item.id for item in live if label in item.labels]


@dataclass
class Inventory:
    """What is alive on a server, kind by kind, and which kinds could not be listed (and why).

    A kind in ``absent`` was checked: the server said it has none of that kind at all (why, by kind);
    it is in ``live`` too, with nothing alive.
    """

    live: dict[str, list[Live]]
    unlisted: dict[str, str]
    absent: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.unlisted

    def all_live(self) -> list[Live]:
        return [item for items in self.live.values() for item in items]


def take_inventory(client, of_kinds: dict[str, Kind]) -> Inventory:
    """List each kind on its own: one failing listing must not blind the others."""
    live, unlisted, absent = {}, {}, {}
    for name, kind in of_kinds.items():
        try:
            live[name], why_none = list_or_none(kind, client)
        except (ApiError, ConnectionProblem) as error:
            unlisted[name] = str(error)
            continue
        if why_none is not None:
            absent[name] = why_none
    return Inventory(live, unlisted, absent)
