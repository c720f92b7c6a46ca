"""torch.cuda of the stand-in GPU: devices, events on the GPU's own clock, synchronisation.

A `cuda_broken` machine answers as PyTorch does when the driver cannot be used: is_available() False with
a warning, init() raising the driver's error, no devices.
"""
import importlib
import warnings

_gpu = importlib.import_module("_standin_gpu")


def _broken():
    return _gpu.require("torch").get("cuda_error")


def _gpus():
    error = _broken()
    if error:
        raise RuntimeError(error)
    return _gpu.require("torch")["gpus"]


def is_available():
    error = _broken()
    if error:
        warnings.warn("CUDA initialization: " + error, UserWarning, stacklevel=2)
        return False
    return True


def init():
    _gpus()


def is_initialized():
    return not _broken()


def device_count():
    return 0 if _broken() else len(_gpus())


def current_device():
    _gpus()
    return 0


class _Properties:
    def __init__(self, gpu):
        self.name = gpu["name"]
        self.total_memory = int(gpu["memory_total_mib"]) * 2 ** 20
        self.major, self.minor = 8, 6
        self.multi_processor_count = 28

    def __repr__(self):
        return "_CudaDeviceProperties(name='{}', major=8, minor=6, total_memory={}MB)".format(
            self.name, self.total_memory // 2 ** 20)


def get_device_properties(index=0):
    return _Properties(_gpus()[int(getattr(index, "index", index) or 0)])


def get_device_name(index=0):
    return get_device_properties(index).name


def synchronize(device=None):
    _gpus()
    _gpu.clock().synchronize()


def empty_cache():
    return None


class Event:
    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        self.enable_timing = enable_timing
        self.at = None

    def record(self, stream=None):
        self.at = _gpu.clock().mark()

    def synchronize(self):
        _gpu.clock().synchronize()

    def query(self):
        return self.at is not None and _gpu.clock().now() >= self.at

    def elapsed_time(self, end):
        """Milliseconds between the two events, on the GPU's clock."""
        if not (self.enable_timing and end.enable_timing) or self.at is None or end.at is None:
            raise RuntimeError("Both events must be recorded with timing enabled before calling elapsed_time()")
        return (end.at - self.at) * 1000.0
