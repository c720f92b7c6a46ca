"""support.redact: nothing secret leaves the process."""

from __future__ import annotations

from support.redact import MASK, redact

KEY_BLOCK = """-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACDg3xQ7
-----END OPENSSH PRIVATE KEY-----"""


def test_known_secrets_masked():
    text = redact("login as qa@example.com with hunter2-pass and key VASTKEY0123456789abcdef",
                  ["hunter2-pass", "VASTKEY0123456789abcdef"])
    assert "hunter2-pass" not in text and "VASTKEY0123456789abcdef" not in text
    assert "qa@example.com" in text and text.count(MASK) == 2


def test_longest_secret_first():
    text = redact("token=abcdef123456", ["abcd", "abcdef123456"])
    assert text == f"token={MASK}"


def test_short_and_empty_secrets_ignored():
    assert redact("a b c", ["", None, "a"]) == "a b c"


def test_bearer_tokens_masked():
    text = redact("Authorization: Bearer eyJhbGciOi.J9-payload_x.sig\nauthorization: bearer abc123", [])
    assert "eyJhbGciOi" not in text and "abc123" not in text
    assert f"Bearer {MASK}" in text and f"bearer {MASK}" in text


def test_private_key_blocks_masked():
    text = redact(f"before\n{KEY_BLOCK}\nafter", [])
    assert "PRIVATE KEY" not in text and "b3BlbnNzaC1" not in text
    assert text == f"before\n{MASK}\nafter"


def test_two_key_blocks_both_masked_and_text_between_kept():
    text = redact(f"{KEY_BLOCK}\nmiddle\n{KEY_BLOCK.replace('OPENSSH', 'RSA')}", [])
    assert text == f"{MASK}\nmiddle\n{MASK}"
