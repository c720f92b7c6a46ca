"""Stand-in `torch` of a sandbox machine: the GPU the sandbox gave it (_standin_gpu), in PyTorch's words.

A machine "without PyTorch" (a `gpu_fault` `missing`, or a CPU machine) fails this import, as a real one does.
"""
import importlib

from . import cuda as cuda  # torch.cuda, as the real package exposes it
from . import version

_gpu = importlib.import_module("_standin_gpu")
_spec = _gpu.require("torch")
__version__ = version.__version__

Tensor, device, dtype, randn = _gpu.Tensor, _gpu.device, _gpu.dtype, _gpu.randn
float16, bfloat16, float32, long = _gpu.float16, _gpu.bfloat16, _gpu.float32, _gpu.long
half, float, int64 = float16, float32, long
no_grad, inference_mode = _gpu.no_grad, _gpu.inference_mode


def manual_seed(seed):
    return None


def tensor(rows, dtype=None, device=None):
    return _gpu.Tensor.ids(rows if rows and isinstance(rows[0], list) else [rows], device)
