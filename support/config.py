"""The suite's configuration: one typed object, read once, validated up front.

Sources, strongest first: behave userdata (``-D NAME=value``), the process
environment, the ``.env`` file, then the defaults below. Every problem is
reported on one line of its own; ``load`` raises :class:`ConfigError` holding
all of them so the user fixes everything in one go.
"""

from __future__ import annotations

import locale
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Mapping
from urllib.parse import urlparse

from dotenv import dotenv_values

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
    """The configuration cannot be used; ``problems`` has one line per fault."""

    def __init__(self, problems: list[str]):
        self.problems = problems
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

    def raw(self, name: str) -> str | None:
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


def exit_with_problems(problems: list[str]) -> None:
    """Print each problem on its own line and leave with exit code 2, at once.

    behave turns any exception raised in its hooks or formatters, SystemExit
    included, into exit code 1 or a traceback; nothing has been created yet
    when this is called, so leaving at once is safe.
    """
    import sys

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


def _reader(userdata, environ, dotenv_path) -> _Reader:
    environ = os.environ if environ is None else environ
    dotenv = {}
    if dotenv_path and Path(dotenv_path).is_file():
        dotenv = {k: v for k, v in dotenv_values(dotenv_path).items() if v is not None}
    userdata = {k.upper(): v for k, v in (userdata or {}).items()}
    return _Reader([userdata, environ, dotenv])


def reports_dir(userdata: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None,
                dotenv_path: str | os.PathLike | None = ".env") -> Path:
    """Where this run's outputs go (DUMONT_REPORTS_DIR), without validating anything else."""
    return Path(_reader(userdata, environ, dotenv_path).text("DUMONT_REPORTS_DIR", "reports"))


def load(userdata: Mapping[str, str] | None = None,
         environ: Mapping[str, str] | None = None,
         dotenv_path: str | os.PathLike | None = ".env") -> Config:
    """Build the configuration, or raise :class:`ConfigError` listing every problem."""
    environ = os.environ if environ is None else environ
    reader = _reader(userdata, environ, dotenv_path)

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
        reports_dir=_check_reports_dir(reader, reports_dir(userdata, environ, dotenv_path)),
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
        ledger_path=Path(reader.text("DUMONT_LEDGER") or reports_dir(userdata, environ, dotenv_path) / "ledger.jsonl"),
        sandbox_time_scale=reader.number("SANDBOX_TIME_SCALE", 60.0),
        sandbox_seed=int(seed) if seed is not None else None,
        progress_file=Path(reader.text("DUMONT_PROGRESS_FILE")) if reader.text("DUMONT_PROGRESS_FILE") else None,
        debug=bool(reader.flag("DUMONT_DEBUG")),
    )
    if config.api_url and config.allow_spend and config.ssh_key_path is None:
        # The real server ignores the key we would generate: without a registered key every SSH
        # step would time out after the machine was already paid for.
        reader.problems.append("DUMONT_SSH_KEY: renting real machines needs the private key registered on "
                               "the provider account (the real server ignores the key the suite sends)")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,30}", config.label_prefix):
        reader.problems.append(
            f"DUMONT_LABEL_PREFIX: {config.label_prefix!r} must be lower-case letters, digits and '-'")
    if reader.problems:
        raise ConfigError(reader.problems)
    return config
