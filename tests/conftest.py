"""Fixtures shared by the suite's end-to-end tests."""

import pytest

import sandbox


@pytest.fixture
def sandbox_server(tmp_path):
    """A sandbox of our own (time ×60, fixed seed) for one test; stopped afterwards."""
    handle = sandbox.start(data_dir=tmp_path / "sandbox", time_scale=60.0, seed=7)
    yield handle
    handle.stop()


@pytest.fixture
def empty_provider():
    """A provider listing (VAST_API_URL) that answers, with nothing in it: for runs that set VAST_API_KEY."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Listing(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"instances": []}).encode()
            self.send_response(200 if self.path.rstrip("/").endswith("/instances") else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Listing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v0"
    server.shutdown()
    server.server_close()
