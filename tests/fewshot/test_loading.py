"""What a few-shot library loads, and how it stays fresh: only consented, redacted golden examples;
reloaded in the background; nothing served past the staleness bound; never a torn read."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from otel_flywheel.datasets import DatasetExample, write_examples
from otel_flywheel.export import pii_scanner
from otel_flywheel.fewshot import FewShotLibrary, LoadedExample, build_examples
from otel_flywheel.model import AgentTrace
from otel_flywheel.routing import RoutingStore

SHIPPING_Q = "How long does standard shipping take?"
WARRANTY_Q = "What does the warranty cover?"
ADA_Q = (
    "My order A-1001 hasn't arrived. Email me at ada.lovelace@example.com or call +44 20 7946 0958"
)


def test_only_consented_redacted_golden_examples_with_something_to_show_are_kept(
    redacted_demo_traces: dict[str, AgentTrace],
    demo_traces: dict[str, AgentTrace],
    golden: Callable[..., DatasetExample],
) -> None:
    shipping = redacted_demo_traces[SHIPPING_Q]
    warranty = redacted_demo_traces[WARRANTY_Q]
    ada = redacted_demo_traces[ADA_Q]
    raw_ada = demo_traces[ADA_Q]  # never redacted: the email in clear
    loaded: list[LoadedExample] = [
        (golden(shipping), shipping),
        (golden(ada), ada),  # redacted: its email is a pseudonym, fine to show
        (golden(raw_ada), raw_ada),
        (golden(warranty, consent=False), warranty),
        (golden(warranty, route="regression"), warranty),
        (golden(warranty), None),  # the trace is gone and it made a call: cannot be shown
        (
            DatasetExample(
                example_id="qa",
                dataset="support/golden",
                input={"input": "Do you ship to Norway?"},
                output={"output": "Yes, in 5-7 days."},
                metadata={"route": "golden"},
            ),
            None,  # no trace, no call: the question and the answer are shown
        ),
    ]
    kept, left_out = build_examples(loaded, scanner=pii_scanner())
    assert [e.source_trace_id for e in kept] == [shipping.trace_id, ada.trace_id, None]
    assert kept[2].text == "Do you ship to Norway? Yes, in 5-7 days."
    assert "<EMAIL:" in kept[1].text
    assert "ada.lovelace" not in kept[1].text
    assert dict(left_out) == {
        "pii_found": 1,
        "consent_withheld": 1,
        "route_regression": 1,
        "source_trace_not_found": 1,
    }
    assert kept[0].user_id is not None
    assert kept[0].user_id.startswith("<USER:")


def test_require_consent_keeps_only_stated_consent(
    redacted_demo_traces: dict[str, AgentTrace], golden: Callable[..., DatasetExample]
) -> None:
    shipping = redacted_demo_traces[SHIPPING_Q]
    loaded: list[LoadedExample] = [
        (golden(shipping), shipping),
        (golden(shipping, consent=True), shipping),
    ]
    kept, left_out = build_examples(loaded, require_consent=True)
    assert len(kept) == 1
    assert dict(left_out) == {"no_consent_statement": 1}


# --- a file source, reloaded in the background ----------------------------------------------------


def qa_example(example_id: str, question: str, answer: str) -> DatasetExample:
    return DatasetExample(
        example_id=example_id,
        dataset="support/golden",
        input={"input": question},
        output={"output": answer},
        metadata={"route": "golden"},
    )


def test_a_file_library_reloads_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "golden.jsonl"
    write_examples(path, [qa_example("ship", SHIPPING_Q, "3-5 days.")])
    shots = FewShotLibrary.from_file(
        path,
        routing_store=tmp_path / "none.sqlite",
        refresh_interval_seconds=0.05,
        max_staleness_seconds=60,
    )
    try:
        assert shots.wait_ready(10)
        assert shots.select("shipping time").example_ids == ("ship",)
        assert shots.select("warranty").example_ids == ()
        write_examples(
            path,
            [qa_example("ship", SHIPPING_Q, "3-5 days."), qa_example("w", WARRANTY_Q, "1 year.")],
        )
        deadline = time.monotonic() + 10
        while shots.select("warranty").example_ids != ("w",):
            assert time.monotonic() < deadline, shots.stats
            time.sleep(0.02)
        stats = shots.stats
        assert stats.examples == 2
        assert stats.loads >= 2
        assert stats.source == str(path)
    finally:
        shots.close()
    shots.close()  # idempotent


def test_source_traces_come_from_the_routing_store(
    tmp_path: Path,
    redacted_demo_traces: dict[str, AgentTrace],
    golden: Callable[..., DatasetExample],
) -> None:
    trace = redacted_demo_traces["Track A-1004"]
    store = RoutingStore(tmp_path / "routing.sqlite")
    store.put_trace(trace, None)
    store.close()
    write_examples(tmp_path / "golden.jsonl", [golden(trace)])
    shots = FewShotLibrary.from_file(
        tmp_path / "golden.jsonl", routing_store=tmp_path / "routing.sqlite", start=False
    )
    report = shots.refresh()
    assert report.kept == 1
    roles = [m["role"] for m in shots.select("track my order A-1004").messages]
    assert roles == ["user", "assistant", "tool", "assistant"]


class FlakySource:
    """Loads once, then fails: Phoenix went down."""

    description = "flaky"

    def __init__(self) -> None:
        self.calls = 0

    def load(self) -> list[LoadedExample]:
        self.calls += 1
        if self.calls > 1:
            raise ConnectionError("Phoenix is down")
        return [(qa_example("ship", SHIPPING_Q, "3-5 days."), None)]


def test_a_failing_source_keeps_serving_until_the_staleness_bound_then_serves_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = FlakySource()
    shots = FewShotLibrary(
        source, refresh_interval_seconds=0.05, max_staleness_seconds=0.6, scan_pii=False
    )
    try:
        assert shots.wait_ready(10)
        assert shots.select("shipping").example_ids == ("ship",)
        deadline = time.monotonic() + 10
        while shots.stats.load_failures < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert shots.select("shipping").example_ids == ("ship",)  # stale, but within the bound
        while shots.select("shipping").skipped != "stale":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        stats = shots.stats
        assert stats.skipped["stale"] >= 1
        assert stats.last_error == "ConnectionError: Phoenix is down"
    finally:
        shots.close()
    assert "cannot load flaky (ConnectionError: Phoenix is down)" in caplog.text


def test_before_the_first_load_nothing_is_served_and_nothing_blocks() -> None:
    release = threading.Event()

    class SlowSource:
        description = "slow"

        def load(self) -> list[LoadedExample]:
            release.wait(10)
            return [(qa_example("ship", SHIPPING_Q, "3-5 days."), None)]

    shots = FewShotLibrary(SlowSource(), scan_pii=False)
    try:
        started = time.monotonic()
        selection = shots.select("shipping")
        assert time.monotonic() - started < 0.5
        assert selection.skipped == "not_ready"
        release.set()
        assert shots.wait_ready(10)
        assert shots.select("shipping").example_ids == ("ship",)
    finally:
        shots.close()


def test_selections_never_see_half_a_reload() -> None:
    """Each load replaces every example (ids a-* or b-*); a selection made while loads swap in
    and out holds ids of one load only."""

    class Alternating:
        description = "alternating"

        def __init__(self) -> None:
            self.generation = 0

        def load(self) -> list[LoadedExample]:
            self.generation += 1
            prefix = "ab"[self.generation % 2]
            return [
                (
                    qa_example(f"{prefix}-{i}", f"shipping question number {i} {prefix}", "soon"),
                    None,
                )
                for i in range(30)
            ]

    shots = FewShotLibrary(
        Alternating(), k=5, refresh_interval_seconds=0.001, max_overlap=1.0, scan_pii=False
    )
    errors: list[BaseException] = []
    mixed: list[tuple[str, ...]] = []
    assert shots.wait_ready(10)

    def select_many() -> None:
        try:
            for _ in range(300):
                ids = shots.select("shipping question").example_ids
                if len({i[0] for i in ids}) > 1:
                    mixed.append(ids)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=select_many) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        shots.close()
    assert errors == []
    assert mixed == []
    assert shots.stats.loads > 2
    assert shots.stats.selections == 1200
