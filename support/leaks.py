"""The independent leak check at the end of every run.

Whatever each scenario's cleanup believes, the run asks the API (and, with
VAST_API_KEY, the provider) for anything still carrying this run's label.
Anything found is a leak: reported, marked LEAKED, and the run fails.
"""

from __future__ import annotations

import requests

from support.backoff import ApiError, ConnectionProblem

VAST_INSTANCES = "https://console.vast.ai/api/v0/instances/"


def find_leaks(run) -> tuple[list[dict], list[str]]:
    """Resources alive under this run's label (instances, snapshots unless kept, standbys),
    and the checks that could not be made."""
    label = run.config.run_label
    leaks = []
    try:
        instances = run.client.list_instances()
        snapshots = run.client.list_snapshots()
    except (ApiError, ConnectionProblem) as error:
        return [], [f"could not list resources to check for leaks: {error}"]
    ours = {str(i["id"]) for i in instances if str(i.get("label") or "").startswith(label)}
    leaks += [{"kind": "instance", "id": i, "label": label, "where": "dumont"} for i in sorted(ours)]
    if not run.config.keep_snapshots:
        leaks += [{"kind": "snapshot", "id": s["id"], "label": label, "where": "dumont"}
                  for s in snapshots if label in (s.get("tags") or [])]
    created = {str(m.id) for j in run.journeys for m in j.metrics.machines}
    for instance in instances:
        standby = instance.get("cpu_standby") or {}
        if str(instance["id"]) in created and standby.get("enabled"):
            leaks.append({"kind": "standby", "id": str(instance["id"]), "label": label, "where": "dumont"})
    warnings = []
    if run.config.vast_api_key:
        try:
            leaks += provider_leaks(run.config.vast_api_key, label, run.config.request_timeout)
        except (requests.RequestException, ValueError) as error:
            warnings.append(f"could not ask VAST.ai for leftovers ({type(error).__name__})")
    return leaks, warnings


def provider_leaks(api_key: str, label: str, timeout: float) -> list[dict]:
    """Instances at VAST.ai whose label starts with ``label``."""
    response = requests.get(VAST_INSTANCES, headers={"Authorization": f"Bearer {api_key}"},
                            timeout=min(timeout, 20.0))
    response.raise_for_status()
    instances = response.json().get("instances") or []
    return [{"kind": "instance", "id": str(i.get("id")), "label": i.get("label"), "where": "vast.ai"}
            for i in instances if str(i.get("label") or "").startswith(label)]
