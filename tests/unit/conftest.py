"""Fixtures for the support library's unit tests (fakes live in ``fakes.py``)."""

from __future__ import annotations

import pytest

from support.backoff import BackoffPolicy
from support.client import DumontClient

from .fakes import FakeClock, FakeDumont, GuardThatAllows, ScriptAdapter


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server() -> FakeDumont:
    return FakeDumont()


@pytest.fixture
def make_client(server):
    """``make_client(backoff=..., sleep=..., timeout=...)`` → a DumontClient wired to the fake server.

    Unless a ``sleep`` is given, sleeps are recorded in ``client.sleeps`` and take no time.
    """

    def make(*, backoff: BackoffPolicy | None = None, sleep=None, **kwargs) -> DumontClient:
        sleeps: list[float] = []
        kwargs.setdefault("spend_guard", GuardThatAllows())
        client = DumontClient("http://fake", server.user, server.password,
                              backoff=backoff or BackoffPolicy(), sleep=sleep or sleeps.append, **kwargs)
        client.session.mount("http://fake", ScriptAdapter(server))
        client.sleeps = sleeps
        return client

    return make
