"""The step "the GPU works and the model answers": one bounded probe on the rented machine, over SSH.

The probe (support/remote/gpu_probe.py) runs on the machine with the machine's own nvidia-smi, PyTorch and
transformers, and prints what it found; support/gpu_judge.py says whether that is the GPU rented, healthy,
as fast as advertised, with the installed model answering on it. Here: ship the probe, bound it, keep its
raw output for the report, time it as the journey's ``gpu_check`` phase (the machine bills meanwhile), add
the verdict to metrics.json (``journeys[].extra.gpu_check``, one entry per machine checked) and fail the
step with the verdict's one line. A failed journey's machines are deleted by its cleanup, as always.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path

import paramiko

from support import instances
from support.clock import Moment
from support.gpu_judge import Rented, Verdict, judge, unreadable
from support.journey import Journey
from support.models import WORKSPACE, model_dir
from support.ssh import CommandResult

PROBE = Path(__file__).resolve().parent / "remote" / "gpu_probe.py"
MARK = "DUMONT_GPU_PROBE"
#: Printed by the command itself when the machine has no python3 to run the probe with.
NO_PYTHON = "DUMONT_GPU_PROBE_NO_PYTHON3"
#: The here-document's end: a line the probe's text never holds.
END = "DUMONT_GPU_PROBE_END"
PROMPT = "The capital of France is"
NEW_TOKENS = 32
#: GPU seconds of matrix products: long enough for a steady figure, short against the bill.
MATMUL_SECONDS = 2.0
#: The probe stops its own work at this share of the step's limit, to report what it found before the
#: SSH command's timeout cuts it off.
DEADLINE_SHARE = 0.9
PHASE = "gpu_check"
ATTACHMENT = "ssh: GPU check"


def probe_command(model: str, deadline_wall: float) -> str:
    """The shell command that runs the probe on the machine: its text is the program of ``python3 -``, sent
    in a here-document (nothing is copied onto the machine, nothing left there)."""
    script = PROBE.read_text(encoding="utf-8")
    if END in script:
        raise ValueError(f"{PROBE} holds the here-document's end marker {END}")
    args = (f"--model-dir {model_dir(model)} --prompt {shlex.quote(PROMPT)} --length {NEW_TOKENS} "
            f"--matmul-seconds {MATMUL_SECONDS:g} --deadline {deadline_wall:.3f}")
    return (f"{WORKSPACE}; command -v python3 >/dev/null 2>&1 || {{ echo {NO_PYTHON}; exit 127; }}; "
            f"python3 - {args} <<'{END}'\n{script}\n{END}\n")


def shown_command(command: str) -> str:
    """The command as the report shows it: the probe's text replaced by its name and hash."""
    head, _, _ = command.partition(f"<<'{END}'")
    digest = hashlib.sha256(PROBE.read_bytes()).hexdigest()[:16]
    return f"{head.strip()} < support/remote/gpu_probe.py (sha256 {digest}…)"


def parse_output(result: CommandResult) -> dict | None:
    """The probe's JSON (its last marked line), or None when it printed none."""
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(MARK + " "):
            try:
                found = json.loads(line[len(MARK) + 1:])
            except ValueError:
                return None
            return found if isinstance(found, dict) else None
    return None


def no_probe_reason(result: CommandResult) -> str:
    """Why the probe printed nothing, in one line."""
    if NO_PYTHON in result.stdout:
        return "missing on the machine: python3"
    tail = (result.stderr or result.stdout).strip().splitlines()
    return (f"the GPU probe printed no result (exit code {result.exit_code})"
            + (f": {tail[-1].strip()}" if tail else ""))


def attachment(result: CommandResult, probe: dict | None) -> str:
    """The probe's raw output for the report: the command, nvidia-smi's table, the probe's JSON, stderr."""
    plain = ((probe or {}).get("smi") or {}).get("plain")
    parts = [f"$ {shown_command(result.command)}", f"exit code {result.exit_code} after {result.seconds:.2f} s"]
    if isinstance(plain, str) and plain.strip():
        parts += ["--- nvidia-smi ---", plain.rstrip()]
    parts += ["--- probe result ---", json.dumps(probe, indent=2, sort_keys=True) if probe is not None
              else result.stdout.rstrip(), "--- stderr ---", result.stderr.rstrip()]
    return "\n".join(parts) + "\n"


def record(journey: Journey, verdict: Verdict, instance_id, model: str) -> dict:
    entry = {"instance_id": str(instance_id), **verdict.record, "model": model}
    journey.metrics.extra.setdefault("gpu_check", []).append(entry)
    return entry


def check(journey: Journey) -> dict:
    """Probe the current machine's GPU; its verdict's record, or AssertionError with the one-line reason."""
    run = journey.run
    machine = journey.machine("it checks the GPU")
    model = journey.model("the GPU check asks it a question")
    session = instances.session(journey, "it checks the GPU")
    rented = Rented.of(machine.view or {}, machine.offer or {})
    limit = run.timeouts.gpu_check
    wall = run.clock.wall(limit)
    command = probe_command(model.name, wall * DEADLINE_SHARE)
    start = Moment.now()
    try:
        with run.progress.waiting(PHASE, limit):
            result = session.run(command, timeout=wall)
    except (TimeoutError, OSError, paramiko.SSHException) as error:
        journey.attach(ATTACHMENT, f"$ {shown_command(command)}\n{error}\n")
        record(journey, unreadable(rented, f"the GPU probe did not finish: {error}"), machine.id, model.name)
        raise instances.explain(journey, PHASE, error, start) from None
    journey.record(PHASE, start, start.since_now(), detail=rented.gpu_name)
    probe = parse_output(result)
    journey.attach(ATTACHMENT, attachment(result, probe))
    if probe is None:
        verdict = unreadable(rented, no_probe_reason(result))
        if result.exit_code < 0:
            # No exit status: the connection or the machine itself went away (preempted, stopped), said with
            # the machine's own state.
            record(journey, verdict, machine.id, model.name)
            raise instances.explain(journey, PHASE, AssertionError(verdict.line), start) from None
    else:
        verdict = judge(probe, rented, run.config.gpu_speed_floor)
    entry = record(journey, verdict, machine.id, model.name)
    if not verdict.ok:
        raise AssertionError(f"{verdict.line} (instance {machine.id})")
    return entry
