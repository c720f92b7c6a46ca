"""The Allure categories: why a journey did not pass, in the order Allure 3 tries them.

Written as categories.json (Allure 2's format) into the results directory; allurerc.mjs hands the
same rules to Allure 3. Messages are those our code raises: support/interrupts.py,
support/costs.py SpendRefused, support/backoff.py ApiError, support/waits.py PhaseTimeout and
PhaseFailed, support/ssh.py. Allure 3 puts a result in the first category that matches, so the
order matters.
"""

from __future__ import annotations

CATEGORIES = [
    {"name": "Interrupted",
     "description": "Ctrl-C or SIGTERM stopped the journey; what it created was cleaned up.",
     "matchedStatuses": ["broken", "failed", "skipped", "unknown"],
     "messageRegex": r"[\s\S]*(Interrupted by|KeyboardInterrupt|SIGINT|SIGTERM)[\s\S]*"},
    {"name": "Budget refused",
     "description": "A spending guard refused to rent: balance, DUMONT_BUDGET_USD, price cap, "
                    "allowed GPUs or DUMONT_ALLOW_SPEND.",
     "matchedStatuses": ["failed", "broken", "skipped"],
     "messageRegex": r"[\s\S]*(exceeds the budget|is below the estimated maximum cost|no offer for the allowed "
                     r"GPUs|above the price cap|DUMONT_ALLOW_SPEND|SpendRefused)[\s\S]*"},
    {"name": "Rate limited",
     "description": "The API kept answering 429 (or the real server's 500 \"Limite de requisições excedido\") "
                    "past the backoff deadline.",
     "matchedStatuses": ["failed", "broken"],
     "messageRegex": r"[\s\S]*(Limite de requisi[cç][oõ]es excedido|→ 429|Too Many Requests|"
                     r"[Rr]ate limit)[\s\S]*"},
    {"name": "Infrastructure timeout",
     "description": "A phase did not finish in its time limit, a machine reached a state it cannot come back "
                    "from, SSH or the API did not answer, or the scenario ran past its maximum time.",
     "matchedStatuses": ["failed", "broken"],
     "messageRegex": r"[\s\S]*(did not finish within|scenario exceeded its maximum time|no answer \(|"
                     r"timed out|TimeoutError|stopped for good|actual_status='(exited|offline)'|"
                     r"host is offline)[\s\S]*"},
    {"name": "Product defect",
     "description": "The product did not keep a promise: a check failed or the API answered an error.",
     "matchedStatuses": ["failed", "broken"]},
]
