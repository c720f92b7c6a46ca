"""A journey's Allure labels: epic (= journey), severity, GPU; and the plugin that lets us set them.

allure-behave 2.16 implements no ``add_label`` hook, so ``allure.dynamic.epic()`` and friends do
nothing there (allure-python #776): :class:`RuntimeLabels` implements it on the open scenario.
"""

from __future__ import annotations

import allure_commons
from allure_commons.model2 import Label

#: Labels that hold one value: a new value replaces the old one.
SINGLE_VALUED = {"epic", "feature", "severity", "story", "gpu"}
SEVERITIES = ("blocker", "critical", "normal", "minor", "trivial")


class RuntimeLabels:
    """Implements allure's ``add_label`` hook on the scenario that is open now."""

    @allure_commons.hookimpl
    def add_label(self, label_type, labels):
        test = current_test()
        if test is None:
            return
        name = getattr(label_type, "value", label_type)
        for value in labels:
            if name in SINGLE_VALUED:
                test.labels = [label for label in test.labels if label.name != name]
            if not any(label.name == name and label.value == str(value) for label in test.labels):
                test.labels.append(Label(name=name, value=str(value)))


_RUNTIME_LABELS = RuntimeLabels()


def enable_runtime_labels() -> None:
    """Register :class:`RuntimeLabels` once, unless something else already implements the hook."""
    manager = allure_commons.plugin_manager
    if manager.is_registered(_RUNTIME_LABELS):
        return
    if manager.hook.add_label.get_hookimpls():
        return          # a newer allure-behave does it itself
    manager.register(_RUNTIME_LABELS, name="dumont-runtime-labels")


def current_test():
    """The Allure test result of the scenario that is open now, or None."""
    from allure_behave.listener import AllureListener

    for plugin in allure_commons.plugin_manager.get_plugins():
        if isinstance(plugin, AllureListener) and plugin.current_scenario_uuid is not None:
            return plugin.logger.get_test(plugin.current_scenario_uuid)
    return None


def severity_for(tags: list[str]) -> str:
    """A severity tag wins; otherwise journeys that rent machines are critical, free checks normal."""
    for tag in tags:
        if tag in SEVERITIES:
            return tag
    return "critical" if "paid" in tags else "normal"


def journey_labels(metrics, tags: list[str]) -> list[tuple[str, str]]:
    """(name, value) labels for a journey: epic = journey, severity, GPU (as a tag and a label)."""
    labels = [("epic", metrics.journey), ("severity", severity_for(tags))]
    if metrics.gpu_name:
        labels += [("tag", f"GPU: {metrics.gpu_name}"), ("gpu", metrics.gpu_name)]
    return labels


def merge_labels(labels: list[dict], wanted: list[tuple[str, str]]) -> bool:
    """Add ``wanted`` to the labels of a result file (dicts), replacing single-valued ones; True if changed."""
    changed = False
    for name, value in wanted:
        if not any(label.get("name") == name and label.get("value") == value for label in labels):
            if name in SINGLE_VALUED:
                labels[:] = [label for label in labels if label.get("name") != name]
            labels.append({"name": name, "value": value})
            changed = True
    return changed
