"""Scenarios written by a test, run with the suite's own steps and hooks (and, if asked, one more step file).

Product staff write new scenarios from the step catalogue; the guards must hold whatever they write.
A test writes a feature of its own into a folder laid out as behave expects (``features/``, with the
suite's ``steps/`` and ``environment.py`` beside it) and runs behave on it.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from tests.behave_run import ROOT


def scenario_folder(tmp_path: Path, feature: str, extra_steps: str = "", name: str = "custom") -> Path:
    """A feature file of ``feature``'s text, with the suite's steps (plus ``extra_steps``) and hooks."""
    folder = tmp_path / f"{name}-features"
    (folder / "steps").mkdir(parents=True)
    for step_file in (ROOT / "steps").glob("*.py"):
        shutil.copy(step_file, folder / "steps" / step_file.name)
    shutil.copy(ROOT / "environment.py", folder / "environment.py")
    if extra_steps:
        (folder / "steps" / "extra_steps.py").write_text(textwrap.dedent(extra_steps), encoding="utf-8")
    path = folder / f"{name}.feature"
    path.write_text(textwrap.dedent(feature), encoding="utf-8")
    return path


def real_ssh_key(sb, tmp_path: Path, email: str = "test@test.com") -> Path:
    """A private key registered on the account, as on the provider: the real server ignores ``ssh_key``."""
    from support.ssh import SshKey

    generated = SshKey.generate("registered-on-the-account")
    key = tmp_path / "id_ed25519"
    key.write_bytes(generated.private_path.read_bytes())
    key.chmod(0o600)
    sb.admin.add_ssh_key(email, generated.public_line)
    generated.remove()
    return key
