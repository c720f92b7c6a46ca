"""The stand-in GPU of one sandbox machine: what it is (its spec) and its clock. Shared by the stand-in
`torch` and `transformers` of the machine's python3 (standard library only).

The spec is the file the sandbox wrote when the instance was made (gpu_standin.py), found by the machine's
DUMONT_INSTANCE_ID in the `gpus` folder beside this one's folder.

The GPU keeps its own clock in nominal (real-world) seconds, as a real GPU's CUDA events time its work:
work is queued on it (a matrix product, a model's step) and ends when the GPU has done it; an event marks
the end of what is queued; `synchronize` makes the host wait until the GPU is idle, for the nominal time
divided by the sandbox's time scale, like every other sandbox wait.
"""
import json
import os
import time
from pathlib import Path

SPECS = Path(__file__).resolve().parent.parent / "gpus"
_cache = {}


def spec():
    """This machine's GPU, or None (a CPU machine, or one the sandbox gave no GPU)."""
    if "spec" not in _cache:
        path = SPECS / "{}.json".format(os.environ.get("DUMONT_INSTANCE_ID", ""))
        try:
            _cache["spec"] = json.loads(path.read_text())
        except (OSError, ValueError):
            _cache["spec"] = None
        if _cache["spec"] is not None:
            mark_used(path.with_suffix(".used"))
    return _cache["spec"]


def mark_used(path):
    """Tell the sandbox that the command this process belongs to used the GPU (its ground truth: the
    machine's own work). One line, appended whole: the command's process group and when."""
    with open(str(path), "a") as marks:
        marks.write("{} {:.6f}\n".format(os.getpgid(0), time.time()))


def require(package):
    """The spec, for a package this machine has; the import error a machine without it gives."""
    found = spec()
    if found is None or package in found.get("missing", ()):
        raise ModuleNotFoundError("No module named '{}'".format(package), name=package)
    return found


class Clock:
    def __init__(self, scale):
        self.scale = scale
        self.origin = time.monotonic()
        self.busy_until = 0.0          # nominal seconds since origin when the queued work ends

    def now(self):
        return (time.monotonic() - self.origin) * self.scale

    def queue(self, seconds):
        """Work of ``seconds`` (nominal) starts when the GPU is free, or now if it is idle."""
        self.busy_until = max(self.busy_until, self.now()) + seconds

    def mark(self):
        """When an event recorded now completes: the end of the queued work, or now."""
        return max(self.busy_until, self.now())

    def synchronize(self):
        wait = (self.busy_until - self.now()) / self.scale
        if wait > 0:
            time.sleep(wait)


def clock():
    if "clock" not in _cache:
        _cache["clock"] = Clock(float(require("torch").get("time_scale") or 1.0))
    return _cache["clock"]


class dtype:
    def __init__(self, name, size):
        self.name, self.itemsize = name, size

    def __repr__(self):
        return "torch." + self.name


float16, bfloat16, float32, long = dtype("float16", 2), dtype("bfloat16", 2), dtype("float32", 4), dtype("int64", 8)


class device:
    def __init__(self, kind, index=None):
        if isinstance(kind, device):
            kind, index = kind.type, kind.index
        kind = str(kind)
        if ":" in kind:
            kind, _, number = kind.partition(":")
            index = int(number)
        self.type, self.index = kind, (0 if kind == "cuda" and index is None else index)

    def __str__(self):
        return self.type if self.index is None else "{}:{}".format(self.type, self.index)

    __repr__ = __str__

    def __eq__(self, other):
        return str(self) == str(device(other))

    def __hash__(self):
        return hash(str(self))


class Tensor:
    """Just what the probe and generation use: a shape, a place, and (for token ids) the values."""

    def __init__(self, shape, dtype_=float32, device_=None, data=None):
        self.shape, self.dtype, self.device = tuple(shape), dtype_, device(device_ or "cpu")
        self.data = data

    @classmethod
    def ids(cls, rows, device_=None):
        return cls((len(rows), len(rows[0]) if rows else 0), long, device_, [list(r) for r in rows])

    def __matmul__(self, other):
        if self.device.type != "cuda" or other.device != self.device:
            raise RuntimeError("Expected all tensors to be on the same device, but found at least two devices")
        (m, k), (_, n) = self.shape, other.shape
        clock().queue(2.0 * m * k * n / (float(require("torch")["matmul_tflops"]) * 1e12))
        return Tensor((m, n), self.dtype, self.device)

    def __getitem__(self, key):
        picked = self.data[key]
        if isinstance(key, int):
            if isinstance(picked, list):
                return Tensor((len(picked),), self.dtype, self.device, picked)
            return picked
        return Tensor((len(picked),) + self.shape[1:], self.dtype, self.device, picked)

    def __len__(self):
        return self.shape[0]

    def __iter__(self):
        return iter(self.data or [])

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def to(self, where=None, **kwargs):
        return Tensor(self.shape, self.dtype, where if isinstance(where, (str, device)) else self.device, self.data)

    def cpu(self):
        return self.to("cpu")

    def tolist(self):
        return self.data


def randn(*size, dtype=float32, device=None, **kwargs):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return Tensor(size, dtype, device)


class no_grad:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, func):
        return func


inference_mode = no_grad
