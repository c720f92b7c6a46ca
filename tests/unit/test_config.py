"""support.config: defaults, precedence, and one clear line per bad value."""

from __future__ import annotations

import json
import logging
import os
import re
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


# -- a .env that does not parse (issue 18) ------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def dotenv_problems(tmp_path: Path, monkeypatch, text: str, environ: dict | None = None) -> list[str]:
    """load() run in tmp_path with ``text`` as its ./.env (named as the suite names it: relative)."""
    monkeypatch.chdir(tmp_path)
    Path(".env").write_text(text)
    env = {"DUMONT_REPORTS_DIR": str(tmp_path / "reports"), "LANG": "en", **(environ or {})}
    with pytest.raises(ConfigError) as caught:
        cfg.load(environ=env, dotenv_path=".env")
    return caught.value.problems


def test_a_line_without_equals_is_an_error_naming_the_file_and_line(tmp_path, monkeypatch):
    # The case: the budget's line was dropped and the run rented on the $5 default.
    found = dotenv_problems(tmp_path, monkeypatch,
                            "# money\nDUMONT_ALLOW_SPEND=1\n\nDUMONT_BUDGET_USD 0.001\nDUMONT_MAX_PRICE=0.5\n")
    assert found == [".env line 4: cannot parse `DUMONT_BUDGET_USD 0.001` (expected NAME=value)"]


@pytest.mark.parametrize("text, line", [
    ('DUMONT_ALLOW_SPEND=1\nDUMONT_BUDGET_USD="0.001\nDUMONT_MAX_PRICE=0.5\n', 2),
    ("DUMONT_BUDGET_USD='0.001\n", 1),
])
def test_an_unclosed_quote_is_an_error(tmp_path, monkeypatch, text, line):
    [found] = dotenv_problems(tmp_path, monkeypatch, text)
    assert found.startswith(f".env line {line}: the quote in `DUMONT_BUDGET_USD=")
    assert found.endswith("0.001` is not closed on its line")


@pytest.mark.parametrize("closing", ['DUMONT_MODEL="qwen3-0.6b"\n', 'DUMONT_MODEL="\n'])
def test_an_unclosed_quote_that_swallows_the_next_lines_says_how_far(tmp_path, monkeypatch, closing):
    # Up to the next quote the lines are taken into the open one: DUMONT_ALLOW_SPEND=0 on line 2 would
    # be lost (an error for python-dotenv in the first case, a three-line value in the second).
    [found] = dotenv_problems(tmp_path, monkeypatch, 'DUMONT_BUDGET_USD="0.001\nDUMONT_ALLOW_SPEND=0\n' + closing)
    assert found == ('.env line 1: the quote in `DUMONT_BUDGET_USD="0.001` is not closed on its line '
                     "(it runs on to line 3)")


def test_a_name_alone_is_an_error(tmp_path, monkeypatch):
    # python-dotenv accepts `NAME` with no value and sets nothing: the `=1` was lost.
    assert dotenv_problems(tmp_path, monkeypatch, "DUMONT_ALLOW_SPEND\n") == [
        ".env line 1: `DUMONT_ALLOW_SPEND` sets nothing (expected NAME=value)"]


def test_the_file_is_named_as_given(tmp_path):
    path = tmp_path / "staging.env"
    path.write_text("DUMONT_BUDGET_USD 1\n")
    with pytest.raises(ConfigError) as caught:
        cfg.load(environ={"DUMONT_REPORTS_DIR": str(tmp_path / "r"), "LANG": "en"}, dotenv_path=path)
    assert caught.value.problems == [f"{path} line 1: cannot parse `DUMONT_BUDGET_USD 1` (expected NAME=value)"]


def test_dotenv_problems_come_first_and_the_others_are_still_reported(tmp_path, monkeypatch):
    found = dotenv_problems(tmp_path, monkeypatch, "DUMONT_MAX_PRICE=lots\nDUMONT_BUDGET_USD 0.001\n")
    assert [p.split(":")[0] for p in found] == [".env line 2", "DUMONT_MAX_PRICE"]


def test_line_numbers_count_crlf_and_blank_lines(tmp_path, monkeypatch):
    [found] = dotenv_problems(tmp_path, monkeypatch, "A=1\r\n\r\n\r\nDUMONT_BUDGET_USD 2\r\nB=3\r\n")
    assert found.startswith(".env line 4: ")


@pytest.mark.parametrize("line, secret", [
    ("TEST_PASSWORD hunter2-secret", "hunter2-secret"),
    ('TEST_PASSWORD="hunter2-secret', "hunter2-secret"),
    ("VAST_API_KEY: a1B2c3D4e5F6g7H8", "a1B2c3D4e5F6g7H8"),
    ("TEST_PASWORD hunter2-secret", "hunter2-secret"),           # misspelt, still a password
    ("VAST_API_KY='a1B2c3D4e5F6g7H8", "a1B2c3D4e5F6g7H8"),
    ("DUMONT_ADMIN_TOKEN tok-1234", "tok-1234"),
    ("MY_SECRET hunter2-secret", "hunter2-secret"),
    ("hunter2-secret", "hunter2-secret"),                         # a value pasted on a line of its own
    ("HUNTER2_SECRET xyz", "xyz"),
])
def test_a_line_that_may_hold_a_secret_is_not_shown(tmp_path, monkeypatch, line, secret):
    [found] = dotenv_problems(tmp_path, monkeypatch, f"DUMONT_ALLOW_SPEND=0\n{line}\n")
    assert found.startswith(".env line 2: ")
    assert secret not in found
    assert "not shown" in found


def test_python_dotenv_prints_nothing(tmp_path, monkeypatch, caplog, capfd):
    # python-dotenv's own readers log "could not parse statement starting at line N" once per read
    # (four times per run before): the suite's one line is the only word about it.
    monkeypatch.chdir(tmp_path)
    Path(".env").write_text('DUMONT_REPORTS_DIR=elsewhere\nDUMONT_BUDGET_USD 0.001\nX="open\n')
    caplog.set_level(logging.DEBUG)
    environ = {"LANG": "en"}
    # reports_dir() runs before load() (the Allure formatter, the Makefile): it must not raise, and it
    # still uses the lines that parse.
    assert cfg.reports_dir(environ=environ) == Path("elsewhere")
    with pytest.raises(ConfigError) as caught:
        cfg.load(environ=environ)
    assert len(caught.value.problems) == 2
    assert caplog.records == []
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_an_unreadable_dotenv_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path(".env").write_bytes(b"DUMONT_BUDGET_USD=\xff\xfe\n")
    assert cfg.reports_dir(environ={"LANG": "en"}) == Path("reports")
    with pytest.raises(ConfigError) as caught:
        cfg.load(environ={"LANG": "en", "DUMONT_REPORTS_DIR": str(tmp_path / "r")})
    assert caught.value.problems == [".env: cannot read it (not UTF-8 text)"]


def test_dotenv_features_still_work(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME_FOR_TEST", "/srv/someone")
    config = load(tmp_path, dotenv=(
        "# a comment\n\nexport DUMONT_MODEL='a model'  # inline comment\n"
        'DUMONT_LARGE_MODEL="big\\tone"\nDUMONT_SSH_USER=${HOME_FOR_TEST}\nDUMONT_API_URL=\n'))
    assert config.model == "a model"
    assert config.large_model == "big\tone"
    assert config.ssh_user == "/srv/someone"        # ${NAME} resolved as python-dotenv did
    assert config.api_url is None and config.warnings == ()


# -- unknown variables ------------------------------------------------------------------------

def warnings_of(tmp_path: Path, **kwargs) -> tuple[str, ...]:
    """The warnings of a load, whether it succeeds or not (a ConfigError carries them too)."""
    try:
        return load(tmp_path, **kwargs).warnings
    except ConfigError as error:
        return error.warnings


@pytest.mark.parametrize("source", ["environ", "dotenv", "userdata"])
def test_an_unknown_name_is_a_warning_with_the_closest_known_one(tmp_path, source):
    kwargs = {"dotenv": "DUMONT_BUGDET_USD=0.001\n"} if source == "dotenv" else {source: {"DUMONT_BUGDET_USD": "0.001"}}
    config = load(tmp_path, **kwargs)
    assert config.budget_usd == 5.0
    assert config.warnings == (
        "warning: DUMONT_BUGDET_USD is not a setting of this suite (did you mean DUMONT_BUDGET_USD?)",)


@pytest.mark.parametrize("name, closest", [
    ("dumont_budget_usd", "DUMONT_BUDGET_USD"),
    ("SANDBOX_TIMESCALE", "SANDBOX_TIME_SCALE"),
    ("TEST_PASSWROD", "TEST_PASSWORD"),
    ("DUMONT_TIMEOUT_SHH", "DUMONT_TIMEOUT_SSH"),
    ("TEST_ZZZ_QQQ", None),
])
def test_unknown_names(tmp_path, name, closest):
    hint = f" (did you mean {closest}?)" if closest else ""
    assert warnings_of(tmp_path, dotenv=f"{name}=1\n") == (f"warning: {name} is not a setting of this suite{hint}",)


def test_other_names_are_not_ours_to_judge(tmp_path):
    assert warnings_of(tmp_path, environ={"PATH": "/bin", "VAST_SOMETHING": "1", "MY_DUMONT_X": "1"}) == ()


def test_warnings_come_with_the_problems(tmp_path):
    # A misspelt name is often why a value is missing: the refusal shows both.
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, environ={"DUMONT_API_URL": "http://dumont.example:8766", "DUMONT_ALLOW_SPEND": "1",
                                "DUMONT_SSH_KEYS": "~/.ssh/id_ed25519"})
    assert [p.split(":")[0] for p in caught.value.problems] == ["DUMONT_SSH_KEY"]
    assert caught.value.warnings == (
        "warning: DUMONT_SSH_KEYS is not a setting of this suite (did you mean DUMONT_SSH_KEY?)",)


def example_names() -> set[str]:
    """Every variable .env.example names, set or commented out."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))


def test_every_documented_setting_is_known(tmp_path):
    names = example_names()
    assert {"DUMONT_BUDGET_USD", "DUMONT_API_URL", "VAST_API_KEY", "SANDBOX_SEED"} <= names
    assert warnings_of(tmp_path, environ=dict.fromkeys(names, "1")) == ()
    assert warnings_of(tmp_path, dotenv="".join(f"{n}=1\n" for n in sorted(names))) == ()


def test_the_sandbox_flags_and_internal_names_are_known_in_the_environment(tmp_path):
    names = ["SANDBOX_CREATE_STALL", "SANDBOX_PROVIDER_RATE_LIMIT", "SANDBOX_ADMIN_TOKEN", "SANDBOX_LOG_LEVEL",
             "DUMONT_PROGRESS_FILE", "DUMONT_DEBUG", "DUMONT_SANDBOX_ID", "SANDBOX_HF_MIRROR"]
    assert warnings_of(tmp_path, environ=dict.fromkeys(names, "1")) == ()


def test_a_sandbox_flag_in_dotenv_says_it_is_not_read_there(tmp_path):
    # The embedded sandbox reads SANDBOX_<FLAG> from the environment it inherits; .env is not in it.
    assert warnings_of(tmp_path, dotenv="SANDBOX_CREATE_STALL=0\n") == (
        f"warning: SANDBOX_CREATE_STALL is read from the environment only, not from {tmp_path / '.env'}",)


ENVIRONMENT_USE = re.compile(
    r"""(?:environ(?:\.get)?\(?|getenv\()\s*\[?\s*["']((?:DUMONT|SANDBOX|TEST)_[A-Z0-9_]+)["']"""  # read
    r"""|["']((?:DUMONT|SANDBOX|TEST)_[A-Z0-9_]+)["']\s*(?::|\]\s*=)"""   # set: {"NAME": ...}, env["NAME"] = ...
    r"""|(?<![\w"'])((?:DUMONT|SANDBOX|TEST)_[A-Z0-9_]+)=(?!=)""")          # update(NAME=...), or "set NAME=1"


def test_every_variable_the_code_uses_is_known(tmp_path):
    # Names read, set for a child process, or that a message tells the user to set, anywhere in the
    # suite or the sandbox, must not be flagged: load() reads its own, the others are in
    # config.ENVIRONMENT_ONLY or the sandbox's flags.
    used: dict[str, str] = {}
    for folder in ("support", "sandbox", "steps", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            for match in ENVIRONMENT_USE.finditer(path.read_text()):
                used.setdefault(next(filter(None, match.groups())), str(path.relative_to(ROOT)))
    for match in ENVIRONMENT_USE.finditer((ROOT / "environment.py").read_text()):
        used.setdefault(next(filter(None, match.groups())), "environment.py")
    assert {"DUMONT_PROGRESS_FILE", "DUMONT_INSTANCE_ID", "SANDBOX_HF_MIRROR", "DUMONT_DEBUG"} <= set(used)
    flagged = [w for w in warnings_of(tmp_path, environ=dict.fromkeys(used, "1")) if "not a setting" in w]
    assert flagged == [], {w.split()[1]: used[w.split()[1]] for w in flagged}


def test_the_names_known_elsewhere_are_used_somewhere():
    # The hand-kept list must not outlive the code that reads it.
    sources = "\n".join(p.read_text() for folder in ("support", "sandbox") for p in (ROOT / folder).rglob("*.py")
                        if p != ROOT / "support" / "config.py")
    assert [name for name in cfg.ENVIRONMENT_ONLY if name not in sources] == []


def test_warnings_are_not_part_of_the_public_view(tmp_path):
    config = load(tmp_path, environ={"DUMONT_BUGDET_USD": "1"})
    assert config.warnings and "warnings" not in config.public_view()


def test_print_warnings(capsys):
    cfg.print_warnings(["warning: one", "warning: two"])
    assert capsys.readouterr() == ("", "warning: one\nwarning: two\n")


def test_every_setting_load_reads_is_in_the_example(tmp_path, monkeypatch):
    # The other direction of test_every_documented_setting_is_known: .env.example lists them all.
    readers = []
    original = cfg._Reader.__init__

    def recording(self, sources):
        original(self, sources)
        readers.append(self)

    monkeypatch.setattr(cfg._Reader, "__init__", recording)
    load(tmp_path)
    internal = {"DUMONT_PROGRESS_FILE"}            # set by the parallel runner for its workers
    assert len(readers) == 1 and len(readers[0].names) > 30
    assert sorted(readers[0].names - internal - example_names()) == []
