"""support.ledger: the crash-safe JSONL record of paid resources."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading

import pytest

from support.ledger import Entry, Ledger, maybe_alive, read_entries
from support.resources import Resource

TARGET = "http://fake:8766"


@pytest.fixture
def path(tmp_path):
    return tmp_path / "reports" / "ledger.jsonl"


@pytest.fixture
def ledger(path):
    return Ledger(path, "run-1", TARGET)


def alive(path, target=None):
    return maybe_alive(read_entries(path), target)


def test_creates_its_directory(path, ledger):
    assert path.parent.is_dir()
    assert read_entries(path) == []


def test_lifecycle_intent_created_deleted(path, ledger):
    ledger.intent(ledger.resource("instance", "lbl-a"), "scenario one")
    assert alive(path) == [Entry(Resource("instance", None, "lbl-a", TARGET), "run-1", "scenario one")]
    ledger.created(ledger.resource("instance", "lbl-a", 5001), "scenario one", gpu="RTX 3060")
    assert alive(path) == [Entry(Resource("instance", "5001", "lbl-a", TARGET), "run-1", "scenario one")]
    ledger.deleted(ledger.resource("instance", "lbl-a", 5001), "scenario one")
    assert alive(path) == []
    events = [e["event"] for e in read_entries(path)]
    assert events == ["intent", "created", "deleted"]
    assert read_entries(path)[1]["gpu"] == "RTX 3060"


def test_intent_without_created_stays_by_label(path, ledger):
    ledger.intent(ledger.resource("instance", "lbl-lost"), "s")          # the create's answer never came
    ledger.intent(ledger.resource("instance", "lbl-ok"), "s")
    ledger.created(ledger.resource("instance", "lbl-ok", 7), "s")
    ledger.deleted(ledger.resource("instance", "lbl-ok", 7), "s")
    assert alive(path) == [Entry(Resource("instance", None, "lbl-lost", TARGET), "run-1", "s")]


def test_kept_removes(path, ledger):
    ledger.intent(ledger.resource("snapshot", "lbl-s"), "s")
    ledger.created(ledger.resource("snapshot", "lbl-s", "abcdef12"), "s")
    ledger.kept(ledger.resource("snapshot", "lbl-s", "abcdef12"), "s")
    assert alive(path) == []


def test_several_resources_oldest_first_and_by_target(path, ledger):
    other = Ledger(path, "run-2", "http://elsewhere")
    ledger.created(ledger.resource("instance", "a", 1))
    other.created(other.resource("instance", "b", 2))
    ledger.created(ledger.resource("snapshot", "c", "ff00"))
    ledger.deleted(ledger.resource("instance", "a", 1))
    assert [(e.resource.kind, e.resource.id) for e in alive(path)] == [("instance", "2"), ("snapshot", "ff00")]
    assert [(e.resource.kind, e.resource.id) for e in alive(path, TARGET)] == [("snapshot", "ff00")]
    assert [(e.run_id, e.resource.target) for e in alive(path, "http://elsewhere")] == [("run-2", "http://elsewhere")]


def test_ids_compare_as_text(path, ledger):
    ledger.created(ledger.resource("instance", "a", 42))
    ledger.deleted(ledger.resource("instance", "a", "42"))
    assert alive(path) == []


def test_unknown_kind_refused(ledger):
    with pytest.raises(ValueError, match="kind"):
        ledger.created(ledger.resource("volume", "a", 1))


def test_every_line_is_whole_json(path, ledger):
    ledger.intent(ledger.resource("instance", "lbl"), "cenário com acentos ✅")
    ledger.created(ledger.resource("instance", "lbl", 9), "cenário com acentos ✅")
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    lines = raw.decode().splitlines()
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert records[0]["scenario"] == "cenário com acentos ✅"
    for record in records:
        assert {"t", "event", "kind", "label", "id", "run_id", "target", "scenario"} <= set(record)
        assert record["run_id"] == "run-1" and record["target"] == TARGET


def test_each_append_is_fsynced(ledger, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    ledger.intent(ledger.resource("instance", "a"))
    ledger.created(ledger.resource("instance", "a", 1))
    assert len(synced) == 2


def test_torn_last_line_is_ignored(path, ledger):
    ledger.created(ledger.resource("instance", "a", 1))
    ledger.created(ledger.resource("instance", "b", 2))
    with open(path, "ab") as handle:
        handle.write(b'{"event": "deleted", "kind": "instance", "label": "a", "i')   # crash mid-write
    assert [e["label"] for e in read_entries(path)] == ["a", "b"]
    assert {e.resource.label for e in alive(path)} == {"a", "b"}


def test_append_after_a_torn_line_is_kept(path, ledger):
    ledger.created(ledger.resource("instance", "a", 1))
    with open(path, "ab") as handle:
        handle.write(b'{"event": "created", "kind": "inst')                            # crash mid-write
    ledger.intent(ledger.resource("instance", "next-run"))                       # the next run goes on
    assert [e["label"] for e in read_entries(path)] == ["a", "next-run"]
    ledger.created(ledger.resource("instance", "next-run", 3))                   # and so on
    assert [e.resource.id for e in alive(path)] == ["1", "3"]


def test_blank_and_garbage_lines_are_skipped(path, ledger):
    ledger.created(ledger.resource("instance", "a", 1))
    with open(path, "ab") as handle:
        handle.write(b"\n   \nnot json\n")
    ledger.created(ledger.resource("instance", "b", 2))
    assert [e["label"] for e in read_entries(path)] == ["a", "b"]


def test_missing_file_reads_empty(tmp_path):
    assert read_entries(tmp_path / "absent.jsonl") == []


PAYLOAD = "x" * 3000          # longer than PIPE_BUF: whole lines must not depend on small writes


def _append_many(path, worker, count):
    ledger = Ledger(path, f"run-{worker}", TARGET)
    for n in range(count):
        ledger.created(ledger.resource("instance", f"w{worker}-{n}", n), PAYLOAD)


def _check_whole_lines(path, workers, count):
    # Blank lines are allowed (a writer that sees another's append in flight starts a fresh line);
    # every other line must be one whole record.
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    assert len(lines) == workers * count
    records = [json.loads(line) for line in lines]          # every line parses on its own
    assert {r["label"] for r in records} == {f"w{w}-{n}" for w in range(workers) for n in range(count)}
    assert all(r["scenario"] == PAYLOAD for r in records)


def test_concurrent_appends_from_threads(path):
    threads = [threading.Thread(target=_append_many, args=(path, w, 40)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _check_whole_lines(path, 6, 40)


def test_concurrent_appends_from_processes(path):
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_append_many, args=(path, w, 40)) for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    _check_whole_lines(path, 4, 40)


def test_each_entry_is_stamped_when_its_event_happened(path, ledger):
    ledger.intent(ledger.resource("instance", "lbl"))
    ledger.created(ledger.resource("instance", "lbl", 7), at=1_700_000_000.1234)
    ledger.deleted(ledger.resource("instance", "lbl", 7), at=1_700_000_060.5)
    intent, created, deleted = read_entries(path)
    assert (created["t"], deleted["t"]) == (1_700_000_000.123, 1_700_000_060.5)
    assert intent["t"] > deleted["t"]                      # written now, as it happens: before the request leaves


def test_found_by_label_leaves_the_intent_open_until_the_label_settles(path, ledger):
    ledger.intent(ledger.resource("snapshot", "lbl-s"), "s")                 # its create never answered
    ledger.deleted(ledger.resource("snapshot", "lbl-s", "abc123"), "s", by_label=True)
    # More may still appear under the label: a kill -9 now must leave it to the sweep, by its label.
    assert alive(path) == [Entry(Resource("snapshot", None, "lbl-s", TARGET), "run-1", "s")]
    ledger.settled(ledger.resource("snapshot", "lbl-s"), "s", found=["abc123"])
    assert alive(path) == []
    deleted, settled = read_entries(path)[1:]
    assert (deleted["id"], deleted["by_label"]) == ("abc123", True)
    assert (settled["event"], settled["id"], settled["found"]) == ("settled", None, ["abc123"])


def test_a_deletion_by_id_still_closes_an_intent_by_label(path, ledger):
    # The sweep finds what an intent's label carries and records it deleted by id: that closes the intent.
    ledger.intent(ledger.resource("instance", "lbl-lost"), "s")
    ledger.deleted(ledger.resource("instance", "lbl-lost", 9), "sweep")
    assert alive(path) == []
