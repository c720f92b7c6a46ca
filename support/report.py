"""The final report (the brief's "RELATÓRIO DE TESTES REAIS", in Portuguese or English), written with metrics.json.

Both come from the run summary (:mod:`support.reporting.summary`), plain data; nothing here computes a figure.
The report is in one language throughout: its words here, the journeys' names from
:mod:`support.reporting.names`, its numbers, money and date from :mod:`support.reporting.numbers`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from xml.etree import ElementTree

from support.files import write_atomically
from support.reporting import numbers
from support.reporting.gpu_lines import gpu_lines
from support.reporting.junit import mark_interrupted_in_junit
from support.reporting.names import machine_name, shown_names
from support.reporting.offer_line import offer_lines
from support.reporting.summary import shows_uncertainty

TEXT = {
    "pt": {
        "title": "RELATÓRIO DE TESTES REAIS", "date": "Data", "target": "Alvo",
        "sandbox": "sandbox local (tempo ×{scale}; custos simulados)", "real": "servidor real",
        "duration": "Duração total", "cost": "Custo total", "journeys": "JORNADAS EXECUTADAS:",
        "metrics": "MÉTRICAS:", "mean_running": "Tempo médio para instância running",
        "mean_failover": "Tempo médio de failover", "mean_restore": "Tempo médio de restore",
        "success": "Taxa de sucesso", "machines": "INSTÂNCIAS CRIADAS/DELETADAS:",
        "deleted": "DELETADA ✅", "leaked": "VAZADA ❌", "kept": "MANTIDA ⚠️", "alive": "VAZADA ❌",
        "none": "nenhuma", "na": "n/d", "interrupted": "EXECUÇÃO INTERROMPIDA ({signal})",
        "api": "Chamadas à API: {calls} ({retries} novas tentativas, {rate_limited} limitadas por taxa)",
        "journey_interrupted": "interrompida ({reason}); a limpeza foi executada",
        "other_leak": "VAZADO ❌", "leak_warning": "⚠️ verificação de vazamentos incompleta: {warning}",
        "journey_api": "API: {calls} chamadas, {retries} novas tentativas, {rate_limited} limitadas por taxa, "
                       "{backoff} de espera (backoff), {stalled} perdidos em travamentos",
        "min": "min", "sec": "seg",
        "ready": "jornada {journey}: pode rodar aqui (não se vê daqui: {unseen})",
        "ready_here": "jornada {journey}: pode rodar aqui",
        "not_ready": "jornada {journey}: não pode rodar aqui: {missing}", "missing": "falta {name} ({said})",
        "instance": "de instância", "snapshot": "de snapshot", "failover": "de failover",
        "server provider key": "a chave do provedor no servidor",
        "account provider key": "a chave do provedor na conta",
        "snapshot repository": "o repositório de snapshots (restic)",
        "failover routes": "rotas de failover que funcionem",
        "unseen_instance": "a chave SSH do servidor na conta do provedor (snapshots rodam restic por ela)",
        "unseen_snapshot": "a chave SSH do servidor na conta do provedor (snapshots rodam restic por ela)",
        "unseen_failover": "credenciais GCP no servidor (pedidas só ao configurar o standby)",
    },
    "en": {
        "title": "REAL TEST REPORT", "date": "Date", "target": "Target",
        "sandbox": "local sandbox (time ×{scale}; simulated costs)", "real": "real server",
        "duration": "Total duration", "cost": "Total cost", "journeys": "JOURNEYS RUN:",
        "metrics": "METRICS:", "mean_running": "Mean time to instance running",
        "mean_failover": "Mean failover time", "mean_restore": "Mean restore time",
        "success": "Success rate", "machines": "INSTANCES CREATED/DELETED:",
        "deleted": "DELETED ✅", "leaked": "LEAKED ❌", "kept": "KEPT ⚠️", "alive": "LEAKED ❌",
        "none": "none", "na": "n/a", "interrupted": "RUN INTERRUPTED ({signal})",
        "api": "API calls: {calls} ({retries} retries, {rate_limited} rate limited)",
        "journey_interrupted": "interrupted ({reason}); its cleanup ran",
        "other_leak": "LEAKED ❌", "leak_warning": "⚠️ leak check incomplete: {warning}",
        "journey_api": "API: {calls} calls, {retries} retries, {rate_limited} rate limited, "
                       "{backoff} waiting in backoff, {stalled} lost to stalls",
        "min": "min", "sec": "s",
        "ready": "{journey} journey: can run here (not visible from here: {unseen})",
        "ready_here": "{journey} journey: can run here",
        "not_ready": "{journey} journey: cannot run here: {missing}", "missing": "no {name} ({said})",
        "instance": "instance", "snapshot": "snapshot", "failover": "failover",
        "server provider key": "provider key on the server", "account provider key": "provider key on the account",
        "snapshot repository": "snapshot repository (restic)", "failover routes": "failover routes that work",
        "unseen_instance": "the server's SSH key on the provider account (snapshots run restic over it)",
        "unseen_snapshot": "the server's SSH key on the provider account (snapshots run restic over it)",
        "unseen_failover": "GCP credentials on the server (asked only when standby is configured)",
    },
}

ICONS = {"passed": "✅", "failed": "❌", "interrupted": "⏹️", "skipped": "⏭️", "running": "❌"}


def format_duration(seconds: float, language: str) -> str:
    words = TEXT[language]
    if seconds < 60:
        return f"{numbers.decimal(seconds, 1, language)} {words['sec']}"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{numbers.integer(minutes, language)} {words['min']} {rest} {words['sec']}"


def format_cost(dollars: float, language: str = "en") -> str:
    """Dollars with cents, or with four decimals under a dollar so small sandbox costs stay visible."""
    return numbers.money(dollars, language)


def journey_api_line(api: dict | None, language: str) -> str | None:
    """A journey's time lost to the API (retries, rate limits, backoff, stalls), or None when it lost none."""
    if not api or not any(api.get(key) for key in ("retries", "rate_limited", "backoff_seconds", "stalled_seconds")):
        return None
    return TEXT[language]["journey_api"].format(
        **_counts(api, ("calls", "retries", "rate_limited"), language),
        backoff=format_seconds(api["backoff_seconds"], language),
        stalled=format_seconds(api["stalled_seconds"], language))


def _counts(figures: dict, keys, language: str) -> dict[str, str]:
    return {key: numbers.integer(figures[key], language) for key in keys}


def format_seconds(seconds: float, language: str) -> str:
    """Seconds precise enough that a small amount does not read as none (0.04 s, 3.5 s, 2 min 5 s)."""
    if 0 < seconds < 1:
        return f"{numbers.decimal(seconds, 2, language)} {TEXT[language]['sec']}"
    return format_duration(seconds, language)


def render(summary: dict, language: str) -> str:
    """The brief's report, in its sections."""
    words = TEXT[language]
    run = summary["run"]
    bar = "=" * 37
    target = (words["sandbox"].format(scale=numbers.general(run["time_scale"], language))
              if run["target"] == "sandbox" else words["real"])
    lines = [bar, words["title"], bar,
             f"{words['date']}: {numbers.date_time(run['started_at'], language)}",
             f"{words['target']}: {target} {run['url']}",
             f"{words['duration']}: {format_duration(run['duration_seconds'], language)}",
             f"{words['cost']}: {format_cost(run['total_cost'], language)}"]
    if run["interrupted"]:
        lines.append(words["interrupted"].format(signal=run["interrupted"]))
    lines += ["", words["journeys"]]
    for journey, name in zip(summary["journeys"], shown_names(summary["journeys"], language), strict=True):
        detail = [machine_name(journey["gpu_name"], language)] if journey["gpu_name"] else []
        if journey["machines"]:
            detail.append(format_cost(journey["total_cost"], language))
        suffix = f" ({', '.join(detail)})" if detail else ""
        line = (f"{ICONS.get(journey['status'], '❌')} {name}: "
                f"{format_duration(journey['duration_seconds'], language)}{suffix}")
        lines.append(line)
        if journey["status"] == "interrupted":
            reason = run["interrupted"] or summary_line(journey["error_message"] or "?")
            lines.append(f"   ↳ {words['journey_interrupted'].format(reason=reason)}")
        elif journey["error_message"] and journey["status"] != "passed":
            lines.append(f"   ↳ {summary_line(journey['error_message'])}")
        lines += [f"   ↳ {line}" for line in offer_lines(journey, language)]
        api = journey_api_line(journey.get("api"), language)
        if api:
            lines.append(f"   ↳ {api}")
        lines += [f"   ↳ {line}" for line in readiness_lines(journey.get("extra", {}).get("readiness"), words)]
        lines += [f"   ↳ {line}" for line in gpu_lines(journey, language)]
    metrics = summary["metrics"]

    def mean(key):
        value = metrics[key]
        if value is None:
            return words["na"]
        uncertainty = (metrics.get("uncertainty_seconds") or {}).get(key)
        if shows_uncertainty(value, uncertainty):
            return f"{format_duration(value, language)} ± {format_seconds(uncertainty, language)}"
        return format_duration(value, language)

    rate = run["success_rate"]
    lines += ["", words["metrics"],
              f"- {words['mean_running']}: {mean('mean_time_to_running')}",
              f"- {words['mean_failover']}: {mean('mean_time_to_failover')}",
              f"- {words['mean_restore']}: {mean('mean_time_to_restore')}",
              f"- {words['success']}: {words['na'] if rate is None else f'{rate:.0%}'}",
              f"- {words['api'].format(**_counts(summary['api'], ('calls', 'retries', 'rate_limited'), language))}",
              "", words["machines"]]
    if not summary["machines"]:
        lines.append(f"- {words['none']}")
    for machine in summary["machines"]:
        lines.append(f"- {machine['id']}: {machine_name(machine['gpu_name'], language)} - {words[machine['fate']]}")
    machine_ids = {(m.get("kind"), str(m["id"])) for m in summary["machines"]}
    for leak in summary.get("leaks", []):
        if (leak.get("kind"), str(leak.get("id"))) not in machine_ids:
            lines.append(f"- {leak.get('kind')} {leak.get('id')} - {words['other_leak']}")
    for warning in summary.get("leak_check_warnings", []):
        lines.append(words["leak_warning"].format(warning=warning))
    lines.append(bar)
    return "\n".join(lines)


def readiness_lines(readiness: dict | None, words: dict) -> list[str]:
    """What the quick checks found this server can run (support.readiness), one line per journey."""
    lines = []
    for journey, told in (readiness or {}).items():
        name = words.get(journey, journey)
        if told["ready"] and told["unseen"] is None:
            lines.append(words["ready_here"].format(journey=name))
        elif told["ready"]:
            lines.append(words["ready"].format(journey=name, unseen=words.get(f"unseen_{journey}", told["unseen"])))
        else:
            missing = "; ".join(words["missing"].format(name=words.get(m["name"], m["name"]), said=m["said"])
                                for m in told["missing"])
            lines.append(words["not_ready"].format(journey=name, missing=missing))
    return lines


def summary_line(message: str) -> str:
    """A message's first line with words in it, whole (never cut mid-word: these are often the server's
    own words), marked when more follows; metrics.json and Allure keep the whole message."""
    meaningful = [line.strip() for line in message.splitlines() if any(c.isalnum() for c in line)]
    if not meaningful:
        return message.strip()
    return meaningful[0] + (" […]" if len(meaningful) > 1 else "")


def write(summary: dict, reports_dir: Path, language: str) -> str:
    """Write metrics.json and the text report (and mark interrupted scenarios in the JUnit XML); return the text."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(reports_dir / "metrics.json", json.dumps(summary, indent=2, ensure_ascii=False))
    try:
        mark_interrupted_in_junit(reports_dir / "junit", summary)
    except (OSError, ElementTree.ParseError) as error:
        print(f"warning: could not mark interrupted scenarios in the JUnit XML: {error}", file=sys.stderr)
    text = render(summary, language)
    write_atomically(reports_dir / f"report-{language}.txt", text + "\n")
    return text
