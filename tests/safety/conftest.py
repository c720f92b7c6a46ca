"""Fixtures of the safety tests: a sandbox the suite takes for the real service."""

from __future__ import annotations

import pytest

import sandbox

#: The provider key a real-looking sandbox's account (and the suite's VAST_API_KEY) carries.
PROVIDER_KEY = "providerkey0123456789abcdef"


@pytest.fixture
def real_with_provider_key(tmp_path):
    """A sandbox in its "real" profile whose test account has a provider key: nothing says sandbox."""
    sb = sandbox.start(data_dir=tmp_path / "sandbox", time_scale=60.0, seed=5, profile="real")
    sb.admin.set_provider_key("test@test.com", PROVIDER_KEY)
    yield sb
    sb.stop()
