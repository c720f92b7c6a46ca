"""Snapshot archives on disk: real tar.gz files of a machine's directory, with a manifest of
every file's size and sha256, and the check of a restored tree against it."""
from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path
from typing import List, Tuple

from .records import Manifest


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def scan(src: Path) -> Tuple[List[Path], int]:
    files, total = [], 0
    if src.is_file():
        return [src], src.stat().st_size
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.is_file() and not p.is_symlink():
                files.append(p)
                total += p.stat().st_size
    return files, total


def build_archive(src: Path, archive: Path) -> Manifest:
    """Write src (a directory or a file) into archive; return {relpath: {size, sha256}}."""
    manifest: Manifest = {}
    base = src if src.is_dir() else src.parent
    files, _ = scan(src)
    tmp = archive.with_suffix(".partial")
    with tarfile.open(tmp, "w:gz", compresslevel=3) as tar:
        if src.is_dir():
            for dirpath, dirnames, _ in os.walk(src):
                dirnames.sort()
                for d in dirnames:
                    p = Path(dirpath) / d
                    tar.add(str(p), arcname=str(p.relative_to(base)), recursive=False)
        for p in files:
            rel = str(p.relative_to(base))
            manifest[rel] = {"size": p.stat().st_size, "sha256": _sha256(p)}
            tar.add(str(p), arcname=rel, recursive=False)
    os.replace(tmp, archive)
    return manifest


def extract_archive(archive: Path, dst: Path) -> int:
    dst.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        tar.extractall(dst, filter="data")
    return sum(1 for m in members if m.isfile())


def verify_tree(dst: Path, manifest: Manifest) -> List[str]:
    errors = []
    for rel, info in manifest.items():
        p = dst / rel
        if not p.is_file():
            errors.append(f"{rel}: missing")
        elif p.stat().st_size != info["size"] or _sha256(p) != info["sha256"]:
            errors.append(f"{rel}: content differs")
    return errors
