"""Fixtures shared by the suite's end-to-end tests."""

import pytest

import sandbox


@pytest.fixture
def sandbox_server(tmp_path):
    """A sandbox of our own (time ×60, fixed seed) for one test; stopped afterwards."""
    handle = sandbox.start(data_dir=tmp_path / "sandbox", time_scale=60.0, seed=7)
    yield handle
    handle.stop()
