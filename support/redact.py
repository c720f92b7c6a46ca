"""Removing secrets from anything the suite writes or prints."""

from __future__ import annotations

import re

MASK = "***"
#: Shapes of secrets that are not known values: bearer tokens and private key blocks.
PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]+"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
)


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every known secret value and secret-shaped string masked."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = PATTERNS[0].sub(lambda m: m.group(1) + MASK, text)
    return PATTERNS[1].sub(MASK, text)
