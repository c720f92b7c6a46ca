"""The GPU check of each machine a journey rented, one line each, for the final text report (pt or en).

Read from metrics.json's journeys (``extra.gpu_check``, written by support/gpu_check.py): plain data in,
lines out, numbers in the report's language (support/reporting/numbers.py). A check that failed says its
reason, as the step said it; one that passed says what the GPU is and what it measured.
"""

from __future__ import annotations

from support.reporting import numbers

WORDS = {
    "en": {"check": "GPU check, instance {id}", "advertised": "{ratio}× the {advertised} advertised",
           "first_token": "first token {seconds} s", "tokens": "{rate} tokens/s", "driver": "driver {version}"},
    "pt": {"check": "Verificação da GPU, instância {id}", "advertised": "{ratio}× os {advertised} anunciados",
           "first_token": "primeiro token em {seconds} s", "tokens": "{rate} tokens/s",
           "driver": "driver {version}"},
}


def gpu_lines(journey: dict, language: str) -> list[str]:
    """One line per GPU machine the journey checked (none when it checked none)."""
    words = WORDS.get(language, WORDS["en"])
    return [_line(entry, words, language) for entry in (journey.get("extra") or {}).get("gpu_check") or []]


def _line(entry: dict, words: dict, language: str) -> str:
    head = words["check"].format(id=entry.get("instance_id", "?"))
    if entry.get("verdict") != "ok":
        return f"{head}: ❌ {entry.get('reason') or '?'}"
    identity = [entry[key] for key in ("name",) if entry.get(key)]
    if entry.get("memory_total_mib") is not None:
        identity.append(f"{numbers.integer(entry['memory_total_mib'], language)} MiB")
    if entry.get("driver"):
        identity.append(words["driver"].format(version=entry["driver"]))
    if entry.get("cuda"):
        identity.append(f"CUDA {entry['cuda']}")
    parts = [", ".join(identity)] if identity else []
    if entry.get("matmul_tflops") is not None:
        speed = f"{numbers.decimal(entry['matmul_tflops'], 1, language)} TFLOPS"
        if entry.get("ratio") is not None and entry.get("advertised_tflops"):
            speed += " (" + words["advertised"].format(ratio=numbers.decimal(entry["ratio"], 2, language),
                                                      advertised=numbers.general(entry["advertised_tflops"],
                                                                                 language)) + ")"
        parts.append(speed)
    answering = []
    if entry.get("time_to_first_token_seconds") is not None:
        seconds = entry["time_to_first_token_seconds"]
        answering.append(words["first_token"].format(
            seconds=numbers.decimal(seconds, 2 if seconds >= 0.1 else 3, language)))
    if entry.get("tokens_per_second") is not None:
        answering.append(words["tokens"].format(rate=numbers.decimal(entry["tokens_per_second"], 1, language)))
    if answering:
        parts.append(f"{entry.get('model') or '?'}: " + ", ".join(answering))
    return f"{head}: ✅ " + "; ".join(parts)
