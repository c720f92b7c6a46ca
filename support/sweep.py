"""``python -m support.sweep``: delete whatever this suite may have left alive.

Two sources, so that neither a lost create answer nor a lost ledger hides a
machine: the ledger (``reports/ledger.jsonl``: created or intended, never
confirmed deleted) and the API's own listing of everything labelled with the
suite's label prefix. Resources of a run that is still going on (its process
is alive on this host) are left alone. Most expensive first (instances, then
standbys, then snapshots); one failure does not stop the rest; ``--dry-run``
only lists.

Every run also calls :func:`sweep_target` at its start for the leftovers of
earlier runs on the same target whose process is gone (e.g. ``kill -9``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from support import config as configuration
from support.backoff import ApiError, BackoffPolicy, ConnectionProblem
from support.cleanup import delete_and_verify
from support.client import DumontClient, LoginFailed
from support.ledger import SWEEP_ORDER, Ledger, maybe_alive, read_entries
from support.target import read_health, target_key, url_of
from support.waits import Polling


@dataclass
class Found:
    kind: str
    id: str
    label: str
    why: str


def find_leftovers(client: DumontClient, entries, prefix: str | None, protected_runs=()) -> list[Found]:
    """Everything alive on the server that ``entries`` or the label ``prefix`` point at.

    Labels containing a run id from ``protected_runs`` (runs still going on) are skipped.
    """
    instances = client.list_instances()
    snapshots = client.list_snapshots()
    alive_ids = {str(i["id"]) for i in instances}
    found: dict[tuple, Found] = {}
    for entry in entries:
        if entry.kind == "instance":
            matches = ([i for i in instances if str(i["id"]) == entry.id] if entry.id
                       else [i for i in instances if i.get("label") == entry.label])
            for instance in matches:
                found[("instance", str(instance["id"]))] = Found("instance", str(instance["id"]), entry.label,
                                                               "in the ledger")
        elif entry.kind == "snapshot":
            for snapshot in snapshots:
                if snapshot.get("id") == entry.id or entry.label in (snapshot.get("tags") or []):
                    found[("snapshot", snapshot["id"])] = Found("snapshot", snapshot["id"], entry.label,
                                                               "in the ledger")
        elif entry.kind == "standby" and entry.id and entry.id in alive_ids:
            found[("standby", entry.id)] = Found("standby", entry.id, entry.label, "in the ledger")
    if prefix:
        def unprotected(label: str) -> bool:
            return not any(run_id and run_id in label for run_id in protected_runs)

        for instance in instances:
            label = str(instance.get("label") or "")
            if label.startswith(prefix) and unprotected(label):
                found.setdefault(("instance", str(instance["id"])),
                                 Found("instance", str(instance["id"]), label, "label prefix"))
        for snapshot in snapshots:
            tags = [t for t in snapshot.get("tags") or [] if str(t).startswith(prefix) and unprotected(str(t))]
            if tags:
                found.setdefault(("snapshot", snapshot["id"]),
                                 Found("snapshot", snapshot["id"], tags[-1], "label prefix"))
    return sorted(found.values(), key=lambda f: SWEEP_ORDER[f.kind])


def delete_found(client: DumontClient, item: Found, timeout: float, polling: Polling) -> None:
    if item.kind == "instance":
        delete_and_verify("instance", item.id, lambda: client.delete_instance(int(item.id)),
                          lambda: client.get_instance(int(item.id)) is None, timeout=timeout, polling=polling)
    elif item.kind == "standby":
        delete_and_verify("standby", item.id,
                          lambda: client.delete(f"/api/v1/standby/associations/{item.id}",
                                                params={"keep_gpu": "true"}),
                          lambda: _standby_gone(client, item.id), timeout=timeout, polling=polling)
    else:
        delete_and_verify("snapshot", item.id, lambda: client.delete_snapshot(item.id),
                          lambda: all(s.get("id") != item.id for s in client.list_snapshots()),
                          timeout=timeout, polling=polling)


def _standby_gone(client: DumontClient, gpu_id: str) -> bool:
    try:
        client.get(f"/api/v1/standby/associations/{gpu_id}")
    except ApiError as error:
        if error.status == 404:
            return True
        raise
    return False


def sweep_target(client: DumontClient, ledger: Ledger, entries, *, prefix: str | None, protected_runs=(),
                 delete_timeout: float, polling: Polling, dry_run: bool = False, out=print) -> int:
    """Delete what ``entries`` (and ``prefix``) point at on one target; the number of failures."""
    target = ledger.target
    leftovers = find_leftovers(client, entries, prefix, protected_runs)
    failed = set()
    for item in leftovers:
        if dry_run:
            out(f"{target}: would delete {item.kind} {item.id} ({item.label}, {item.why})")
            continue
        try:
            delete_found(client, item, timeout=delete_timeout, polling=polling)
        except Exception as error:  # report every failure, go on with the rest
            out(f"{target}: FAILED to delete {item.kind} {item.id}: {error}")
            failed.add(item.label)
            continue
        ledger.deleted(item.kind, item.label, item.id, "sweep")
        out(f"{target}: deleted {item.kind} {item.id} ({item.label}, {item.why})")
    if not dry_run:
        # What the ledger still lists but the server does not have: intents that never became a
        # resource, and resources already gone.
        for entry in entries:
            if entry.label not in failed and not any(f.label == entry.label for f in leftovers):
                ledger.deleted(entry.kind, entry.label, entry.id, "sweep: not found on the server")
    return len(failed)


def sweep(config, dry_run: bool, out=print) -> int:
    """Sweep every target the ledger names (and the configured one); 0 when nothing is left alive."""
    ledger_path = config.ledger_path
    entries = read_entries(ledger_path)
    targets = {e.get("target") for e in entries if e.get("target")}
    if config.api_url:
        try:
            targets.add(target_key(config.api_url, read_health(config.api_url, config.request_timeout)))
        except configuration.ConfigError as error:
            out(f"{config.api_url}: {error}")
    problems = 0
    for target in sorted(targets):
        pending = maybe_alive(entries, target)
        running = {e.run_id for e in pending if not e.owner_gone() and e.pid}
        mine = [e for e in pending if e.run_id not in running]
        for run_id in sorted(running):
            out(f"{target}: run {run_id} is still going on; its resources are left to it")
        url = url_of(target)
        try:
            health = read_health(url, config.request_timeout)
        except configuration.ConfigError:
            health = None
        if health is None or target_key(url, health) != target:
            if mine and "#sandbox-" in target:
                # That sandbox is gone (stopped, or another one answers at its address): its machines
                # ended with it.
                gone = Ledger(ledger_path, "sweep", target)
                for entry in mine:
                    gone.deleted(entry.kind, entry.label, entry.id, "sweep: its sandbox is gone")
                out(f"{target}: that sandbox is gone; {len(mine)} ledger entries closed")
            elif mine:
                out(f"{target}: unreachable; {len(mine)} resource(s) may still be alive there")
                problems += len(mine)
            continue
        scale = float((health.get("sandbox") or {}).get("time_scale", 1.0))
        client = DumontClient(url, config.user, config.password, timeout=config.request_timeout,
                              backoff=BackoffPolicy(time_scale=scale))
        try:
            problems += sweep_target(client, Ledger(ledger_path, "sweep", target), mine,
                                     prefix=config.label_prefix, protected_runs=running,
                                     delete_timeout=config.timeouts.delete / scale,
                                     polling=Polling(time_scale=scale), dry_run=dry_run, out=out)
        except (LoginFailed, ApiError, ConnectionProblem) as error:
            out(f"{target}: cannot list resources ({error})")
            problems += 1
    if not problems:
        out("nothing left alive" if not dry_run else "dry run: nothing deleted")
    return 1 if problems else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m support.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    args = parser.parse_args(argv)
    try:
        config = configuration.load()
    except configuration.ConfigError as error:
        for problem in error.problems:
            print(f"configuration error: {problem}", file=sys.stderr)
        return configuration.EXIT_BAD_CONFIG
    return sweep(config, args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
