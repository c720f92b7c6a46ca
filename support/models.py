"""Installing a model on an instance and proving it is intact, by sha256.

Against the sandbox the model comes from its local mirror; on the real
service from Hugging Face (or ``DUMONT_MODEL_INSTALL_CMD``). Either way the
instance ends with ``$WORKSPACE/models/<name>/manifest.sha256``, and the
suite keeps its own copy of the hashes to compare later copies against.
"""

from __future__ import annotations

import shlex

import paramiko

from support import instances
from support.attachments import command_output
from support.clock import Moment
from support.journey import InstalledModel, Journey
from support.ssh import CommandFailed

#: Hugging Face repositories for the model names used in the features (real mode).
HF_REPOS = {"qwen3-0.6b": "Qwen/Qwen3-0.6B", "qwen2.5-7b": "Qwen/Qwen2.5-7B",
            "llama-3.2-3b": "meta-llama/Llama-3.2-3B"}

WORKSPACE = 'WS="${WORKSPACE:-/workspace}"'
#: The Hugging Face CLI the instance uses: `hf` (huggingface-cli was removed in huggingface_hub 1.0),
#: at a version range whose `hf download` this command was written for.
HF_HUB_PIN = "huggingface_hub>=1.0,<2"
#: `hf version` prints "version: 1.x.y" (newer) or "huggingface_hub version: 1.x.y" (older 1.x).
HF_VERSION_OK = r"version:? +v?1\."
#: The model's own files, NUL-separated: not the manifest, not the download tool's bookkeeping
#: (`hf download --local-dir` keeps it in .cache/).
MODEL_FILES = "find . -type f ! -name manifest.sha256 ! -path './.cache/*' -printf '%P\\0'"
#: An awk program: each line of a manifest ("<sha256>  <file>") as the lines of a curl config that fetch
#: the file from ``base`` into a file of the same name.
CURL_CONFIG = r'{printf "url = \"%s/%s\"\noutput = \"%s\"\n", base, $2, $2}'
#: Separate an install command's own output, the manifest it left, and the hash listing of the files.
MANIFEST_MARK = "--dumont-manifest--"
HASHES_MARK = "--dumont-hashes--"


def model_dir(name: str) -> str:
    return f'"$WS/models/{name}"'


def install_command(name: str, mirror: str | None, custom: str | None) -> str:
    """The shell command that installs ``name`` and leaves a manifest.sha256 beside it."""
    quoted = shlex.quote(name)
    if custom:
        body = custom.replace("{model}", quoted).replace("{dir}", model_dir(name))
        make_manifest = f"{MODEL_FILES} | sort -z | xargs -0 sha256sum > manifest.sha256"
        return f'set -e; {WORKSPACE}; mkdir -p {model_dir(name)}; {body}; cd {model_dir(name)}; {make_manifest}'
    if mirror:
        # The mirror's manifest is what the files are checked against (by the suite, from the listing
        # install() takes: the files are hashed once). A second curl, started beside the first, reads from
        # it which files to fetch, and fetches them all over one connection.
        base = shlex.quote(f"{mirror.rstrip('/')}/{name}")
        to_config = f"awk -v base={base} '{CURL_CONFIG}'"
        return (f"set -e; {WORKSPACE}; mkdir -p {model_dir(name)}; cd {model_dir(name)}; "
                f"curl -fsS {base}/manifest.sha256 | tee manifest.sha256 | {to_config} | curl -fsS --config -")
    repo = HF_REPOS.get(name)
    if repo is None:
        raise ValueError(f"no download source for model {name!r}: set DUMONT_MODEL_INSTALL_CMD "
                         f"(known: {', '.join(HF_REPOS)})")
    # An `hf` already in the pinned range is used as it is; otherwise the pinned range is installed.
    have_hf = f"NO_COLOR=1 hf version 2>/dev/null | grep -Eq {shlex.quote(HF_VERSION_OK)}"
    install_hf = f"python3 -m pip install -q {shlex.quote(HF_HUB_PIN)}"
    download = f"HF_HUB_DISABLE_PROGRESS_BARS=1 hf download {shlex.quote(repo)} --local-dir {model_dir(name)}"
    return install_command(name, None, f"{{ {have_hf} || {install_hf}; }} && {download}")


def hash_listing_command(directory: str) -> str:
    """Lists ``<sha256>  <relative path>`` for every file of the model under ``directory``; nothing when the
    directory is not there (every file is then missing, which is what the check says)."""
    return f"{WORKSPACE}; cd {directory} 2>/dev/null || exit 0; {MODEL_FILES} | sort -z | xargs -0 -r sha256sum"


def parse_listing(text: str) -> dict[str, str]:
    hashes = {}
    for line in text.splitlines():
        if line.strip():
            digest, _, path = line.strip().partition("  ")
            hashes[path.lstrip("*")] = digest
    return hashes


def compare(expected: dict[str, str], found: dict[str, str]) -> list[str]:
    """Problems, one per file: missing, or content differs."""
    if expected and not found:
        return [f"all {len(expected)} files are missing"]
    problems = [f"missing: {path}" for path in sorted(expected) if path not in found]
    problems += [f"corrupt: {path}" for path in sorted(expected)
                 if path in found and found[path] != expected[path]]
    return problems


def install(journey: Journey, name: str) -> InstalledModel:
    """Install ``name`` on the current instance and remember its hashes.

    The same SSH command prints the manifest the install left and hashes the files it wrote: the
    manifest is what every later copy is checked against, the hashes are the first such check (kept
    for the step that checks the files). Its command and output are kept for the report (redacted).
    """
    run = journey.run
    session = instances.session(journey, "it installs a model")
    command = install_command(name, run.target.model_mirror, run.config.model_install_cmd)
    command = (f"{command}; cd {model_dir(name)}; echo {MANIFEST_MARK}; cat manifest.sha256; "
               f"echo {HASHES_MARK}; {hash_listing_command(model_dir(name))}")
    what = f"installing model {name}"
    start = Moment.now()
    try:
        with run.progress.waiting("model_install", run.timeouts.model_install):
            result = session.run(command, timeout=run.clock.wall(run.timeouts.model_install))
    except (TimeoutError, OSError, paramiko.SSHException) as error:
        journey.attach(f"ssh: {what}", f"$ {command}\n{error}\n")
        raise instances.explain(journey, "model_install", error, start) from None
    journey.attach(f"ssh: {what}", command_output(result))
    if not result.ok:
        raise instances.explain(journey, "model_install", CommandFailed(result, what), start)
    journey.record("model_install", start, start.since_now(), detail=name)
    manifest, _, listing = result.stdout.rpartition(MANIFEST_MARK)[2].partition(HASHES_MARK)
    model = InstalledModel(name, parse_listing(manifest), found_at_install=parse_listing(listing))
    if not model.manifest:
        raise AssertionError(f"model {name} installed no files")
    journey.installed(model)
    return model


def read_hashes(session, name: str, timeout: float) -> dict[str, str]:
    """The model's files and their sha256, as found on the machine behind ``session`` (timeout: wall s)."""
    result = session.run(hash_listing_command(model_dir(name)), timeout=timeout)
    if not result.ok:
        raise CommandFailed(result, f"hashing model {name}")
    return parse_listing(result.stdout)


def verify(journey: Journey) -> None:
    """Every file of the model is present with the hash its manifest gives.

    Right after the install, the files it hashed are checked; later (after a pause, a restore) they are
    hashed again.
    """
    model = journey.model("its files can be checked")
    found, model.found_at_install = model.found_at_install, None
    if found is None:
        session = instances.session(journey, "it checks the model's files")
        with journey.phase("model_verify", detail=model.name):
            found = read_hashes(session, model.name, journey.run.clock.wall(journey.run.timeouts.model_install))
    problems = compare(model.manifest, found)
    if problems:
        raise AssertionError(f"model {model.name} is not intact on instance "
                             f"{journey.machine('its files can be checked').id}: " + "; ".join(problems))
