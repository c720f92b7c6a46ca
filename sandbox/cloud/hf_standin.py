"""A stand-in for the Hugging Face CLI (`hf`, huggingface_hub 1.x) on the sandbox's machines.

Run as a script (standard library only) by the `hf` wrapper the sandbox puts first on every
machine's PATH; the wrapper passes the model mirror's URL in SANDBOX_HF_MIRROR, so the machine's
own environment does not reveal it. It knows two commands:

    hf version                                   huggingface_hub version: 1.3.1
    hf download <repo_id> [FILES...] [--local-dir DIR] [--quiet]

A repo maps to the mirror's model of the same name in lower case (Qwen/Qwen3-0.6B ->
qwen3-0.6b, Qwen/Qwen2.5-7B -> qwen2.5-7b): its files, byte for byte, downloaded from the
mirror at the mirror's (scaled) bandwidth and checked against its sha256 manifest. An unknown
repo fails (exit 1) with the Hub's "Repository Not Found" message. Without --local-dir the files
go to the Hub cache layout under $HF_HOME (default ~/.cache/huggingface). On success the last
line of stdout is the absolute path of the folder, as the real command prints it.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import List, Optional, Tuple

VERSION = "1.3.1"
HUB = "https://huggingface.co"
CHUNK = 256 * 1024


def model_name(repo_id: str) -> str:
    return repo_id.strip().rstrip("/").split("/")[-1].lower()


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=600) as resp:
        return resp.read()


def _not_found(repo_id: str) -> int:
    print(f"Repository Not Found for url: {HUB}/api/models/{repo_id}/revision/main.\n"
          "Please make sure you specified the correct `repo_id` and `repo_type`.\n"
          "If you are trying to access a private or gated repo, make sure you are authenticated. "
          f"For more details, see {HUB}/docs/huggingface_hub/authentication", file=sys.stderr)
    return 1


def _manifest(mirror: str, name: str) -> Optional[List[Tuple[str, str]]]:
    try:
        text = _get(f"{mirror}/{name}/manifest.sha256").decode()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise
    return [(line.split("  ", 1)[0], line.split("  ", 1)[1]) for line in text.splitlines() if "  " in line]


def _fetch(url: str, dest: Path, sha256: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.incomplete")
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=600) as resp, open(tmp, "wb") as out:
        while True:
            chunk = resp.read(CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != sha256:
        tmp.unlink(missing_ok=True)
        raise OSError(f"checksum mismatch for {dest.name}")
    os.replace(tmp, dest)


def download(args: argparse.Namespace) -> int:
    mirror = os.environ.get("SANDBOX_HF_MIRROR", "").rstrip("/")
    if not mirror:
        print("hf: no model mirror configured", file=sys.stderr)
        return 1
    repo_id = args.repo_id
    files = _manifest(mirror, model_name(repo_id))
    if files is None:
        return _not_found(repo_id)
    if args.filenames:
        wanted = set(args.filenames)
        missing = wanted - {name for _, name in files}
        if missing:
            print(f"Entry Not Found for url: {HUB}/{repo_id}/resolve/main/{sorted(missing)[0]}.", file=sys.stderr)
            return 1
        files = [(sha, name) for sha, name in files if name in wanted]
    if args.local_dir:
        target = Path(args.local_dir).expanduser()
    else:
        home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")
        target = home / "hub" / f"models--{repo_id.replace('/', '--')}" / "snapshots" / "main"
    target.mkdir(parents=True, exist_ok=True)
    if not args.quiet:
        print(f"Fetching {len(files)} files", file=sys.stderr, flush=True)
    name = model_name(repo_id)
    try:
        for sha, fname in files:
            _fetch(f"{mirror}/{name}/{fname}", target / fname, sha)
    except (OSError, urllib.error.URLError) as exc:
        print(f"hf: download failed: {exc}", file=sys.stderr)
        return 1
    if args.local_dir:
        meta = target / ".cache" / "huggingface"
        meta.mkdir(parents=True, exist_ok=True)
        (meta / ".gitignore").write_text("*\n")
    print(str(target.resolve()))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="hf", add_help=True)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("version")
    dl = sub.add_parser("download")
    dl.add_argument("repo_id")
    dl.add_argument("filenames", nargs="*")
    dl.add_argument("--local-dir")
    dl.add_argument("--revision")
    dl.add_argument("--repo-type", default="model")
    dl.add_argument("--quiet", action="store_true")
    dl.add_argument("--token")
    args, _unknown = parser.parse_known_args(argv)
    if args.command == "version":
        print(f"huggingface_hub version: {VERSION}")
        return 0
    if args.command == "download":
        return download(args)
    print("Usage: hf [OPTIONS] COMMAND [ARGS]...\nTry 'hf -h' for help.\n\n"
          f"Error: No such command {args.command!r}." if args.command else "Usage: hf [OPTIONS] COMMAND [ARGS]...",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
