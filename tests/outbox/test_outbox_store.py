"""Outbox: the SQLite store on real files, with a hand-driven clock."""

from __future__ import annotations

import math
import sqlite3
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from otel_flywheel.errors import ConfigError
from otel_flywheel.outbox import Outbox, default_outbox_path
from otel_flywheel.sinks import AnnotationWrite, ExampleWrite, Write

SPAN = "0123456789abcdef"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def annotation(name: str = "correctness", **fields: Any) -> AnnotationWrite:
    values: dict[str, Any] = {"annotator_kind": "LLM", "label": "fail"}
    values.update(fields)
    return AnnotationWrite(target="span", target_id=SPAN, name=name, **values)


def example(example_id: str, **fields: Any) -> ExampleWrite:
    values: dict[str, Any] = {"input": {"q": example_id}}
    values.update(fields)
    return ExampleWrite(dataset="p/regression", example_id=example_id, **values)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(tmp_path: Path, clock: Clock) -> Any:
    with Outbox(tmp_path / "outbox.sqlite", clock=clock) as box:
        yield box


def keys(entries: list[Any]) -> list[str]:
    return [entry.key for entry in entries]


def test_put_returns_new_writes_and_ignores_the_same_write_put_again(outbox: Outbox) -> None:
    writes: list[Write] = [annotation(), example("a"), example("b")]
    assert outbox.put(writes) == 3
    assert outbox.put(writes) == 0
    assert outbox.put([example("a"), example("c")]) == 1
    assert sorted(keys(outbox.due(limit=10))) == sorted(w.key for w in [*writes, example("c")])


def test_the_last_write_of_a_key_wins_within_one_put(outbox: Outbox) -> None:
    assert outbox.put([annotation(label="fail"), annotation(label="pass")]) == 1
    (entry,) = outbox.due(limit=10)
    assert isinstance(entry.write, AnnotationWrite)
    assert entry.write.label == "pass"


def test_a_done_write_put_again_unchanged_stays_done_and_changed_is_queued_afresh(
    outbox: Outbox, clock: Clock
) -> None:
    outbox.put([annotation(label="fail")])
    (entry,) = outbox.due(limit=10)
    assert outbox.mark_done([entry]) == 1

    assert outbox.put([annotation(label="fail")]) == 0
    assert outbox.due(limit=10) == []

    clock.now += 5
    assert outbox.put([annotation(label="pass")]) == 1
    (again,) = outbox.due(limit=10)
    assert (again.state, again.attempts, again.queued_at) == ("pending", 0, clock.now)
    assert again.seq > entry.seq
    assert again.created_at == entry.created_at


def test_marking_a_stale_entry_done_leaves_the_newer_content_pending(outbox: Outbox) -> None:
    outbox.put([annotation(label="fail")])
    (in_flight,) = outbox.due(limit=10)
    outbox.put([annotation(label="pass")])  # rewritten while the old content was being sent

    assert outbox.mark_done([in_flight]) == 0
    assert outbox.mark_dead(in_flight, reason="old content rejected") == 0

    (pending,) = outbox.due(limit=10)
    assert isinstance(pending.write, AnnotationWrite)
    assert pending.write.label == "pass"
    assert outbox.stats().done_total == 0


def test_a_retried_write_is_due_again_only_after_its_delay(outbox: Outbox, clock: Clock) -> None:
    outbox.put([example("a"), example("b")])
    first, _ = outbox.due(limit=10)
    outbox.mark_retry(first, reason="HTTP 503", delay_seconds=30)

    assert keys(outbox.due(limit=10)) == [example("b").key]
    clock.now += 30
    (entry,) = outbox.due(limit=10, now=clock.now - 1)
    assert entry.key == example("b").key
    assert set(keys(outbox.due(limit=10))) == {example("a").key, example("b").key}
    stored = outbox.get(example("a").key)
    assert stored is not None
    assert (stored.attempts, stored.last_error, stored.last_attempt_at) == (
        1,
        "HTTP 503",
        clock.now - 30,
    )


def test_a_claimed_write_is_not_claimed_again_until_its_lease_ends_or_it_is_settled(
    outbox: Outbox, clock: Clock
) -> None:
    outbox.put([example("a"), example("b")])
    (first,) = outbox.claim(limit=1, lease_seconds=60)

    assert keys(outbox.claim(limit=10, lease_seconds=60, now=math.inf)) == [example("b").key]
    assert outbox.claim(limit=10, lease_seconds=60, now=math.inf) == []  # backoff or not
    assert outbox.stats().depth == 2  # leased writes are still pending
    assert outbox.earliest_claimable() == clock.now + 60

    clock.now += 61  # the first worker died holding its lease
    assert set(keys(outbox.claim(limit=10, lease_seconds=60))) == {first.key, example("b").key}

    outbox.mark_retry(first, reason="HTTP 503", delay_seconds=5)  # settling ends the lease
    assert outbox.earliest_claimable() == clock.now + 5
    outbox.mark_done([example("b").key, first.key])
    assert outbox.earliest_claimable() is None


def test_due_pages_by_seq_and_leaves_out_writes_put_after_max_seq(outbox: Outbox) -> None:
    outbox.put([example(f"{index}") for index in range(5)])
    last = outbox.last_seq()
    outbox.put([example("late")])

    first_page = outbox.due(limit=2, now=math.inf, max_seq=last, after_seq=0)
    second_page = outbox.due(limit=10, now=math.inf, max_seq=last, after_seq=first_page[-1].seq)

    assert keys(first_page + second_page) == [example(f"{index}").key for index in range(5)]


def test_stats_report_depth_retrying_dead_done_and_the_oldest_age(
    outbox: Outbox, clock: Clock
) -> None:
    assert outbox.stats().oldest_pending_age_seconds == 0.0
    outbox.put([example("old")])
    clock.now += 60
    outbox.put([example("retried"), example("dead"), example("done")])
    _, retried, dead, done = outbox.due(limit=10)
    outbox.mark_many(done=[done], retry=[(retried, "HTTP 500", 10.0)], dead=[(dead, "HTTP 422")])
    clock.now += 15

    stats = outbox.stats()

    assert (stats.depth, stats.retrying, stats.dead, stats.done_kept, stats.done_total) == (
        2,
        1,
        1,
        1,
        1,
    )
    assert stats.oldest_pending_age_seconds == 75.0
    (kept,) = outbox.list_entries(state="dead")
    assert (kept.key, kept.last_error) == (example("dead").key, "HTTP 422")


def test_done_writes_are_pruned_after_their_retention_but_stay_counted(
    tmp_path: Path, clock: Clock
) -> None:
    with Outbox(tmp_path / "o.sqlite", clock=clock, done_retention_seconds=3600) as outbox:
        outbox.put([example("a")])
        outbox.mark_done([example("a").key])
        clock.now += 3599
        assert outbox.prune_done() == 0
        clock.now += 2
        assert outbox.prune_done() == 1
        assert outbox.get(example("a").key) is None
        assert outbox.stats().done_total == 1
        assert outbox.put([example("a")]) == 1  # forgotten: routing's ledger dedupes for longer


def test_dead_writes_are_kept_until_requeued(outbox: Outbox) -> None:
    outbox.put([example("a"), example("b")])
    for entry in outbox.due(limit=10):
        outbox.mark_dead(entry, reason="HTTP 422: bad")
    assert outbox.due(limit=10) == []

    assert outbox.requeue_dead([example("a").key]) == 1
    assert keys(outbox.due(limit=10)) == [example("a").key]
    assert outbox.requeue_dead() == 1
    assert outbox.stats().dead == 0


def test_purge_user_deletes_every_write_about_that_user_whatever_its_state(
    outbox: Outbox,
) -> None:
    outbox.put(
        [
            example("a", user_id="<USER:aaaa>"),
            example("b", user_id="<USER:aaaa>"),
            annotation(user_id="<USER:aaaa>"),
            example("c", user_id="<USER:bbbb>"),
        ]
    )
    outbox.mark_done([example("a").key])

    assert outbox.purge_user("<USER:aaaa>") == 3
    assert keys(outbox.due(limit=10)) == [example("c").key]


def test_a_row_that_cannot_be_read_back_goes_dead_with_the_reason(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "outbox.sqlite"
    with Outbox(path, clock=clock) as outbox:
        outbox.put([example("a"), example("b")])
    edit = sqlite3.connect(path)
    with edit:  # as if another version had written it
        edit.execute(
            "UPDATE writes SET payload = ? WHERE key = ?", ('{"type": "verdict"}', example("a").key)
        )
    edit.close()

    with Outbox(path, clock=clock) as outbox:
        assert keys(outbox.due(limit=10)) == [example("b").key]
        assert outbox.stats().dead == 1
        assert outbox.list_entries(state="dead") == []  # unreadable: not listed, logged
    check = sqlite3.connect(path)
    (state, reason), *_ = check.execute(
        "SELECT state, last_error FROM writes WHERE key = ?", (example("a").key,)
    )
    check.close()
    assert state == "dead"
    assert reason.startswith("stored write cannot be read")


def test_threads_putting_at_once_lose_nothing(outbox: Outbox) -> None:
    def put_many(thread: int) -> None:
        for index in range(50):
            outbox.put([example(f"{thread}-{index}")])

    threads = [threading.Thread(target=put_many, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outbox.stats().depth == 200
    assert len({entry.seq for entry in outbox.due(limit=500)}) == 200


def test_the_outbox_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "state" / "outbox.sqlite"
    with Outbox(path):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_default_path_is_in_the_state_directory(tmp_path: Path) -> None:
    environ = {"FLYWHEEL_STATE_DIR": str(tmp_path)}
    assert default_outbox_path(environ=environ) == tmp_path / "outbox.sqlite"
    assert default_outbox_path(environ={}) == Path(".flywheel", "outbox.sqlite")


def test_a_file_from_a_newer_version_is_refused_naming_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(ConfigError, match="upgrade otel-flywheel or use another file"):
        Outbox(path)


def test_a_file_that_is_not_a_database_is_refused_naming_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match="not a usable outbox"):
        Outbox(path)


def test_a_closed_outbox_says_so(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.close()
    outbox.close()
    with pytest.raises(RuntimeError, match="is closed; open a new Outbox"):
        outbox.put([example("a")])
