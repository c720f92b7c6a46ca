"""``make open-report``: the HTML report served over http on 127.0.0.1, the one way to view it.

The Allure 3 page fetches its data with JavaScript, so opened as a ``file://`` page it never leaves its
spinner, and ``npx allure open`` kept a headless browser waiting for minutes. A plain static server
rooted at ``<reports>/allure-report`` is enough: ``python -m support.report_server`` prints the URL on
one line and serves until Ctrl-C. The tests open the report through :func:`serving`, the same server
started in a thread.

``python -m support.report_server --up-to-date <reports>`` answers by its exit status whether the report
of the last run is built (0) or must be built first (1: missing, or older than the run's results);
``make open-report`` asks it, and runs ``make report`` on anything but 0.
"""

from __future__ import annotations

import argparse
import functools
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOST = "127.0.0.1"
REPORT = "allure-report"
RESULTS = "allure-results"


class ReportHandler(SimpleHTTPRequestHandler):
    """Files of one folder; nothing logged per request (the terminal keeps only the URL line)."""

    # Module scripts must come as JavaScript: Python 3.11's table does not know .mjs.
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript"}

    def end_headers(self) -> None:
        # `make report` may rebuild the folder while the server runs: a reload must not show cached data.
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        pass


def make_server(folder: Path, port: int = 0) -> ThreadingHTTPServer:
    """A server for ``folder`` bound to 127.0.0.1 (port 0: a free one); not yet serving."""
    if not (folder / "index.html").is_file():
        raise FileNotFoundError(f"no HTML report in {folder}: run `make report` first")
    # The folder by its path, not held open: `make report` deletes and writes it anew, and the server then
    # serves the new report.
    handler = functools.partial(ReportHandler, directory=str(folder.resolve()))
    return ThreadingHTTPServer((HOST, port), handler)


def url_of(server: ThreadingHTTPServer) -> str:
    return f"http://{HOST}:{server.server_address[1]}/"


@contextmanager
def serving(folder: Path, port: int = 0) -> Iterator[str]:
    """Serve ``folder`` from a thread without blocking; yields the report's URL, and stops the server after."""
    server = make_server(folder, port)
    thread = threading.Thread(target=server.serve_forever, name="report-server", daemon=True)
    thread.start()
    try:
        yield url_of(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def stale(reports: Path) -> bool:
    """Whether the report must be built: it is missing, or the run's results are newer than it."""
    index = reports / REPORT / "index.html"
    if not index.is_file():
        return True
    built = index.stat().st_mtime_ns
    inputs = [reports / "metrics.json"]
    results = reports / RESULTS
    if results.is_dir():
        inputs += [path for path in results.iterdir() if path.is_file()]
    return any(path.is_file() and path.stat().st_mtime_ns > built for path in inputs)


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


def serve_until_interrupted(folder: Path, port: int = 0) -> int:
    """Serve ``folder`` in the foreground: the URL on one line, then requests until Ctrl-C (exit 0)."""
    server = make_server(folder, port)
    try:
        # Ctrl-C (and a plain kill) end the server quietly, even where the parent left SIGINT ignored.
        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        print(f"HTML report: {url_of(server)} (serving {folder}; Ctrl-C stops the server)", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nreport server stopped", flush=True)
    finally:
        server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m support.report_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the report folder (<reports>/allure-report), or with "
                                                   "--up-to-date the reports directory")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--up-to-date", action="store_true",
                        help="exit 0 when FOLDER (a reports directory) holds the report of its last run, 1 when not")
    args = parser.parse_args(argv)
    if args.up_to_date:
        return 1 if stale(args.folder) else 0
    try:
        return serve_until_interrupted(args.folder, args.port)
    except OSError as error:     # no report (FileNotFoundError), or the port is taken: one line, no traceback
        print(f"report server: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
