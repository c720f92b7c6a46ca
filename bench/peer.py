"""``python -m bench.peer``: the suite beside a simple polling client, on the same sandbox.

The peer is what one would write first: the server's offer search as it comes (its hidden defaults
included), fixed sleeps, a look every 15 s at whatever it waits for, a create sent again when its answer is
lost, and a delete sent once, believed. It runs the instance journey (offer, create, running, SSH, model,
snapshot, pause, resume, SSH, delete) against a fresh sandbox at its real-server defaults, as the suite does
(``behave features/instance.feature``, from an empty reports directory: a first run, the prior only), each
three times as it is (medians; ``--repetitions``), once with the create's answer lost (the sandbox's
``lost_response`` fault: the machine is made, the answer never comes).
What is compared, from the sandbox's ground truth:

* wall time of the journey, in nominal (real-speed) seconds, and how much of it was spent waiting past the
  events it waited for (the machine running or stopped, seen through the API; SSH answering, seen by a
  connection): the cost of its polling, whatever the machine's own times;
* API calls (the requests the sandbox received from it);
* what its machines cost (the sandbox's bill);
* time to running as each reported it, against the truth;
* machines left alive after the journey whose create answer was lost.

The figures go to stdout as a table (``--markdown FILE`` also writes it as Markdown).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

import sandbox
from bench.__main__ import environment
from support.models import install_command
from support.ssh import SshKey, SshSession

ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1"
POLL = 15.0              # the peer's look interval, real seconds
GPUS = ("RTX 3060", "RTX A4000")
MODEL = "qwen3-0.6b"


class Peer:
    """A simple polling client: no history, no brackets, no reconciliation."""

    def __init__(self, url: str, scale: float, mirror: str | None, label: str, search: dict | None = None):
        self.url, self.scale, self.mirror, self.label = url.rstrip("/"), scale, mirror, label
        self.search = {"max_price": 1.0, "limit": 100, **(search or {})}
        self.http = requests.Session()
        self.key = SshKey.generate(comment="peer")
        self.running_seen: float | None = None

    def sleep(self, real_seconds: float) -> None:
        time.sleep(real_seconds / self.scale)

    def call(self, method: str, path: str, **kw):
        return self.http.request(method, self.url + path, timeout=60, **kw)

    def until(self, path: str, status: str) -> dict:
        while True:
            answer = self.call("GET", path)
            if answer.ok and answer.json().get("actual_status") == status:
                return answer.json()
            self.sleep(POLL)

    def ssh(self, view: dict) -> SshSession:
        while True:
            try:
                return SshSession(view.get("ssh_host") or "127.0.0.1", int(view["ssh_port"]), "root", self.key)
            except Exception:  # noqa: BLE001 - the peer tries again, whatever went wrong
                self.sleep(POLL)

    def journey(self) -> dict:
        token = self.call("POST", f"{API}/auth/login", json={"email": "test@test.com", "password": "test123"})
        self.http.headers["Authorization"] = f"Bearer {token.json()['token']}"
        offers = self.call("GET", f"{API}/instances/offers", params=self.search).json()
        offer = min((o for o in offers["offers"] if o["gpu_name"] in GPUS), key=lambda o: o["dph_total"])
        body = {"offer_id": offer["id"], "label": self.label, "disk_size": 20, "skip_standby": True,
                "ssh_key": self.key.public_line}
        while True:                      # a lost answer: sent again
            try:
                created = self.call("POST", f"{API}/instances", json=body)
                if created.status_code == 201:
                    break
            except requests.RequestException:
                pass
            self.sleep(POLL)
        instance = created.json()["id"]
        path = f"{API}/instances/{instance}"
        asked = time.time()
        view = self.until(path, "running")
        self.running_seen = time.time() - asked
        session = self.ssh(self.call("GET", path).json() if not view.get("ssh_port") else view)
        session.run(install_command(MODEL, self.mirror, None), timeout=600)
        session.close()
        self.call("POST", f"{API}/snapshots", json={"instance_id": instance, "tags": [self.label]})
        self.call("POST", f"{path}/pause")
        self.until(path, "stopped")
        self.call("POST", f"{path}/resume")
        view = self.until(path, "running")
        self.ssh(view).close()
        self.call("DELETE", path)
        return {"instance": instance, "offer": offer}


def truth_of(sb, label_prefix: str) -> dict:
    mine = [r for r in sb.admin.resources(label_prefix=label_prefix) if r.get("kind") == "instance"]
    ids = {str(r["id"]) for r in mine}
    bill = sum(float(r.get("cost") or 0) for r in sb.admin.billing()["resources"] if str(r["id"]) in ids)
    requests_log = [r for r in sb.admin.requests_log() if r["path"].startswith("/api/")]
    created = [e for e in sb.admin.events() if e["event"] == "created" and str(e["id"]) in ids]
    running = [e for e in sb.admin.events() if e["event"] == "status" and e.get("to") == "running"
               and str(e["id"]) in ids]
    first_running = (min(e["t"] for e in running) - min(e["t"] for e in created)) if created and running else None
    offers = sorted({str((e.get("detail") or {}).get("offer_id")) for e in created})
    return {"calls": len(requests_log), "cost": bill, "alive": sum(1 for r in mine if r.get("alive")),
            "machines": len(mine), "running_truth": first_running, "latency": latency(sb.admin.events(),
                                                                                         requests_log, ids),
            "offers": offers}


def latency(events: list[dict], log: list[dict], ids: set[str]) -> float:
    """Wall seconds from each event a journey waits for to the client's first look after it: the machine
    running (after the create and the resume) or stopped, seen through GET of the instance; SSH answering,
    seen by the client's first connection that reached it (the sandbox stamps it)."""
    total = 0.0
    for event in events:
        if str(event["id"]) not in ids:
            continue
        if event["event"] == "status" and event.get("to") in ("running", "stopped"):
            look = next((r["t"] for r in log if r["t"] >= event["t"] and r["method"] == "GET"
                         and r["path"].endswith(f"/instances/{event['id']}")), None)
            later = next((e["t"] for e in events if e["t"] > event["t"] and str(e["id"]) == str(event["id"])
                          and e["event"] in ("ssh_first_connection", "pause_requested", "deleted")), None)
            if look is not None and (later is None or look <= later):
                total += look - event["t"]
        elif event["event"] == "ssh_ready":
            first = next((e["t"] for e in events if e["event"] == "ssh_first_connection" and e["t"] >= event["t"]
                          and str(e["id"]) == str(event["id"])), None)
            if first is not None:
                total += first - event["t"]
    return total


def run_peer(scale: float, seed: int, lose_create: bool, search: dict | None = None) -> dict:
    label = "peer-lost" if lose_create else "peer"
    with sandbox.start(time_scale=scale, seed=seed) as sb:
        if lose_create:
            sb.admin.add_fault(kind="lost_response", method="POST", path="/api/v1/instances")
        mirror = ((requests.get(sb.url + "/health", timeout=10).json().get("sandbox") or {}).get("model_mirror"))
        peer = Peer(sb.url, scale, mirror, label, search)
        started = time.time()
        peer.journey()
        wall = time.time() - started
        found = truth_of(sb, label)
        peer.key.remove()
    return {**found, "wall": wall * scale, "latency": found["latency"] * scale,
            "running_reported": peer.running_seen * scale if peer.running_seen else None,
            "running_truth": found["running_truth"] * scale if found["running_truth"] else None}


def run_suite(scale: float, seed: int, lose_create: bool) -> dict:
    reports = Path(tempfile.mkdtemp(prefix="dumont-peer-"))
    try:
        with sandbox.start(time_scale=scale, seed=seed) as sb:
            if lose_create:
                sb.admin.add_fault(kind="lost_response", method="POST", path="/api/v1/instances")
            env = environment(sb.url, reports, "peer-suite-lost" if lose_create else "peer-suite")
            code = __import__("subprocess").run([sys.executable, "-m", "behave", "--no-capture",
                                                 "features/instance.feature"], cwd=ROOT, env=env,
                                                capture_output=True).returncode
            found = truth_of(sb, "dumont-acc-peer-suite")
        metrics = json.loads((reports / "metrics.json").read_text())
        journey = metrics["journeys"][0]
        running = next((p for p in journey["phases"] if p["name"] == "running"), None)
        return {**found, "passed": code == 0, "wall": journey["duration_seconds"] * scale,
                "latency": found["latency"] * scale,
                "running_reported": running["seconds"] * scale if running else None,
                "running_uncertainty": running["uncertainty_seconds"] * scale if running else None,
                "running_truth": found["running_truth"] * scale if found["running_truth"] else None}
    finally:
        shutil.rmtree(reports, ignore_errors=True)


def medians(runs: list[dict]) -> dict:
    """Each number the median over the runs (the first run's other values: the offer, the machines)."""
    merged = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            present = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
            merged[key] = statistics.median(present)
    return merged


def table(rows: dict[str, dict], markdown: bool) -> str:
    head = ["client", "offer", "journey wall s (nominal)", "waiting past the events s (nominal)", "API calls",
            "cost $", "time to running reported / true s", "machines left after a lost create answer"]
    lines = [head]
    for name, (plain, lost) in rows.items():
        reported = plain.get("running_reported")
        shown = "n/a" if reported is None else f"{reported:.1f}"
        if plain.get("running_uncertainty"):
            shown += f" ± {plain['running_uncertainty']:.1f}"
        truth = plain.get("running_truth")
        lines.append([name, ", ".join(plain["offers"]), f"{plain['wall']:.0f}", f"{plain['latency']:.1f}",
                      f"{plain['calls']:.0f}", f"{plain['cost']:.4f}",
                      f"{shown} / {'n/a' if truth is None else f'{truth:.1f}'}",
                      f"{lost['alive']} of {lost['machines']}"])
    if markdown:
        return "\n".join(["| " + " | ".join(lines[0]) + " |", "|" + "---|" * len(head)]
                         + ["| " + " | ".join(r) + " |" for r in lines[1:]])
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--markdown", type=Path, metavar="FILE")
    parser.add_argument("--repetitions", type=int, default=3, help="runs of each client's plain journey (medians)")
    args = parser.parse_args(argv)
    rows = {}
    # The same client told the journey's needs (the disk it asks for, no download floor), so that it rents the
    # machine the suite rents: its wall time is then the polling's, not another host's boot.
    stated = {"min_disk": 20, "min_inet_down": 0}
    for name, run in (("simple polling client (15 s polls)", run_peer),
                      ("the same, told the journey's needs", lambda *a: run_peer(*a, search=stated)),
                      ("this suite (first run: the prior only)", run_suite)):
        plain = [run(args.time_scale, args.seed, False) for _ in range(args.repetitions)]
        rows[name] = (medians(plain), run(args.time_scale, args.seed, True))
        print(f"peer: {name} done", file=sys.stderr)
    print(table(rows, markdown=False))
    if args.markdown:
        args.markdown.write_text(table(rows, markdown=True) + "\n")
    print(json.dumps({k: v for k, v in rows.items()}, indent=1, default=str), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
