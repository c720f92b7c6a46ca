"""Local Dumont Cloud sandbox.

This module is the Python handle used by the suite and its tests; it needs only the standard
library and requests (never fastapi/asyncssh): the server runs in a subprocess,
``python -m sandbox``.

    sb = sandbox.start(time_scale=600)
    sb.url, sb.admin_token, sb.pid, sb.data_dir, sb.time_scale
    sb.admin.add_fault(kind="http_error", path="/api/v1/instances", method="POST", status=503)
    sb.stop()          # or: with sandbox.start() as sb: ...
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Union
from urllib.parse import quote

import requests

from . import reaper

__all__ = ["start", "Sandbox", "AdminClient", "SandboxError"]

ADMIN_HEADER = "X-Sandbox-Admin-Token"


class SandboxError(RuntimeError):
    pass


class AdminClient:
    """Thin requests-based client for the /_sandbox admin routes; returns parsed JSON."""

    def __init__(self, url: str, token: str, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers[ADMIN_HEADER] = token

    def _call(self, method: str, path: str, **kw) -> Any:
        kw.setdefault("timeout", self.timeout)
        r = self.session.request(method, self.url + "/_sandbox" + path, **kw)
        if r.status_code >= 400:
            raise SandboxError(f"{method} /_sandbox{path} -> {r.status_code}: {r.text[:500]}")
        return r.json()

    def info(self) -> Dict[str, Any]:
        return self._call("GET", "/info")

    def resources(self, kind: Optional[str] = None, label_prefix: Optional[str] = None,
                  alive: Optional[bool] = None) -> list:
        params: Dict[str, Any] = {}
        if kind:
            params["kind"] = kind
        if label_prefix:
            params["label_prefix"] = label_prefix
        if alive is not None:
            params["alive"] = "true" if alive else "false"
        return self._call("GET", "/resources", params=params)["resources"]

    def events(self, resource_id: Any = None, kind: Optional[str] = None) -> list:
        params: Dict[str, Any] = {}
        if resource_id is not None:
            params["resource_id"] = str(resource_id)
        if kind:
            params["kind"] = kind
        return self._call("GET", "/events", params=params)["events"]

    def requests_log(self) -> list:
        return self._call("GET", "/requests")["requests"]

    def billing(self) -> Dict[str, Any]:
        return self._call("GET", "/billing")

    def add_fault(self, **spec: Any) -> str:
        return self._call("POST", "/faults", json=spec)["id"]

    def faults(self) -> list:
        return self._call("GET", "/faults")["faults"]

    def clear_faults(self) -> Dict[str, Any]:
        return self._call("DELETE", "/faults")

    def kill_instance(self, instance_id: int) -> Dict[str, Any]:
        return self._call("POST", f"/instances/{int(instance_id)}/kill")

    def preempt_instance(self, instance_id: int) -> Dict[str, Any]:
        return self._call("POST", f"/instances/{int(instance_id)}/preempt")

    def corrupt_file(self, path: str, instance_id: Optional[int] = None,
                     standby_of: Optional[int] = None) -> Dict[str, Any]:
        body: Dict[str, Any] = {"path": path}
        if instance_id is not None:
            body["instance_id"] = int(instance_id)
        if standby_of is not None:
            body["standby_of"] = int(standby_of)
        return self._call("POST", "/files/corrupt", json=body)

    def standby_truth(self, gpu_id: int) -> Dict[str, Any]:
        return self._call("GET", f"/standby/{int(gpu_id)}")

    def set_account(self, email: str, password: Optional[str] = None, balance: Optional[float] = None,
                    ssh_keys: Optional[Iterable[str]] = None, provider_key: Any = ...) -> Dict[str, Any]:
        """Create or change an account. ssh_keys replaces its registered SSH public keys (what
        its new instances authorise); provider_key sets its provider API key (None removes it)."""
        body: Dict[str, Any] = {}
        if password is not None:
            body["password"] = password
        if balance is not None:
            body["balance"] = balance
        if ssh_keys is not None:
            body["ssh_keys"] = list(ssh_keys)
        if provider_key is not ...:
            body["provider_key"] = provider_key
        return self._call("PUT", f"/accounts/{quote(email, safe='@')}", json=body)

    def account(self, email: str) -> Dict[str, Any]:
        """{"email", "balance", "ssh_keys", "provider_key"}."""
        return self._call("GET", f"/accounts/{quote(email, safe='@')}")

    def add_ssh_key(self, email: str, key: str) -> Dict[str, Any]:
        """Register one more SSH public key on the account (instances created after it authorise it)."""
        return self._call("POST", f"/accounts/{quote(email, safe='@')}/ssh-keys", json={"key": key})

    def set_provider_key(self, email: str, key: Optional[str]) -> Dict[str, Any]:
        return self.set_account(email, provider_key=key)

    def stalls(self) -> list:
        """Every server stall: {"start", "end", "nominal_s", "reason", "detail", "active"}."""
        return self._call("GET", "/stalls")["stalls"]

    def settings(self, **changes: Any) -> Dict[str, Any]:
        """Change settings while the sandbox runs: provider_rate_limit ("0.2/5" or "off"),
        provider_retry_delay, create_stall ("ssh" or nominal seconds), unconfigured (list), register."""
        return self._call("PUT", "/settings", json=changes)

    def set_rate_limit(self, rate: Any = ..., burst: Optional[int] = None,
                       mode: Optional[str] = None) -> Dict[str, Any]:
        """rate None or 0 turns limiting off; leave it out to keep the current rate."""
        body: Dict[str, Any] = {}
        if rate is not ...:
            body["rate"] = rate
        if burst is not None:
            body["burst"] = burst
        if mode is not None:
            body["mode"] = mode
        return self._call("PUT", "/rate-limit", json=body)

    # [ext] not in docs/sandbox-interface.md's list, harmless extras
    def machine(self, machine_id: int) -> Dict[str, Any]:
        return self._call("GET", f"/machines/{int(machine_id)}")

    def models(self) -> list:
        return self._call("GET", "/models")["models"]


class Sandbox:
    """A running sandbox subprocess."""

    def __init__(self, proc: subprocess.Popen, url: str, admin_token: str, data_dir: Path,
                 time_scale: float, owns_data_dir: bool, log_path: Path):
        self.proc = proc
        self.pid = proc.pid
        self.url = url
        self.admin_token = admin_token
        self.data_dir = data_dir
        self.time_scale = time_scale
        self.log_path = log_path
        self._owns_data_dir = owns_data_dir
        self.admin = AdminClient(url, admin_token)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Sandbox {self.url} pid={self.pid} data_dir={self.data_dir}>"

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def _killpg(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, wait, SIGKILL after the grace period; remove a temp data dir we created."""
        if self.proc.poll() is None:
            self._killpg(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self._killpg(signal.SIGKILL)
                self.proc.wait(5)
        self._killpg(signal.SIGKILL)  # stragglers of the process group
        reaper.reap(self.data_dir)
        self.admin.session.close()
        if self._owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL (like kill -9); keeps the data dir so a new start can pick it up.
        Commands still running inside its machines are killed too (they would leak)."""
        self._killpg(signal.SIGKILL)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        reaper.reap(self.data_dir)
        self.admin.session.close()
        self._owns_data_dir = False

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def _rate_limit_arg(rate_limit: Any) -> str:
    if rate_limit is False or rate_limit == 0:
        return "off"
    if isinstance(rate_limit, (tuple, list)):
        rate, burst = rate_limit
        return "off" if not rate else f"{rate}/{burst}"
    return str(rate_limit)


def _terminate_with_parent() -> None:
    """In the child, before exec: ask Linux for SIGTERM when the parent goes away."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the sandbox then outlives a killed parent


def start(data_dir: Union[str, Path, None] = None, port: int = 0, time_scale: float = 60.0,
          seed: Optional[int] = None, rate_limit: Any = None, rate_limit_mode: Optional[str] = None,
          start_balance: Optional[float] = None, extra_args: Iterable[str] = (),
          env: Optional[Mapping[str, str]] = None, timeout: float = 30,
          die_with_parent: bool = True, profile: Optional[str] = None, provider_rate_limit: Any = None,
          create_stall: Union[str, float, None] = None) -> Sandbox:
    """Start `python -m sandbox` in its own process group and wait until it serves.

    profile: None (the default profile) or "real" (nothing a client sees says sandbox; the
    admin API still works).
    provider_rate_limit: None (server default), "off"/False, "INTERVAL/BURST" or (interval, burst).
    create_stall: how long the server stalls after each create: "ssh" (the default: until the new
    machine's SSH answers, at most 120 nominal seconds, plus the server's setup), or fixed nominal
    seconds (not real; 0 = off).
    rate_limit: Dumont's own limiter (not real): None (server default: off), "off"/False/0,
    "RATE/BURST" or (rate, burst).
    die_with_parent: on Linux the sandbox gets SIGTERM when this process dies, even by
    SIGKILL, so an embedded sandbox never outlives the run that started it.
    """
    owns = data_dir is None
    ddir = Path(tempfile.mkdtemp(prefix="dumont-sandbox-")) if owns else Path(data_dir)
    ddir.mkdir(parents=True, exist_ok=True)
    ddir = ddir.resolve()
    ready = ddir / f".ready-{uuid.uuid4().hex}.json"
    argv = [sys.executable, "-m", "sandbox", "--port", str(port), "--data-dir", str(ddir),
            "--ready-file", str(ready), "--time-scale", repr(float(time_scale))]
    if seed is not None:
        argv += ["--seed", str(int(seed))]
    if rate_limit is not None:
        argv += ["--rate-limit", _rate_limit_arg(rate_limit)]
    if rate_limit_mode is not None:
        argv += ["--rate-limit-mode", str(rate_limit_mode)]
    if start_balance is not None:
        argv += ["--start-balance", repr(float(start_balance))]
    if profile is not None:
        argv += ["--profile", str(profile)]
    if provider_rate_limit is not None:
        argv += ["--provider-rate-limit", _rate_limit_arg(provider_rate_limit)]
    if create_stall is not None:
        stall = str(create_stall) if isinstance(create_stall, str) else repr(float(create_stall))
        argv += ["--create-stall", stall]
    argv += [str(a) for a in extra_args]
    full_env = dict(os.environ)
    full_env.update(env or {})
    log_path = ddir / "sandbox.log"
    log_fh = open(log_path, "ab")
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_fh, stderr=subprocess.STDOUT,
                                env=full_env, cwd=str(ddir), start_new_session=True,
                                preexec_fn=_terminate_with_parent if die_with_parent else None)
    finally:
        log_fh.close()
    deadline = time.monotonic() + timeout
    info = None
    while time.monotonic() < deadline:
        if ready.is_file():
            try:
                info = json.loads(ready.read_text())
                break
            except ValueError:
                pass
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    if info is None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(5)
        tail = ""
        try:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
        except OSError:
            pass
        if owns:
            shutil.rmtree(ddir, ignore_errors=True)
        raise SandboxError(f"sandbox did not start (exit code {proc.returncode}); log tail:\n{tail}")
    ready.unlink(missing_ok=True)
    return Sandbox(proc, info["url"], info["admin_token"], ddir, float(time_scale), owns, log_path)
