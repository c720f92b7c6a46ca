"""torch.version: the PyTorch and CUDA runtime versions of the machine's image."""
import importlib

_spec = importlib.import_module("_standin_gpu").require("torch")
__version__ = _spec.get("torch", "2.1.0")
cuda = _spec.get("torch_cuda", "12.1")
