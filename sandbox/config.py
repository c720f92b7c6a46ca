"""Sandbox configuration: command-line flags, SANDBOX_* environment variables, defaults.

Precedence: flag > environment variable > default. Every flag ``--some-flag`` has the
environment twin ``SANDBOX_SOME_FLAG``.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8766
DEFAULT_DATA_DIR = "./.sandbox-data"
DEFAULT_TIME_SCALE = 60.0
DEFAULT_SIZE_SCALE = 1000.0
DEFAULT_START_BALANCE = 50.0
DEFAULT_RATE = 10.0     # nominal requests per second per account (Dumont's own limiter: not real, off by default)
DEFAULT_BURST = 40
RATE_LIMIT_MODES = ("500", "429", "429-retry-after")
DEFAULT_ACCOUNT = ("test@test.com", "test123")
PROFILES = ("default", "real")
# The provider's limiter: a minimum interval (nominal seconds) between two requests to one endpoint
# by one identity, with a small burst.
DEFAULT_PROVIDER_INTERVAL = 0.2
DEFAULT_PROVIDER_BURST = 5
# The real server retries a failing provider call 3 times, 2 + 4 + 8 s apart, before it answers.
DEFAULT_PROVIDER_RETRY_DELAY = 14.0
# After every create the real server blocks its event loop while it sets the new machine up: it tries the
# machine's SSH (every 10 s, for up to 120 s), then, once SSH answered, runs its setup over SSH (~10 s).
# "ssh" follows the machine's SSH that way; a number is a fixed stall (not real), 0 none (not real).
CREATE_STALL_SSH = "ssh"
DEFAULT_CREATE_STALL: Union[str, float] = CREATE_STALL_SSH
# Settings the real server may lack; each makes some routes answer an error (README, "Prerequisites").
UNCONFIGURABLE = ("server-provider-key", "restic", "gcp")
REGISTER_MODES = ("500", "ok")


@dataclass
class Config:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    time_scale: float = DEFAULT_TIME_SCALE
    size_scale: float = DEFAULT_SIZE_SCALE
    seed: Optional[int] = None
    rate: Optional[float] = None                  # Dumont's own limiter (not real); None = off
    burst: int = DEFAULT_BURST
    rate_limit_mode: str = "500"
    profile: str = "default"
    provider_interval: Optional[float] = DEFAULT_PROVIDER_INTERVAL   # None = provider limiter off (not real)
    provider_burst: int = DEFAULT_PROVIDER_BURST
    provider_retry_delay: float = DEFAULT_PROVIDER_RETRY_DELAY        # nominal seconds
    create_stall: Union[str, float] = DEFAULT_CREATE_STALL            # "ssh", or fixed nominal s (not real); 0 = off
    unconfigured: List[str] = field(default_factory=list)             # subset of UNCONFIGURABLE
    register: str = "500"                                             # "ok" = registration works (not real)
    start_balance: float = DEFAULT_START_BALANCE
    admin_token: Optional[str] = None
    offers_file: Optional[Path] = None
    ssh_ready_delay: Optional[float] = None        # nominal seconds; overrides the ssh_ready distribution
    ready_file: Optional[Path] = None
    timings: Dict[str, Any] = field(default_factory=dict)
    models: Optional[Dict[str, float]] = None      # name -> nominal bytes
    max_instances: int = 100                       # live instances per account (team quota -> 429)
    log_level: str = "warning"

    @property
    def admin_token_file(self) -> Path:
        return self.data_dir / "admin-token"


def _env(name: str) -> Optional[str]:
    value = os.environ.get("SANDBOX_" + name.upper().replace("-", "_"))
    return value if value not in (None, "") else None


def parse_rate_limit(text: str):
    """'RATE/BURST', 'RATE' or 'off' -> (rate or None, burst or None)."""
    text = str(text).strip().lower()
    if text in ("off", "none", "0", "false", "no"):
        return None, None
    if "/" in text:
        rate_s, burst_s = text.split("/", 1)
        rate, burst = float(rate_s), int(float(burst_s))
    else:
        rate, burst = float(text), None
    if rate < 0 or (burst is not None and burst < 1):
        raise ValueError("rate must be >= 0 and burst >= 1")
    return (rate or None), burst


def parse_provider_rate_limit(text: str):
    """'INTERVAL/BURST', 'INTERVAL' or 'off' -> (interval or None, burst or None)."""
    text = str(text).strip().lower()
    if text in ("off", "none", "false", "no"):
        return None, None
    if "/" in text:
        interval_s, burst_s = text.split("/", 1)
        interval, burst = float(interval_s), int(float(burst_s))
    else:
        interval, burst = float(text), None
    if interval <= 0 or (burst is not None and burst < 1):
        raise ValueError("interval must be > 0 (or 'off') and burst >= 1")
    return interval, burst


def parse_create_stall(value: Any) -> Union[str, float]:
    """"ssh" (the real server's stall, following the new machine's SSH) or fixed nominal seconds >= 0."""
    if isinstance(value, str) and value.strip().lower() == CREATE_STALL_SSH:
        return CREATE_STALL_SSH
    if isinstance(value, bool):
        raise ValueError("'ssh' or nominal seconds >= 0")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError("'ssh' or nominal seconds >= 0") from None
    if not 0 <= seconds < float("inf"):     # also refuses NaN
        raise ValueError("'ssh' or nominal seconds >= 0")
    return seconds


def parse_unconfigured(text: str) -> List[str]:
    items = [x.strip().lower() for x in str(text).split(",") if x.strip()]
    if items in (["none"], ["off"]):
        return []
    bad = [x for x in items if x not in UNCONFIGURABLE]
    if bad:
        raise ValueError(f"unknown setting(s) {', '.join(bad)}; one of {', '.join(UNCONFIGURABLE)}")
    return list(dict.fromkeys(items))


def _load_json_arg(text: str) -> Any:
    text = text.strip()
    if text.startswith("@"):
        return json.loads(Path(text[1:]).read_text())
    if not text.startswith(("{", "[")) and Path(text).is_file():
        return json.loads(Path(text).read_text())
    return json.loads(text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Local Dumont Cloud sandbox (every flag also reads SANDBOX_<FLAG> from the environment).")
    p.add_argument("--host", help=f"bind address (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, help=f"HTTP port, 0 = a free port (default {DEFAULT_PORT})")
    p.add_argument("--data-dir", help=f"state directory (default {DEFAULT_DATA_DIR})")
    p.add_argument("--time-scale", type=float, help=f"nominal seconds per wall second (default {DEFAULT_TIME_SCALE:g})")
    p.add_argument("--size-scale", type=float, help=f"nominal bytes per real byte (default {DEFAULT_SIZE_SCALE:g})")
    p.add_argument("--seed", type=int, help="seed for durations, faults and model contents (default: random)")
    p.add_argument("--profile", choices=PROFILES,
                   help="'real' hides what makes it a sandbox (health, mirror, ssh_key) (default: default)")
    p.add_argument("--provider-rate-limit",
                   help="the provider's limiter per endpoint and account: INTERVAL/BURST (nominal seconds "
                        f"between requests, burst) or 'off' (default {DEFAULT_PROVIDER_INTERVAL:g}/"
                        f"{DEFAULT_PROVIDER_BURST})")
    p.add_argument("--provider-retry-delay", type=float,
                   help="nominal seconds the server spends retrying a failing provider call before it "
                        f"answers (default {DEFAULT_PROVIDER_RETRY_DELAY:g})")
    p.add_argument("--create-stall",
                   help="how long the whole server stops answering after each create: 'ssh' (default: until "
                        "the new machine's SSH answers, at most 120 nominal s, plus the server's setup), or fixed "
                        "nominal seconds (not real; 0 = off)")
    p.add_argument("--unconfigured",
                   help=f"comma list of settings the server lacks: {', '.join(UNCONFIGURABLE)} (default none)")
    p.add_argument("--register", choices=REGISTER_MODES,
                   help="POST /auth/register: 500 as on the real server, or ok (not real) (default 500)")
    p.add_argument("--rate-limit",
                   help="Dumont's own limiter (not real): RATE/BURST in nominal req/s, or 'off' "
                        f"(default off; e.g. {DEFAULT_RATE:g}/{DEFAULT_BURST})")
    p.add_argument("--rate-limit-mode", choices=RATE_LIMIT_MODES,
                   help="how Dumont's own limiter answers (default 500)")
    p.add_argument("--start-balance", type=float,
                   help=f"starting balance of new accounts in $ (default {DEFAULT_START_BALANCE:g})")
    p.add_argument("--admin-token", help="admin token (default: random, kept in <data-dir>/admin-token, mode 0600)")
    p.add_argument("--offers-file", help="JSON list of offers replacing the built-in catalogue")
    p.add_argument("--ssh-ready-delay", type=float, help="fixed nominal seconds between running and SSH ready")
    p.add_argument("--ready-file", help="write {url, admin_token, pid} as JSON here once serving")
    p.add_argument("--timings", help="JSON object (or @file) overriding duration distributions")
    p.add_argument("--models", help='JSON object (or @file) {"name": nominal_bytes} replacing the model mirror')
    p.add_argument("--max-instances", type=int, help="live instances per account before 429 team quota (default 100)")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"), help="log level (default warning)")
    return p


def load_config(argv: Optional[Sequence[str]] = None) -> Config:
    args = build_parser().parse_args(argv)

    def pick(attr: str, env_name: str, conv=str):
        value = getattr(args, attr)
        if value is not None:
            return value
        raw = _env(env_name)
        if raw is None:
            return None
        try:
            return conv(raw)
        except ValueError as exc:
            raise SystemExit(f"bad SANDBOX_{env_name.upper().replace('-', '_')}={raw!r}: {exc}")

    cfg = Config()
    v = pick("host", "host")
    if v is not None:
        cfg.host = v
    v = pick("port", "port", int)
    if v is not None:
        cfg.port = v
    v = pick("data_dir", "data_dir")
    if v is not None:
        cfg.data_dir = Path(v)
    v = pick("time_scale", "time_scale", float)
    if v is not None:
        cfg.time_scale = v
    v = pick("size_scale", "size_scale", float)
    if v is not None:
        cfg.size_scale = v
    v = pick("seed", "seed", int)
    if v is not None:
        cfg.seed = v
    v = pick("rate_limit", "rate_limit")
    if v is not None:
        try:
            rate, burst = parse_rate_limit(v)
        except ValueError as exc:
            raise SystemExit(f"bad --rate-limit {v!r}: {exc}")
        cfg.rate = rate
        if burst is not None:
            cfg.burst = burst
    v = pick("rate_limit_mode", "rate_limit_mode")
    if v is not None:
        if v not in RATE_LIMIT_MODES:
            raise SystemExit(f"bad rate limit mode {v!r}; one of {', '.join(RATE_LIMIT_MODES)}")
        cfg.rate_limit_mode = v
    v = pick("profile", "profile")
    if v is not None:
        if v not in PROFILES:
            raise SystemExit(f"bad profile {v!r}; one of {', '.join(PROFILES)}")
        cfg.profile = v
    v = pick("provider_rate_limit", "provider_rate_limit")
    if v is not None:
        try:
            interval, burst = parse_provider_rate_limit(v)
        except ValueError as exc:
            raise SystemExit(f"bad --provider-rate-limit {v!r}: {exc}")
        cfg.provider_interval = interval
        if burst is not None:
            cfg.provider_burst = burst
    v = pick("provider_retry_delay", "provider_retry_delay", float)
    if v is not None:
        cfg.provider_retry_delay = v
    v = pick("create_stall", "create_stall")
    if v is not None:
        try:
            cfg.create_stall = parse_create_stall(v)
        except ValueError as exc:
            raise SystemExit(f"bad --create-stall {v!r}: {exc}")
    v = pick("unconfigured", "unconfigured")
    if v is not None:
        try:
            cfg.unconfigured = parse_unconfigured(v)
        except ValueError as exc:
            raise SystemExit(f"bad --unconfigured {v!r}: {exc}")
    v = pick("register", "register")
    if v is not None:
        if v not in REGISTER_MODES:
            raise SystemExit(f"bad --register {v!r}; one of {', '.join(REGISTER_MODES)}")
        cfg.register = v
    v = pick("start_balance", "start_balance", float)
    if v is not None:
        cfg.start_balance = v
    v = pick("admin_token", "admin_token")
    if v is not None:
        cfg.admin_token = v
    v = pick("offers_file", "offers_file")
    if v is not None:
        cfg.offers_file = Path(v)
    v = pick("ssh_ready_delay", "ssh_ready_delay", float)
    if v is not None:
        cfg.ssh_ready_delay = v
    v = pick("ready_file", "ready_file")
    if v is not None:
        cfg.ready_file = Path(v)
    v = pick("timings", "timings")
    if v is not None:
        try:
            cfg.timings = dict(_load_json_arg(v))
        except (ValueError, OSError, TypeError) as exc:
            raise SystemExit(f"bad --timings: {exc}")
    v = pick("models", "models")
    if v is not None:
        try:
            cfg.models = {str(k): float(n) for k, n in dict(_load_json_arg(v)).items()}
        except (ValueError, OSError, TypeError) as exc:
            raise SystemExit(f"bad --models: {exc}")
    v = pick("max_instances", "max_instances", int)
    if v is not None:
        cfg.max_instances = v
    v = pick("log_level", "log_level")
    if v is not None:
        cfg.log_level = v
    if cfg.time_scale <= 0 or cfg.size_scale <= 0:
        raise SystemExit("--time-scale and --size-scale must be > 0")
    if cfg.provider_retry_delay < 0:
        raise SystemExit("--provider-retry-delay must be >= 0")
    if cfg.ssh_ready_delay is not None:
        cfg.timings.setdefault("ssh_ready", cfg.ssh_ready_delay)
    return cfg


def resolve_admin_token(cfg: Config) -> str:
    """The admin token: given, else the one kept in the data dir, else a new random one.

    Always (re)written to <data-dir>/admin-token with mode 0600; never printed.
    """
    path = cfg.admin_token_file
    token = cfg.admin_token
    if token is None and path.is_file():
        token = path.read_text().strip() or None
    if token is None:
        token = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    os.chmod(path, 0o600)
    cfg.admin_token = token
    return token


def list_knobs() -> List[str]:
    return [a.option_strings[0] for a in build_parser()._actions if a.option_strings and a.dest != "help"]
