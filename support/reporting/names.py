"""How the reports name a journey, in the report's language.

A journey is named by its kind ("Failover CPU Standby", from its feature's tag: support.journey).
Where two journeys of a run share a kind, a kind alone does not say which is which: each of them is
then named by its kind and its scenario, "Failover CPU Standby — The GPU fails and the operator
triggers the failover", in the text report, the charts and Allure alike.

metrics.json keeps those names as the run made them (``display_name``). A report in another language
translates them here: the kinds, and every scenario of features/ and its twin in features/pt/, both
ways, so an English feature run under DUMONT_REPORT_LANG=pt is named in Portuguese and a Portuguese one
in an English report is named in English. A name this module does not know is shown as it is.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

SEPARATOR = " — "

#: Each kind of journey (support.journey.JOURNEYS) as (English, Portuguese).
KINDS = (
    ("Instance Lifecycle", "Ciclo de vida da instância"),
    ("Failover CPU Standby", "Failover para standby de CPU"),
    ("Snapshot/Restore", "Snapshot/Restauração"),
    ("Quick checks", "Verificações rápidas"),
)

#: Each scenario of features/*.feature and of its twin in features/pt/, as (English, Portuguese). An
#: outline's <placeholders> stand for its example row's values, which behave puts in the name.
SCENARIOS = (
    ("The GPU fails; the standby takes over by itself and the work comes back to a GPU",
     "A GPU cai; o standby assume sozinho e o trabalho volta para uma GPU"),
    ("The GPU fails and the operator triggers the failover",
     "A GPU cai e o operador aciona o failover"),
    ("Rent the cheapest GPU, install a model, snapshot, pause, resume and delete it",
     "Alugar a GPU mais barata, instalar um modelo, fazer snapshot, pausar, retomar e apagar"),
    ("The service answers and has machines for rent",
     "O serviço responde e tem máquinas para alugar"),
    ("A <model> model survives the loss of its <gpu> through a snapshot",
     "Um modelo <model> sobrevive à perda da sua <gpu> graças a um snapshot"),
)

#: Machines named by the suite rather than by the provider (a GPU's name is the same in every language).
MACHINES = (("CPU standby", "standby de CPU"),)

LANGUAGES = ("en", "pt")
PLACEHOLDER = re.compile(r"<([^<>]+)>")
NUMBERED = re.compile(r"(?P<name>.+)(?P<number> \(\d+\))")


def full_name(kind: str, scenario: str) -> str:
    """The kind and the scenario; the kind alone when the scenario is named like it (an untagged one)."""
    return kind if not scenario or scenario == kind else f"{kind}{SEPARATOR}{scenario}"


def display_names(journeys: list[dict]) -> list[str]:
    """Each journey's name in the reports (journeys as metrics.json holds them, in order)."""
    kinds = Counter(j["journey"] for j in journeys)
    return numbered([j["journey"] if kinds[j["journey"]] == 1 else full_name(j["journey"], j["test_name"])
                     for j in journeys])


def numbered(names: list[str]) -> list[str]:
    """The names, those still alike numbered "(1)", "(2)", … (two example rows of one outline whose name
    has no placeholder; an English scenario and its Portuguese twin, once both are translated)."""
    names = list(names)
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


def shown_names(journeys: list[dict], language: str) -> list[str]:
    """Each journey's name as a report in ``language`` shows it."""
    return numbered([localized(shown_name(j), language) for j in journeys])


def localized(name: str, language: str) -> str:
    """A journey's name ("kind", "scenario", "kind — scenario", maybe numbered "… (2)") in ``language``;
    the parts this module does not know stay as they are."""
    whole = _phrase(name, language)
    if whole is not None:
        return whole
    number = NUMBERED.fullmatch(name)
    if number:
        return localized(number["name"], language) + number["number"]
    kind, separator, scenario = name.partition(SEPARATOR)
    if separator:
        return f"{_phrase(kind, language) or kind}{SEPARATOR}{_phrase(scenario, language) or scenario}"
    return name


def machine_name(name: str, language: str) -> str:
    """A machine's name in ``language`` ("CPU standby" is "standby de CPU"; a GPU's name stays as it is)."""
    for pair in MACHINES:
        if name in pair:
            return pair[LANGUAGES.index(language)] if language in LANGUAGES else name
    return name


def _phrase(text: str, language: str) -> str | None:
    """One kind or one scenario (in either language) in ``language``, or None when it is not known."""
    if language not in LANGUAGES:
        return None
    target = LANGUAGES.index(language)
    for pair in KINDS:
        if text in pair:
            return pair[target]
    for pair in SCENARIOS:
        for source in pair:
            values = _template(source).fullmatch(text)
            if values:
                return PLACEHOLDER.sub(lambda m, v=values: v[_group(m[1])], pair[target])
    return None


@lru_cache(maxsize=None)
def _template(scenario: str) -> re.Pattern:
    """A scenario's name as a pattern: its <placeholders> match the example row's values."""
    parts = PLACEHOLDER.split(scenario)     # literal, placeholder, literal, …
    pattern = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{_group(part)}>.+?)"
                      for index, part in enumerate(parts))
    return re.compile(pattern)


def _group(placeholder: str) -> str:
    """A placeholder's name as a regular expression group's name (letters, digits and _ only)."""
    return "p_" + re.sub(r"\W", "_", placeholder)
