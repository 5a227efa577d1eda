"""OutboxCollector in a real prometheus_client registry, read through the text exposition."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from otel_flywheel.outbox import Outbox, OutboxCollector, OutboxWorker
from otel_flywheel.sinks import ExampleWrite, InMemorySink


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def example(example_id: str) -> ExampleWrite:
    return ExampleWrite(dataset="p/golden", example_id=example_id, input={"q": example_id})


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_depth_age_dead_and_done_are_scraped_from_the_outbox(tmp_path: Path) -> None:
    clock = Clock()
    with Outbox(tmp_path / "outbox.sqlite", clock=clock) as outbox:
        registry = CollectorRegistry()
        registry.register(OutboxCollector(outbox))
        outbox.put([example("a"), example("b"), example("c"), example("d")])
        a, b, c, _ = outbox.due(limit=10)
        outbox.mark_many(done=[a], retry=[(b, "HTTP 503", 5.0)], dead=[(c, "HTTP 422")])
        clock.now += 42

        samples = scrape(registry)

    assert samples[("flywheel_outbox_depth", ())] == 2
    assert samples[("flywheel_outbox_retrying", ())] == 1
    assert samples[("flywheel_outbox_dead", ())] == 1
    assert samples[("flywheel_outbox_oldest_pending_age_seconds", ())] == 42
    assert samples[("flywheel_outbox_done_total", ())] == 1


def test_a_worker_adds_its_delivery_outcomes(tmp_path: Path) -> None:
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        worker = OutboxWorker(outbox, InMemorySink())
        registry = CollectorRegistry()
        registry.register(OutboxCollector(outbox, worker=worker))
        outbox.put([example("a"), example("b")])
        assert worker.force_flush(timeout_millis=5_000)
        worker.shutdown()

        samples = scrape(registry)

    assert samples[("flywheel_outbox_deliveries_total", (("outcome", "done"),))] == 2
    assert samples[("flywheel_outbox_deliveries_total", (("outcome", "retry"),))] == 0
    assert samples[("flywheel_outbox_sink_errors_total", ())] == 0
    assert samples[("flywheel_outbox_depth", ())] == 0


def test_a_closed_outbox_does_not_fail_the_scrape(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    registry = CollectorRegistry()
    registry.register(OutboxCollector(outbox))
    outbox.close()

    with caplog.at_level(logging.WARNING, logger="otel_flywheel.outbox"):
        samples = scrape(registry)

    assert ("flywheel_outbox_depth", ()) not in samples
    assert "cannot read outbox" in caplog.text


def test_registering_does_not_read_the_outbox(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.close()
    with caplog.at_level(logging.WARNING, logger="otel_flywheel.outbox"):
        CollectorRegistry().register(OutboxCollector(outbox))
    assert caplog.text == ""  # describe() names the metrics; collect() would have logged
