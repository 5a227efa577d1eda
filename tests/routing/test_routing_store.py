"""RoutingStore: traces for later feedback, the dedupe and cap ledger, erasure and retention."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trace_builders import build_trace, check_failure, verdict_of

from otel_flywheel.model import AgentTrace, Feedback, Step, StepKind
from otel_flywheel.routing import Claim, RoutingStore

MIB = 1024 * 1024


class StepClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def store(tmp_path: Path, clock: StepClock) -> Iterator[RoutingStore]:
    store = RoutingStore(tmp_path / "routing.sqlite", clock=clock)
    yield store
    store.close()


def claim(store: RoutingStore, example: str, **options: Any) -> str:
    """The outcome of `claim_of`."""
    return claim_of(store, example, **options).outcome


def claim_of(
    store: RoutingStore,
    example: str,
    *,
    category: str | None = "parameter",
    rank: int = 0,
    trace_id: str = "a" * 32,
) -> Claim:
    return store.claim_example(
        dataset="p/regression",
        example_id=example,
        category=category,
        trace_id=trace_id,
        user_id="<USER:1>",
        rank=rank,
        cap=2,
        window_seconds=3600,
    )


def test_traces_come_back_by_trace_or_span_id_with_their_verdict(store: RoutingStore) -> None:
    trace = build_trace()
    verdict = verdict_of(trace, check_failure(trace))
    store.put_trace(trace, verdict)
    by_span = store.get_trace(span_id=trace.steps[1].span_id)
    assert by_span is not None
    assert by_span.trace == trace
    assert by_span.verdict == verdict
    assert store.get_trace(trace_id="f" * 32) is None


def test_the_ledger_dedupes_caps_per_window_and_upgrades_by_rank(
    store: RoutingStore, clock: StepClock
) -> None:
    assert claim(store, "a") == "routed"
    assert claim(store, "a", trace_id="b" * 32) == "duplicate"  # the same input, another run
    assert claim(store, "b") == "routed"
    assert claim(store, "c") == "capped"  # cap 2 per category per window
    assert claim(store, "d", category="business_rule") == "routed"
    assert claim(store, "a", rank=1, trace_id="c" * 32) == "upgraded"  # a person's correction
    assert claim(store, "a", rank=1, trace_id="d" * 32) == "duplicate"
    clock.now += 3601
    assert claim(store, "c") == "routed"  # the window moved on
    assert store.category_counts(window_seconds=3600) == {"parameter": 1}


def test_an_upgrade_from_another_trace_relinks_the_example_for_every_write_after_it(
    tmp_path: Path, clock: StepClock
) -> None:
    store = RoutingStore(tmp_path / "r.sqlite", clock=clock)
    first, later = "a" * 32, "b" * 32
    assert claim_of(store, "x", trace_id=first) == Claim("routed")
    assert claim_of(store, "x", rank=1, trace_id=later) == Claim("upgraded", relink=True)
    # A repeat after a crash must relink too: the first write may never have reached Phoenix.
    assert claim_of(store, "x", rank=1, trace_id=later) == Claim("routed", relink=True)
    assert claim_of(store, "x", rank=1, trace_id=first) == Claim("duplicate")
    store.close()
    reopened = RoutingStore(tmp_path / "r.sqlite", clock=clock)
    assert claim_of(reopened, "x", rank=1, trace_id=later) == Claim("routed", relink=True)
    # A person's feedback on the trace already routed keeps the link: no relink.
    assert claim_of(reopened, "y", trace_id=first) == Claim("routed")
    assert claim_of(reopened, "y", rank=1, trace_id=first) == Claim("upgraded")
    assert claim_of(reopened, "y", rank=1, trace_id=first) == Claim("routed")
    reopened.close()


def test_a_ledger_written_before_relinks_is_migrated_with_its_examples(tmp_path: Path) -> None:
    path = tmp_path / "routing.sqlite"
    with sqlite3.connect(path) as db:  # the layout of schema version 1
        db.executescript(
            """
            CREATE TABLE routed (dataset TEXT NOT NULL, example_id TEXT NOT NULL, category TEXT,
                                 user_id TEXT, trace_id TEXT NOT NULL, routed_at REAL NOT NULL,
                                 rank INTEGER NOT NULL DEFAULT 0,
                                 PRIMARY KEY (dataset, example_id));
            PRAGMA user_version = 1;
            """
        )
        db.execute(
            "INSERT INTO routed VALUES (?, ?, ?, ?, ?, ?, ?)",
            ("p/regression", "x", "parameter", None, "a" * 32, 1.0e9, 0),
        )

    store = RoutingStore(path)

    assert claim_of(store, "x", trace_id="b" * 32) == Claim("duplicate")
    assert claim_of(store, "x", rank=1, trace_id="b" * 32) == Claim("upgraded", relink=True)
    store.close()


def test_ledger_survives_a_restart(tmp_path: Path, clock: StepClock) -> None:
    first = RoutingStore(tmp_path / "r.sqlite", clock=clock)
    assert claim(first, "a") == "routed"
    first.close()
    second = RoutingStore(tmp_path / "r.sqlite", clock=clock)
    assert claim(second, "a", trace_id="b" * 32) == "duplicate"
    second.close()


def test_the_same_trace_claiming_again_is_routed_again_so_a_repeat_puts_its_write_again(
    store: RoutingStore,
) -> None:
    # serve routes a trace again when a crash came between the claim and the outbox put.
    assert claim(store, "a") == "routed"
    assert claim(store, "a") == "routed"
    assert claim(store, "b") == "routed"
    assert claim(store, "c") == "capped"  # the repeat took no extra room under the cap


def test_feedback_waits_for_its_trace_by_trace_or_span_id(store: RoutingStore) -> None:
    trace = build_trace()
    by_trace = Feedback(trace_id=trace.trace_id, thumbs="up")
    by_span = Feedback(span_id=trace.steps[1].span_id, thumbs="down")
    other = Feedback(trace_id="e" * 32, thumbs="down")
    for feedback in (by_trace, by_span, other, by_trace):
        store.put_pending_feedback(feedback)
    assert store.pending_feedback_count() == 3
    taken = store.take_pending_feedback(trace)
    assert sorted(f.feedback_id for f in taken) == sorted(
        [by_trace.feedback_id, by_span.feedback_id]
    )
    assert store.take_pending_feedback(trace) == []
    assert store.pending_feedback_count() == 1


def test_purge_user_erases_their_traces_feedback_and_ledger(store: RoutingStore) -> None:
    mine = build_trace(user_id="<USER:1>", seed="mine")
    theirs = build_trace(user_id="<USER:2>", seed="theirs")
    store.put_trace(mine, None)
    store.put_trace(theirs, None)
    store.put_pending_feedback(Feedback(trace_id=mine.trace_id, thumbs="down"))
    assert claim(store, "x") == "routed"  # user_id <USER:1>
    counts = store.purge_user("<USER:1>")
    assert (counts.traces, counts.feedback, counts.routed) == (1, 1, 1)
    assert store.get_trace(trace_id=mine.trace_id) is None
    assert store.get_trace(span_id=mine.steps[0].span_id) is None
    assert store.get_trace(trace_id=theirs.trace_id) is not None


def test_retention_drops_old_traces_but_keeps_the_ledger(tmp_path: Path, clock: StepClock) -> None:
    # Its own retention is longer than the purge's, so that the purge is what removes the trace.
    store = RoutingStore(tmp_path / "routing.sqlite", clock=clock, retention_seconds=365 * 86400)
    old = build_trace(seed="old")
    store.put_trace(old, None)
    assert claim(store, "x") == "routed"
    clock.now += 100 * 86400
    new = build_trace(seed="new")
    store.put_trace(new, None)
    counts = store.purge_older_than(90 * 86400)
    assert counts.traces == 1
    assert store.get_trace(trace_id=old.trace_id) is None
    assert store.get_trace(trace_id=new.trace_id) is not None
    assert claim(store, "x", trace_id=new.trace_id) == "duplicate"


# --- limits: per trace, in total, in time ----------------------------------------------------------


def heavy_trace(seed: str, *, attribute_bytes: int = 3 * MIB, steps: int = 3) -> AgentTrace:
    """A trace whose spans carry multi-MB attributes (a page an agent fetched, a file it read)."""
    trace = build_trace(seed=seed)
    page = "<html>" + "x" * attribute_bytes + "</html>"
    for index in range(steps):
        trace.steps.append(
            Step(
                trace_id=trace.trace_id,
                span_id=f"{index + 1:016x}",
                parent_id=trace.steps[0].span_id,
                kind=StepKind.TOOL,
                name="fetch_page",
                output=page,
                attributes={"output.value": page, "http.url": "https://example.com/"},
            )
        )
    return trace


def test_a_trace_over_the_per_trace_limit_is_stored_trimmed_and_says_so(tmp_path: Path) -> None:
    store = RoutingStore(tmp_path / "routing.sqlite", max_trace_bytes=256 * 1024)
    trace = heavy_trace("heavy")
    assert len(trace.to_json()) > 9 * MIB

    store.put_trace(trace, None)

    stored = store.get_trace(trace_id=trace.trace_id)
    assert stored is not None
    assert len(stored.trace.to_json().encode()) <= 256 * 1024
    assert store.stored_bytes() <= 256 * 1024
    # What examples are built from survives: the goal, the answer, the tool call, every step.
    assert (stored.trace.goal, stored.trace.final_output) == (trace.goal, trace.final_output)
    assert stored.trace.steps[1].tool == trace.steps[1].tool
    assert [s.span_id for s in stored.trace.steps] == [s.span_id for s in trace.steps]
    assert stored.trace.steps[2].attributes == {"http.url": "https://example.com/"}
    assert "characters not stored" in (stored.trace.steps[2].output or "")
    assert any("stored trimmed" in warning for warning in stored.trace.warnings)
    # Feedback by span still finds it.
    assert store.get_trace(span_id=trace.steps[3].span_id) is not None


def test_a_small_trace_is_stored_exactly_as_given(store: RoutingStore) -> None:
    trace = build_trace()
    store.put_trace(trace, None)
    stored = store.get_trace(trace_id=trace.trace_id)
    assert stored is not None
    assert stored.trace == trace


def test_a_trace_of_thousands_of_steps_is_cut_to_fit_keeping_its_root(tmp_path: Path) -> None:
    store = RoutingStore(tmp_path / "routing.sqlite", max_trace_bytes=64 * 1024)
    trace = heavy_trace("many", attribute_bytes=2000, steps=3000)

    store.put_trace(trace, None)

    stored = store.get_trace(trace_id=trace.trace_id)
    assert stored is not None
    assert len(stored.trace.to_json().encode()) <= 64 * 1024
    assert stored.trace.steps[0] == trace.steps[0]
    assert 1 < len(stored.trace.steps) < len(trace.steps)


def test_past_the_total_limit_the_oldest_traces_are_evicted(
    tmp_path: Path, clock: StepClock
) -> None:
    store = RoutingStore(
        tmp_path / "routing.sqlite", clock=clock, max_trace_bytes=64 * 1024, max_bytes=MIB
    )
    traces = [heavy_trace(f"t{index}", attribute_bytes=200_000, steps=1) for index in range(40)]
    for trace in traces:
        clock.now += 1
        store.put_trace(trace, None)
        assert store.stored_bytes() <= MIB

    assert store.get_trace(trace_id=traces[-1].trace_id) is not None  # the newest stay
    assert store.get_trace(trace_id=traces[0].trace_id) is None  # the oldest went
    assert store.get_trace(span_id=traces[0].steps[1].span_id) is None
    assert 10 < store.trace_count() < 40
    with sqlite3.connect(tmp_path / "routing.sqlite") as db:
        (actual,) = db.execute("SELECT SUM(size_bytes) FROM traces").fetchone()
    assert actual == store.stored_bytes()  # the running total is the truth


def test_traces_and_waiting_feedback_expire_by_themselves(tmp_path: Path, clock: StepClock) -> None:
    store = RoutingStore(tmp_path / "routing.sqlite", clock=clock, retention_seconds=86400)
    old = build_trace(seed="old")
    store.put_trace(old, None)
    store.put_pending_feedback(Feedback(trace_id="e" * 32, thumbs="down"))
    clock.now += 2 * 86400

    store.put_trace(build_trace(seed="new"), None)  # a put applies retention

    assert store.get_trace(trace_id=old.trace_id) is None
    assert store.pending_feedback_count() == 0
    assert store.trace_count() == 1


def test_feedback_waiting_for_a_trace_is_capped_oldest_first(
    tmp_path: Path, clock: StepClock
) -> None:
    store = RoutingStore(tmp_path / "routing.sqlite", clock=clock, max_pending_feedback=3)
    waiting = [Feedback(trace_id=f"{index:032x}", thumbs="down") for index in range(5)]
    for feedback in waiting:
        clock.now += 1
        store.put_pending_feedback(feedback)
    store.put_trace(build_trace(), None)

    assert store.pending_feedback_count() == 3
    kept = store.pending_feedback_for(build_trace(seed="x"))
    assert kept == []
    assert (
        store.pending_feedback_for(AgentTrace(trace_id=waiting[0].trace_id or "")) == []
    )  # the oldest went
    assert len(store.pending_feedback_for(AgentTrace(trace_id=waiting[4].trace_id or ""))) == 1


def test_a_store_written_before_the_limits_is_migrated_and_sized(tmp_path: Path) -> None:
    path = tmp_path / "routing.sqlite"
    trace = build_trace()
    with sqlite3.connect(path) as db:  # the layout of the previous version
        db.executescript(
            """
            CREATE TABLE traces (trace_id TEXT PRIMARY KEY, user_id TEXT, stored_at REAL NOT NULL,
                                 trace_json TEXT NOT NULL, verdict_json TEXT);
            CREATE TABLE spans (span_id TEXT PRIMARY KEY, trace_id TEXT NOT NULL);
            """
        )
        db.execute(
            "INSERT INTO traces VALUES (?, ?, ?, ?, ?)",
            (trace.trace_id, trace.user_id, 1.0e9, trace.to_json(), None),
        )

    store = RoutingStore(path, retention_seconds=1e12)

    stored = store.get_trace(trace_id=trace.trace_id)
    assert stored is not None
    assert stored.trace == trace
    assert store.stored_bytes() == len(trace.to_json())
    store.close()


def test_the_file_is_private_to_its_owner(tmp_path: Path) -> None:
    store = RoutingStore(tmp_path / "state" / "routing.sqlite")
    store.put_trace(build_trace(), None)
    for path in (tmp_path / "state").iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    store.close()
