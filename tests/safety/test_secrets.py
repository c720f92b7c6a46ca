"""Known secret values never appear in anything the suite prints or writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.behave_run import run_behave

PASSWORD = "s3cret-Passw0rd-for-test"
VAST_KEY = "vastkey0123456789abcdefSECRET"


def artifacts(result, reports: Path) -> dict[str, str]:
    texts = {"stdout": result.stdout, "stderr": result.stderr}
    for path in reports.rglob("*"):
        if path.is_file():
            texts[str(path.relative_to(reports))] = path.read_text(errors="replace")
    return texts


def test_no_secret_in_any_artifact(tmp_path, sandbox_server, empty_provider):
    sandbox_server.admin.set_account("secret@example.com", password=PASSWORD, balance=50)
    key = tmp_path / "id_ed25519"
    from support.ssh import SshKey
    generated = SshKey.generate("secrets-test")
    key.write_bytes(generated.private_path.read_bytes())
    key.chmod(0o600)
    generated.remove()
    private_lines = [line for line in key.read_text().splitlines() if line and "PRIVATE KEY" not in line]

    reports = tmp_path / "reports"
    result = run_behave(["features/quick.feature", "features/instance.feature"], reports, sandbox_server.url,
                        "secrets", extra_env={"TEST_USER": "secret@example.com", "TEST_PASSWORD": PASSWORD,
                                              "VAST_API_KEY": VAST_KEY, "VAST_API_URL": empty_provider,
                                              "DUMONT_SSH_KEY": str(key)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    db = sqlite3.connect(Path(sandbox_server.data_dir) / "sandbox.db")
    tokens = [row[0] for row in db.execute("SELECT token FROM tokens WHERE email = ?", ("secret@example.com",))]
    db.close()
    assert tokens, "the run never logged in"
    secrets = {"password": PASSWORD, "VAST key": VAST_KEY, **{f"token {i}": t for i, t in enumerate(tokens)},
               **{f"private key line {i}": line for i, line in enumerate(private_lines)}}
    found = [(name, where) for where, text in artifacts(result, reports).items()
             for name, secret in secrets.items() if secret in text]
    assert found == []
    assert (reports / "metrics.json").is_file() and list((reports / "allure-results").iterdir())
