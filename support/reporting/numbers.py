"""How the reports write numbers, money and dates in their language.

Portuguese (pt-BR) writes "9,3 seg", "US$ 0,0126", "1.234 chamadas" and "15/01/2027 14:03:09 UTC".
English is written as it always was ("9.3 s", "$0.0126", "1234 calls", "2027-01-15 14:03:09 UTC"), so
the English report does not change and no one's parser of it breaks.
"""

from __future__ import annotations

from datetime import datetime, timezone

#: pt-BR swaps the roles of the point and the comma: "1.234,5".
_PT_SEPARATORS = str.maketrans({",": ".", ".": ","})


def _is_pt(language: str) -> bool:
    return language == "pt"


def decimal(value: float, digits: int, language: str) -> str:
    """``value`` with ``digits`` decimals: "12.3" in English, "12,3" in Portuguese (thousands grouped: "1.234,5")."""
    if _is_pt(language):
        return f"{value:,.{digits}f}".translate(_PT_SEPARATORS)
    return f"{value:.{digits}f}"


def general(value: float, language: str, spec: str = "g") -> str:
    """``value`` written with a format spec without grouping (``g``, ``.1g``), its decimal mark in the language."""
    text = format(value, spec)
    return text.replace(".", ",") if _is_pt(language) else text


def integer(value: int, language: str) -> str:
    """A count: "1234" in English, "1.234" in Portuguese."""
    if _is_pt(language) and isinstance(value, int):
        return f"{value:,}".translate(_PT_SEPARATORS)
    return str(value)


def money(dollars: float, language: str) -> str:
    """US dollars, with cents, or four decimals under a dollar so small sandbox costs stay visible.

    Portuguese writes them "US$ 0,0126": a bare "$" reads as reais in Brazil.
    """
    digits = 2 if dollars >= 1 else 4
    if _is_pt(language):
        return f"US$ {decimal(dollars, digits, language)}"
    return f"${dollars:.{digits}f}"


def date_time(iso_text: str, language: str) -> str:
    """A moment of metrics.json (ISO 8601, UTC) as "2027-01-15 14:03:09 UTC" or "15/01/2027 14:03:09 UTC"."""
    moment = datetime.fromisoformat(iso_text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    pattern = "%d/%m/%Y %H:%M:%S" if _is_pt(language) else "%Y-%m-%d %H:%M:%S"
    return f"{moment.strftime(pattern)} UTC"
