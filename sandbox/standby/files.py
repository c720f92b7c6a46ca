"""Filesystem side of the CPU standby: staged copies with manifests, atomic publication of a
standby workspace, and the comparisons behind the ground truth (changed bytes, lost files).

A completed sync publishes its staging copy into the standby's workspace in place (one
rename(2) per file, then the files the GPU no longer has are removed), like rsync --delete.
Copies and hashes run in worker threads; the standby's publication runs on the event loop, so
nothing (a failover) can interleave with it.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import threading
from pathlib import Path
from typing import List, Optional

from ..cloud.records import Manifest
from .records import LostFile

CHUNK = 1 << 20


class Cancelled(Exception):
    pass


def _copy_file(src: Path, dst: Path) -> tuple:
    h = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while True:
            block = fin.read(CHUNK)
            if not block:
                break
            h.update(block)
            fout.write(block)
            size += len(block)
    try:
        shutil.copystat(src, dst)
    except OSError:
        pass
    return size, h.hexdigest()


def sha256_file(path: Path) -> tuple:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def _walk(src: Path):
    """(dirpath, rel_dir, dirnames, filenames) like os.walk, sorted, symlinks not followed."""
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, src)
        yield Path(dirpath), ("" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"), dirnames, sorted(filenames)


def copy_tree(src: Path, dst: Path, cancel: Optional[threading.Event] = None) -> Manifest:
    """Copy src (directories, regular files, symlinks) into the new directory dst.

    Returns {relpath: {"size", "sha256"}} of the regular files as copied (the bytes read).
    Files that vanish while copying are skipped. Raises Cancelled if `cancel` gets set.
    """
    dst.mkdir(parents=True, exist_ok=False)
    manifest: Manifest = {}
    if not src.is_dir():
        return manifest
    for dirpath, rel_dir, dirnames, filenames in _walk(src):
        out_dir = dst / rel_dir if rel_dir else dst
        keep = []
        for d in dirnames:
            p = dirpath / d
            if p.is_symlink():
                _copy_link(p, out_dir / d)
                continue
            (out_dir / d).mkdir(exist_ok=True)
            keep.append(d)
        dirnames[:] = keep
        for name in filenames:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            p = dirpath / name
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(st.st_mode):
                _copy_link(p, out_dir / name)
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            try:
                size, digest = _copy_file(p, out_dir / name)
            except (FileNotFoundError, IsADirectoryError):
                continue
            manifest[rel_dir + name] = {"size": size, "sha256": digest}
    return manifest


def _copy_link(src: Path, dst: Path) -> None:
    try:
        os.symlink(os.readlink(src), dst)
    except OSError:
        pass


def manifest_of(root: Path) -> Manifest:
    """{relpath: {"size", "sha256"}} of the regular files under root (symlinks not followed)."""
    manifest: Manifest = {}
    if not root.is_dir():
        return manifest
    for dirpath, rel_dir, dirnames, filenames in _walk(root):
        dirnames[:] = [d for d in dirnames if not (dirpath / d).is_symlink()]
        for name in filenames:
            p = dirpath / name
            try:
                if not stat.S_ISREG(p.lstat().st_mode):
                    continue
                size, digest = sha256_file(p)
            except (FileNotFoundError, IsADirectoryError, PermissionError):
                continue
            manifest[rel_dir + name] = {"size": size, "sha256": digest}
    return manifest


def total_bytes(manifest: Manifest) -> int:
    return int(sum(int(v["size"]) for v in manifest.values()))


def changed_bytes(new: Manifest, old: Optional[Manifest]) -> int:
    """Bytes of the files in `new` that are absent from, or differ in, `old`."""
    old = old or {}
    n = 0
    for rel, info in new.items():
        prev = old.get(rel)
        if prev is None or prev.get("sha256") != info["sha256"] or prev.get("size") != info["size"]:
            n += int(info["size"])
    return n


def lost_files(gpu: Manifest, standby: Manifest) -> List[LostFile]:
    """Files present on the GPU whose content is missing or different on the standby."""
    out = []
    for rel in sorted(gpu):
        info = gpu[rel]
        other = standby.get(rel)
        if other is None or other.get("sha256") != info["sha256"] or other.get("size") != info["size"]:
            out.append(LostFile(path=rel, bytes=int(info["size"])))
    return out


# -- publication ---------------------------------------------------------------------
def _clear(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def apply_tree(staged: Path, dst: Path) -> None:
    """Make the directory dst hold exactly what staged holds (staged is consumed), in place:
    every file is moved in with one rename(2) each, then whatever staged did not have is removed.
    dst itself stays the same directory, so shells whose cwd is dst keep seeing it (like rsync
    --delete). staged must be on dst's filesystem."""
    dst.mkdir(parents=True, exist_ok=True)
    keep = set()
    for dirpath, dirnames, filenames in os.walk(staged):
        here = Path(dirpath)
        rel_dir = os.path.relpath(dirpath, staged)
        out_dir = dst if rel_dir == "." else dst / rel_dir
        if rel_dir != ".":
            keep.add(rel_dir)
            if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
                _clear(out_dir)
            out_dir.mkdir(exist_ok=True)
        entries = list(filenames) + [d for d in dirnames if (here / d).is_symlink()]
        for name in entries:
            target = out_dir / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target, ignore_errors=True)
            os.replace(here / name, target)
            keep.add(name if rel_dir == "." else os.path.join(rel_dir, name))
    for dirpath, dirnames, filenames in os.walk(dst, topdown=False):
        rel_dir = os.path.relpath(dirpath, dst)
        for name in list(filenames) + list(dirnames):
            rel = name if rel_dir == "." else os.path.join(rel_dir, name)
            if rel not in keep:
                _clear(Path(dirpath) / name)
    shutil.rmtree(staged, ignore_errors=True)


def remove(path: Optional[Path]) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)
