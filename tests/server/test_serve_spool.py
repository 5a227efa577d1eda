"""The spool on its own: what it keeps, what it releases, when it refuses, and who may open it."""

from __future__ import annotations

import sqlite3

import pytest

from otel_flywheel.errors import ConfigError
from otel_flywheel.server import Spool, SpoolFullError

A, B = "aa" * 16, "bb" * 16


def test_an_appended_request_survives_closing_and_reopening(tmp_path):
    path = tmp_path / "spool.sqlite"
    with Spool(path, max_spans=100) as spool:
        request_id = spool.append_request(b"body-1", {A: 2, B: 1})
        spool.add_feedback("fb-1", '{"thumbs": "up"}')

    with Spool(path, max_spans=100) as reopened:
        assert (reopened.depth_spans, reopened.depth_feedback) == (3, 1)
        [stored] = reopened.read_requests(after_id=0, limit=10)
        assert (stored.request_id, stored.body, dict(stored.pending)) == (
            request_id,
            b"body-1",
            {A: 2, B: 1},
        )
        [feedback] = reopened.read_feedback(after_row=0, limit=10)
        assert (feedback.feedback_id, feedback.payload) == ("fb-1", '{"thumbs": "up"}')


def test_releasing_every_trace_of_a_request_deletes_the_request(tmp_path):
    with Spool(tmp_path / "spool.sqlite", max_spans=100) as spool:
        request_id = spool.append_request(b"body", {A: 2, B: 1})

        assert spool.release([(request_id, A)]) == 2
        [stored] = spool.read_requests(after_id=0, limit=10)
        assert dict(stored.pending) == {B: 1}
        assert spool.depth_spans == 1

        assert spool.release([(request_id, B), (request_id, B)]) == 1  # twice: counted once
        assert spool.read_requests(after_id=0, limit=10) == []
        assert spool.depth_spans == 0


def test_requests_are_read_in_order_past_the_cursor(tmp_path):
    with Spool(tmp_path / "spool.sqlite", max_spans=100) as spool:
        ids = [spool.append_request(f"body-{i}".encode(), {A: 1}) for i in range(5)]

        first = spool.read_requests(after_id=0, limit=2)
        rest = spool.read_requests(after_id=first[-1].request_id, limit=10)

        assert [r.request_id for r in first + rest] == ids
        assert [r.body for r in rest] == [b"body-2", b"body-3", b"body-4"]


def test_ids_are_never_reused_after_the_spool_empties(tmp_path):
    with Spool(tmp_path / "spool.sqlite", max_spans=100) as spool:
        first = spool.append_request(b"one", {A: 1})
        spool.release([(first, A)])
        second = spool.append_request(b"two", {A: 1})

        assert second > first
        assert [r.body for r in spool.read_requests(after_id=first, limit=10)] == [b"two"]


def test_past_its_limit_the_spool_refuses_but_an_empty_spool_takes_any_request(tmp_path):
    with Spool(tmp_path / "spool.sqlite", max_spans=3) as spool:
        spool.append_request(b"big", {A: 5})  # larger than the limit: into an empty spool anyway
        assert spool.full

        with pytest.raises(SpoolFullError, match="holds 5 spans, its limit is 3"):
            spool.append_request(b"more", {B: 1})
        assert spool.depth_spans == 5


def test_feedback_with_an_id_already_spooled_is_stored_once(tmp_path):
    with Spool(tmp_path / "spool.sqlite", max_spans=10, max_feedback=10) as spool:
        assert spool.add_feedback("fb-1", "{}") is True
        assert spool.add_feedback("fb-1", "{}") is False
        assert spool.depth_feedback == 1

        [row] = spool.read_feedback(after_row=0, limit=10)
        spool.release_feedback([row.row_id])
        assert spool.depth_feedback == 0


def test_a_second_spool_on_the_same_file_is_refused_naming_the_fix(tmp_path):
    path = tmp_path / "spool.sqlite"
    with Spool(path, max_spans=10), pytest.raises(ConfigError, match="its own --spool"):
        Spool(path, max_spans=10)
    with Spool(path, max_spans=10) as reopened:  # the lock went with the first spool
        assert reopened.depth_spans == 0


def test_an_unusable_path_is_a_config_error_naming_the_fix(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")

    with pytest.raises(ConfigError, match="writable path"):
        Spool(blocker / "spool.sqlite", max_spans=10)


def test_the_spool_is_in_wal_mode_and_the_handlers_commit_with_synchronous_full(tmp_path):
    path = tmp_path / "spool.sqlite"
    with Spool(path, max_spans=10) as spool:
        spool.append_request(b"body", {A: 1})
        outside = sqlite3.connect(path)
        try:
            assert outside.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert outside.execute("SELECT body FROM requests").fetchall() == [(b"body",)]
        finally:
            outside.close()
        assert spool._ingest.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_released_spans_and_feedback_leave_no_trace_in_the_file(tmp_path):
    """What the spool holds is not redacted yet: released rows are zeroed, not left in free
    pages (``secure_delete``, whatever the SQLite build's default)."""
    path = tmp_path / "spool.sqlite"
    secret = b"jane.doe.7741@example.com"
    with Spool(path, max_spans=100, max_feedback=10) as spool:
        assert spool._ingest.execute("PRAGMA secure_delete").fetchone()[0] == 1
        assert spool._worker.execute("PRAGMA secure_delete").fetchone()[0] == 1
        # Large enough for overflow pages, as a 512-span request is.
        request_id = spool.append_request(secret * 2000, {A: 1})
        spool.add_feedback("fb-1", '{"comment": "' + secret.decode() + '"}')
        [feedback] = spool.read_feedback(after_row=0, limit=10)
        spool.release([(request_id, A)])
        spool.release_feedback([feedback.row_id])
        assert (spool.depth_spans, spool.depth_feedback) == (0, 0)
    # Closing checkpoints the write-ahead log into the file and removes it.
    assert not path.with_name("spool.sqlite-wal").exists()
    assert secret not in path.read_bytes()


def test_a_closed_spool_refuses_work(tmp_path):
    spool = Spool(tmp_path / "spool.sqlite", max_spans=10)
    spool.close()
    spool.close()  # idempotent

    with pytest.raises(RuntimeError, match="closed"):
        spool.append_request(b"body", {A: 1})
