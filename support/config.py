"""The suite's configuration: one typed object, read once, validated up front.

Sources, strongest first: behave userdata (``-D NAME=value``), the process
environment, the ``.env`` file, then the defaults below. Every problem is
reported on one line of its own; ``load`` raises :class:`ConfigError` holding
all of them so the user fixes everything in one go. A ``.env`` line that does
not parse is one of those problems (the file and the line), never skipped.
A DUMONT_/SANDBOX_/TEST_ name that nothing reads is a warning naming the
closest known one (``Config.warnings``, ``ConfigError.warnings``).
"""

from __future__ import annotations

import difflib
import io
import locale
import os
import re
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Iterable, Mapping
from urllib.parse import urlparse

# The parser, not dotenv_values/load_dotenv: those log "python-dotenv could not parse statement
# starting at line N" for a bad line and go on without it, so a typo dropped a safety setting
# (DUMONT_BUDGET_USD) and the run spent on the default. parse_stream says which lines failed.
from dotenv.main import resolve_variables
from dotenv.parser import Binding, parse_stream

#: Exit code for a run refused because of bad configuration.
EXIT_BAD_CONFIG = 2

#: GPU names the provider knows, spelled as offers spell them.
KNOWN_GPUS = (
    "RTX 3060", "RTX 3070", "RTX 3080", "RTX 3090", "RTX 4060", "RTX 4070",
    "RTX 4080", "RTX 4090", "RTX 5090", "RTX A4000", "RTX A5000", "RTX A6000",
    "A10", "A40", "A100", "A100 PCIE", "A100 SXM4", "H100", "H100 PCIE",
    "H100 SXM", "H200", "L4", "L40", "L40S", "Tesla T4", "Tesla V100",
)

LANGUAGES = ("pt", "en")

#: Secret variables: never printed, never written to a report.
SECRET_NAMES = ("TEST_PASSWORD", "VAST_API_KEY")


def normalize_gpu_name(name: str) -> str:
    """``rtx_a4000`` and ``RTX A4000`` are the same GPU."""
    return re.sub(r"[\s_]+", " ", name.strip()).upper()


_KNOWN_GPU_KEYS = {normalize_gpu_name(g): g for g in KNOWN_GPUS}


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` has one line per fault.

    ``warnings``: the unknown settings :func:`load` found too (a misspelt name is often why a
    value is missing), to print with the problems.
    """

    def __init__(self, problems: list[str], warnings: Iterable[str] = ()):
        self.problems = problems
        self.warnings = tuple(warnings)
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Timeouts:
    """Time limits in real-world seconds (the brief's defaults).

    Against the sandbox, the run's clock (support.clock.Clock) turns them into wall seconds.
    """

    create: float = 300
    running: float = 600
    ssh: float = 300
    model_install: float = 1200
    gpu_check: float = 600
    snapshot: float = 600
    restore: float = 600
    pause: float = 300
    resume: float = 600
    delete: float = 120
    failover: float = 1200
    scenario: float = 3600


@dataclass(frozen=True)
class Config:
    api_url: str | None
    user: str
    password: str = field(repr=False)
    vast_api_key: str | None = field(repr=False)
    vast_api_url: str
    allow_spend: bool | None        # None: not said (a real run that rents is refused), False: skip what rents
    budget_usd: float
    budget_run: str                 # processes naming the same budget run share DUMONT_BUDGET_USD
    budget_wait: float              # real seconds a journey may wait for room in the budget
    allowed_gpus: tuple[str, ...]
    max_price: float
    timeouts: Timeouts
    language: str
    reports_dir: Path
    ssh_key_path: Path | None
    ssh_user: str
    model: str
    large_model: str
    model_install_cmd: str | None
    keep_snapshots: bool
    run_id: str
    label_prefix: str
    request_timeout: float
    standby_sync_interval: float
    max_requests_per_second: float
    ledger_path: Path
    sandbox_time_scale: float
    sandbox_seed: int | None
    progress_file: Path | None = None      # where the parallel runner reads this worker's progress
    debug: bool = False                    # DUMONT_DEBUG: tracebacks for the server's refusals too
    gpu_speed_floor: float = 0.5           # the GPU check fails a matrix product below this share of the advertised
    offer_min_inet_down: float = 0.0       # an opt-in floor on the offer search (Mbps): a slow host downloads long
    offer_min_reliability: float = 0.0     # an opt-in floor on the offer search: a host that fails fails the run
    offer_choice: str = "price"            # "price" (the brief's step) or "journey_cost" (price x expected hold)
    phase_prior: str | None = None         # the timing prior's path, "none" for none; None: the checked-in one
    # One line each, "warning: ..." (unknown DUMONT_/SANDBOX_/TEST_ names): for the caller to print
    # once. Not part of the configuration itself, so left out of public_view and comparisons.
    warnings: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def uses_sandbox(self) -> bool:
        """True when no URL is given: the suite starts its own sandbox."""
        return self.api_url is None

    @property
    def budget_path(self) -> Path:
        """The run's shared budget: next to the ledger, one file per budget run."""
        return self.ledger_path.with_name(f".budget-{self.budget_run}.json")

    @property
    def run_label(self) -> str:
        """The label every resource of this run carries (prefix + run id)."""
        return f"{self.label_prefix}-{self.run_id}"

    def with_api_url(self, url: str) -> "Config":
        return replace(self, api_url=url)

    def secrets(self) -> list[str]:
        """Values that must never appear in output."""
        return [s for s in (self.password, self.vast_api_key) if s]

    def public_view(self) -> dict:
        """The configuration as written into reports: secrets removed."""
        view = {}
        for f in fields(self):
            if f.name == "warnings":
                continue
            value = getattr(self, f.name)
            if f.name in ("password", "vast_api_key"):
                value = "***" if value else None
            elif isinstance(value, Timeouts):
                value = {t.name: getattr(value, t.name) for t in fields(value)}
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            view[f.name] = value
        return view


def _default_language(environ: Mapping[str, str]) -> str:
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name)
        if value:
            return "pt" if value.lower().startswith("pt") else "en"
    code = (locale.getlocale()[0] or "").lower()
    return "pt" if code.startswith("pt") else "en"


def _new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


class _Reader:
    """Reads named values and collects one problem line per bad value."""

    def __init__(self, sources: list[Mapping[str, str]]):
        self.sources = sources
        self.problems: list[str] = []
        # Every name asked for: the list of this suite's settings is what load() reads, so that
        # the unknown-name warning cannot drift from the code (see _unknown_names).
        self.names: set[str] = set()

    def raw(self, name: str) -> str | None:
        self.names.add(name)
        for source in self.sources:
            value = source.get(name)
            if value is not None and str(value).strip() != "":
                return str(value).strip()
        return None

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.raw(name)
        return default if value is None else value

    def required(self, name: str, default: str) -> str:
        """Like :meth:`text`, but a variable set to nothing is a mistake, not "use the default"."""
        self.names.add(name)
        for source in self.sources:
            value = source.get(name)
            if value is not None:
                if str(value).strip() == "":
                    self.problems.append(f"{name}: is set but empty")
                    return default
                return str(value).strip()
        return default

    def flag(self, name: str, default: bool | None = False) -> bool | None:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() in ("1", "true", "yes", "on", "sim"):
            return True
        if value.lower() in ("0", "false", "no", "off", "nao", "não"):
            return False
        self.problems.append(f"{name}: expected 1 or 0, got {value!r}")
        return default

    def number(self, name: str, default: float, *, positive: bool = True) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            self.problems.append(f"{name}: expected a number, got {value!r}")
            return default
        if positive and not number > 0:
            self.problems.append(f"{name}: must be greater than 0, got {value}")
            return default
        return number


def _check_url(reader: _Reader, url: str | None, name: str = "DUMONT_API_URL",
               example: str = "http://localhost:8766") -> str | None:
    if url is None:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        reader.problems.append(f"{name}: {url!r} is not an http(s) URL (example: {example})")
        return None
    try:
        parsed.port  # noqa: B018 - reading it validates the port
    except ValueError:
        reader.problems.append(f"{name}: {url!r} has a bad port")
        return None
    return url.rstrip("/")


def _check_choice(reader: _Reader, text: str) -> str:
    choices = ("price", "journey_cost")
    if text.lower() not in choices:
        reader.problems.append(f"DUMONT_OFFER_CHOICE: {text!r} is not one of {', '.join(choices)}")
        return "price"
    return text.lower()


def _check_gpus(reader: _Reader, text: str) -> tuple[str, ...]:
    gpus = []
    for name in (part for part in text.split(",") if part.strip()):
        known = _KNOWN_GPU_KEYS.get(normalize_gpu_name(name))
        if known is None:
            reader.problems.append(
                f"DUMONT_ALLOWED_GPUS: unknown GPU {name.strip()!r} (known: {', '.join(KNOWN_GPUS)})")
        else:
            gpus.append(known)
    if not gpus and not any("DUMONT_ALLOWED_GPUS" in p for p in reader.problems):
        reader.problems.append("DUMONT_ALLOWED_GPUS: name at least one GPU, e.g. 'RTX 3060,RTX A4000'")
    return tuple(gpus)


def writable_dir_problem(path: Path) -> str | None:
    """None if ``path`` is (or can be made) a writable directory, else the problem in one line."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as error:
        return f"DUMONT_REPORTS_DIR: cannot write to {str(path)!r} ({error.strerror})"
    return None


def print_warnings(warnings: Iterable[str]) -> None:
    """Print each warning (already "warning: ..."), one line each, on stderr."""
    for warning in warnings:
        print(warning, file=sys.stderr)
    sys.stderr.flush()


def exit_with_problems(problems: list[str], warnings: Iterable[str] = ()) -> None:
    """Print each problem on its own line and leave with exit code 2, at once.

    ``warnings`` (ConfigError.warnings) come first: a misspelt name may be why a value is missing.
    behave turns any exception raised in its hooks or formatters, SystemExit
    included, into exit code 1 or a traceback; nothing has been created yet
    when this is called, so leaving at once is safe.
    """
    print_warnings(warnings)
    for problem in problems:
        print(f"configuration error: {problem}", file=sys.stderr)
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(EXIT_BAD_CONFIG)


def _check_reports_dir(reader: _Reader, path: Path) -> Path:
    problem = writable_dir_problem(path)
    if problem:
        reader.problems.append(problem)
    return path


#: Prefixes of this suite's variables: a name with one of them that nothing reads is a typo.
CHECKED_PREFIXES = ("DUMONT_", "SANDBOX_", "TEST_")

#: Variables read from the process environment by code other than :func:`load`; the flags of the
#: sandbox (SANDBOX_<FLAG>) are added from its own parser in :func:`environment_only_names`.
ENVIRONMENT_ONLY = (
    # Set by the sandbox for the machines it runs (sandbox/core.py, sandbox/cloud/machines.py,
    # sandbox/reaper.py, read there by sandbox/cloud/hf_standin.py and the model install).
    "DUMONT_INSTANCE_ID", "DUMONT_SANDBOX_ID", "DUMONT_MODEL_MIRROR", "SANDBOX_HF_MIRROR",
)


def environment_only_names() -> frozenset[str]:
    """Names read from the process environment only, not by :func:`load` (so not from ``.env``).

    The embedded sandbox is a child process that inherits the environment and reads
    SANDBOX_<FLAG> for each of its flags (sandbox/config.py): taken from its parser, not copied.
    """
    from sandbox.config import list_knobs  # the sandbox package is heavier than this module

    flags = {"SANDBOX_" + knob.lstrip("-").upper().replace("-", "_") for knob in list_knobs()}
    return frozenset(flags) | frozenset(ENVIRONMENT_ONLY)


@dataclass(frozen=True)
class DotenvFile:
    """What a ``.env`` file sets, and one problem line per line of it that sets nothing."""

    values: dict[str, str]
    problems: tuple[str, ...] = ()


_NAME_AT_START = re.compile(r"\s*(?:export\s+)?(?:'([^']*)'|([^=#\s'\"]+))\s*(=?)\s*(.*)", re.DOTALL)
#: Where a secret may sit: its value is never shown, even from a line that does not parse.
_SECRET_WORDS = ("PASS", "PWD", "KEY", "TOKEN", "SECRET", "CREDENTIAL", "AUTH")
#: A line is shown only when it names a variable of this suite (else it could be a pasted secret).
_SHOWN_PREFIXES = CHECKED_PREFIXES + ("VAST_", "KEEP_")


def _looks_secret(name: str) -> bool:
    upper = name.upper()
    # A misspelt secret (TEST_PASWORD, VAST_API_KY) is still a secret: close to one counts.
    return (any(word in upper for word in _SECRET_WORDS)
            or bool(difflib.get_close_matches(upper, SECRET_NAMES, n=1, cutoff=0.8)))


def _line_shown(text: str, name: str | None) -> tuple[str, str]:
    """The line in backticks, or what it is when it might hold a secret, and a note to add then."""
    hidden = "; the line is not shown: it may hold a secret"
    if name is None or not name.upper().startswith(_SHOWN_PREFIXES):
        return "this line", hidden
    if _looks_secret(name):
        return f"the {name} line", hidden
    return f"`{text[:120]}{'…' if len(text) > 120 else ''}`", ""


def _dotenv_problem(binding: Binding, shown_path: str) -> str | None:
    """The problem with one parsed statement of a ``.env`` file, or None if it sets a value or nothing."""
    text = binding.original.string
    body = text.lstrip()
    if not body or body.startswith("#"):
        return None
    # The statement's own line: python-dotenv starts a statement at the blank lines before it.
    line = binding.original.line + len(re.findall(r"\r\n|\n|\r", text[:len(text) - len(body)]))
    lines = body.splitlines()
    first = lines[0].rstrip()
    match = _NAME_AT_START.match(first)
    name = (match.group(1) or match.group(2)) if match else None
    shown, note = _line_shown(first, name)
    where = f"{shown_path} line {line}"
    # A quote left open takes the lines after it, up to the next quote, into its value or its
    # error: the settings on those lines are lost too, so the message says how far it runs.
    runs_on = f"it runs on to line {line + len(lines) - 1}" if len(lines) > 1 else ""
    value = match.group(4) if match else ""
    opened_quote = bool(match and match.group(3) and value[:1] in ("'", '"'))
    if binding.error and not (opened_quote and (runs_on or value.count(value[0]) < 2)):
        return f"{where}: cannot parse {shown} (expected NAME=value{note})"
    if binding.error or runs_on:
        # Every setting of this suite is one line: a value spanning lines is an open quote.
        detail = "; ".join(part for part in (runs_on, note[2:]) if part)
        return f"{where}: the quote in {shown} is not closed on its line" + (f" ({detail})" if detail else "")
    if binding.key is not None and binding.value is None:
        # `NAME` alone is valid for python-dotenv but sets nothing: a lost `=value`.
        return f"{where}: {shown} sets nothing (expected NAME=value{note})"
    return None


def read_dotenv(path: str | os.PathLike | None) -> DotenvFile:
    """Parse a ``.env`` file once; a missing file sets nothing.

    Never logs (python-dotenv's own readers log each bad line and skip it): every line that does
    not parse, or sets nothing, is one problem naming the file as given and the line.
    ``${NAME}`` references are resolved as python-dotenv's dotenv_values resolves them.
    """
    if not path or not Path(path).is_file():
        return DotenvFile({})
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        return DotenvFile({}, (f"{shown}: cannot read it ({reason})",))
    pairs: list[tuple[str, str]] = []
    problems: list[str] = []
    for binding in parse_stream(io.StringIO(text)):
        problem = _dotenv_problem(binding, shown)
        if problem:
            problems.append(problem)
        elif binding.key is not None and binding.value is not None:
            pairs.append((binding.key, binding.value))
    values = {k: v for k, v in resolve_variables(pairs, override=True).items() if v is not None}
    return DotenvFile(values, tuple(problems))


def _reader(userdata, environ, dotenv: DotenvFile) -> _Reader:
    userdata = {k.upper(): v for k, v in (userdata or {}).items()}
    return _Reader([userdata, environ, dotenv.values])


def _reports_dir(reader: _Reader) -> Path:
    return Path(reader.text("DUMONT_REPORTS_DIR", "reports"))


def reports_dir(userdata: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None,
                dotenv_path: str | os.PathLike | None = ".env") -> Path:
    """Where this run's outputs go (DUMONT_REPORTS_DIR), without validating anything else.

    Called before :func:`load` (the Allure formatter, the Makefile): it never raises and prints
    nothing for a bad ``.env`` (it uses the lines that parse); load() reports the bad lines, once.
    """
    environ = os.environ if environ is None else environ
    return _reports_dir(_reader(userdata, environ, read_dotenv(dotenv_path)))


def _unknown_names(reader: _Reader, userdata, environ: Mapping[str, str], dotenv: DotenvFile,
                   dotenv_path) -> list[str]:
    """One warning per DUMONT_/SANDBOX_/TEST_ name that is set but that nothing of the suite reads."""
    elsewhere = environment_only_names()
    known = sorted(reader.names | elsewhere)
    where = [("the command line (-D)", [k.upper() for k in (userdata or {})]),
             ("the environment", list(environ)),
             (str(dotenv_path), list(dotenv.values))]
    warnings: list[str] = []
    seen: set[str] = set()
    for source, names in where:
        for name in names:
            if not name.upper().startswith(CHECKED_PREFIXES) or name in reader.names or name in seen:
                continue
            seen.add(name)
            if name in elsewhere:
                if source != "the environment":   # the sandbox's own process reads its environment only
                    warnings.append(f"warning: {name} is read from the environment only, not from {source}")
                continue
            close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            warnings.append(f"warning: {name} is not a setting of this suite{hint}")
    return warnings


def load(userdata: Mapping[str, str] | None = None,
         environ: Mapping[str, str] | None = None,
         dotenv_path: str | os.PathLike | None = ".env") -> Config:
    """Build the configuration, or raise :class:`ConfigError` listing every problem."""
    environ = os.environ if environ is None else environ
    dotenv = read_dotenv(dotenv_path)
    reader = _reader(userdata, environ, dotenv)
    reader.problems.extend(dotenv.problems)     # first: a lost line may explain the problems after it

    api_url = _check_url(reader, reader.text("DUMONT_API_URL"))
    user = reader.required("TEST_USER", "test@test.com")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", user):
        reader.problems.append(f"TEST_USER: {user!r} is not an e-mail address")
    password = reader.required("TEST_PASSWORD", "test123")

    vast_api_key = reader.text("VAST_API_KEY")
    if vast_api_key is not None and not re.fullmatch(r"[A-Za-z0-9_\-]{16,}", vast_api_key):
        reader.problems.append("VAST_API_KEY: does not look like a VAST.ai API key "
                               "(letters and digits, at least 16 characters)")

    language = (reader.text("DUMONT_REPORT_LANG") or _default_language(environ)).lower()
    if language not in LANGUAGES:
        reader.problems.append(f"DUMONT_REPORT_LANG: unknown language {language!r} (use pt or en)")
        language = "en"

    ssh_key = reader.text("DUMONT_SSH_KEY")
    ssh_key_path = Path(ssh_key).expanduser() if ssh_key else None
    if ssh_key_path is not None and not ssh_key_path.is_file():
        reader.problems.append(f"DUMONT_SSH_KEY: no private key file at {ssh_key!r}")

    seed = reader.text("SANDBOX_SEED")
    if seed is not None and not seed.lstrip("-").isdigit():
        reader.problems.append(f"SANDBOX_SEED: expected an integer, got {seed!r}")
        seed = None

    timeouts = Timeouts(**{
        f.name: reader.number(f"DUMONT_TIMEOUT_{f.name.upper()}", getattr(Timeouts, f.name))
        for f in fields(Timeouts)
    })

    run_id = reader.text("DUMONT_RUN_ID") or _new_run_id()
    config = Config(
        api_url=api_url,
        user=user,
        password=password,
        vast_api_key=vast_api_key,
        vast_api_url=_check_url(reader, reader.text("VAST_API_URL", "https://console.vast.ai/api/v0"),
                                "VAST_API_URL", "https://console.vast.ai/api/v0"),
        allow_spend=reader.flag("DUMONT_ALLOW_SPEND", default=None),
        budget_usd=reader.number("DUMONT_BUDGET_USD", 5.0),
        budget_run=reader.text("DUMONT_BUDGET_RUN") or run_id,
        budget_wait=reader.number("DUMONT_BUDGET_WAIT", timeouts.scenario, positive=False),
        allowed_gpus=_check_gpus(reader, reader.text("DUMONT_ALLOWED_GPUS", "RTX 3060,RTX A4000")),
        max_price=reader.number("DUMONT_MAX_PRICE", 1.0),
        timeouts=timeouts,
        language=language,
        reports_dir=_check_reports_dir(reader, _reports_dir(reader)),
        ssh_key_path=ssh_key_path,
        ssh_user=reader.text("DUMONT_SSH_USER", "root"),
        model=reader.text("DUMONT_MODEL", "qwen3-0.6b"),
        large_model=reader.text("DUMONT_LARGE_MODEL", "qwen2.5-7b"),
        model_install_cmd=reader.text("DUMONT_MODEL_INSTALL_CMD"),
        keep_snapshots=reader.flag("KEEP_SNAPSHOTS"),
        run_id=run_id,
        label_prefix=reader.text("DUMONT_LABEL_PREFIX", "dumont-acc"),
        request_timeout=reader.number("DUMONT_REQUEST_TIMEOUT", 30.0),
        standby_sync_interval=reader.number("DUMONT_STANDBY_SYNC_INTERVAL", 30.0),
        max_requests_per_second=reader.number("DUMONT_MAX_RPS", 4.0),
        ledger_path=Path(reader.text("DUMONT_LEDGER") or _reports_dir(reader) / "ledger.jsonl"),
        sandbox_time_scale=reader.number("SANDBOX_TIME_SCALE", 60.0),
        sandbox_seed=int(seed) if seed is not None else None,
        progress_file=Path(reader.text("DUMONT_PROGRESS_FILE")) if reader.text("DUMONT_PROGRESS_FILE") else None,
        debug=bool(reader.flag("DUMONT_DEBUG")),
        gpu_speed_floor=reader.number("DUMONT_GPU_SPEED_FLOOR", 0.5),
        offer_min_inet_down=reader.number("DUMONT_OFFER_MIN_INET_DOWN", 0.0, positive=False),
        offer_min_reliability=reader.number("DUMONT_OFFER_MIN_RELIABILITY", 0.0, positive=False),
        offer_choice=_check_choice(reader, reader.text("DUMONT_OFFER_CHOICE", "price")),
        phase_prior=reader.text("DUMONT_PHASE_PRIOR"),
    )
    if config.api_url and config.allow_spend and config.ssh_key_path is None:
        # The real server ignores the key we would generate: without a registered key every SSH
        # step would time out after the machine was already paid for.
        reader.problems.append("DUMONT_SSH_KEY: renting real machines needs the private key registered on "
                               "the provider account (the real server ignores the key the suite sends)")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,30}", config.label_prefix):
        reader.problems.append(
            f"DUMONT_LABEL_PREFIX: {config.label_prefix!r} must be lower-case letters, digits and '-'")
    # After every read: the names read are the list of known settings.
    warnings = tuple(_unknown_names(reader, userdata, environ, dotenv, dotenv_path))
    if reader.problems:
        raise ConfigError(reader.problems, warnings)
    return replace(config, warnings=warnings)
