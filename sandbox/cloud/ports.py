"""Free TCP ports for the machines' SSH servers."""
from __future__ import annotations

import socket
from typing import Optional, Set


class PortAllocator:
    """Free TCP ports on the host, never handing out one that a live machine holds."""

    def __init__(self, host: str):
        self.host = host
        self.reserved: Set[int] = set()

    def allocate(self) -> int:
        for _ in range(200):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((self.host, 0))
                port = s.getsockname()[1]
            if port not in self.reserved:
                self.reserved.add(port)
                return port
        raise RuntimeError("no free port")

    def reserve(self, port: int) -> None:
        self.reserved.add(port)

    def release(self, port: Optional[int]) -> None:
        if port is not None:
            self.reserved.discard(port)
