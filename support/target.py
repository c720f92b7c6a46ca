"""Which Dumont Cloud the run talks to: the embedded sandbox, or the URL in DUMONT_API_URL."""

from __future__ import annotations

from dataclasses import dataclass

import requests

from support.config import Config, ConfigError


@dataclass
class Target:
    url: str
    is_sandbox: bool
    time_scale: float
    version: str
    model_mirror: str | None
    sandbox: object | None = None      # the sandbox handle when we started it
    key: str = ""                      # what the ledger calls this target (see target_key)

    @property
    def mode(self) -> str:
        return "sandbox" if self.is_sandbox else "real"

    def stop(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None


def start_target(config: Config) -> Target:
    """Start the embedded sandbox (no URL configured) or check the configured server answers.

    Raises :class:`ConfigError` with one line when the server cannot be reached.
    """
    handle = None
    url = config.api_url
    if url is None:
        import sandbox

        try:
            handle = sandbox.start(time_scale=config.sandbox_time_scale, seed=config.sandbox_seed)
        except Exception as error:  # the sandbox's own message says what went wrong
            raise ConfigError([f"embedded sandbox: could not start ({error})"]) from None
        url = handle.url
    try:
        health = read_health(url, config.request_timeout)
    except ConfigError:
        if handle is not None:
            handle.stop()
        raise
    extension = health.get("sandbox") or {}
    return Target(url=url, is_sandbox=bool(extension), time_scale=float(extension.get("time_scale", 1.0)),
                  version=str(health.get("version", "?")), model_mirror=extension.get("model_mirror"),
                  sandbox=handle, key=target_key(url, health))


def target_key(url: str, health: dict) -> str:
    """The ledger's name for a server: its URL, and for a sandbox also which sandbox.

    Every new sandbox numbers its instances from the same start, and a new one may get the port of
    an old one: the URL alone would let a sweep delete one sandbox's machines for another's.
    """
    sandbox_id = (health.get("sandbox") or {}).get("id")
    return f"{url}#sandbox-{sandbox_id}" if sandbox_id else url


def url_of(key: str) -> str:
    return key.split("#", 1)[0]


def read_health(url: str, timeout: float) -> dict:
    try:
        response = requests.get(url + "/health", timeout=min(timeout, 15.0))
    except requests.RequestException as error:
        reason = "timed out" if isinstance(error, requests.Timeout) else "connection refused or host unknown"
        raise ConfigError([f"DUMONT_API_URL: cannot reach {url} ({reason})"]) from None
    if response.status_code != 200:
        raise ConfigError([f"DUMONT_API_URL: {url}/health answered {response.status_code}; "
                           f"is this a Dumont Cloud server?"])
    try:
        health = response.json()
    except ValueError:
        health = {}
    if not isinstance(health, dict) or health.get("status") != "healthy":
        raise ConfigError([f"DUMONT_API_URL: {url}/health does not report a healthy Dumont Cloud server"])
    return health
