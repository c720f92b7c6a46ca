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
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from support.errors import ApiError, ConnectionProblem

INSTANCE, STANDBY, SNAPSHOT = "instance", "standby", "snapshot"


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


class SnapshotKind:
    name = SNAPSHOT
    sweep_order = 2

    def list_live(self, client) -> list[Live]:
        return [Live(SNAPSHOT, str(s["id"]), tuple(str(t) for t in s.get("tags") or ()))
                for s in client.list_snapshots()]

    def delete(self, client, resource_id: str) -> None:
        client.delete_snapshot(resource_id)

    def is_gone(self, client, resource_id: str) -> bool:
        # There is no GET of one snapshot: a listing that answered 200 without it is the proof.
        return all(live.id != resource_id for live in self.list_live(client))


def kinds(provider=None) -> dict[str, Kind]:
    """Every kind of paid resource, by name."""
    return {kind.name: kind for kind in (InstanceKind(provider), StandbyKind(), SnapshotKind())}


KINDS: dict[str, Kind] = kinds()


def ids_labelled(kind: Kind, client, label: str) -> list[str]:
    """The ids of the live resources of ``kind`` that carry ``label`` (while a create's answer is unknown)."""
    return [live.id for live in kind.list_live(client) if label in live.labels]


@dataclass
class Inventory:
    """What is alive on a server, kind by kind, and which kinds could not be listed (and why)."""

    live: dict[str, list[Live]]
    unlisted: dict[str, str]

    @property
    def complete(self) -> bool:
        return not self.unlisted

    def all_live(self) -> list[Live]:
        return [item for items in self.live.values() for item in items]


def take_inventory(client, of_kinds: dict[str, Kind]) -> Inventory:
    """List each kind on its own: one failing listing must not blind the others."""
    live, unlisted = {}, {}
    for name, kind in of_kinds.items():
        try:
            live[name] = kind.list_live(client)
        except (ApiError, ConnectionProblem) as error:
            unlisted[name] = str(error)
    return Inventory(live, unlisted)
