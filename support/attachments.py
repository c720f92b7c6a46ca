"""What a journey wants shown beside its result: the domain records it, the reporter publishes it.

Domain modules (models, dataset, ...) never talk to Allure: they append an
:class:`Attachment` to their journey, raw. The reporter redacts and publishes
it when the scenario ends (or at the end of the run, for a journey an
interrupt cut short).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attachment:
    name: str
    body: str
    mime: str = "text/plain"


def command_output(result) -> str:
    """A :class:`support.ssh.CommandResult` as one readable text."""
    return (f"$ {result.command}\n"
            f"exit code {result.exit_code} after {result.seconds:.2f} s\n"
            f"--- stdout ---\n{result.stdout.rstrip()}\n"
            f"--- stderr ---\n{result.stderr.rstrip()}\n")
