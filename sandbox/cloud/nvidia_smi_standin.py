"""A stand-in for `nvidia-smi` on the sandbox's machines (gpu_standin.py puts its wrapper first on the PATH).

    nvidia-smi SPECS_DIR [--query-gpu=FIELDS --format=csv[,noheader][,nounits]]

It answers for the GPU the sandbox gave this machine (SPECS_DIR/<DUMONT_INSTANCE_ID>.json): the documented
CSV query of the fields below, one row per GPU, or the plain table. An unknown field is refused as the real
tool refuses it (exit 2). A machine without a GPU, or whose `gpu_fault` took nvidia-smi away, answers as a
shell does for a command it cannot find (exit 127).

Standard library only, and few modules: it starts once per call.
"""
import json
import os
import sys
import time

IDLE_REASONS = "0x0000000000000000"


def fields(spec):
    """Field -> (unit shown without `nounits`, value for one GPU)."""
    reasons = ("", lambda g: IDLE_REASONS)
    return {
        "index": ("", lambda g: str(g["index"])),
        "count": ("", lambda g: str(len(spec["gpus"]))),
        "name": ("", lambda g: g["name"]),
        "uuid": ("", lambda g: g["uuid"]),
        "driver_version": ("", lambda g: spec["driver"]),
        "memory.total": (" MiB", lambda g: str(g["memory_total_mib"])),
        "memory.used": (" MiB", lambda g: "1"),
        "memory.free": (" MiB", lambda g: str(g["memory_total_mib"] - 1)),
        "temperature.gpu": ("", lambda g: str(spec["temperature"])),
        "utilization.gpu": (" %", lambda g: "0"),
        "pstate": ("", lambda g: "P8"),
        "ecc.errors.uncorrected.volatile.total": ("", lambda g: g["ecc_uncorrected"]),
        "retired_pages.pending": ("", lambda g: "[N/A]"),
        "clocks_throttle_reasons.active": reasons,
        "clocks_event_reasons.active": reasons,
    }


def query(spec, names, formats):
    known = fields(spec)
    for name in names:
        if name not in known:
            print('Field "{}" is not a valid field to query.\n'.format(name))
            return 2
    units = "nounits" not in formats
    if "noheader" not in formats:
        print(", ".join(n + (" [{}]".format(known[n][0].strip()) if known[n][0] else "") for n in names))
    for gpu in spec["gpus"]:
        values = []
        for name in names:
            unit, value = known[name]
            text = value(gpu)
            values.append(text + unit if units and unit and not text.startswith("[") else text)
        print(", ".join(values))
    return 0


def table(spec):
    """The plain table, in the layout of the 550 drivers."""
    bar = "+-----------------------------------------+------------------------+----------------------+"
    wide = "+-----------------------------------------------------------------------------------------+"
    lines = [time.strftime("%a %b %d %H:%M:%S %Y"), wide,
             "| NVIDIA-SMI {:<22} Driver Version: {:<14} CUDA Version: {:<9}|".format(
                 spec["driver"], spec["driver"], spec["cuda"]),
             "|-----------------------------------------+------------------------+----------------------+",
             "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |",
             "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |",
             "|=========================================+========================+======================|"]
    for gpu in spec["gpus"]:
        memory = "1MiB / {}MiB".format(gpu["memory_total_mib"])
        lines += ["| {:>3}  {:<29}  On  |   00000000:{:02X}:00.0 Off | {:>20} |".format(
                      gpu["index"], gpu["name"][:29], gpu["index"] + 1, gpu["ecc_uncorrected"].strip("[]")),
                  "|  0%   {}C    P8             15W /  170W | {:>22} |      0%      Default |".format(
                      spec["temperature"], memory), bar]
    lines += ["", wide,
              "| Processes:                                                                              |",
              "|  No running processes found                                                             |", wide]
    return "\n".join(lines)


def option(args, name):
    """`--name=value` or `--name value` among ``args``, or None."""
    for index, arg in enumerate(args):
        if arg.startswith(name + "="):
            return arg[len(name) + 1:]
        if arg == name and index + 1 < len(args):
            return args[index + 1]
    return None


def main(argv):
    specs, args = argv[0], argv[1:]
    try:
        with open(os.path.join(specs, "{}.json".format(os.environ.get("DUMONT_INSTANCE_ID", "")))) as handle:
            spec = json.load(handle)
    except (OSError, ValueError):
        spec = None                                 # a CPU machine: no driver, no nvidia-smi
    if spec is None or "nvidia-smi" in spec.get("missing", ()):
        print("bash: nvidia-smi: command not found", file=sys.stderr)
        return 127
    # The command that ran this used the GPU (ground truth: see _standin_gpu.mark_used, same line format).
    with open(os.path.join(specs, "{}.used".format(os.environ.get("DUMONT_INSTANCE_ID", ""))), "a") as marks:
        marks.write("{} {:.6f}\n".format(os.getpgid(0), time.time()))
    wanted = option(args, "--query-gpu")
    if wanted:
        return query(spec, [f.strip() for f in wanted.split(",") if f.strip()],
                     [f.strip() for f in (option(args, "--format") or "csv").split(",")])
    print(table(spec))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
