"""support.models: the install command and the sha256 comparison."""

from __future__ import annotations

import pytest

from support import models
from support.config import Timeouts
from support.errors import PhaseFailed
from support.models import compare, install_command, parse_listing
from support.ssh import CommandResult
from tests.unit.fakes import FakeSession, journey_on

A = "a" * 64
B = "b" * 64
C = "c" * 64


def test_parse_listing():
    text = f"{A}  config.json\n{B}  weights/model.safetensors\n\n{C}  name with  two spaces.txt\n"
    assert parse_listing(text) == {"config.json": A, "weights/model.safetensors": B,
                                   "name with  two spaces.txt": C}


def test_compare_intact():
    assert compare({"x": A, "y": B}, {"x": A, "y": B, "extra": C}) == []


def test_compare_names_missing_and_corrupt_files():
    expected = {"config.json": A, "model.safetensors": B, "tokenizer.json": C}
    found = {"config.json": A, "model.safetensors": C}
    assert compare(expected, found) == ["missing: tokenizer.json", "corrupt: model.safetensors"]


def test_compare_round_trip_through_listing():
    before = parse_listing(f"{A}  a.bin\n{B}  b.bin\n")
    after = parse_listing(f"{A}  a.bin\n{C}  b.bin\n")
    assert compare(before, after) == ["corrupt: b.bin"]


def test_mirror_install_fetches_the_manifest_then_every_file_it_names_in_one_curl():
    command = install_command("qwen3-0.6b", "http://127.0.0.1:9000/models/", None)
    assert "http://127.0.0.1:9000/models/qwen3-0.6b/manifest.sha256" in command
    assert command.count("curl ") == 2 and "for f in" not in command
    assert command.startswith("set -e;")
    assert "models/qwen3-0.6b" in command


def test_real_mode_known_model_uses_hugging_face_and_writes_manifest():
    command = install_command("qwen3-0.6b", None, None)
    assert "Qwen/Qwen3-0.6B" in command
    assert "manifest.sha256" in command and "sha256sum" in command


def test_real_mode_uses_the_current_hf_cli_at_a_pinned_range():
    command = install_command("qwen3-0.6b", None, None)
    assert "huggingface-cli" not in command                 # removed in huggingface_hub 1.0
    assert "hf download Qwen/Qwen3-0.6B --local-dir" in command
    assert "'huggingface_hub>=1.0,<2'" in command and "-U" not in command.split()


@pytest.mark.parametrize("printed, ok", [("✓ hf version\n  version: 1.33.0", True),
                                         ("huggingface_hub version: 1.0.1", True),
                                         ("  version: 2.4.0", False), ("hf: command not found", False)])
def test_the_hf_version_check_accepts_only_the_pinned_major(printed, ok):
    import re

    from support.models import HF_VERSION_OK
    assert bool(re.search(HF_VERSION_OK, printed)) is ok


def test_custom_command_substitutes_model_and_dir():
    command = install_command("my-model", None, "fetch {model} into {dir}")
    assert "fetch my-model into \"$WS/models/my-model\"" in command
    assert "manifest.sha256" in command


def test_unknown_model_in_real_mode_without_custom_command():
    with pytest.raises(ValueError) as caught:
        install_command("mystery-13b", None, None)
    message = str(caught.value)
    assert "'mystery-13b'" in message and "DUMONT_MODEL_INSTALL_CMD" in message
    assert "qwen3-0.6b" in message                     # names the models it does know


def test_unknown_model_is_fine_with_a_custom_command():
    assert "mystery-13b" in install_command("mystery-13b", None, "get {model}")


def installed(manifest: str, listing: str) -> str:
    """What the install command prints: its own output, the manifest it left, the files' hashes."""
    return f"fetched\n{models.MANIFEST_MARK}\n{manifest}{models.HASHES_MARK}\n{listing}"


def test_install_keeps_the_command_output_and_the_hashes(tmp_path):
    output = installed(f"{A}  config.json\n", f"{A}  config.json\n")
    session = FakeSession(CommandResult("curl ...", 0, output, "", 1.5))
    journey = journey_on(session, tmp_path)
    model = models.install(journey, "qwen3-0.6b")
    assert model.manifest == {"config.json": A} and journey.model("x") is model
    assert session.commands[0][1] == pytest.approx(Timeouts().model_install / 60)    # the limit, in wall time
    [attachment] = journey.attachments
    assert attachment.name == "ssh: installing model qwen3-0.6b" and "exit code 0 after 1.50 s" in attachment.body
    assert [p.name for p in journey.metrics.phases] == ["model_install"]


def test_install_keeps_the_output_when_it_fails_or_times_out(tmp_path):
    failed = journey_on(FakeSession(CommandResult("false", 3, "", "disk full\n", 0.2)), tmp_path)
    with pytest.raises(PhaseFailed, match="exit code 3.*disk full"):
        models.install(failed, "qwen3-0.6b")
    assert "disk full" in failed.attachments[0].body and "exit code 3" in failed.attachments[0].body
    stuck = journey_on(FakeSession(error=TimeoutError("command did not finish within 20.0 s: curl")), tmp_path)
    with pytest.raises(PhaseFailed, match="did not finish"):
        models.install(stuck, "qwen3-0.6b")
    assert "did not finish" in stuck.attachments[0].body and stuck.attachments[0].body.startswith("$ ")
    assert failed.metrics.phases == [] and stuck.metrics.phases == []


def test_a_step_out_of_order_says_which_step_is_missing(tmp_path):
    journey = journey_on(None, tmp_path)
    journey.using(None)
    with pytest.raises(AssertionError, match="no instance yet: a scenario must create one before it installs"):
        models.install(journey, "qwen3-0.6b")
    with pytest.raises(AssertionError, match="no model installed yet"):
        models.verify(journey)


def test_the_first_check_uses_the_installs_hashes_against_its_manifest_and_later_ones_hash_again(tmp_path):
    session = FakeSession(CommandResult("curl ...", 0, installed(f"{A}  config.json\n{B}  model.bin\n",
                                                                  f"{A}  config.json\n{C}  model.bin\n"), "", 0.1))
    journey = journey_on(session, tmp_path)
    models.install(journey, "qwen3-0.6b")
    with pytest.raises(AssertionError, match="corrupt: model.bin"):     # a download that differs from the mirror
        models.verify(journey)
    assert len(session.commands) == 1                                   # checked without hashing twice
    session.result = CommandResult("sha256sum", 0, f"{A}  config.json\n{B}  model.bin\n", "", 0.1)
    models.verify(journey)                                              # later: hashed again, now intact
    assert len(session.commands) == 2 and "sha256sum" in session.commands[1][0]
    assert [p.name for p in journey.metrics.phases] == ["model_install", "model_verify"]
