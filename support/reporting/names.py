"""How the reports name a journey.

A journey is named by its kind ("Failover CPU Standby", from its feature's tag: support.journey).
Where two journeys of a run share a kind, a kind alone does not say which is which: each of them is
then named by its kind and its scenario, "Failover CPU Standby — The GPU fails and the operator
triggers the failover", in the text report, the charts and Allure alike.
"""

from __future__ import annotations

from collections import Counter

SEPARATOR = " — "


def full_name(kind: str, scenario: str) -> str:
    """The kind and the scenario; the kind alone when the scenario is named like it (an untagged one)."""
    return kind if not scenario or scenario == kind else f"{kind}{SEPARATOR}{scenario}"


def display_names(journeys: list[dict]) -> list[str]:
    """Each journey's name in the reports (journeys as metrics.json holds them, in order)."""
    kinds = Counter(j["journey"] for j in journeys)
    names = [j["journey"] if kinds[j["journey"]] == 1 else full_name(j["journey"], j["test_name"]) for j in journeys]
    # Two example rows of one outline whose name has no placeholder are still alike: number them.
    alike = Counter(names)
    seen: Counter = Counter()
    for index, name in enumerate(names):
        if alike[name] > 1:
            seen[name] += 1
            names[index] = f"{name} ({seen[name]})"
    return names


def shown_name(journey: dict) -> str:
    """The name a report shows for a journey dict: its display name, else its kind, else its scenario."""
    return journey.get("display_name") or journey.get("journey") or journey.get("test_name") or "?"
