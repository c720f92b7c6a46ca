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
from support.reporting import numbers
from support.reporting.names import localized, machine_name, numbered, shown_name, shown_names
from support.reporting.summary import shows_uncertainty

TEXT = {
    "pt": {"timeline": "Linha do tempo das jornadas", "journey_timeline": "Linha do tempo: {name}",
           "cost": "Custo por jornada", "seconds": "segundos desde o início", "no_phases": "nenhuma fase medida",
           "no_journeys": "nenhuma jornada", "simulated": "custos simulados do sandbox (tempo ×{scale})",
           "machines": "{n} máquina(s)", "total": "Total: {cost}", "sec": "seg", "min": "min",
           "after": "{phase} após {previous}", "legend": "Máquinas:",
           "stalled": "dos quais {seconds} com o servidor travado",
           "kinds": {"instance": "instância GPU", "standby": "standby de CPU"},
           "status": {"passed": "passou", "failed": "falhou", "interrupted": "interrompida",
                      "skipped": "pulada", "running": "não terminou"}},
    "en": {"timeline": "Journey timeline", "journey_timeline": "Timeline: {name}",
           "cost": "Cost per journey", "seconds": "seconds since start", "no_phases": "no phase measured",
           "no_journeys": "no journeys", "simulated": "simulated sandbox costs (time ×{scale})",
           "machines": "{n} machine(s)", "total": "Total: {cost}", "sec": "s", "min": "min",
           "after": "{phase} after {previous}", "legend": "Machines:",
           "stalled": "of which {seconds} the server was stalled",
           "kinds": {"instance": "GPU instance", "standby": "CPU standby"},
           "status": {"passed": "passed", "failed": "failed", "interrupted": "interrupted",
                      "skipped": "skipped", "running": "did not finish"}},
}
#: The phases (metrics.json's names, which the English charts show as they are) in Portuguese.
PHASES_PT = {
    "gpu_check": "verificação da GPU", "readiness": "prontidão",
    "health": "saúde da API", "login": "login", "balance": "saldo", "offer_search": "busca de oferta",
    "cpu_offer_search": "busca de oferta de CPU", "create": "criação", "running": "running", "ssh": "ssh",
    "model_install": "instalação do modelo", "model_verify": "verificação do modelo", "snapshot": "snapshot",
    "pause": "pausa", "resume": "retomada", "delete": "exclusão", "restore_running": "boot da restauração",
    "restore_apply": "aplicação da restauração", "restore": "restauração", "standby_ready": "standby pronto",
    "write_dataset": "gravação dos dados", "failure": "falha", "detect": "detecção",
    "standby_verify": "verificação do standby", "failover": "failover", "failback": "failback",
    "recovery": "recuperação",
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
#: What each kind of machine is drawn in on the cost chart (its legend says so).
MACHINE_COLOURS = {"instance": "#3949ab", "standby": "#26a69a"}
OTHER_MACHINE = "#90a4ae"

WIDTH = 1060
LEFT = 330          # room for row labels: a journey's whole name, wrapped onto as many lines as it needs
RIGHT = 200         # room for the duration and status written after a bar
ROW = 20
AFTER_BAR = 22      # from a cost bar's end to its words: room for the status dot between them
PLOT = 400          # the longest cost bar, when the words after every bar leave it that much room
NAME_LINE = 15      # from one line of a journey's name to the next (12 px bold)
PHASE_LINE = 13     # from one line of a phase's label to the next (11 px)
FONT = "font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\""
#: Widths of characters in DejaVu Sans, in ems, by class (Arial, the fallback, is narrower): enough to
#: wrap a name before it runs into the bars, without a font library.
_NARROW, _SEMI, _WIDE = set(" .,;:'|!ijlI"), set('frt()[]/-"'), set("mwMW—%@")


def _epoch(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.fromisoformat(value).timestamp()


def _seconds(value: float, language: str = "en") -> str:
    words = TEXT[language]
    if value < 10:
        return f"{numbers.decimal(value, 2, language)} {words['sec']}"
    if value < 60:
        return f"{numbers.decimal(value, 1, language)} {words['sec']}"
    minutes, rest = divmod(int(round(value)), 60)
    return f"{numbers.integer(minutes, language)} {words['min']} {rest:02d} {words['sec']}"


def _cost(dollars: float, language: str = "en") -> str:
    return numbers.money(dollars, language)


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


def _plus_minus(uncertainty: float, language: str = "en") -> str:
    if uncertainty >= 0.01:
        return "± " + _seconds(uncertainty, language)
    return f"± {numbers.general(uncertainty, language, '.1g')} {TEXT[language]['sec']}"


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


def text_width(text: str, size: float, bold: bool = False) -> float:
    """About how many pixels ``text`` takes at ``size`` in DejaVu Sans (rather more than less)."""
    ems = 0.0
    for char in text:
        if char in _NARROW:
            ems += 0.32
        elif char in _SEMI:
            ems += 0.42
        elif char in _WIDE:
            ems += 0.98
        elif char.isupper():
            ems += 0.76
        else:
            ems += 0.64
    return ems * size * (1.1 if bold else 1.0)


def wrap(text: str, room: float, size: float, bold: bool = False) -> list[str]:
    """``text`` on as many lines as it needs to fit ``room`` pixels, broken only between words, so every
    word is shown whole (a word longer than a line gets a line of its own)."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if line and text_width(candidate, size, bold) > room:
            lines.append(line)
            line = word
        else:
            line = candidate
    lines.append(line)
    return lines


def _lines(x, y, lines: list[str], step: float, size=12, weight="normal", colour="#212121", extra="") -> str:
    """One text element of several lines: the first at ``y``, each next one ``step`` pixels lower."""
    rest = "".join(f'<tspan x="{x:.1f}" dy="{step}">{escape(line)}</tspan>' for line in lines[1:])
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="start" font-weight="{weight}" '
            f'fill="{colour}" {FONT}{extra}>{escape(lines[0])}{rest}</text>')


def _name_lines(name: str) -> list[str]:
    """A journey's name as its row shows it, at 12 px bold from x = 8, clear of the bars at LEFT."""
    return wrap(name, LEFT - 8 - 14, 12, bold=True)


def phase_word(name: str, language: str) -> str:
    """A phase's name as a chart in ``language`` shows it."""
    return PHASES_PT.get(name, name) if language == "pt" else name


def _stalled(phase: dict, language: str) -> str:
    """The part of a phase the server was stalled, in words ("of which 2.0 s ± 0.05 s the server was stalled")."""
    seconds = float(phase.get("server_stalled_seconds") or 0)
    if not seconds:
        return ""
    uncertainty = float(phase.get("server_stalled_uncertainty") or 0)
    said = _seconds(seconds, language)
    if shows_uncertainty(seconds, uncertainty):
        said += f" {_plus_minus(uncertainty, language)}"
    return TEXT[language]["stalled"].format(seconds=said)


def phase_labels(phases: list[dict], language: str = "en") -> list[str]:
    """Each phase's label, no two alike within a journey: a phase that repeats one already shown (the SSH
    after a resume, the boot of a restored machine) is named by what it came after, "ssh after resume"."""
    words = TEXT[language]
    base = [phase_word(p["name"], language) + "".join(f" ({said})" for said in (p.get("detail"), _stalled(p, language))
                                                      if said) for p in phases]
    labels = []
    for index, label in enumerate(base):
        if label in base[:index]:
            previous = next((phases[k]["name"] for k in range(index - 1, -1, -1) if base[k] != label), None)
            if previous:
                label = words["after"].format(phase=label, previous=phase_word(previous, language))
        labels.append(label)
    return numbered(labels)         # alike still (the same phase twice after the same one): numbered


def _machine_kind(machine: dict) -> str:
    """"instance" or "standby"; older summaries name a standby only by its gpu_name ("CPU standby")."""
    kind = machine.get("kind")
    if kind:
        return str(kind)
    return "standby" if "standby" in str(machine.get("gpu_name") or "").lower() else "instance"


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
    Every word is in ``language``: a ``title`` naming a journey is translated like the rows.
    """
    words = TEXT[language]
    title = localized(title, language) if title else words["timeline"]
    shown = [j for j in journeys if j.get("status") != "skipped" or j.get("phases")]
    names = shown_names(shown, language)
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

    # Each journey's rows first: a name or a phase label on several lines makes its row taller.
    layout = []
    for journey, name in zip(shown, names, strict=True):
        name_lines = _name_lines(name)
        phases = journey.get("phases", [])
        label_lines = [wrap(label, LEFT - 24 - 10, 11) for label in phase_labels(phases, language)]
        layout.append((journey, name, name_lines, list(zip(phases, label_lines, strict=True))))
    rows_height = sum(ROW + NAME_LINE * (len(name_lines) - 1)
                      + (sum(ROW + PHASE_LINE * (len(lines) - 1) for _, lines in phases) if phases else ROW)
                      for _, _, name_lines, phases in layout) or ROW
    top = 50
    height = top + rows_height + 60
    body = [_text(12, 24, title, size=16, weight="bold")]
    step = _nice_step(span)
    tick = 0.0
    while tick <= span + 1e-9:
        x = LEFT + tick * scale
        body.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 40}" stroke="#eeeeee"/>')
        label = (numbers.general(tick, language) if step >= 1
                 else numbers.decimal(tick, 2, language).rstrip("0").rstrip(".,"))
        body.append(_text(x, height - 26, label, size=10, anchor="middle", colour="#616161"))
        tick += step
    body.append(_text(LEFT + plot / 2, height - 10, words["seconds"], size=11, anchor="middle", colour="#616161"))
    if not shown:
        body.append(_text(LEFT, top + 14, words["no_journeys"], colour="#757575"))

    y = top
    for journey, name, name_lines, phases in layout:
        start = _epoch(journey["start_time"]) or origin
        status = journey.get("status", "running")
        colour = STATUS_COLOURS.get(status, STATUS_COLOURS["failed"])
        duration = float(journey.get("duration_seconds") or 0)
        key = shown_name(journey)       # as metrics.json names it, whatever the language
        x = LEFT + (start - origin) * scale
        header = ROW + NAME_LINE * (len(name_lines) - 1)
        body.append(f'<rect x="0" y="{y}" width="{WIDTH}" height="{header}" fill="#f5f5f5"/>')
        body.append(_lines(8, y + 14, name_lines, NAME_LINE, size=12, weight="bold",
                           extra=' class="journey-name"'))
        body.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{max(duration * scale, 1.5):.1f}" height="{ROW - 6}" '
                    f'fill="{colour}" rx="3" data-journey="{_attr(key)}" data-status="{status}">'
                    f"<title>{escape(name)}: {words['status'].get(status, status)}, "
                    f"{_seconds(duration, language)}</title></rect>")
        body.append(_text(x + max(duration * scale, 1.5) + 6, y + 14,
                          f"{_seconds(duration, language)} · {words['status'].get(status, status)}", size=11))
        y += header
        if not phases:
            body.append(_text(24, y + 14, words["no_phases"], size=11, colour="#757575"))
            y += ROW
        for phase, label_lines in phases:
            p_start = _epoch(phase["started_at"]) or start
            seconds = float(phase["seconds"])
            uncertainty = float(phase.get("uncertainty_seconds") or 0)
            px = LEFT + (p_start - origin) * scale
            width = max(seconds * scale, 1.5)
            fill = PHASE_COLOURS.get(phase["name"], OTHER_PHASE)
            label = " ".join(label_lines)
            timed = _seconds(seconds, language) + (f" {_plus_minus(uncertainty, language)}" if uncertainty else "")
            body.append(_lines(24, y + 14, label_lines, PHASE_LINE, size=11, colour="#424242",
                               extra=' class="phase-label"'))
            body.append(f'<rect x="{px:.1f}" y="{y + 4}" width="{width:.1f}" height="{ROW - 8}" fill="{fill}" rx="2" '
                        f'data-phase="{_attr(phase["name"])}" data-label="{_attr(label)}" data-seconds="{seconds}" '
                        f'data-uncertainty="{uncertainty}"><title>{escape(label)}: {timed}</title></rect>')
            after = px + width
            if uncertainty:
                body.append(_whisker(px + seconds * scale, uncertainty * scale, y + ROW / 2, fill,
                                     f"{escape(label)}: {timed}"))
                after = max(after, px + (seconds + uncertainty) * scale)
            shown_time = timed if shows_uncertainty(seconds, uncertainty) else _seconds(seconds, language)
            body.append(_text(after + 5, y + 14, shown_time, size=10, colour="#424242"))
            y += ROW + PHASE_LINE * (len(label_lines) - 1)
    return _svg(WIDTH, height, title, body)


def cost_svg(journeys: list[dict], language: str = "en", time_scale: float | None = None) -> str:
    """Horizontal bars: what each journey cost, split by machine, with its GPU and status.

    Each machine is drawn in the colour of its kind (GPU instance, CPU standby), which the legend under
    the bars names; a journey's status is the dot after its bar and the word after that.
    """
    words = TEXT[language]
    title = words["cost"]
    shown = [j for j in journeys if j.get("status") != "skipped" or j.get("machines")]
    names = [_name_lines(name) for name in shown_names(shown, language)]
    top = 50
    bar = 26
    gap = 10
    heights = [max(bar, 21 + NAME_LINE * (len(lines) - 1)) + gap for lines in names]
    kinds = list(dict.fromkeys(_machine_kind(m) for j in shown for m in j.get("machines", [])))
    legend = 34 if kinds else 0
    height = top + (sum(heights) or bar + gap) + legend + 16
    details = [_cost_detail(j, language) for j in shown]
    # The longest bar is at most PLOT wide, and every bar leaves room for its status dot and words after it.
    rooms = [(PLOT, max([float(j.get("total_cost") or 0) for j in shown] + [0.0]))]
    rooms += [(WIDTH - 12 - LEFT - AFTER_BAR - text_width(detail, 11), float(j.get("total_cost") or 0))
              for j, detail in zip(shown, details, strict=True)]
    scale = min([max(room, 40.0) / cost for room, cost in rooms if cost > 0], default=0.0)
    total = sum(float(j.get("total_cost") or 0) for j in journeys)
    body = [_text(12, 24, title, size=16, weight="bold"),
            _text(WIDTH - 12, 24, words["total"].format(cost=_cost(total, language)), size=13, anchor="end",
                  weight="bold")]
    if time_scale and time_scale != 1:
        body.append(_text(12, 40, words["simulated"].format(scale=numbers.general(time_scale, language)), size=10,
                          colour="#757575"))
    if not shown:
        body.append(_text(LEFT, top + 16, words["no_journeys"], colour="#757575"))
    y = top
    for journey, name_lines, row, detail in zip(shown, names, heights, details, strict=True):
        key = shown_name(journey)       # as metrics.json names it, whatever the language
        status = journey.get("status", "running")
        cost = float(journey.get("total_cost") or 0)
        body.append(_lines(8, y + 17, name_lines, NAME_LINE, size=12, weight="bold",
                           extra=' class="journey-name"'))
        x = LEFT
        machines = journey.get("machines", [])
        for machine in machines:
            width = float(machine.get("cost") or 0) * scale
            kind = _machine_kind(machine)
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{max(width, 1.0):.1f}" height="{bar}" '
                        f'fill="{MACHINE_COLOURS.get(kind, OTHER_MACHINE)}" stroke="#ffffff" '
                        f'data-machine="{_attr(machine.get("id"))}" data-kind="{_attr(kind)}" '
                        f'data-cost="{machine.get("cost")}">'
                        f"<title>{escape(str(machine.get('id')))} ({escape(_kind_word(kind, language))}, "
                        f"{escape(machine_name(str(machine.get('gpu_name')), language))}): "
                        f"{_cost(float(machine.get('cost') or 0), language)}</title></rect>")
            x += width
        if not machines:
            body.append(f'<rect x="{x:.1f}" y="{y}" width="1" height="{bar}" fill="#bdbdbd"/>')
        status_word = words["status"].get(status, status)
        body.append(f'<circle cx="{x + 11:.1f}" cy="{y + bar / 2:.1f}" r="5" '
                    f'fill="{STATUS_COLOURS.get(status, STATUS_COLOURS["failed"])}" data-status="{status}">'
                    f"<title>{escape(status_word)}</title></circle>")
        body.append(_text(x + AFTER_BAR, y + 17, detail, size=11,
                          extra=f' data-journey="{_attr(key)}" data-total="{cost}"'))
        y += row
    body.append(f'<line x1="{LEFT}" y1="{top - 4}" x2="{LEFT}" y2="{y}" stroke="#9e9e9e"/>')
    if kinds:
        body.append(_legend(y + 10, kinds, language))
    return _svg(WIDTH, height, title, body)


def _cost_detail(journey: dict, language: str) -> str:
    """What is written after a journey's cost bar: its cost, machines and status."""
    words = TEXT[language]
    machines = journey.get("machines", [])
    status = journey.get("status", "running")
    gpus = sorted({machine_name(str(m.get("gpu_name")), language) for m in machines if m.get("gpu_name")})
    detail = [_cost(float(journey.get("total_cost") or 0), language)]
    if gpus:
        detail.append(", ".join(gpus))
    if machines:
        detail.append(words["machines"].format(n=numbers.integer(len(machines), language)))
    detail.append(words["status"].get(status, status))
    return " · ".join(detail)


def _kind_word(kind: str, language: str) -> str:
    return TEXT[language]["kinds"].get(kind, kind)


def _legend(y: float, kinds: list[str], language: str) -> str:
    """Which colour is which kind of machine, one swatch and word for each kind the chart shows."""
    words = TEXT[language]
    entries = [_text(LEFT - 8, y + 11, words["legend"], size=11, anchor="end", colour="#424242")]
    x = float(LEFT)
    for kind in kinds:
        word = _kind_word(kind, language)
        entries.append(f'<g class="legend-entry" data-kind="{_attr(kind)}">'
                       f'<rect x="{x:.1f}" y="{y}" width="14" height="14" '
                       f'fill="{MACHINE_COLOURS.get(kind, OTHER_MACHINE)}"/>'
                       f"{_text(x + 20, y + 11, word, size=11)}</g>")
        x += 20 + text_width(word, 11) + 24
    return f'<g class="legend">{"".join(entries)}</g>'


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
