"""support.ssh: the per-run key pair."""

from __future__ import annotations

import stat

import paramiko

from support.ssh import SshKey


def test_generate_writes_private_key_0600_in_private_dir():
    key = SshKey.generate(comment="dumont-acceptance-run-1")
    try:
        path = key.private_path
        assert path.is_file()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert path.parent.name.startswith("dumont-ssh-")
        assert b"PRIVATE KEY" in path.read_bytes()
        kind, blob, comment = key.public_line.split(" ")
        assert kind == "ssh-ed25519" and comment == "dumont-acceptance-run-1"
        assert key.public_line.startswith("ssh-ed25519 ")
        loaded = key.load()
        assert isinstance(loaded, paramiko.Ed25519Key)
        assert loaded.get_base64() == blob            # the public line matches the private file
        assert "PRIVATE" not in repr(key) and blob not in repr(key)
    finally:
        key.remove()


def test_each_run_gets_a_fresh_key():
    first, second = SshKey.generate("a"), SshKey.generate("b")
    try:
        assert first.public_line.split()[1] != second.public_line.split()[1]
        assert first.private_path.parent != second.private_path.parent
    finally:
        first.remove()
        second.remove()


def test_remove_deletes_file_and_dir_and_is_idempotent():
    key = SshKey.generate("x")
    path = key.private_path
    key.remove()
    assert not path.exists() and not path.parent.exists()
    key.remove()


def test_remove_leaves_a_configured_key_alone(tmp_path):
    generated = SshKey.generate("y")
    try:
        own = tmp_path / "id_ed25519"
        own.write_bytes(generated.private_path.read_bytes())
        configured = SshKey.from_file(own)
        assert configured.public_line.split()[:2] == generated.public_line.split()[:2]
        configured.remove()
        assert own.exists()
    finally:
        generated.remove()
