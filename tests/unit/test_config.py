"""support.config: defaults, precedence, and one clear line per bad value."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from support import config as cfg
from support.config import ConfigError, Timeouts

GOOD_VAST_KEY = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"


def load(tmp_path: Path, *, environ: dict | None = None, userdata: dict | None = None,
         dotenv: str | None = None):
    """config.load with an explicit environment (never os.environ) and reports under tmp_path."""
    env = {"DUMONT_REPORTS_DIR": str(tmp_path / "reports"), "LANG": "en_US.UTF-8"}
    env.update(environ or {})
    dotenv_path = None
    if dotenv is not None:
        dotenv_path = tmp_path / ".env"
        dotenv_path.write_text(dotenv)
    return cfg.load(userdata=userdata, environ=env, dotenv_path=dotenv_path)


def problems(tmp_path: Path, **kwargs) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, **kwargs)
    return caught.value.problems


def single_problem(tmp_path: Path, variable: str, **kwargs) -> str:
    found = problems(tmp_path, **kwargs)
    assert len(found) == 1, found
    line = found[0]
    assert line.startswith(f"{variable}:"), line
    assert "\n" not in line
    return line


# -- defaults -------------------------------------------------------------------

def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = cfg.load(userdata=None, environ={"LANG": "C.UTF-8"}, dotenv_path=None)
    assert config.api_url is None and config.uses_sandbox
    assert config.user == "test@test.com"
    assert config.password == "test123"
    assert config.vast_api_key is None
    assert config.allow_spend is None          # not said: a real run that rents is refused until it is
    assert config.budget_usd == 5.0
    assert config.max_price == 1.0
    assert config.allowed_gpus == ("RTX 3060", "RTX A4000")
    assert config.language == "en"
    assert config.reports_dir == Path("reports")
    assert (tmp_path / "reports").is_dir()
    assert config.request_timeout == 30.0
    assert config.sandbox_time_scale == 60.0
    assert config.keep_snapshots is False
    assert config.label_prefix == "dumont-acc"
    assert config.run_label == f"dumont-acc-{config.run_id}"
    assert config.timeouts == Timeouts()
    t = config.timeouts
    assert (t.create, t.running, t.model_install, t.snapshot, t.failover) == (300, 600, 1200, 600, 1200)


def test_fresh_run_id_each_load(tmp_path):
    assert load(tmp_path).run_id != load(tmp_path).run_id
    assert load(tmp_path, environ={"DUMONT_RUN_ID": "fixed-1"}).run_id == "fixed-1"


@pytest.mark.parametrize("environ, expected", [
    ({"LANG": "pt_BR.UTF-8"}, "pt"),
    ({"LANG": "en_GB.UTF-8"}, "en"),
    ({"LC_ALL": "pt_PT.UTF-8", "LANG": "en_US.UTF-8"}, "pt"),
    ({"LANG": "pt_BR.UTF-8", "DUMONT_REPORT_LANG": "EN"}, "en"),
])
def test_report_language(tmp_path, environ, expected):
    assert load(tmp_path, environ=environ).language == expected


def test_typed_values(tmp_path):
    key = tmp_path / "id_ed25519"
    key.write_text("a key registered on the provider account")
    config = load(tmp_path, environ={
        "DUMONT_API_URL": "http://localhost:8766/", "DUMONT_ALLOW_SPEND": "sim", "DUMONT_SSH_KEY": str(key),
        "DUMONT_BUDGET_USD": "12.5", "DUMONT_MAX_PRICE": "0.4",
        "DUMONT_ALLOWED_GPUS": "rtx_3060, RTX  4090", "DUMONT_TIMEOUT_CREATE": "42",
        "KEEP_SNAPSHOTS": "1", "VAST_API_KEY": GOOD_VAST_KEY, "SANDBOX_SEED": "7"})
    assert config.api_url == "http://localhost:8766"
    assert not config.uses_sandbox
    assert config.allow_spend is True
    assert config.budget_usd == 12.5 and config.max_price == 0.4
    assert config.allowed_gpus == ("RTX 3060", "RTX 4090")
    assert config.timeouts.create == 42 and config.timeouts.running == 600
    assert config.keep_snapshots is True
    assert config.vast_api_key == GOOD_VAST_KEY
    assert config.sandbox_seed == 7


# -- precedence -------------------------------------------------------------------

DOTENV = """\
TEST_USER=dotenv@example.com
DUMONT_BUDGET_USD=1
DUMONT_MAX_PRICE=0.3
DUMONT_REPORT_LANG=pt
"""


def test_dotenv_is_read(tmp_path):
    config = load(tmp_path, dotenv=DOTENV)
    assert config.user == "dotenv@example.com"
    assert config.budget_usd == 1.0
    assert config.max_price == 0.3
    assert config.language == "pt"


def test_environ_beats_dotenv(tmp_path):
    config = load(tmp_path, dotenv=DOTENV, environ={"TEST_USER": "env@example.com", "DUMONT_BUDGET_USD": "2"})
    assert config.user == "env@example.com"
    assert config.budget_usd == 2.0
    assert config.max_price == 0.3          # only in .env: still used


def test_userdata_beats_environ_and_dotenv(tmp_path):
    config = load(tmp_path, dotenv=DOTENV,
                  environ={"TEST_USER": "env@example.com", "DUMONT_BUDGET_USD": "2"},
                  userdata={"test_user": "userdata@example.com", "DUMONT_BUDGET_USD": "3"})
    assert config.user == "userdata@example.com"   # -D keys are case-insensitive
    assert config.budget_usd == 3.0
    assert config.max_price == 0.3


def test_blank_optional_value_counts_as_unset(tmp_path):
    # `DUMONT_API_URL=` copied from an example means "no URL": the sandbox.
    config = load(tmp_path, environ={"DUMONT_API_URL": "  ", "DUMONT_BUDGET_USD": "7"})
    assert config.api_url is None


@pytest.mark.parametrize("name", ["TEST_USER", "TEST_PASSWORD"])
def test_blank_credentials_are_an_error(tmp_path, name):
    with pytest.raises(cfg.ConfigError) as raised:
        load(tmp_path, environ={name: " "})
    assert raised.value.problems == [f"{name}: is set but empty"]


def test_missing_dotenv_file_is_ignored(tmp_path):
    config = cfg.load(environ={"DUMONT_REPORTS_DIR": str(tmp_path / "r"), "LANG": "en"},
                      dotenv_path=tmp_path / "nope.env")
    assert config.user == "test@test.com"


def test_bad_value_in_dotenv_is_reported(tmp_path):
    single_problem(tmp_path, "DUMONT_BUDGET_USD", dotenv="DUMONT_BUDGET_USD=lots\n")


# -- one clear line per problem ---------------------------------------------------

@pytest.mark.parametrize("url", ["localhost:8766", "ftp://example.com", "http://", "not a url",
                                 "http://localhost:99999"])
def test_malformed_url(tmp_path, url):
    line = single_problem(tmp_path, "DUMONT_API_URL", environ={"DUMONT_API_URL": url})
    assert url in line


@pytest.mark.parametrize("variable", ["DUMONT_BUDGET_USD", "DUMONT_MAX_PRICE", "DUMONT_TIMEOUT_RUNNING",
                                      "DUMONT_REQUEST_TIMEOUT"])
@pytest.mark.parametrize("value", ["abc", "-1", "0", "1,5"])
def test_bad_numbers(tmp_path, variable, value):
    line = single_problem(tmp_path, variable, environ={variable: value})
    assert repr(value) in line or value in line


def test_negative_budget_says_why(tmp_path):
    line = single_problem(tmp_path, "DUMONT_BUDGET_USD", environ={"DUMONT_BUDGET_USD": "-3"})
    assert "greater than 0" in line and "-3" in line


def test_unknown_gpu(tmp_path):
    line = single_problem(tmp_path, "DUMONT_ALLOWED_GPUS", environ={"DUMONT_ALLOWED_GPUS": "RTX 3060,GTX 1080"})
    assert "'GTX 1080'" in line


def test_empty_gpu_list(tmp_path):
    line = single_problem(tmp_path, "DUMONT_ALLOWED_GPUS", environ={"DUMONT_ALLOWED_GPUS": " , ,"})
    assert "at least one" in line


def test_unknown_language(tmp_path):
    line = single_problem(tmp_path, "DUMONT_REPORT_LANG", environ={"DUMONT_REPORT_LANG": "fr"})
    assert "'fr'" in line


@pytest.mark.parametrize("user", ["@", " @ ", "user@", "@example.com", "no-at-sign", "a b@example.com",
                                  "user@localhost"])
def test_user_not_an_email(tmp_path, user):
    line = single_problem(tmp_path, "TEST_USER", environ={"TEST_USER": user})
    assert "e-mail" in line


@pytest.mark.parametrize("key", ["short", "has spaces in it 1234567890", "ééééééééééééééééééé"])
def test_bad_vast_key_shape_without_echoing_it(tmp_path, key):
    line = single_problem(tmp_path, "VAST_API_KEY", environ={"VAST_API_KEY": key})
    assert key not in line                      # a secret, even a malformed one, is not printed


def test_bad_flag(tmp_path):
    line = single_problem(tmp_path, "DUMONT_ALLOW_SPEND", environ={"DUMONT_ALLOW_SPEND": "maybe"})
    assert "'maybe'" in line


def test_bad_label_prefix_and_seed(tmp_path):
    found = problems(tmp_path, environ={"DUMONT_LABEL_PREFIX": "Bad_Prefix", "SANDBOX_SEED": "x1"})
    assert sorted(p.split(":")[0] for p in found) == ["DUMONT_LABEL_PREFIX", "SANDBOX_SEED"]


def test_missing_ssh_key_file(tmp_path):
    single_problem(tmp_path, "DUMONT_SSH_KEY", environ={"DUMONT_SSH_KEY": str(tmp_path / "absent_key")})


def test_reports_dir_under_a_regular_file(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    line = single_problem(tmp_path, "DUMONT_REPORTS_DIR",
                          environ={"DUMONT_REPORTS_DIR": str(blocker / "reports")})
    assert str(blocker / "reports") in line


def test_read_only_reports_dir(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: a 0500 directory is still writable")
        single_problem(tmp_path, "DUMONT_REPORTS_DIR", environ={"DUMONT_REPORTS_DIR": str(locked)})
    finally:
        locked.chmod(0o700)


def test_several_problems_reported_together(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, environ={"DUMONT_API_URL": "localhost", "DUMONT_BUDGET_USD": "-1",
                                "DUMONT_ALLOWED_GPUS": "GTX 1080", "DUMONT_REPORT_LANG": "de",
                                "TEST_USER": "nobody", "VAST_API_KEY": "x"})
    found = caught.value.problems
    assert [p.split(":")[0] for p in found] == [
        "DUMONT_API_URL", "TEST_USER", "VAST_API_KEY", "DUMONT_REPORT_LANG",
        "DUMONT_BUDGET_USD", "DUMONT_ALLOWED_GPUS"]
    assert str(caught.value).splitlines() == found
    assert cfg.EXIT_BAD_CONFIG == 2


# -- scaling and secrets ---------------------------------------------------------------

def test_public_view_hides_secrets(tmp_path):
    config = load(tmp_path, environ={"TEST_PASSWORD": "hunter2-secret", "VAST_API_KEY": GOOD_VAST_KEY})
    view = config.public_view()
    text = json.dumps(view)                            # must be JSON-serialisable as written to reports
    assert "hunter2-secret" not in text and GOOD_VAST_KEY not in text
    assert view["password"] == "***" and view["vast_api_key"] == "***"
    assert view["user"] == "test@test.com"
    assert view["timeouts"]["create"] == 300
    assert view["allowed_gpus"] == ["RTX 3060", "RTX A4000"]
    assert "hunter2-secret" not in repr(config) and GOOD_VAST_KEY not in repr(config)


def test_public_view_without_vast_key(tmp_path):
    assert load(tmp_path).public_view()["vast_api_key"] is None


def test_secrets(tmp_path):
    config = load(tmp_path, environ={"TEST_PASSWORD": "hunter2-secret", "VAST_API_KEY": GOOD_VAST_KEY})
    assert sorted(config.secrets()) == sorted(["hunter2-secret", GOOD_VAST_KEY])
    assert load(tmp_path).secrets() == ["test123"]


def test_with_api_url(tmp_path):
    config = load(tmp_path)
    moved = config.with_api_url("http://127.0.0.1:9999")
    assert moved.api_url == "http://127.0.0.1:9999" and not moved.uses_sandbox
    assert config.uses_sandbox and moved.run_id == config.run_id


def test_spending_for_real_needs_a_registered_ssh_key(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, environ={"DUMONT_API_URL": "http://dumont.example:8766", "DUMONT_ALLOW_SPEND": "1"})
    assert [p.split(":")[0] for p in raised.value.problems] == ["DUMONT_SSH_KEY"]
    key = tmp_path / "id_ed25519"
    key.write_text("not checked here")
    config = load(tmp_path, environ={"DUMONT_API_URL": "http://dumont.example:8766", "DUMONT_ALLOW_SPEND": "1",
                                     "DUMONT_SSH_KEY": str(key)})
    assert config.ssh_key_path == key
