"""Machines: a workspace directory plus an asyncssh server on 127.0.0.1 on its own port.

Used for GPU instances and CPU standbys alike. A machine knows nothing about billing or
status: the lifecycle (lifecycle.py) decides when its SSH server listens.

Layout: <data-dir>/machines/<id>/ is the machine's root (HOME, SFTP root);
<root>/workspace is $WORKSPACE, which "/workspace" maps to.
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Callable, Dict, Optional, Set

import asyncssh

from .records import MachineRecord

log = logging.getLogger("sandbox.machines")

#: Linux: a command dies with the sandbox even on SIGKILL (PR_SET_PDEATHSIG), set by util-linux's setpriv
#: before it runs bash. Not through a preexec_fn: that makes Python fork the whole sandbox process for
#: every command (~8 ms here) instead of spawning it (~1 ms), and every SSH command of a journey paid it.
#: Without setpriv the reaper (reaper.py) still finds leftovers by their environment marker.
_DIE_WITH_SANDBOX = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []


def map_path(root: Path, path: Optional[str], default: str = "/workspace") -> Path:
    """A path as seen inside the machine -> the real path. Absolute paths are under root
    ("/workspace" -> root/workspace); relative ones under the workspace. Never escapes root."""
    path = path or default
    root = root.resolve()
    if path.startswith("/"):
        real = (root / path.lstrip("/")).resolve()
    else:
        real = (root / "workspace" / path).resolve()
    if real != root and root not in real.parents:
        raise ValueError(f"path {path!r} escapes the machine")
    return real


async def _copy(source, channel_writer) -> None:
    """Everything the command writes, to the SSH channel, until the command closes its end."""
    while True:
        chunk = await source.read(65536)
        if not chunk:
            return
        channel_writer.write(chunk)


class _Server(asyncssh.SSHServer):
    def __init__(self, machine: "Machine"):
        self.machine = machine
        self.conn = None

    def connection_made(self, conn) -> None:
        self.conn = conn
        self.machine.connections.add(conn)
        self.machine.accepted(time.time())

    def connection_lost(self, exc) -> None:
        self.machine.connections.discard(self.conn)

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False


class Machine:
    def __init__(self, mid: int, root: Path, port: int, host: str, host_key, authorized_keys: Optional[str],
                 env: Dict[str, str], path_prefix: Optional[str] = None):
        self.id = mid
        self.root = Path(root).resolve()     # $WORKSPACE is absolute whatever the data dir is
        self.workspace = self.root / "workspace"
        self.port = port
        self.host = host
        self.host_key = host_key
        self.authorized_keys_text = authorized_keys or ""
        self.extra_env = dict(env)
        self.path_prefix = path_prefix
        self.acceptor = None
        self.connections: Set = set()
        #: Told when the first connection since SSH came up was accepted (ground truth: when a client's
        #: poll reached the machine, before its handshake).
        self.on_first_connection: Optional[Callable[[float], None]] = None
        self._first_pending = False
        #: Told of each command a client ran, when it ended: its process group (the command's own session)
        #: and its start and end (wall epoch), so that the sandbox can say what the machine's work was.
        self.on_command: Optional[Callable[[int, float, float], None]] = None
        self.procs: Set[asyncio.subprocess.Process] = set()
        self.workspace.mkdir(parents=True, exist_ok=True)

    @property
    def ssh_up(self) -> bool:
        return self.acceptor is not None

    def env(self, username: str) -> Dict[str, str]:
        path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        env = {
            "PATH": f"{self.path_prefix}:{path}" if self.path_prefix else path,
            "HOME": str(self.root), "USER": username, "LOGNAME": username, "SHELL": "/bin/bash",
            "LANG": os.environ.get("LANG", "C.UTF-8"), "WORKSPACE": str(self.workspace),
        }
        env.update(self.extra_env)
        return env

    def accepted(self, t: float) -> None:
        if self._first_pending:
            self._first_pending = False
            if self.on_first_connection is not None:
                self.on_first_connection(t)

    async def start_ssh(self) -> None:
        """Start listening on self.port. Raises OSError if the port is taken."""
        if self.acceptor is not None:
            return
        self._first_pending = True
        keys = asyncssh.import_authorized_keys(self.authorized_keys_text) if self.authorized_keys_text.strip() else None
        self.acceptor = await asyncssh.listen(
            self.host, self.port,
            server_factory=lambda: _Server(self),
            server_host_keys=[self.host_key],
            authorized_client_keys=keys,
            process_factory=self._handle_process,
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(self.root).encode()),
            allow_scp=True,
            encoding=None,
            reuse_address=True,
            config=None,
            login_timeout=30,
            keepalive_interval=0,
        )

    async def stop_ssh(self) -> None:
        """Stop listening, drop every connection and kill every command still running."""
        acceptor, self.acceptor = self.acceptor, None
        if acceptor is not None:
            acceptor.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(acceptor.wait_closed(), 2)
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                conn.abort()
        self.connections.clear()
        self.kill_processes()

    def kill_processes(self) -> None:
        for proc in list(self.procs):
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
        self.procs.clear()

    async def _handle_process(self, process) -> None:
        username = process.get_extra_info("username") or "root"
        command = process.command
        argv = [*_DIE_WITH_SANDBOX, "bash", *(("-c", command) if command is not None else ("-s",))]
        started = time.time()
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=str(self.workspace), env=self.env(username),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                start_new_session=True)
        except OSError as exc:
            process.stderr.write(f"sandbox: cannot start command: {exc}\n".encode())
            process.exit(127)
            return
        self.procs.add(proc)
        try:
            # Output is copied by hand, not by redirect(): redirect's readers may still be writing
            # to the channel after exit() closed it, and asyncssh then drops the whole connection
            # ("Channel not open for sending") - a busy machine made that happen now and then.
            await process.redirect(stdin=proc.stdin)
            await asyncio.gather(_copy(proc.stdout, process.stdout), _copy(proc.stderr, process.stderr))
            rc = await proc.wait()
            # let the redirected output reach the channel before the exit status
            with contextlib.suppress(Exception):
                await asyncio.wait_for(process.stdout.drain(), 10)
                await asyncio.wait_for(process.stderr.drain(), 10)
            if rc < 0:
                process.exit_with_signal(signal.Signals(-rc).name.replace("SIG", ""))
            else:
                process.exit(rc)
        except (asyncssh.Error, OSError, BrokenPipeError, ConnectionError):
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
        finally:
            self.procs.discard(proc)
            if self.on_command is not None:
                self.on_command(proc.pid, started, time.time())

    async def run_detached(self, command: str, log_name: str) -> int:
        """Run a command in the workspace (e.g. onstart_cmd), output to <root>/<log_name>."""
        with open(self.root / log_name, "ab") as out:
            proc = await asyncio.create_subprocess_exec(
                *_DIE_WITH_SANDBOX, "bash", "-c", command, cwd=str(self.workspace), env=self.env("root"),
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True)
        self.procs.add(proc)
        try:
            return await proc.wait()
        finally:
            self.procs.discard(proc)

    def destroy_files(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def port_in_use(exc: OSError) -> bool:
    return exc.errno in (errno.EADDRINUSE, errno.EACCES)


def load_or_create_host_key(path: Path):
    if path.is_file():
        return asyncssh.read_private_key(str(path))
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(str(path))
    os.chmod(path, 0o600)
    return key


class MachineFactory:
    """Builds the Machine of a record: where its root is, the SSH host key, and the environment
    every command in it gets (the model mirror in the default profile, its id, the marker the
    reaper looks for, and a PATH that starts with the sandbox's stand-in commands)."""

    def __init__(self, machines_dir: Path, host: str, host_key, env: Dict[str, str],
                 path_prefix: Optional[str] = None, prepare: Optional[Callable[[MachineRecord], None]] = None,
                 ran: Optional[Callable[[MachineRecord, int, float, float], None]] = None):
        self.machines_dir = Path(machines_dir).resolve()
        self.host = host
        self.host_key = host_key
        self.env = dict(env)
        self.path_prefix = path_prefix
        #: Told of each machine as it is built, before its first command (an instance gets its GPU).
        self.prepare = prepare
        #: Told of each command run on a machine (see Machine.on_command).
        self.ran = ran

    def root_of(self, mid: int) -> Path:
        return self.machines_dir / str(mid)

    def build(self, rec: MachineRecord) -> Machine:
        if self.prepare is not None:
            self.prepare(rec)
        env = {**self.env, "DUMONT_INSTANCE_ID": str(rec.id)}
        machine = Machine(rec.id, Path(rec.root_dir), rec.ssh_port, self.host, self.host_key, rec.ssh_key, env,
                          self.path_prefix)
        if self.ran is not None:
            machine.on_command = lambda group, started, ended: self.ran(rec, group, started, ended)
        return machine
