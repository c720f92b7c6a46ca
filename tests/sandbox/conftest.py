"""Fixtures for the sandbox's own tests: sandboxes (always stopped), accounts, SSH keys."""
from __future__ import annotations

import pytest

import sandbox
from tests.sandbox.helpers import FAST, Key, new_account


def pytest_configure(config):
    config.addinivalue_line("markers", "load: the 50-instance load test (runs by default, kept fast)")


@pytest.fixture(scope="session")
def sb():
    box = sandbox.start(time_scale=FAST, seed=1234)
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def api(sb):
    a = new_account(sb)
    yield a
    # leave nothing running for the account (cleanup, not assertion)
    for inst in a.get("/instances").json().get("instances", []):
        a.delete(f"/instances/{inst['id']}")


@pytest.fixture(scope="session")
def key():
    return Key()


@pytest.fixture
def fresh_sandbox():
    """Factory for dedicated sandboxes (stopped at teardown)."""
    boxes = []

    def make(**kw):
        kw.setdefault("time_scale", FAST)
        box = sandbox.start(**kw)
        boxes.append(box)
        return box
    yield make
    for box in boxes:
        box.stop()


@pytest.fixture(autouse=True)
def _no_leftover_faults(request):
    yield
    if "sb" in request.fixturenames:
        request.getfixturevalue("sb").admin.clear_faults()
