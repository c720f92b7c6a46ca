"""The locked JSON state shared by a run's processes."""

from __future__ import annotations

import json

from support.shared_state import change_locked


def test_a_state_that_shrinks_reads_back_as_written(tmp_path):
    path = tmp_path / "state.json"
    change_locked(path, lambda state: state.update({f"GET /endpoint/{i}": {"tokens": 1.5} for i in range(50)}))
    change_locked(path, lambda state: (state.clear(), state.update({"only": 1})))
    assert json.loads(path.read_bytes()) == {"only": 1}
    assert change_locked(path, lambda state: dict(state)) == {"only": 1}
