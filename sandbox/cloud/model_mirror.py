"""Local model mirror: deterministic, incompressible files scaled down by size_scale, a sha256
manifest, and paced downloads at a nominal bandwidth (scaled by time_scale)."""
from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional

DEFAULT_MODELS: Dict[str, float] = {
    "qwen3-0.6b": 1.2e9,   # nominal bytes
    "qwen2.5-7b": 15e9,
}
CONFIG_BYTES = 1024        # real bytes of config.json-like small files
CHUNK = 64 * 1024


def _layout(name: str, nominal: float, size_scale: float) -> List[Dict[str, Any]]:
    """Files of a model: a small config.json plus weight shards (<= 8 MB real each)."""
    total = max(CONFIG_BYTES + 1, int(round(nominal / size_scale)))
    weights = total - CONFIG_BYTES
    shards = max(1, -(-weights // (8 * 1024 * 1024)))
    files = [{"name": "config.json", "bytes": CONFIG_BYTES}]
    base, rest = divmod(weights, shards)
    for i in range(shards):
        fname = "model.safetensors" if shards == 1 else f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        files.append({"name": fname, "bytes": base + (1 if i < rest else 0)})
    return files


@dataclass(frozen=True)
class Model:
    name: str
    nominal_bytes: int
    bytes: int                          # real bytes of all its files
    files: List[Dict[str, Any]]         # {"name", "bytes", "sha256"} each, as the listing shows them
    manifest: str                       # sha256sum -c format


def model_view(m: Model) -> Dict[str, Any]:
    """A model in GET /_sandbox/models."""
    return {"name": m.name, "nominal_bytes": m.nominal_bytes, "bytes": m.bytes, "files": m.files}


class ModelMirror:
    def __init__(self, root: Path, size_scale: float, seed: Optional[int],
                 models: Optional[Dict[str, float]] = None):
        self.root = Path(root)
        self.size_scale = size_scale
        self.seed = 0 if seed is None else seed
        self.spec = dict(models or DEFAULT_MODELS)
        self.models: Dict[str, Model] = {}

    def ensure(self) -> None:
        """Generate missing files (or files from another seed/scale); compute the manifests."""
        for name, nominal in self.spec.items():
            d = self.root / name
            d.mkdir(parents=True, exist_ok=True)
            meta_path = d / ".meta.json"
            layout = _layout(name, nominal, self.size_scale)
            want_meta = {"seed": self.seed, "nominal_bytes": nominal, "size_scale": self.size_scale}
            meta = None
            if meta_path.is_file():
                try:
                    meta = json.loads(meta_path.read_text())
                except ValueError:
                    meta = None
            if not meta or meta.get("key") != want_meta or not all(
                    (d / f["name"]).is_file() and (d / f["name"]).stat().st_size == f["bytes"] for f in layout):
                for old in d.iterdir():
                    old.unlink()
                files = []
                for f in layout:
                    data = random.Random(f"{self.seed}:{name}:{f['name']}").randbytes(f["bytes"])
                    (d / f["name"]).write_bytes(data)
                    files.append({"name": f["name"], "bytes": f["bytes"], "sha256": hashlib.sha256(data).hexdigest()})
                meta = {"key": want_meta, "files": files}
                meta_path.write_text(json.dumps(meta))
            files = meta["files"]
            manifest = "".join(f"{f['sha256']}  {f['name']}\n" for f in files)
            self.models[name] = Model(name=name, nominal_bytes=int(nominal),
                                      bytes=sum(f["bytes"] for f in files), files=files, manifest=manifest)

    def list(self) -> List[Model]:
        return list(self.models.values())

    def manifest(self, name: str) -> Optional[str]:
        m = self.models.get(name)
        return m.manifest if m else None

    def file(self, name: str, fname: str) -> Optional[Path]:
        m = self.models.get(name)
        if not m or fname not in {f["name"] for f in m.files}:
            return None
        return self.root / name / fname

    async def stream(self, path: Path, real_bytes_per_wall_s: float) -> AsyncIterator[bytes]:
        """Yield the file in chunks, paced so it takes bytes / rate wall seconds."""
        start = time.monotonic()
        sent = 0
        with open(path, "rb") as fh:
            while True:
                chunk = fh.read(CHUNK)
                if not chunk:
                    break
                sent += len(chunk)
                yield chunk
                due = start + sent / real_bytes_per_wall_s
                delay = due - time.monotonic()
                if delay > 0.002:
                    await asyncio.sleep(delay)
