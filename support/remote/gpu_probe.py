"""The GPU check's probe: runs ON the rented machine and prints what its GPU is, how healthy and how fast.

It uses the machine's own tools: ``nvidia-smi``, and PyTorch and transformers in the Python that runs it
(a GPU image's, not the suite's: the suite declares neither). The suite (support/gpu_check.py) sends it as
the program of ``python3 -`` over SSH and reads the last line it prints::

    DUMONT_GPU_PROBE {"probe": 1, "missing": [...], "smi": {...}, "cuda": {...}, "matmul": {...}, "model": {...}}

It only measures; the suite judges. Parts, in order, each reporting its own result or its own error, so that
one failing part never hides what the others found:

* ``smi``: nvidia-smi's CSV query (one row per GPU) and its plain table (the driver's CUDA version), raw;
  the suite parses them.
* ``cuda``: PyTorch initialises CUDA; its version, CUDA runtime, and every device it sees.
* ``matmul``: a timed half-precision matrix product on GPU 0 (a few seconds) -> TFLOPS, with a second
  nvidia-smi sample taken while it runs (throttling and temperature under load).
* ``model``: the installed model loaded on the GPU with transformers, one fixed prompt, a few greedy new
  tokens -> time to first token and tokens per second.

Standard library only at the top level, Python 3.8 or newer (what GPU images ship). torch and transformers
are imported by name when a part needs them: a machine without them still reports everything else, and
says what is missing. Nothing raises out of the probe: a part's error is one line, never a traceback.
A whole-probe deadline (``--deadline``, wall seconds) stops the part under way and reports what was found.
"""

import argparse
import importlib
import json
import os
import platform
import signal
import subprocess
import sys
import time

MARK = "DUMONT_GPU_PROBE"
VERSION = 1
#: nvidia-smi's documented query fields (``nvidia-smi --help-query-gpu``): identity, then health.
SMI_FIELDS = ("name", "memory.total", "driver_version", "ecc.errors.uncorrected.volatile.total",
              "retired_pages.pending", "clocks_throttle_reasons.active", "temperature.gpu")
#: Sampled again while the matrix product runs: a card that throttles does so under load, not idle.
LOAD_FIELDS = ("clocks_throttle_reasons.active", "temperature.gpu")
#: Drivers from 535 on call the throttle reasons "clock event reasons"; a driver that no longer knows
#: the old name is asked for the new one (and an old one for the old name).
RENAMED = {"clocks_throttle_reasons.active": "clocks_event_reasons.active"}
SMI_TIMEOUT = 30


class OutOfTime(Exception):
    """The probe's own deadline passed (raised by the alarm in whatever part was running)."""


def one_line(error):
    """An exception as one line: its type and the last non-empty line of its message."""
    text = str(error).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "{}: {}".format(type(error).__name__, lines[-1] if lines else "(no message)")


# -- nvidia-smi ---------------------------------------------------------------------------------------------

def run_smi(args):
    """nvidia-smi's output; ``{"missing": True}`` when there is none (not installed, or a shell's 127)."""
    try:
        done = subprocess.run(["nvidia-smi"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=SMI_TIMEOUT)
    except FileNotFoundError:
        return {"missing": True}
    except subprocess.TimeoutExpired:
        return {"error": "nvidia-smi did not answer within {} s".format(SMI_TIMEOUT)}
    except OSError as error:
        return {"error": one_line(error)}
    if done.returncode == 127:
        return {"missing": True, "stderr": done.stderr[-2000:]}
    return {"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr[-2000:]}


def query(fields):
    """One CSV query of ``fields``; when the driver refuses the set (a field it does not know), each field
    alone, a renamed one under its other name: one unknown field never loses the others."""
    args = ["--query-gpu=" + ",".join(fields), "--format=csv,noheader,nounits"]
    together = run_smi(args)
    if together.get("rc", 1) == 0 or "rc" not in together:
        together["fields"] = list(fields)
        return together
    per_field = {}
    for field in fields:
        alone = run_smi(["--query-gpu=" + field, "--format=csv,noheader,nounits"])
        if alone.get("rc", 0) != 0 and field in RENAMED:
            alone = run_smi(["--query-gpu=" + RENAMED[field], "--format=csv,noheader,nounits"])
        per_field[field] = alone
    return {"fields": list(fields), "per_field": per_field, "together": together}


def smi_part():
    result = {"query": query(SMI_FIELDS)}
    if result["query"].get("missing"):
        return result
    # The plain table is what a person reads (the report attaches it); its header has the CUDA version
    # the driver supports, which no query field gives on every driver.
    plain = run_smi([])
    result["plain"] = plain.get("stdout", "") if plain.get("rc") == 0 else plain
    return result


# -- CUDA in the machine's PyTorch ----------------------------------------------------------------------------

def cuda_part(torch):
    result = {"torch": getattr(torch, "__version__", None),
              "torch_cuda": getattr(getattr(torch, "version", None), "cuda", None)}
    error = None
    try:
        # init() raises with the driver's own words (is_available() only says False, with a warning).
        torch.cuda.init()
    except Exception as caught:
        error = one_line(caught)
    result["available"] = bool(torch.cuda.is_available()) and error is None
    result["error"] = error
    if not result["available"]:
        if error is None:
            result["error"] = "torch.cuda.is_available() is False"
        return result
    devices = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        devices.append({"name": props.name, "memory_total_mib": int(props.total_memory // 2 ** 20),
                        "capability": "{}.{}".format(props.major, props.minor)})
    result["device_count"] = len(devices)
    result["devices"] = devices
    return result


def matmul_part(torch, seconds):
    """Half-precision products of two n x n matrices on GPU 0, timed with CUDA events (the GPU's own clock:
    the products run asynchronously, so a host clock would time their launch, not their work)."""
    device = torch.device("cuda", 0)
    total = torch.cuda.get_device_properties(0).total_memory
    n = 8192 if total >= 4 * 2 ** 30 else 4096          # 3 x 128 MiB at 8192: fits any card of 4 GiB or more
    a = torch.randn(n, n, dtype=torch.float16, device=device)
    b = torch.randn(n, n, dtype=torch.float16, device=device)
    for _ in range(2):                                  # warm-up: the library picks its kernel, clocks rise
        c = a @ b
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    c = a @ b
    end.record()
    torch.cuda.synchronize()
    one = max(start.elapsed_time(end) / 1000.0, 1e-6)
    iterations = max(3, min(100000, int(seconds / one)))
    start.record()
    for _ in range(iterations):
        c = a @ b
    end.record()
    under_load = query(LOAD_FIELDS)                     # while the queued products run
    torch.cuda.synchronize()
    elapsed = start.elapsed_time(end) / 1000.0
    del a, b, c
    torch.cuda.empty_cache()
    return {"n": n, "iterations": iterations, "gpu_seconds": round(elapsed, 6),
            "tflops": round(2.0 * n ** 3 * iterations / elapsed / 1e12, 3), "under_load": under_load}


# -- the installed model --------------------------------------------------------------------------------------

def version_tuple(text):
    parts = []
    for piece in str(text).split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def make_streamer(torch):
    """A streamer that stamps a CUDA event when each new token is ready (generate() hands it the prompt
    first, then each token as it is chosen)."""
    try:
        base = importlib.import_module("transformers.generation.streamers").BaseStreamer
    except (ImportError, AttributeError):
        base = object

    class Stamps(base):
        def __init__(self):
            self.prompt_seen = False
            self.events = []

        def put(self, value):
            if not self.prompt_seen:
                self.prompt_seen = True
                return
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self.events.append(event)

        def end(self):
            pass

    return Stamps()


def model_part(torch, transformers, model_dir, prompt, new_tokens):
    if not os.path.isdir(model_dir):
        return {"dir": model_dir, "error": "no model at {}".format(model_dir)}
    result = {"dir": model_dir, "transformers": getattr(transformers, "__version__", None), "prompt": prompt}
    loaded = time.perf_counter()
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    # transformers 4.56 renamed torch_dtype to dtype.
    key = "dtype" if version_tuple(result["transformers"] or "0") >= (4, 56) else "torch_dtype"
    options = {key: torch.float16}
    try:
        importlib.import_module("accelerate")
        options["device_map"] = "cuda"                  # straight onto the GPU: no copy in the host's memory
    except ImportError:
        pass
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, **options)
    if "device_map" not in options:
        model = model.to("cuda")
    model.eval()
    result["load_seconds"] = round(time.perf_counter() - loaded, 3)
    device = next(model.parameters()).device
    result["device"] = str(device)
    inputs = tokenizer(prompt, return_tensors="pt").to(device)
    prompt_tokens = inputs["input_ids"].shape[-1]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    stamps = make_streamer(torch)
    start = torch.cuda.Event(enable_timing=True)
    with torch.inference_mode():
        start.record()
        output = model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False, streamer=stamps,
                                pad_token_id=pad)
    torch.cuda.synchronize()
    new = output[0][prompt_tokens:]
    result["answer"] = tokenizer.decode(new, skip_special_tokens=True)
    result["new_tokens"] = len(stamps.events)
    if stamps.events:
        result["time_to_first_token_seconds"] = round(start.elapsed_time(stamps.events[0]) / 1000.0, 6)
    if len(stamps.events) > 1:
        decoding = stamps.events[0].elapsed_time(stamps.events[-1]) / 1000.0
        result["tokens_per_second"] = round((len(stamps.events) - 1) / decoding, 3) if decoding > 0 else None
    del model
    torch.cuda.empty_cache()
    return result


# -- the whole probe ------------------------------------------------------------------------------------------

class Probe:
    def __init__(self, deadline):
        self.deadline = deadline
        self.out_of_time = False
        self.out = {"probe": VERSION, "python": platform.python_version(), "missing": []}

    def part(self, name, work):
        """Run one part; its result, or its error as one line, lands under ``name`` with its own time."""
        if self.out_of_time:
            self.out[name] = {"skipped": "the probe ran out of time"}
            return None
        started = time.perf_counter()
        try:
            result = work()
        except OutOfTime:
            self.out_of_time = True
            result = {"error": "did not finish within the probe's {:g} s".format(self.deadline)}
        except Exception as error:                      # a part's failure is reported, never raised
            result = {"error": one_line(error)}
        if result is not None:
            result["seconds"] = round(time.perf_counter() - started, 3)
            self.out[name] = result
        return result

    def alarm(self, signum, frame):
        raise OutOfTime()


def load(name, out):
    """The machine's own ``name`` package, or None (named in ``missing``, with its import error)."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        out["missing"].append(name)
        out.setdefault("import_errors", {})[name] = one_line(error)
        return None


def run_parts(probe, args):
    out = probe.out
    smi = probe.part("smi", smi_part)
    if smi and smi.get("query", {}).get("missing"):
        out["missing"].append("nvidia-smi")
    # Both imported up front, so that a machine lacking both is told so at once, whatever else fails.
    torch = load("torch", out)
    transformers = load("transformers", out)
    if torch is None:
        return
    cuda = probe.part("cuda", lambda: cuda_part(torch))
    if not (cuda and cuda.get("available")):
        return
    probe.part("matmul", lambda: matmul_part(torch, args.matmul_seconds))
    if transformers is not None:
        probe.part("model", lambda: model_part(torch, transformers, args.model_dir, args.prompt, args.length))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="gpu_probe")
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--prompt", default="The capital of France is")
    parser.add_argument("--length", type=int, default=32, help="new tokens the model generates")
    parser.add_argument("--matmul-seconds", type=float, default=2.0, help="GPU seconds of matrix products")
    parser.add_argument("--deadline", type=float, default=600.0, help="wall seconds for the whole probe")
    args = parser.parse_args(argv)
    probe = Probe(args.deadline)
    started = time.perf_counter()
    timed = hasattr(signal, "setitimer")
    if timed:
        signal.signal(signal.SIGALRM, probe.alarm)
        signal.setitimer(signal.ITIMER_REAL, args.deadline)
    try:
        run_parts(probe, args)
    except OutOfTime:                                   # between parts (an import): what was found stands
        probe.out["out_of_time"] = "the probe did not finish within {:g} s".format(args.deadline)
    finally:
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
    if probe.out_of_time:
        probe.out["out_of_time"] = "the probe did not finish within {:g} s".format(args.deadline)
    probe.out["seconds"] = round(time.perf_counter() - started, 3)
    sys.stdout.flush()
    print(MARK + " " + json.dumps(probe.out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
