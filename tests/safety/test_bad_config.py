"""Bad configuration: one clear line per problem, exit code 2, nothing created, no traceback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys

import pytest

from tests.behave_run import ROOT, behave_env, run_behave


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bad_inputs(sandbox_url: str, tmp_path):
    unwritable = tmp_path / "a-file"
    unwritable.write_text("not a directory")
    not_a_key = tmp_path / "id_not_a_key"
    not_a_key.write_text("this is not a private key\n")
    return [
        ("malformed URL", {"DUMONT_API_URL": "localhost:8766"}, "DUMONT_API_URL"),
        ("unreachable host", {"DUMONT_API_URL": f"http://127.0.0.1:{free_port()}"}, "cannot reach"),
        ("wrong password", {"DUMONT_API_URL": sandbox_url, "TEST_PASSWORD": "wrong-password"}, "login refused"),
        ("empty user", {"DUMONT_API_URL": sandbox_url, "TEST_USER": " "}, "TEST_USER"),
        ("bad VAST key", {"VAST_API_KEY": "short!"}, "VAST_API_KEY"),
        ("negative budget", {"DUMONT_BUDGET_USD": "-3"}, "DUMONT_BUDGET_USD"),
        ("non-numeric budget", {"DUMONT_BUDGET_USD": "lots"}, "DUMONT_BUDGET_USD"),
        ("unknown GPU", {"DUMONT_ALLOWED_GPUS": "RTX 9999"}, "unknown GPU 'RTX 9999'"),
        ("unknown language", {"DUMONT_REPORT_LANG": "fr"}, "DUMONT_REPORT_LANG"),
        ("unwritable reports dir", {"DUMONT_REPORTS_DIR": str(unwritable / "reports")}, "DUMONT_REPORTS_DIR"),
        ("SSH key that is not a key", {"DUMONT_SSH_KEY": str(not_a_key)}, "is not a private key that can be read"),
    ]


CASES = ["malformed URL", "unreachable host", "wrong password", "empty user", "bad VAST key", "negative budget",
         "non-numeric budget", "unknown GPU", "unknown language", "unwritable reports dir",
         "SSH key that is not a key"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_clear_line(case, tmp_path, sandbox_server):
    _, env, expected = next(c for c in bad_inputs(sandbox_server.url, tmp_path) if c[0] == case)
    env.setdefault("DUMONT_API_URL", sandbox_server.url)
    reports = tmp_path / "reports"
    if "DUMONT_REPORTS_DIR" in env:
        reports = env.pop("DUMONT_REPORTS_DIR")
    result = run_behave(["features/instance.feature"], reports, None, "bad-config", extra_env={
        **env, "DUMONT_REPORTS_DIR": str(reports)}, timeout=60)
    problems = [line for line in result.stderr.splitlines() if line.startswith("configuration error:")]
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert len(problems) == 1 and expected in problems[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert sandbox_server.admin.resources() == []
    assert "wrong-password" not in result.stderr + result.stdout


def test_several_problems_are_all_reported(tmp_path, sandbox_server):
    result = run_behave(["features/quick.feature"], tmp_path / "reports", sandbox_server.url, "bad-config",
                        extra_env={"DUMONT_BUDGET_USD": "-1", "DUMONT_REPORT_LANG": "xx",
                                   "DUMONT_ALLOWED_GPUS": "GTX 9"}, timeout=60)
    problems = [line for line in result.stderr.splitlines() if line.startswith("configuration error:")]
    assert result.returncode == 2
    assert len(problems) == 3


ENTRY_POINTS = {
    "behave": ["-m", "behave", "--no-capture", str(ROOT / "features" / "instance.feature")],
    "make acceptance": ["-m", "support.parallel", "--jobs", "1", str(ROOT / "features" / "instance.feature")],
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("budget_line, line_text", [
    ("DUMONT_BUDGET_USD 0.001", "cannot parse `DUMONT_BUDGET_USD 0.001` (expected NAME=value)"),
    ('DUMONT_BUDGET_USD="0.001', 'the quote in `DUMONT_BUDGET_USD="0.001` is not closed on its line'),
])
def test_a_dotenv_that_does_not_parse_stops_the_run(entry, budget_line, line_text, tmp_path, sandbox_server):
    # Issue 18: python-dotenv skipped the budget's line with a warning, and with spending allowed the
    # instance journey rented on the $5 default and exited 0. The run is one folder with its own
    # .env (the suite reads ./.env) and behave.ini, as a user's checkout would be.
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "behave.ini", project / "behave.ini")
    key = tmp_path / "id_ed25519"
    key.write_text("a key registered on the provider account (never used: nothing starts)")
    (project / ".env").write_text(f"# money\nDUMONT_ALLOW_SPEND=1\nDUMONT_SSH_KEY={key}\n{budget_line}\n")
    done = subprocess.run([sys.executable, *ENTRY_POINTS[entry]], cwd=project, capture_output=True, text=True,
                          timeout=60, env=behave_env(tmp_path / "reports", sandbox_server.url, "bad-dotenv"))
    output = done.stdout + done.stderr
    assert done.returncode == 2, output[-3000:]
    # One line, naming the file and the line; python-dotenv's own warning never shows.
    assert done.stderr.splitlines() == [f"configuration error: .env line 4: {line_text}"], output[-3000:]
    assert "python-dotenv" not in output and "Traceback" not in output
    assert sandbox_server.admin.resources() == []
