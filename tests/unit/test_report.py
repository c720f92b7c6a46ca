"""support.report and support.reporting.summary: the brief's final report in Portuguese and English, and
metrics.json (one summary for a single process and for merged ones)."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from support.client import CallLog, CallRecord
from support.leaks import LeakCheck
from support.metrics import JourneyMetrics, MachineRecord
from support.report import format_duration, render, write
from support.reporting.summary import merged_facts, run_facts, run_journeys, summarize, summarize_merged, summarize_run

T0 = 1_800_000_000.0


def journey(name, status, gpu=None, cost=0.0, duration=0.0, error=None, machines=()):
    return {"test_name": name, "journey": name, "status": status, "gpu_name": gpu, "total_cost": cost,
            "duration_seconds": duration, "error_message": error, "machines": list(machines)}


def hand_summary(interrupted=None, machines=None):
    return {
        "run": {"id": "r1", "label": "dumont-acc-r1", "target": "sandbox", "url": "http://127.0.0.1:8766",
                "time_scale": 60, "server_version": "3.0.0", "started_at": "2027-01-15T14:03:09.123+00:00",
                "ended_at": "2027-01-15T14:09:21.000+00:00", "duration_seconds": 372.0,
                "total_cost": 0.4321, "interrupted": interrupted, "success_rate": 0.5},
        "metrics": {"mean_time_to_running": 95.0, "mean_time_to_failover": None, "mean_time_to_restore": 12.5},
        "journeys": [
            journey("Instance Lifecycle", "passed", "RTX 3060", 0.43, 310.0, machines=[{"id": "5001"}]),
            journey("Failover CPU Standby", "failed", None, 0.0, 62.0,
                    error="phase 'failover' did not finish within 20.0 s\nsecond line"),
        ],
        "machines": machines if machines is not None else [
            {"id": "5001", "gpu_name": "RTX 3060", "fate": "deleted"},
            {"id": "5002", "gpu_name": "RTX A4000", "fate": "leaked"},
            {"id": "5003", "gpu_name": "RTX A4000", "fate": "alive"},
            {"id": "5004", "gpu_name": "CPU", "fate": "kept"},
        ],
        "leaks": [],
        "api": {"calls": 40, "attempts": 45, "retries": 5, "rate_limited": 3, "backoff_seconds": 12.0, "failed": 1},
        "config": {},
    }


def test_render_portuguese():
    text = render(hand_summary(), "pt")
    assert re.search(r"^Custo total: US\$ 0,4321$", text, re.M)
    assert re.search(r"^✅ Ciclo de vida da instância: 5 min 10 seg \(RTX 3060, US\$ 0,4300\)$", text, re.M)
    for expected in ("RELATÓRIO DE TESTES REAIS", "Duração total: 6 min 12 seg",
                     "JORNADAS EXECUTADAS:", "Taxa de sucesso: 50%", "MÉTRICAS:",
                     "INSTÂNCIAS CRIADAS/DELETADAS:", "- 5001: RTX 3060 - DELETADA ✅",
                     "- 5002: RTX A4000 - VAZADA ❌", "- 5003: RTX A4000 - VAZADA ❌",
                     "- 5004: CPU - MANTIDA ⚠️", "Data: 15/01/2027 14:03:09 UTC",
                     "sandbox local (tempo ×60; custos simulados) http://127.0.0.1:8766",
                     "❌ Failover para standby de CPU: 1 min 2 seg",
                     "Tempo médio para instância running: 1 min 35 seg",
                     "Tempo médio de failover: n/d", "Tempo médio de restore: 12,5 seg",
                     "Chamadas à API: 40 (5 novas tentativas, 3 limitadas por taxa)"):
        assert expected in text, expected
    assert "REAL TEST REPORT" not in text and "Instance Lifecycle" not in text and "$0.43" not in text


def test_render_english():
    text = render(hand_summary(), "en")
    assert re.search(r"^Total cost: \$0\.43\d*$", text, re.M)
    for expected in ("REAL TEST REPORT", "Total duration: 6 min 12 s",
                     "JOURNEYS RUN:", "Success rate: 50%", "- 5001: RTX 3060 - DELETED ✅",
                     "- 5002: RTX A4000 - LEAKED ❌", "- 5004: CPU - KEPT ⚠️", "Mean failover time: n/a",
                     "API calls: 40 (5 retries, 3 rate limited)"):
        assert expected in text, expected
    assert "RELATÓRIO" not in text and "DELETADA" not in text


def test_failed_journey_shows_first_line_of_its_error_only():
    text = render(hand_summary(), "en")
    assert "   ↳ phase 'failover' did not finish within 20.0 s" in text
    assert "second line" not in text


def test_interrupted_and_no_machines():
    text = render(hand_summary(interrupted="SIGINT", machines=[]), "pt")
    assert "EXECUÇÃO INTERROMPIDA (SIGINT)" in text
    assert "- nenhuma" in text
    text = render(hand_summary(interrupted="SIGTERM", machines=[]), "en")
    assert "RUN INTERRUPTED (SIGTERM)" in text and "- none" in text


def test_real_target_and_no_success_rate():
    summary = hand_summary()
    summary["run"].update(target="real", url="https://dumont.example", success_rate=None)
    text = render(summary, "en")
    assert "Target: real server https://dumont.example" in text
    assert "Success rate: n/a" in text


@pytest.mark.parametrize("seconds, language, expected", [
    (0, "pt", "0,0 seg"), (12.34, "pt", "12,3 seg"), (12.34, "en", "12.3 s"), (59.9, "en", "59.9 s"),
    (60, "pt", "1 min 0 seg"),
    (61.4, "en", "1 min 1 s"), (125, "pt", "2 min 5 seg"), (3725, "en", "62 min 5 s"),
])
def test_format_duration(seconds, language, expected):
    assert format_duration(seconds, language) == expected


def fake_run():
    """The least of a support.run.Run that summarize() reads."""
    passed = JourneyMetrics("Cheapest instance end to end", "Instance Lifecycle", "features/instance.feature",
                            start_time=T0)
    passed.add_phase("running", 90.0, T0 + 5)
    passed.add_phase("running", 40.0, T0 + 500)      # a second boot (resume) does not overwrite the first
    passed.machines.append(MachineRecord("5001", "instance", "lbl", "RTX 3060", 0.12, T0 + 1, T0 + 600, "deleted",
                                         0.25))
    passed.finish("passed")
    failed = JourneyMetrics("Failover", "Failover CPU Standby", "features/failover.feature", start_time=T0)
    failed.add_phase("running", 110.0, T0 + 5)
    failed.machines.append(MachineRecord("5002", "instance", "lbl", "RTX A4000", 0.2, T0 + 2, None, "leaked", 0.5))
    failed.finish("failed", "boom")
    skipped = JourneyMetrics("Snapshot", "Snapshot/Restore", "features/snapshot.feature", start_time=T0)
    skipped.finish("skipped", "DUMONT_ALLOW_SPEND is not 1")
    log = CallLog()
    log.add(CallRecord("GET", "/health", 200, 0.01, 2, 1, 2.0))
    config = SimpleNamespace(run_id="r9", run_label="dumont-acc-r9",
                             public_view=lambda: {"password": "***", "user": "qa@example.com"})
    return SimpleNamespace(
        config=config,
        target=SimpleNamespace(mode="sandbox", url="http://127.0.0.1:8766", time_scale=60, version="3.0.0"),
        started_at=T0, guard=SimpleNamespace(received=None), leak_check=LeakCheck(),
        journeys=[SimpleNamespace(metrics=m) for m in (passed, failed, skipped)],
        client=SimpleNamespace(call_log=log))


def test_summarize_from_a_run():
    summary = summarize_run(fake_run(), ended_at=T0 + 700)
    run = summary["run"]
    assert run["duration_seconds"] == 700
    assert run["total_cost"] == pytest.approx(0.75)
    assert run["success_rate"] == 0.5                          # the skipped journey does not count
    assert summary["metrics"]["mean_time_to_running"] == pytest.approx(100.0)
    assert summary["metrics"]["mean_time_to_failover"] is None
    assert [m["fate"] for m in summary["machines"]] == ["deleted", "leaked"]
    assert summary["machines"][0]["journey"] == "Cheapest instance end to end"
    assert summary["api"]["rate_limited"] == 1
    json.dumps(summary)                                         # metrics.json is plain data
    text = render(summary, "pt")
    assert "- 5001: RTX 3060 - DELETADA ✅" in text and "- 5002: RTX A4000 - VAZADA ❌" in text
    assert re.search(r"^Custo total: US\$ 0,7500$", text, re.M) and "Taxa de sucesso: 50%" in text
    assert "⏭️ Snapshot/Restauração: " in text


def test_a_merged_run_is_summarized_by_the_same_function():
    """Two workers' metrics.json merged give what one process running both journeys would have given."""
    run = fake_run()
    whole = summarize_run(run, ended_at=T0 + 700)
    workers = []
    for index, journeys in enumerate((run.journeys[:1], run.journeys[1:])):
        worker = SimpleNamespace(**{**run.__dict__, "journeys": journeys})
        worker.config = SimpleNamespace(run_id=f"r9-w{index}", run_label=f"dumont-acc-r9-w{index}",
                                        public_view=run.config.public_view)
        workers.append(json.loads(json.dumps(summarize_run(worker, ended_at=T0 + 700))))
    merged = summarize_merged(workers)
    assert merged["run"].pop("workers") == 2
    assert merged["api"] == {key: 2 * value for key, value in whole["api"].items()}   # each worker logs its own
    merged["api"] = whole["api"]
    assert merged == json.loads(json.dumps(whole))
    assert summarize(run_journeys(run), run_facts(run, T0 + 700)) == whole
    assert merged_facts(workers).id == "r9"

def test_write_produces_metrics_and_text(tmp_path):
    summary = hand_summary()
    text = write(summary, tmp_path / "reports", "pt")
    assert (tmp_path / "reports" / "report-pt.txt").read_text(encoding="utf-8") == text + "\n"
    assert json.loads((tmp_path / "reports" / "metrics.json").read_text(encoding="utf-8")) == summary
    assert not list((tmp_path / "reports").glob("*.partial"))


def test_write_atomically_replaces_whole_files_and_keeps_the_old_one_on_failure(tmp_path, monkeypatch):
    import os

    from support import files

    target = tmp_path / "metrics.json"
    files.write_atomically(target, "old")
    assert target.read_text() == "old"
    files.write_atomically(target, b"\xc3\xa9 bytes")
    assert target.read_text(encoding="utf-8") == "é bytes"

    def no_rename(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError, match="disk full"):
        files.write_atomically(target, "new")
    assert target.read_text(encoding="utf-8") == "é bytes"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]       # no partial file left


def test_journeys_sharing_a_kind_are_named_by_their_scenario():
    from support.reporting.names import display_names

    journeys = [{"journey": "Failover CPU Standby", "test_name": "The GPU fails; the standby takes over"},
                {"journey": "Quick checks", "test_name": "The service answers"},
                {"journey": "Failover CPU Standby", "test_name": "The GPU fails and the operator triggers it"},
                {"journey": "Row", "test_name": "Same"}, {"journey": "Row", "test_name": "Same"}]
    assert display_names(journeys) == [
        "Failover CPU Standby — The GPU fails; the standby takes over", "Quick checks",
        "Failover CPU Standby — The GPU fails and the operator triggers it", "Row — Same (1)", "Row — Same (2)"]
    summary = hand_summary()
    summary["journeys"].append(journey("Failover CPU Standby", "passed", duration=5.0))
    summary["journeys"][1]["test_name"] = "The GPU fails and the operator triggers the failover"
    for item, name in zip(summary["journeys"], display_names(summary["journeys"]), strict=True):
        item["display_name"] = name
    text = render(summary, "en")
    assert "✅ Instance Lifecycle: 5 min 10 s" in text
    assert "❌ Failover CPU Standby — The GPU fails and the operator triggers the failover: 1 min 2 s" in text
    assert "✅ Failover CPU Standby — Failover CPU Standby: " not in text and "✅ Failover CPU Standby: 5.0 s" in text


def test_a_journey_that_lost_time_to_the_api_says_how_much():
    summary = hand_summary()
    summary["journeys"][0]["api"] = {"calls": 412, "retries": 3, "rate_limited": 2, "backoff_seconds": 4.5,
                                     "stalled_seconds": 125.0}
    summary["journeys"][1]["api"] = {"calls": 80, "retries": 0, "rate_limited": 0, "backoff_seconds": 0.0,
                                     "stalled_seconds": 0.04}
    text = render(summary, "en")
    assert ("✅ Instance Lifecycle: 5 min 10 s (RTX 3060, $0.4300)\n"
            "   ↳ API: 412 calls, 3 retries, 2 rate limited, 4.5 s waiting in backoff, 2 min 5 s lost to stalls\n"
            ) in text
    assert "   ↳ API: 80 calls, 0 retries, 0 rate limited, 0.0 s waiting in backoff, 0.04 s lost to stalls" in text
    assert ("   ↳ API: 412 chamadas, 3 novas tentativas, 2 limitadas por taxa, 4,5 seg de espera (backoff), "
            "2 min 5 seg perdidos em travamentos") in render(summary, "pt")
    summary["journeys"][1]["api"]["stalled_seconds"] = 0.0                 # lost nothing: no line
    assert render(summary, "en").count("↳ API:") == 1


def test_mean_times_show_their_uncertainty_when_it_exceeds_one_percent():
    summary = hand_summary()
    summary["metrics"]["mean_time_to_running"] = 2.1
    summary["metrics"]["uncertainty_seconds"] = {"mean_time_to_running": 0.1, "mean_time_to_failover": None,
                                                 "mean_time_to_restore": 0.1}       # 0.8 % of 12.5 s: not shown
    text = render(summary, "en")
    assert "- Mean time to instance running: 2.1 s ± 0.10 s\n" in text
    assert "- Mean restore time: 12.5 s\n" in text and "- Mean failover time: n/a\n" in text
    assert "- Tempo médio para instância running: 2,1 seg ± 0,10 seg\n" in render(summary, "pt")


def test_the_summary_gives_each_mean_its_uncertainty():
    run = fake_run()
    passed, failed, _ = (j.metrics for j in run.journeys)
    passed.phases[0].uncertainty_seconds = 0.5          # the running phase that filled time_to_running (90 s)
    passed.phases[1].uncertainty_seconds = 9.0          # a second boot: not the brief's field
    failed.phases[0].uncertainty_seconds = 1.5          # 110 s
    metrics = summarize_run(run, ended_at=T0 + 700)["metrics"]
    assert metrics["mean_time_to_running"] == pytest.approx(100.0)
    assert metrics["uncertainty_seconds"] == {"mean_time_to_running": 1.0, "mean_time_to_failover": None,
                                              "mean_time_to_restore": None}


def test_the_error_line_keeps_the_servers_words_whole():
    from support.report import summary_line

    gcp = ("the server answered POST /api/v1/standby/configure with 400: GCP credentials not configured. "
           "Please add gcp_credentials to settings before enabling standby.")
    assert summary_line(gcp) == gcp                                   # long, and not cut mid-word
    restic = ("the server answered POST /api/v1/snapshots with 500: Failed to create snapshot: \n\n"
              "Permission denied (publickey).\r\n")
    assert summary_line(restic) == "the server answered POST /api/v1/snapshots with 500: Failed to create snapshot: […]"
    assert summary_line("\n  \nboom\n") == "boom"
