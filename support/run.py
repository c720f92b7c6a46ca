"""One behave run: its configuration, target, client, ledger, SSH key and journeys.

Created in ``before_all`` and kept on the context as ``context.run``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from support.backoff import BackoffPolicy
from support.client import CallLog, DumontClient, LoginFailed
from support.config import Config, ConfigError, Timeouts
from support.interrupts import InterruptGuard
from support.leaks import find_leaks
from support.ratelimit import SharedTokenBucket
from support.ledger import Ledger, maybe_alive, read_entries
from support.ssh import SshKey
from support.sweep import sweep_target
from support.target import Target, start_target
from support.waits import Polling


@dataclass
class Run:
    config: Config
    target: Target
    client: DumontClient
    ledger: Ledger
    key: SshKey
    guard: InterruptGuard
    timeouts: Timeouts
    polling: Polling
    started_at: float = field(default_factory=time.time)
    journeys: list = field(default_factory=list)       # support.journey.Journey, in order
    leaks: list = field(default_factory=list)
    leak_check_warnings: list = field(default_factory=list)
    finished: bool = False
    _labels: dict = field(default_factory=dict)

    @classmethod
    def start(cls, config: Config) -> "Run":
        """Reach the target and log in; :class:`ConfigError` with one line when that fails."""
        target = start_target(config)
        scale = target.time_scale
        call_log = CallLog()
        # One request budget for every process of the run (parallel workers share the file).
        limiter = SharedTokenBucket(config.ledger_path.with_name(".request-budget"),
                                    rate=config.max_requests_per_second * scale,
                                    burst=max(1.0, config.max_requests_per_second * 2))
        client = DumontClient(target.url, config.user, config.password, timeout=config.request_timeout,
                              backoff=BackoffPolicy(time_scale=scale), call_log=call_log, limiter=limiter)
        try:
            client.login()
        except LoginFailed as error:
            target.stop()
            raise ConfigError([f"TEST_USER/TEST_PASSWORD: {error}"]) from None
        except Exception as error:
            target.stop()
            raise ConfigError([f"DUMONT_API_URL: login at {target.url} failed ({error})"]) from None
        if config.ssh_key_path is not None:
            key = SshKey.from_file(config.ssh_key_path)
        else:
            key = SshKey.generate(comment=f"dumont-acceptance-{config.run_id}")
        ledger = Ledger(config.ledger_path, config.run_id, target.key)
        return cls(config=config, target=target, client=client, ledger=ledger, key=key,
                   guard=InterruptGuard(), timeouts=config.timeouts.scaled(scale),
                   polling=Polling(time_scale=scale))

    @property
    def time_scale(self) -> float:
        return self.target.time_scale

    def new_label(self, scenario_slug: str) -> str:
        """A label unique in this run, starting with the run's label so sweeps find it."""
        count = self._labels.get(scenario_slug, 0) + 1
        self._labels[scenario_slug] = count
        return f"{self.config.run_label}-{scenario_slug}-{count}"

    def alive_count(self) -> int:
        return sum(j.cleanup.pending for j in self.journeys)

    def open_journeys(self) -> list:
        """Journeys that never reached their after-hook (an interrupt cut them short)."""
        return [j for j in self.journeys if j.metrics.status == "running"]

    def spent(self) -> float:
        return sum(m.cost for j in self.journeys for m in j.metrics.machines)

    def spend_refusal(self, tags) -> str | None:
        """Why a scenario tagged @paid may not run against this target, or None."""
        if "paid" not in tags or self.target.is_sandbox or self.config.allow_spend:
            return None
        return ("this scenario rents paid machines on the real service: "
                "set DUMONT_ALLOW_SPEND=1 to allow it")

    def sweep_earlier_runs(self, out=print) -> int:
        """Delete the leftovers of earlier runs on this target whose process is gone (kill -9)."""
        if self.target.sandbox is not None:
            return 0  # a sandbox we just started has nothing from before
        dead = [e for e in maybe_alive(read_entries(self.ledger.path), self.target.key) if e.owner_gone()]
        if not dead:
            return 0
        out(f"Cleaning up {len(dead)} resource(s) left by earlier runs that did not finish")
        return sweep_target(self.client, Ledger(self.ledger.path, self.config.run_id, self.target.key), dead,
                            prefix=None, delete_timeout=self.timeouts.delete, polling=self.polling, out=out)

    def check_leaks(self) -> list[dict]:
        """Ask the API for anything still under this run's label; mark those machines LEAKED."""
        self.leaks, self.leak_check_warnings = find_leaks(self)
        leaked = {(leak["kind"], str(leak["id"])) for leak in self.leaks}
        for journey in self.journeys:
            for machine in journey.metrics.machines:
                if (machine.kind, machine.id) in leaked:
                    machine.fate = "leaked"
        return self.leaks

    def secrets(self) -> list[str]:
        """Every secret value this run knows, for redaction."""
        return self.config.secrets() + self.client.secrets()

    def close(self) -> None:
        self.guard.uninstall()
        self.key.remove()
        self.target.stop()
