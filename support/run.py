"""One behave run: its configuration, target, clock, client, ledger, SSH key and journeys.

Created in ``before_all`` and kept on the context as ``context.run``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from support.backoff import BackoffPolicy
from support.client import CallLog, DumontClient
from support.clock import Clock
from support.config import Config, ConfigError, Timeouts
from support.errors import LoginFailed
from support.interrupts import InterruptGuard
from support.leaks import LeakCheck, check_leaks
from support.ledger import Ledger, maybe_alive, read_entries
from support.preflight import Preflight, Selected, check
from support.progress import Progress
from support.provider import ProviderListing
from support.ratelimit import SharedRequestBudget
from support.resources import Kind, kinds
from support.spending import Budget, SpendGuard
from support.ssh import SshKey
from support.sweep import Sweeper, create_limits
from support.target import Target, start_target
from support.timings import Prior, TimingHistory, prior_path
from support.waits import Polling


@dataclass
class Run:
    config: Config
    target: Target
    clock: Clock
    client: DumontClient
    ledger: Ledger
    key: SshKey
    guard: InterruptGuard
    polling: Polling
    kinds: dict[str, Kind]
    spend_guard: SpendGuard
    history: TimingHistory
    progress: Progress
    started_at: float = field(default_factory=time.time)
    journeys: list = field(default_factory=list)       # support.journey.Journey, in order
    leak_check: LeakCheck | None = None
    preflight: Preflight = field(default_factory=Preflight)   # what was settled before the first scenario
    summary: dict | None = None                                # metrics.json, once the run is finished
    runner_problems: list[str] = field(default_factory=list)   # failures behave saw outside the journeys
    finished: bool = False
    _labels: dict = field(default_factory=dict)

    @classmethod
    def start(cls, config: Config) -> "Run":
        """Reach the target and log in; :class:`ConfigError` with one line when that fails."""
        target = start_target(config)
        clock = Clock(target.time_scale)
        # One request budget per endpoint for every process of the run (parallel workers share the file).
        limiter = SharedRequestBudget(config.ledger_path.with_name(".request-budget"),
                                      rate=clock.wall_rate(config.max_requests_per_second),
                                      burst=max(1.0, config.max_requests_per_second))
        client = DumontClient(target.url, config.user, config.password, timeout=config.request_timeout,
                              backoff=BackoffPolicy(clock=clock), call_log=CallLog(), limiter=limiter)
        try:
            client.login()
        except LoginFailed as error:
            target.stop()
            raise ConfigError([f"TEST_USER/TEST_PASSWORD: {error}"]) from None
        except Exception as error:
            target.stop()
            raise ConfigError([f"DUMONT_API_URL: login at {target.url} failed ({error})"]) from None
        if config.ssh_key_path is not None:
            try:
                key = SshKey.from_file(config.ssh_key_path)
            except Exception as error:  # paramiko's and cryptography's own words say what is wrong with it
                target.stop()
                raise ConfigError([f"DUMONT_SSH_KEY: {config.ssh_key_path} is not a private key that can be read "
                                   f"({type(error).__name__}: {error})"]) from None
        else:
            key = SshKey.generate(comment=f"dumont-acceptance-{config.run_id}")
        provider = (ProviderListing(config.vast_api_key, config.vast_api_url, config.request_timeout)
                    if config.vast_api_key else None)
        interrupts = InterruptGuard()
        client.spend_guard = SpendGuard(config, target, clock, Budget(config.budget_path, config.budget_usd),
                                        interrupts)
        return cls(config=config, target=target, clock=clock, client=client,
                   ledger=Ledger(config.ledger_path, config.run_id, target.key), key=key,
                   guard=interrupts, polling=Polling(), kinds=kinds(provider), spend_guard=client.spend_guard,
                   # Beside the ledger: parallel workers and later runs all learn from it.
                   history=TimingHistory(config.ledger_path.with_name("phase-history.jsonl"),
                                         "sandbox" if target.is_sandbox else target.url,
                                         prior=Prior.load(prior_path(config.phase_prior))),
                   progress=Progress(clock, status_file=config.progress_file))

    @property
    def timeouts(self) -> Timeouts:
        """Every limit in real-world seconds; :attr:`clock` turns them into wall time."""
        return self.config.timeouts

    @property
    def provider(self) -> ProviderListing | None:
        return self.kinds["instance"].provider

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

    def settle(self, scenarios: list[Selected]) -> Preflight:
        """The spend opt-in and the budget for every selected scenario, before the first starts."""
        self.preflight = check(self.config, self.target.is_sandbox, self.target.url, self.client, scenarios)
        return self.preflight

    def sweeper(self, out=print) -> Sweeper:
        return Sweeper(self.client, Ledger(self.ledger.path, self.config.run_id, self.target.key), self.kinds,
                       clock=self.clock, polling=self.polling, delete_limit=self.timeouts.delete, out=out,
                       create_limits=create_limits(self.config))

    def sweep_earlier_runs(self, out=print) -> int:
        """Delete the leftovers of earlier runs on this target whose process is gone (kill -9)."""
        if self.target.sandbox is not None:
            return 0  # a sandbox we just started has nothing from before
        dead = [e for e in maybe_alive(read_entries(self.ledger.path), self.target.key) if e.owner_gone()]
        if not dead:
            return 0
        out(f"Cleaning up {len(dead)} resource(s) left by earlier runs that did not finish")
        return self.sweeper(out).sweep(dead, prefix=None).problems

    def check_leaks(self) -> LeakCheck:
        """Ask the API (and the provider) for anything still under this run's label; mark those LEAKED."""
        self.leak_check = check_leaks(self)
        leaked = {(leak.kind, leak.id) for leak in self.leak_check.leaks}
        for journey in self.journeys:
            for machine in journey.metrics.machines:
                if (machine.kind, machine.id) in leaked:
                    machine.fate = "leaked"
        return self.leak_check

    def secrets(self) -> list[str]:
        """Every secret value this run knows, for redaction."""
        return self.config.secrets() + self.client.secrets()

    def close(self) -> None:
        self.guard.uninstall()
        self.key.remove()
        self.target.stop()
        if self.config.budget_run == self.config.run_id:    # its own budget, not a parallel run's
            self.config.budget_path.unlink(missing_ok=True)
