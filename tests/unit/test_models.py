"""support.models: the install command and the sha256 comparison."""

from __future__ import annotations

import pytest

from support.models import compare, install_command, parse_listing

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


def test_mirror_install_checks_sha256():
    command = install_command("qwen3-0.6b", "http://127.0.0.1:9000/models/", None)
    assert "sha256sum -c" in command
    assert "http://127.0.0.1:9000/models/qwen3-0.6b/manifest.sha256" in command
    assert command.startswith("set -e;")
    assert "models/qwen3-0.6b" in command


def test_real_mode_known_model_uses_hugging_face_and_writes_manifest():
    command = install_command("qwen3-0.6b", None, None)
    assert "Qwen/Qwen3-0.6B" in command
    assert "manifest.sha256" in command and "sha256sum" in command


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
