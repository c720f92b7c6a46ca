"""Bad configuration: one clear line per problem, exit code 2, nothing created, no traceback."""

from __future__ import annotations

import socket

import pytest

from tests.behave_run import run_behave


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bad_inputs(sandbox_url: str, tmp_path):
    unwritable = tmp_path / "a-file"
    unwritable.write_text("not a directory")
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
    ]


CASES = ["malformed URL", "unreachable host", "wrong password", "empty user", "bad VAST key", "negative budget",
         "non-numeric budget", "unknown GPU", "unknown language", "unwritable reports dir"]


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
