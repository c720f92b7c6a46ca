"""The Portuguese features are true twins of the English ones, and every step is defined."""

import runpy
from pathlib import Path

import pytest
from behave.parser import parse_file
from behave.step_registry import registry

ROOT = Path(__file__).resolve().parent.parent
TWINS = {
    "quick.feature": "pt/rapido.feature",
    "instance.feature": "pt/instancia.feature",
    "snapshot.feature": "pt/snapshot.feature",
    "failover.feature": "pt/failover.feature",
}


@pytest.fixture(scope="module")
def step_functions():
    for path in sorted((ROOT / "steps").glob("*.py")):
        runpy.run_path(str(path))

    def function_for(step):
        """The step's function and the values it passes (e.g. a model name)."""
        match = registry.find_match(step)
        assert match is not None, f"undefined step: {step.keyword} {step.name} ({step.location})"
        return match.func, [argument.value for argument in match.arguments]

    return function_for


def steps_of(feature):
    for scenario in feature.walk_scenarios():
        yield scenario, list(scenario.all_steps)


def test_every_english_feature_has_a_portuguese_twin():
    english = {p.name for p in (ROOT / "features").glob("*.feature")}
    assert english == set(TWINS), "add the new feature's twin to TWINS and to features/pt/"


@pytest.mark.parametrize("english,portuguese", sorted(TWINS.items()))
def test_twins_have_the_same_scenarios_and_steps(english, portuguese, step_functions):
    en = parse_file(str(ROOT / "features" / english))
    pt = parse_file(str(ROOT / "features" / portuguese), language="pt")
    assert set(en.tags) == set(pt.tags)
    en_scenarios, pt_scenarios = list(steps_of(en)), list(steps_of(pt))
    assert len(en_scenarios) == len(pt_scenarios)
    for (en_scenario, en_steps), (pt_scenario, pt_steps) in zip(en_scenarios, pt_scenarios, strict=True):
        assert set(en_scenario.effective_tags) == set(pt_scenario.effective_tags)
        assert [step_functions(s) for s in en_steps] == [step_functions(s) for s in pt_steps], \
            f"{english} / {portuguese}: '{en_scenario.name}' and '{pt_scenario.name}' differ"
