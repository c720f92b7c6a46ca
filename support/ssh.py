"""SSH to instances with paramiko: a fresh key per run, bounded waits, commands with timeouts."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from support.clock import Clock, Moment
from support.errors import PhaseFailed
from support.waits import NotYet, Polling, Waited, wait_for


class SshKey:
    """An ed25519 key pair for one run.

    The private part lives only in a 0600 file in a private temp directory,
    removed by :meth:`remove` (the run's hooks call it at exit).
    """

    def __init__(self, private_path: Path, public_line: str, owned: bool):
        self.private_path = private_path
        self.public_line = public_line
        self._owned = owned

    def __repr__(self) -> str:
        return f"SshKey({self.public_line.split()[0]}, {self.private_path})"

    @classmethod
    def generate(cls, comment: str) -> "SshKey":
        key = ed25519.Ed25519PrivateKey.generate()
        private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                    serialization.NoEncryption())
        public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
        folder = Path(tempfile.mkdtemp(prefix="dumont-ssh-"))
        path = folder / "id_ed25519"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private)
        return cls(path, f"{public} {comment}", owned=True)

    @classmethod
    def from_file(cls, path: Path) -> "SshKey":
        """A key already known to the provider account (real mode)."""
        key = paramiko.PKey.from_path(str(path))
        return cls(Path(path), f"{key.get_name()} {key.get_base64()}", owned=False)

    def load(self) -> paramiko.PKey:
        return paramiko.PKey.from_path(str(self.private_path))

    def remove(self) -> None:
        if self._owned and self.private_path.exists():
            self.private_path.unlink()
            self.private_path.parent.rmdir()


@dataclass
class CommandResult:
    command: str
    exit_code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class CommandFailed(AssertionError):
    def __init__(self, result: CommandResult, what: str):
        self.result = result
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        super().__init__(f"{what} failed with exit code {result.exit_code}: " + " | ".join(tail))


class SshSession:
    """One SSH connection to an instance."""

    def __init__(self, host: str, port: int, user: str, key: SshKey, connect_timeout: float = 10.0):
        self.host, self.port, self.user = host, port, user
        self._client = paramiko.SSHClient()
        # Rented machines are new every time: trust the first host key seen in this session.
        self._client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        sock = socket.create_connection((host, port), timeout=connect_timeout)
        # paramiko leaves Nagle on: each small handshake packet then waits for a delayed ACK (~40 ms).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._client.connect(host, port=port, username=user, pkey=key.load(), timeout=connect_timeout,
                                 banner_timeout=connect_timeout, auth_timeout=connect_timeout,
                                 allow_agent=False, look_for_keys=False, sock=sock)
        except BaseException:
            sock.close()
            raise

    def run(self, command: str, timeout: float) -> CommandResult:
        """Run ``command``; its exit code and output, or ``TimeoutError`` after ``timeout`` seconds."""
        started = time.monotonic()
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            cause = getattr(transport, "saved_exception", None) if transport is not None else None
            raise ConnectionError(f"SSH connection to {self.host}:{self.port} was closed"
                                  + (f" ({type(cause).__name__}: {cause})" if cause else ""))
        stdin, stdout, stderr = self._client.exec_command(command, timeout=timeout)
        stdin.close()
        channel = stdout.channel
        deadline = started + timeout
        out, err = bytearray(), bytearray()
        while not (channel.exit_status_ready() and not channel.recv_ready() and not channel.recv_stderr_ready()):
            if time.monotonic() > deadline:
                channel.close()
                raise TimeoutError(f"command did not finish within {timeout:.1f} s: {command[:80]}")
            if channel.recv_ready():
                out += channel.recv(65536)
            elif channel.recv_stderr_ready():
                err += channel.recv_stderr(65536)
            else:
                channel.status_event.wait(0.05)
        return CommandResult(command, channel.recv_exit_status(), out.decode(errors="replace"),
                             err.decode(errors="replace"), time.monotonic() - started)

    def check(self, command: str, timeout: float, what: str) -> CommandResult:
        result = self.run(command, timeout)
        if not result.ok:
            raise CommandFailed(result, what)
        return result

    def is_active(self) -> bool:
        """The connection is still up (a command sent now would reach the machine)."""
        transport = self._client.get_transport()
        return transport is not None and transport.is_active()

    def close(self) -> None:
        self._client.close()


def ssh_probe(host: str, port: int, user: str, key: SshKey, *, clock: Clock, polling: Polling, phase: str = "ssh",
              gone_for_good=lambda: None):
    """One look at a machine's SSH: an open session when it accepts us; :class:`NotYet` when it refuses us
    (an observation); ``ConnectionError`` when the attempt timed out (tells nothing). After a failed attempt
    ``gone_for_good()`` may return why the machine will never answer (e.g. it exited): then ``PhaseFailed``."""

    def probe():
        try:
            # Connected and authenticated is ready: a shell session opens on the same transport.
            return SshSession(host, port, user, key, connect_timeout=max(1.0, clock.wall(polling.longest)))
        except (paramiko.SSHException, socket.error, EOFError, CommandFailed, TimeoutError) as error:
            reason = gone_for_good()
            if reason:
                raise PhaseFailed(phase, f"{_ssh_reason(error)}; {reason}", 0.0) from None
            if isinstance(error, (socket.timeout, TimeoutError)):
                raise ConnectionError(_ssh_reason(error)) from None
            raise NotYet(_ssh_reason(error)) from None

    return probe


def wait_for_ssh(host: str, port: int, user: str, key: SshKey, *, limit: float, clock: Clock, polling: Polling,
                 since: Moment | None = None, not_before: float | None = None, phase: str = "ssh",
                 expected=None, progress=None, gone_for_good=lambda: None) -> tuple[SshSession, Waited]:
    """Connect as soon as the machine accepts us; bounded by ``limit`` (real seconds)."""
    probe = ssh_probe(host, port, user, key, clock=clock, polling=polling, phase=phase, gone_for_good=gone_for_good)
    waited = wait_for(phase, probe, until=lambda s: s is not None, limit=limit, clock=clock,
                      polling=polling, since=since, not_before=not_before, expected=expected, progress=progress)
    return waited.value, waited


def _ssh_reason(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, paramiko.AuthenticationException):
        return "key refused"
    if isinstance(error, socket.timeout):
        return "timed out"
    return f"{type(error).__name__}: {error}"
