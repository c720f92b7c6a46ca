"""A failed journey's error, as metrics.json and Allure keep it: the server's whole message, secrets redacted."""

from __future__ import annotations

from types import SimpleNamespace

from environment import first_error
from support.errors import ApiError, ServerSaidNo
from support.report import summary_line

MULTI_LINE = ("Failed to create snapshot: Fatal: unable to open repo at sftp:backup@10.0.0.2:/restic:\n"
              "ssh: connect as root@instance 7000009\n"
              "Permission denied (publickey).")


def scenario_failing_with(exception, message: str):
    failed = SimpleNamespace(error_message=message, exception=exception)
    return SimpleNamespace(all_steps=[SimpleNamespace(error_message=None), failed])


def test_a_multi_line_server_message_is_kept_whole():
    error = ServerSaidNo(ApiError("POST", "/api/v1/snapshots", 500, MULTI_LINE))
    kept = first_error(scenario_failing_with(error, f"ASSERT FAILED: {error}"), secrets=[])
    assert kept == f"the server answered POST /api/v1/snapshots with 500: {MULTI_LINE}"
    assert kept.endswith("Permission denied (publickey).")                 # the line that says why
    assert summary_line(kept).startswith("the server answered POST /api/v1/snapshots with 500: Failed to create")


def test_secrets_are_redacted_from_the_kept_message():
    error = AssertionError("login refused with token sekret-token-123456")
    kept = first_error(scenario_failing_with(error, "ASSERT FAILED: ..."), secrets=["sekret-token-123456"])
    assert "sekret-token-123456" not in kept


def test_without_an_exception_the_last_line_of_behaves_message_is_kept():
    kept = first_error(scenario_failing_with(None, "Traceback ...\n  File x\nValueError: boom"), secrets=[])
    assert kept == "ValueError: boom"
