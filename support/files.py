"""Writing a report file so that no reader ever sees half of it.

Every file the suite writes for people or tools to read (metrics.json, the text reports, the charts,
the JUnit XML it rewrites, the Allure results and attachments it adds) goes through
:func:`write_atomically`: the content is written to a temporary file beside the target, flushed to
disk, then renamed over it. A run cut short (Ctrl-C, SIGTERM, a full disk) leaves the old file or
the new one, never a truncated one that ``allure generate`` or a CI parser would choke on.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path | str, content: str | bytes) -> Path:
    """Write ``content`` (text as UTF-8, or bytes) to ``path`` in one step; return the path.

    The temporary file is ``<name>.<pid>.partial`` in the same folder (a rename is atomic only
    within one file system), so two processes writing the same file never share it; it is removed
    if the write fails.
    """
    path = Path(path)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        with open(partial, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path
