"""Process entry: one asyncio loop running uvicorn (FastAPI), the SSH servers and the timers."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
import warnings
from pathlib import Path
from typing import Optional, Sequence

import uvicorn

from .config import Config, load_config, resolve_admin_token
from .core import Core
from .web.app import create_app
from .web.gateway import Gateway

log = logging.getLogger("sandbox")


def _bind(host: str, port: int) -> socket.socket:
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted connections only then
    # (without it every keep-alive response waits ~40 ms for a delayed ACK).
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM,
                         socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"sandbox: cannot listen on {host}:{port}: {exc}")
    sock.listen(512)
    sock.setblocking(False)
    return sock


def _write_ready(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


async def serve(cfg: Config) -> None:
    sock = _bind(cfg.host, cfg.port)
    port = sock.getsockname()[1]
    host_for_url = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
    core = Core(cfg, f"http://{host_for_url}:{port}")
    await core.startup()
    app = create_app(core)
    gateway = Gateway(app, accounts=core.accounts, faults=core.faults, limiter=core.ratelimit,
                      request_log=core.store.add_request, stall=core.stall,
                      after_create=core.stall_after_create)
    config = uvicorn.Config(gateway, http="h11", lifespan="off", log_level=cfg.log_level,
                            access_log=False, timeout_graceful_shutdown=3, timeout_keep_alive=30,
                            ws="none")
    server = uvicorn.Server(config)

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.01)
        token_file = cfg.admin_token_file.resolve()
        print(f"Dumont Cloud sandbox serving on {core.url} (time scale {cfg.time_scale:g}, "
              f"data dir {Path(cfg.data_dir).resolve()}, admin token in {token_file})", flush=True)
        if cfg.ready_file:
            _write_ready(Path(cfg.ready_file), {"url": core.url, "admin_token": cfg.admin_token,
                                                "pid": os.getpid(), "data_dir": str(Path(cfg.data_dir).resolve()),
                                                "time_scale": cfg.time_scale})

    # uvicorn restores the previous handlers and re-raises a captured SIGTERM/SIGINT after
    # its graceful shutdown; make those previous handlers harmless so ours runs to the end.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    announcer = asyncio.ensure_future(announce())
    try:
        await server.serve(sockets=[sock])
    finally:
        announcer.cancel()
        await core.shutdown()


def main(argv: Optional[Sequence[str]] = None) -> None:
    run(load_config(argv))


def run(cfg: Config) -> None:
    logging.basicConfig(level=getattr(logging, cfg.log_level.upper()), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("asyncssh").setLevel(logging.WARNING if cfg.log_level == "debug" else logging.ERROR)
    warnings.filterwarnings("ignore", message="coroutine 'Queue.join' was never awaited")
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    resolve_admin_token(cfg)
    asyncio.run(serve(cfg))
