"""Pictures of a run, as SVG written by hand: a timeline (Gantt) of each journey's phases, and cost per journey.

Both read the plain data of metrics.json (``support.reporting.summary.summarize``), so
they can be drawn again from a saved metrics.json. They are saved under the
reports directory and attached to Allure (``support.allure_out.results_dir.attach_charts``).
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

from support.files import write_atomically
from support.reporting.names import shown_name
from support.reporting.summary import shows_uncertainty

TEXT = {
    "pt": {"timeline": "Linha do tempo das jornadas", "journey_timeline": "Linha do tempo: {name}",
           "cost": "Custo por jornada", "seconds": "segundos desde o início", "no_phases": "nenhuma fase medida",
           "no_journeys": "nenhuma jornada", "simulated": "custos simulados do sandbox (tempo ×{scale:g})",
           "machines": "{n} máquina(s)", "total": "Total: {cost}",
           "status": {"passed": "passou", "failed": "falhou", "interrupted": "interrompida",
                      "skipped": "pulada", "running": "não terminou"}},
    "en": {"timeline": "Journey timeline", "journey_timeline": "Timeline: {name}",
           "cost": "Cost per journey", "seconds": "seconds since start", "no_phases": "no phase measured",
           "no_journeys": "no journeys", "simulated": "simulated sandbox costs (time ×{scale:g})",
           "machines": "{n} machine(s)", "total": "Total: {cost}",
           "status": {"passed": "passed", "failed": "failed", "interrupted": "interrupted",
                      "skipped": "skipped", "running": "did not finish"}},
}

STATUS_COLOURS = {"passed": "#4caf50", "failed": "#e53935", "interrupted": "#fb8c00",
                  "skipped": "#9e9e9e", "running": "#e53935"}
#: Phase colours by kind of work, so the same phase has the same colour in every chart.
PHASE_COLOURS = {
    "create": "#5c6bc0", "running": "#3949ab", "ssh": "#1e88e5", "model_install": "#8e24aa",
    "model_verify": "#ab47bc", "snapshot": "#00897b", "restore": "#00acc1", "pause": "#6d4c41",
    "resume": "#f4511e", "delete": "#757575", "failover": "#d81b60", "failback": "#c2185b",
}
OTHER_PHASE = "#90a4ae"

WIDTH = 1060
LEFT = 330          # room for row labels: a journey's kind and the start of its scenario's name
RIGHT = 200         # room for the duration and status written after a bar
LABEL = 44          # characters of a journey's label (the whole name is in the bar's tooltip)
ROW = 20
FONT = "font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\""


def _epoch(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.fromisoformat(value).timestamp()


def _seconds(value: float) -> str:
    if value < 10:
        return f"{value:.2f} s"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(int(round(value)), 60)
    return f"{minutes} min {rest:02d} s"


def _cost(dollars: float) -> str:
    return f"${dollars:.2f}" if dollars >= 1 else f"${dollars:.4f}"


def _nice_step(span: float, ticks: int = 8) -> float:
    """A round tick step (1, 2 or 5 × 10ⁿ) giving about ``ticks`` ticks over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _text(x, y, text, size=12, anchor="start", weight="normal", colour="#212121", extra="") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{colour}" {FONT}{extra}>{escape(str(text))}</text>')


def _attr(value) -> str:
    """Text for a double-quoted XML attribute."""
    return escape(str(value), {'"': "&quot;"})


def _plus_minus(uncertainty: float) -> str:
    return "± " + (_seconds(uncertainty) if uncertainty >= 0.01 else f"{uncertainty:.1g} s")


def _whisker(x: float, half: float, y: float, colour: str, title: str) -> str:
    """Where a phase's end may really lie: a lighter band ``half`` pixels either side of ``x``, with a
    whisker across it and caps at its ends (at least a few pixels wide, so it is seen at all)."""
    half = max(half, 0.5)
    left, right = x - half, x + half
    return (f'<g class="uncertainty" data-uncertainty-px="{half:.2f}"><title>{title}</title>'
            f'<rect x="{left:.1f}" y="{y - 6:.1f}" width="{2 * half:.1f}" height="12" fill="{colour}" '
            f'fill-opacity="0.3"/>'
            f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}" stroke="#212121" stroke-width="1"/>'
            f'<line x1="{left:.1f}" y1="{y - 4:.1f}" x2="{left:.1f}" y2="{y + 4:.1f}" stroke="#212121" '
            f'stroke-width="1"/>'
            f'<line x1="{right:.1f}" y1="{y - 4:.1f}" x2="{right:.1f}" y2="{y + 4:.1f}" stroke="#212121" '
            f'stroke-width="1"/></g>')


def _clip(text: str, length: int = 34) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_attr(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        *body,
        "</svg>",
        "",
    ])


def timeline_svg(journeys: list[dict], language: str = "en", title: str | None = None) -> str:
    """A Gantt chart: for each journey a bar for its whole length, then one bar per phase.

    ``journeys`` are journey dicts as in metrics.json; x is seconds since the
    first journey started. Phases that overlap (``running`` and ``ssh`` both
    count from the create request) are drawn on rows of their own. A phase's
    uncertainty is a lighter band with a whisker around its end (its title says
    "± x"), and is written after the bar when it is more than 1 % of the phase.
    """
    words = TEXT[language]
    title = title or words["timeline"]
    shown = [j for j in journeys if j.get("status") != "skipped" or j.get("phases")]
    starts = [_epoch(j["start_time"]) for j in shown if j.get("start_time")]
    origin = min(starts) if starts else 0.0
    ends = []
    for journey in shown:
        start = _epoch(journey["start_time"]) or origin
        ends.append(start + float(journey.get("duration_seconds") or 0))
        for phase in journey.get("phases", []):
            ends.append((_epoch(phase["started_at"]) or start) + float(phase["seconds"])
                        + float(phase.get("uncertainty_seconds") or 0))
    span = max([e - origin for e in ends] + [0.001])
    plot = WIDTH - LEFT - RIGHT
    scale = plot / span

    rows = sum(1 + max(1, len(j.get("phases", []))) for j in shown) or 1
    top = 50
    height = top + rows * ROW + 60
    body = [_text(12, 24, title, size=16, weight="bold")]
    step = _nice_step(span)
    tick = 0.0
    while tick <= span + 1e-9:
        x = LEFT + tick * scale
        body.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 40}" stroke="#eeeeee"/>')
        label = f"{tick:g}" if step >= 1 else f"{tick:.2f}".rstrip("0").rstrip(".")
        body.append(_text(x, height - 26, label, size=10, anchor="middle", colour="#616161"))
        tick += step
    body.append(_text(LEFT + plot / 2, height - 10, words["seconds"], size=11, anchor="middle", colour="#616161"))
    if not shown:
        body.append(_text(LEFT, top + 14, words["no_journeys"], colour="#757575"))

    y = top
    for journey in shown:
        start = _epoch(journey["start_time"]) or origin
        status = journey.get("status", "running")
        colour = STATUS_COLOURS.get(status, STATUS_COLOURS["failed"])
        duration = float(journey.get("duration_seconds") or 0)
        name = shown_name(journey)
        x = LEFT + (start - origin) * scale
        body.append(f'<rect x="0" y="{y}" width="{WIDTH}" height="{ROW}" fill="#f5f5f5"/>')
        body.append(_text(8, y + 14, _clip(name, LABEL), size=12, weight="bold"))
        body.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{max(duration * scale, 1.5):.1f}" height="{ROW - 6}" '
                    f'fill="{colour}" rx="3" data-journey="{_attr(name)}" data-status="{status}">'
                    f"<title>{escape(name)}: {words['status'].get(status, status)}, "
                    f"{_seconds(duration)}</title></rect>")
        body.append(_text(x + max(duration * scale, 1.5) + 6, y + 14,
                          f"{_seconds(duration)} · {words['status'].get(status, status)}", size=11))
        y += ROW
        phases = journey.get("phases", [])
        if not phases:
            body.append(_text(24, y + 14, words["no_phases"], size=11, colour="#757575"))
            y += ROW
        for phase in phases:
            p_start = _epoch(phase["started_at"]) or start
            seconds = float(phase["seconds"])
            uncertainty = float(phase.get("uncertainty_seconds") or 0)
            px = LEFT + (p_start - origin) * scale
            width = max(seconds * scale, 1.5)
            fill = PHASE_COLOURS.get(phase["name"], OTHER_PHASE)
            label = phase["name"] + (f" ({phase['detail']})" if phase.get("detail") else "")
            timed = _seconds(seconds) + (f" {_plus_minus(uncertainty)}" if uncertainty else "")
            body.append(_text(24, y + 14, _clip(label, 32), size=11, colour="#424242"))
            body.append(f'<rect x="{px:.1f}" y="{y + 4}" width="{width:.1f}" height="{ROW - 8}" fill="{fill}" rx="2" '
                        f'data-phase="{_attr(phase["name"])}" data-seconds="{seconds}" '
                        f'data-uncertainty="{uncertainty}"><title>{escape(label)}: {timed}</title></rect>')
            after = px + width
            if uncertainty:
                body.append(_whisker(px + seconds * scale, uncertainty * scale, y + ROW / 2, fill,
                                     f"{escape(label)}: {timed}"))
                after = max(after, px + (seconds + uncertainty) * scale)
            shown_time = timed if shows_uncertainty(seconds, uncertainty) else _seconds(seconds)
            body.append(_text(after + 5, y + 14, shown_time, size=10, colour="#424242"))
            y += ROW
    return _svg(WIDTH, height, title, body)


def cost_svg(journeys: list[dict], language: str = "en", time_scale: float | None = None) -> str:
    """Horizontal bars: what each journey cost, split by machine, with its GPU and status."""
    words = TEXT[language]
    title = words["cost"]
    shown = [j for j in journeys if j.get("status") != "skipped" or j.get("machines")]
    top = 50
    bar = 26
    height = top + max(1, len(shown)) * (bar + 10) + 60
    plot = WIDTH - LEFT - 330      # room for the label after the longest bar
    highest = max([float(j.get("total_cost") or 0) for j in shown] + [0.0])
    scale = plot / highest if highest > 0 else 0.0
    total = sum(float(j.get("total_cost") or 0) for j in journeys)
    body = [_text(12, 24, title, size=16, weight="bold"),
            _text(WIDTH - 12, 24, words["total"].format(cost=_cost(total)), size=13, anchor="end", weight="bold")]
    if time_scale and time_scale != 1:
        body.append(_text(12, 40, words["simulated"].format(scale=time_scale), size=10, colour="#757575"))
    if not shown:
        body.append(_text(LEFT, top + 16, words["no_journeys"], colour="#757575"))
    y = top
    for journey in shown:
        name = shown_name(journey)
        status = journey.get("status", "running")
        cost = float(journey.get("total_cost") or 0)
        body.append(_text(8, y + 17, _clip(name, LABEL), size=12, weight="bold"))
        x = LEFT
        machines = journey.get("machines", [])
        for index, machine in enumerate(machines):
            width = float(machine.get("cost") or 0) * scale
            shade = STATUS_COLOURS.get(status, STATUS_COLOURS["failed"])
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{max(width, 1.0):.1f}" height="{bar}" fill="{shade}" '
                        f'fill-opacity="{1.0 if index % 2 == 0 else 0.7}" stroke="#ffffff" '
                        f'data-machine="{_attr(machine.get("id"))}" data-cost="{machine.get("cost")}">'
                        f"<title>{escape(str(machine.get('id')))} ({escape(str(machine.get('gpu_name')))}): "
                        f"{_cost(float(machine.get('cost') or 0))}</title></rect>")
            x += width
        if not machines:
            body.append(f'<rect x="{x:.1f}" y="{y}" width="1" height="{bar}" fill="#bdbdbd"/>')
        gpus = sorted({str(m.get("gpu_name")) for m in machines if m.get("gpu_name")})
        detail = [_cost(cost)]
        if gpus:
            detail.append(", ".join(gpus))
        if machines:
            detail.append(words["machines"].format(n=len(machines)))
        detail.append(words["status"].get(status, status))
        body.append(_text(x + 6, y + 17, " · ".join(detail), size=11,
                          extra=f' data-journey="{_attr(name)}" data-total="{cost}"'))
        y += bar + 10
    body.append(f'<line x1="{LEFT}" y1="{top - 4}" x2="{LEFT}" y2="{y}" stroke="#9e9e9e"/>')
    return _svg(WIDTH, height, title, body)


def write_charts(summary: dict, reports_dir: Path, language: str = "en") -> dict[str, Path]:
    """Save the run's timeline and cost charts under ``reports_dir``; return their paths by name."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    charts = {
        "timeline": (reports_dir / "timeline.svg", timeline_svg(summary["journeys"], language)),
        "cost": (reports_dir / "cost-per-journey.svg",
                 cost_svg(summary["journeys"], language, summary["run"].get("time_scale"))),
    }
    paths = {}
    for name, (path, svg) in charts.items():
        paths[name] = write_atomically(path, svg)
    return paths
