"""The reports in one language throughout (support.reporting.names, support.reporting.numbers), and charts
that show whole names, tell repeated phases apart and say which colour is which machine (support.charts).

The journeys here are those of features/ and features/pt/ themselves, read with behave's parser, so a
scenario added without its translation fails these tests."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
from behave.model import ScenarioOutline
from behave.parser import parse_file

from support import charts
from support.journey import JOURNEYS, journey_name
from support.metrics import iso
from support.report import render
from support.reporting import numbers
from support.reporting.names import KINDS, SCENARIOS, localized, machine_name, shown_names
from support.reporting.summary import RunFacts, summarize

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
T0 = 1_800_000_000.0            # 2027-01-15 08:00:00 UTC


@pytest.fixture(scope="module")
def scenarios() -> dict[str, list[tuple[str, frozenset]]]:
    """Every scenario behave runs (an outline's rows named as behave.ini names them), with its tags, by
    language: {"en": [(name, tags), …], "pt": […]}, each feature's scenarios in their order."""
    schema = ScenarioOutline.annotation_schema
    ScenarioOutline.annotation_schema = "{name}"          # behave.ini: scenario_outline_annotation_schema
    try:
        found: dict[str, list] = {"en": [], "pt": []}
        for language, folder in (("en", ROOT / "features"), ("pt", ROOT / "features" / "pt")):
            for path in sorted(folder.glob("*.feature")):
                feature = parse_file(str(path), language=language)
                for scenario in feature.walk_scenarios():
                    found[language].append((scenario.name.strip(), frozenset(scenario.effective_tags)))
    finally:
        ScenarioOutline.annotation_schema = schema
    assert found["en"] and found["pt"]
    return found


def twins(scenarios) -> list[tuple[str, str]]:
    """(English scenario, its Portuguese twin): the n-th scenario with the same tags in each language."""
    pairs = []
    for tags in dict.fromkeys(tags for _, tags in scenarios["en"]):
        english = [name for name, t in scenarios["en"] if t == tags]
        portuguese = [name for name, t in scenarios["pt"] if t == tags]
        assert len(english) == len(portuguese), tags
        pairs += list(zip(english, portuguese, strict=True))
    return pairs


ENGLISH_KINDS = [english for english, _ in KINDS]


def english_names(scenarios) -> list[str]:
    """Every English journey name the reports could show: the kinds and the English scenarios."""
    return ENGLISH_KINDS + [name for name, _ in scenarios["en"]]


# -- the names ---------------------------------------------------------------------------------------------


def test_every_journey_kind_has_a_portuguese_name():
    assert {english for english, _ in KINDS} == set(JOURNEYS.values())
    for english in JOURNEYS.values():
        portuguese = localized(english, "pt")
        assert portuguese != english and localized(portuguese, "en") == english


def test_every_scenario_is_named_like_its_twin_in_the_other_language(scenarios):
    pairs = twins(scenarios)
    assert len(pairs) == len(scenarios["en"]) == len(scenarios["pt"])
    for english, portuguese in pairs:
        assert localized(english, "pt") == portuguese
        assert localized(portuguese, "en") == english
        assert localized(english, "en") == english and localized(portuguese, "pt") == portuguese


def test_an_outline_is_translated_with_its_rows_values():
    assert localized("Snapshot/Restore — A llama-3-8b model survives the loss of its RTX 4090 through a snapshot",
                     "pt") == ("Snapshot/Restauração — Um modelo llama-3-8b sobrevive à perda da sua RTX 4090 "
                               "graças a um snapshot")
    assert localized("Row — Same (2)", "pt") == "Row — Same (2)"           # not known: shown as it is
    assert localized("Quick checks (2)", "pt") == "Verificações rápidas (2)"
    assert machine_name("CPU standby", "pt") == "standby de CPU" and machine_name("RTX 3060", "pt") == "RTX 3060"


def test_a_scenario_and_its_twin_in_one_run_stay_two_names():
    journeys = [{"display_name": "Instance Lifecycle — " + SCENARIOS[2][0]},
                {"display_name": "Instance Lifecycle — " + SCENARIOS[2][1]}]
    named = shown_names(journeys, "pt")
    assert len(set(named)) == 2 and all(name.startswith("Ciclo de vida da instância — Alugar") for name in named)


# -- a run of every journey -------------------------------------------------------------------------------


def phase(name, started, seconds, detail="", uncertainty=0.0):
    return {"name": name, "seconds": seconds, "started_at": iso(T0 + started), "detail": detail,
            "uncertainty_seconds": uncertainty}


#: The phases each kind of journey records (as a sandbox run recorded them), start and seconds.
PHASES = {
    "Instance Lifecycle": [("create", 0.1, 0.01), ("running", 0.1, 1.14, "", 0.2), ("ssh", 0.1, 2.27),
                           ("model_install", 2.4, 0.17, "qwen3-0.6b"), ("snapshot", 2.6, 1.94), ("pause", 4.6, 0.28),
                           ("resume", 4.9, 1.11), ("ssh", 4.9, 1.38), ("model_verify", 6.3, 0.03, "qwen3-0.6b"),
                           ("delete", 6.4, 0.01)],
    "Failover CPU Standby": [("create", 0.1, 0.01), ("running", 0.1, 3.56), ("ssh", 0.1, 3.66),
                             ("standby_ready", 0.1, 0.92, "", 0.93), ("failure", 5.0, 0.12), ("detect", 5.1, 0.36),
                             ("failover", 5.1, 0.41, "", 0.006), ("ssh", 5.5, 1.27), ("failback", 5.5, 1.31),
                             ("recovery", 5.0, 1.72)],
    "Snapshot/Restore": [("create", 0.0, 0.03), ("running", 0.0, 1.32), ("ssh", 0.0, 2.61),
                         ("model_install", 2.6, 1.42, "qwen2.5-7b"), ("snapshot", 4.0, 9.23), ("delete", 13.2, 0.01),
                         ("create", 13.2, 0.01), ("restore_running", 13.2, 3.46), ("ssh", 13.2, 3.8),
                         ("restore_apply", 17.0, 5.11), ("model_verify", 22.1, 0.09, "qwen2.5-7b"),
                         ("restore", 13.2, 9.01), ("model_verify", 22.3, 0.08, "qwen2.5-7b")],
    "Quick checks": [("health", 0.0, 0.004), ("login", 0.0, 0.003)],
}


def machines_of(kind: str, index: int) -> list[dict]:
    gpu = {"id": str(31000000 + index), "kind": "instance", "label": "l", "gpu_name": "RTX 3060",
           "price_per_hour": 0.2, "created_at": T0, "deleted_at": T0 + 8, "fate": "deleted", "cost": 0.0079,
           "cost_uncertainty": 0.0}
    if kind == "Quick checks":
        return []
    if kind == "Failover CPU Standby":
        return [gpu, dict(gpu, kind="standby", gpu_name="CPU standby", cost=0.0039)]
    if kind == "Snapshot/Restore":
        return [dict(gpu, gpu_name="RTX A4000", cost=0.0376), dict(gpu, id=str(31000100 + index),
                                                                   gpu_name="RTX A4000", cost=0.0258)]
    return [gpu]


def journey_dict(name: str, tags, index: int) -> dict:
    kind = journey_name(name, tags)
    machines = machines_of(kind, index)
    phases = [phase(*p) for p in PHASES[kind]]
    return {"test_name": name, "journey": kind, "feature_file": "f", "status": "passed", "success": True,
            "start_time": iso(T0 + index), "end_time": iso(T0 + index + 9.3),
            "duration_seconds": 9.3, "gpu_name": machines[0]["gpu_name"] if machines else None,
            "instance_id": None, "total_cost": round(sum(m["cost"] for m in machines), 6),
            "time_to_running": 1.14, "time_to_ssh_ready": None, "time_to_model_install": None,
            "time_to_snapshot": None, "time_to_failover": 0.41 if kind == "Failover CPU Standby" else None,
            "time_to_restore": 9.01 if kind == "Snapshot/Restore" else None, "error_message": None,
            "phases": phases, "machines": machines,
            "api": {"calls": 276, "retries": 1, "rate_limited": 0, "backoff_seconds": 0.5, "stalled_seconds": 5.1}}


def run_summary(named: list[tuple[str, frozenset]]) -> dict:
    journeys = [journey_dict(name, tags, index) for index, (name, tags) in enumerate(named)]
    facts = RunFacts(id="r1", label="dumont-acc-r1", target="sandbox", url="http://127.0.0.1:8766", time_scale=60,
                     server_version="3.0.0", started_at=T0 + 0.123, ended_at=T0 + 23.1, interrupted=None,
                     api={"calls": 601, "attempts": 602, "retries": 1, "rate_limited": 0, "backoff_seconds": 0.5},
                     config={})
    return summarize(journeys, facts)


@pytest.fixture(scope="module")
def english_run(scenarios):
    """A run of every English feature's scenarios: the names metrics.json holds are all English."""
    return run_summary(scenarios["en"])


def test_the_portuguese_report_names_every_english_journey_in_portuguese(english_run, scenarios):
    text = render(english_run, "pt")
    journeys_section = text.split("JORNADAS EXECUTADAS:")[1].split("MÉTRICAS:")[0]
    for english in english_names(scenarios):
        assert english not in text, english
    assert "CPU standby" not in text and "standby de CPU" in text
    lines = [line for line in journeys_section.splitlines() if line.startswith("✅")]
    assert len(lines) == len(english_run["journeys"])
    for line, journey in zip(lines, english_run["journeys"], strict=True):
        assert line.startswith(f"✅ {localized(journey['display_name'], 'pt')}: 9,3 seg"), line
    portuguese = {name for _, name in twins(scenarios)}
    assert any(name in journeys_section for name in portuguese)     # the shared kind is named with its scenario


def test_the_english_report_keeps_its_names_and_numbers(english_run, scenarios):
    text = render(english_run, "en")
    for journey in english_run["journeys"]:
        assert f"✅ {journey['display_name']}: 9.3 s" in text
    assert "Date: 2027-01-15 08:00:00 UTC" in text and "Total cost: $0.0949" in text
    assert "- Mean failover time: 0.4 s ± 0.01 s" in text
    assert "↳ API: 276 calls, 1 retries, 0 rate limited, 0.50 s waiting in backoff, 5.1 s lost to stalls" in text
    assert not re.search(r"\d,\d", text)


def test_the_portuguese_report_writes_decimal_commas_money_and_dates_in_pt_br(english_run):
    text = render(english_run, "pt")
    # The URL and the models' names (qwen2.5-7b) are names, not numbers: outside them, no decimal point.
    numbers_only = re.sub(r"https?://\S+|qwen[\w.-]+", "", text)
    assert not re.search(r"\d\.\d", numbers_only), re.findall(r".*\d\.\d.*", numbers_only)
    assert "Data: 15/01/2027 08:00:00 UTC" in text
    assert "Custo total: US$ 0,0949" in text and "US$ 0,0118" in text and "$0." not in text
    assert "Duração total: 23,0 seg" in text
    assert "- Tempo médio de failover: 0,4 seg ± 0,01 seg" in text
    assert "4,5" not in text and "0,50 seg de espera (backoff), 5,1 seg perdidos em travamentos" in text


def test_a_journey_run_from_a_portuguese_feature_is_named_in_english_in_the_english_report(scenarios):
    summary = run_summary(scenarios["pt"])
    text = render(summary, "en")
    for _, portuguese in twins(scenarios):
        assert portuguese not in text
    assert render(summary, "pt") == render(run_summary(scenarios["en"]), "pt")


@pytest.mark.parametrize("value, language, expected", [
    (12.34, "pt", "12,3"), (12.34, "en", "12.3"), (1234.5, "pt", "1.234,5"), (1234.5, "en", "1234.5"),
])
def test_decimal(value, language, expected):
    assert numbers.decimal(value, 1, language) == expected


@pytest.mark.parametrize("dollars, language, expected", [
    (0.0126, "pt", "US$ 0,0126"), (0.0126, "en", "$0.0126"), (1234.5, "pt", "US$ 1.234,50"),
    (1234.5, "en", "$1234.50"),
])
def test_money(dollars, language, expected):
    assert numbers.money(dollars, language) == expected


def test_counts_and_dates():
    assert numbers.integer(12345, "pt") == "12.345" and numbers.integer(12345, "en") == "12345"
    assert numbers.date_time("2027-01-15T14:03:09.123+00:00", "pt") == "15/01/2027 14:03:09 UTC"
    assert numbers.date_time("2027-01-15T11:03:09.123-03:00", "en") == "2027-01-15 14:03:09 UTC"


# -- the charts -------------------------------------------------------------------------------------------


def whole_text(element) -> str:
    """What a text element shows: its own text and that of its lines (tspans), a line break as a space."""
    return " ".join(part.strip() for part in element.itertext() if part.strip())


def journey_rows(root) -> list[tuple[str, list[tuple[str, str]]]]:
    """The timeline's journeys in order: (the status bar's data-journey, [(phase, label), …])."""
    rows: list[tuple[str, list]] = []
    for rect in root.iter(f"{SVG}rect"):
        if rect.get("data-status"):
            rows.append((rect.get("data-journey"), []))
        elif rect.get("data-phase"):
            rows[-1][1].append((rect.get("data-phase"), rect.get("data-label")))
    return rows


@pytest.mark.parametrize("language", ["pt", "en"])
def test_the_timeline_shows_every_journeys_whole_name_wrapped(english_run, language):
    root = ElementTree.fromstring(charts.timeline_svg(english_run["journeys"], language).encode("utf-8"))
    shown = [e for e in root.iter(f"{SVG}text") if e.get("class") == "journey-name"]
    expected = shown_names(english_run["journeys"], language)
    assert [whole_text(e) for e in shown] == expected
    assert "…" not in ElementTree.tostring(root, encoding="unicode")
    room = charts.LEFT - 8
    for element in shown:
        lines = [element.text] + [span.text for span in element.iter(f"{SVG}tspan")]
        assert all(charts.text_width(line, 12, bold=True) <= room for line in lines), lines
    longest = max(expected, key=len)
    assert len(next(e for e in shown if whole_text(e) == longest).findall(f"{SVG}tspan")) >= 1   # it wrapped


@pytest.mark.parametrize("language, after_resume", [("en", "ssh after resume"), ("pt", "ssh após retomada")])
def test_no_two_phases_of_a_journey_share_a_label(english_run, language, after_resume):
    root = ElementTree.fromstring(charts.timeline_svg(english_run["journeys"], language).encode("utf-8"))
    rows = journey_rows(root)
    assert [key for key, _ in rows] == [j["display_name"] for j in english_run["journeys"]]
    for key, phases in rows:
        labels = [label for _, label in phases]
        assert len(labels) == len(set(labels)), (key, labels)
    shown = [whole_text(e) for e in root.iter(f"{SVG}text") if e.get("class") == "phase-label"]
    assert shown == [label for _, phases in rows for _, label in phases]
    instance = next(phases for key, phases in rows if key == "Instance Lifecycle")
    assert [label for name, label in instance if name == "ssh"] == [charts.phase_word("ssh", language), after_resume]


def test_phase_labels_repeated_after_the_same_phase_are_numbered():
    phases = [{"name": "resume"}, {"name": "ssh"}, {"name": "resume"}, {"name": "ssh"}, {"name": "ssh"}]
    labels = charts.phase_labels(phases, "en")
    assert len(set(labels)) == len(labels) and labels[1] == "ssh"


def test_the_portuguese_charts_write_portuguese_numbers_and_phases(english_run):
    timeline = charts.timeline_svg(english_run["journeys"], "pt")
    assert "1,14 seg ± 0,20 seg" in timeline and "instalação do modelo (qwen3-0.6b)" in timeline
    assert not re.search(r">[^<]*\d\.\d\d? (s|seg)\b", timeline)
    cost = charts.cost_svg(english_run["journeys"], "pt", 60)
    assert "Total: US$ 0,0949" in cost and "$0." not in cost and "tempo ×60" in cost


def legend(root) -> dict[str, tuple[str, str]]:
    """The cost chart's legend: kind -> (its swatch's colour, its words)."""
    return {g.get("data-kind"): (g.find(f"{SVG}rect").get("fill"), whole_text(g.find(f"{SVG}text")))
            for g in root.iter(f"{SVG}g") if g.get("class") == "legend-entry"}


@pytest.mark.parametrize("language, words", [("en", {"instance": "GPU instance", "standby": "CPU standby"}),
                                             ("pt", {"instance": "instância GPU", "standby": "standby de CPU"})])
def test_the_cost_chart_says_which_colour_is_which_machine(english_run, language, words):
    root = ElementTree.fromstring(charts.cost_svg(english_run["journeys"], language, 60).encode("utf-8"))
    bars = [e for e in root.iter(f"{SVG}rect") if e.get("data-machine")]
    assert len(bars) == sum(len(j["machines"]) for j in english_run["journeys"])
    drawn = {}
    for bar in bars:
        assert drawn.setdefault(bar.get("data-kind"), bar.get("fill")) == bar.get("fill")   # one colour a kind
    assert set(drawn) == {"instance", "standby"} and len(set(drawn.values())) == 2
    assert legend(root) == {kind: (colour, words[kind]) for kind, colour in drawn.items()}


@pytest.mark.parametrize("language", ["pt", "en"])
def test_the_words_after_each_cost_bar_fit_in_the_chart(english_run, language):
    root = ElementTree.fromstring(charts.cost_svg(english_run["journeys"], language, 60).encode("utf-8"))
    details = [e for e in root.iter(f"{SVG}text") if e.get("data-total")]
    assert len(details) == len(english_run["journeys"])
    for element in details:
        assert float(element.get("x")) + charts.text_width(element.text, 11) <= charts.WIDTH, element.text


def test_the_cost_chart_legend_names_only_the_kinds_it_shows(english_run):
    instances_only = [j for j in english_run["journeys"] if j["journey"] == "Instance Lifecycle"]
    root = ElementTree.fromstring(charts.cost_svg(instances_only, "en").encode("utf-8"))
    assert set(legend(root)) == {"instance"}
    root = ElementTree.fromstring(charts.cost_svg([], "en").encode("utf-8"))
    assert legend(root) == {}
    older = [dict(j, machines=[{k: v for k, v in m.items() if k != "kind"} for m in j["machines"]])
             for j in english_run["journeys"] if j["journey"] == "Failover CPU Standby"]
    assert set(legend(ElementTree.fromstring(charts.cost_svg(older, "en").encode("utf-8")))) == {"instance", "standby"}


def test_a_journeys_own_timeline_is_titled_in_the_report_language(english_run):
    failover = next(j for j in english_run["journeys"] if j["journey"] == "Failover CPU Standby")
    title = failover["display_name"]
    root = ElementTree.fromstring(charts.timeline_svg([failover], "pt", title=title).encode("utf-8"))
    assert root.findtext(f"{SVG}title") == localized(title, "pt") != title


def test_the_part_of_a_phase_the_server_was_stalled_is_said_in_the_charts_language():
    phases = [{"name": "snapshot", "server_stalled_seconds": 1.95, "server_stalled_uncertainty": 0.04}]
    assert charts.phase_labels(phases, "en") == ["snapshot (of which 1.95 s ± 0.04 s the server was stalled)"]
    assert charts.phase_labels(phases, "pt") == ["snapshot (dos quais 1,95 seg ± 0,04 seg com o servidor travado)"]
    assert charts.phase_labels([{"name": "snapshot", "server_stalled_seconds": 0}], "en") == ["snapshot"]
