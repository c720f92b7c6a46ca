"""CPU-bound processes beside a run: the suite's brackets must hold on a busy machine too.

Each burner spins for at most ``limit`` wall seconds on its own (so that none outlives a soak that
died), and :meth:`CpuLoad.stop` kills each one by its PID as soon as the run's behave process ends.
"""

from __future__ import annotations

import subprocess
import sys

_SPIN = "import time\nend = time.monotonic() + {limit}\nwhile time.monotonic() < end:\n    pass\n"


class CpuLoad:
    def __init__(self, burners: int, limit: float):
        self.burners = burners
        self.limit = limit
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> "CpuLoad":
        for _ in range(self.burners):
            self.procs.append(subprocess.Popen([sys.executable, "-c", _SPIN.format(limit=float(self.limit))],
                                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))
        return self

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self.procs.clear()

    def __exit__(self, *exc) -> None:
        self.stop()
