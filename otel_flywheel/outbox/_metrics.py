"""``OutboxCollector``: the outbox's depth, age and outcomes as Prometheus metrics.

A custom collector rather than gauges we keep setting: every scrape reads the outbox itself, so
the numbers are right even when another process (a CLI ``purge``, a second worker) changed it.
A server registers it in its own registry::

    registry = CollectorRegistry()
    registry.register(OutboxCollector(outbox, worker=worker))

Metrics: ``flywheel_outbox_depth`` (pending writes), ``flywheel_outbox_retrying`` (pending writes
that failed at least once), ``flywheel_outbox_dead``, ``flywheel_outbox_oldest_pending_age_seconds``
and the counter ``flywheel_outbox_done_total``; with a worker, also
``flywheel_outbox_deliveries_total{outcome="done|retry|failed|dead"}``,
``flywheel_outbox_sink_errors_total``, ``flywheel_outbox_sink_up`` (0 while deliveries fail) and
``flywheel_outbox_outage_seconds`` for this process. Alert on ``flywheel_outbox_dead > 0`` and on
``flywheel_outbox_sink_up == 0`` for longer than you accept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from otel_flywheel.outbox._store import Outbox, OutboxStats
from otel_flywheel.outbox._worker import DeliveryCount, OutboxWorker

__all__ = ["OutboxCollector"]

logger = logging.getLogger(__name__)

_PREFIX = "flywheel_outbox"
_OUTCOMES: tuple[DeliveryCount, ...] = ("done", "retry", "failed", "dead")


class OutboxCollector:
    """Reads ``outbox.stats()`` (and ``worker.counts``) at every scrape."""

    def __init__(self, outbox: Outbox, *, worker: OutboxWorker | None = None) -> None:
        self._outbox = outbox
        self._worker = worker

    def describe(self) -> list[Metric]:
        # Names only, so that registering does not read the database.
        return list(self._families(None, None))

    def collect(self) -> Iterator[Metric]:
        stats: OutboxStats | None
        try:
            stats = self._outbox.stats()
        except Exception:
            # A scrape must not fail because the outbox is closed or locked: log, report less.
            logger.warning("cannot read outbox %s for metrics", self._outbox.path, exc_info=True)
            stats = None
        counts = self._worker.counts if self._worker is not None else None
        yield from self._families(stats, counts)

    def _families(
        self, stats: OutboxStats | None, counts: Mapping[DeliveryCount, int] | None
    ) -> Iterator[Metric]:
        gauges = (
            ("depth", "Writes waiting to be delivered.", stats and stats.depth),
            ("retrying", "Waiting writes that failed at least once.", stats and stats.retrying),
            (
                "dead",
                "Writes given up on (rejected, or failed too often), kept with their reason.",
                stats and stats.dead,
            ),
            (
                "oldest_pending_age_seconds",
                "Age of the oldest waiting write (0 when none).",
                stats and stats.oldest_pending_age_seconds,
            ),
        )
        for name, documentation, value in gauges:
            gauge = GaugeMetricFamily(f"{_PREFIX}_{name}", documentation)
            if stats is not None:
                gauge.add_metric([], float(value or 0))
            yield gauge
        done = CounterMetricFamily(
            f"{_PREFIX}_done", "Writes delivered since the outbox file was created."
        )
        if stats is not None:
            done.add_metric([], float(stats.done_total))
        yield done
        if self._worker is None:
            return
        deliveries = CounterMetricFamily(
            f"{_PREFIX}_deliveries",
            "Delivery outcomes recorded by this process's worker.",
            labels=["outcome"],
        )
        errors = CounterMetricFamily(
            f"{_PREFIX}_sink_errors", "Sink calls that raised, in this process's worker."
        )
        sink_up = GaugeMetricFamily(
            f"{_PREFIX}_sink_up",
            "1 while deliveries succeed, 0 from the first sink call that delivered nothing.",
        )
        outage = GaugeMetricFamily(
            f"{_PREFIX}_outage_seconds", "How long deliveries have been failing (0 when they work)."
        )
        if counts is not None:
            for outcome in _OUTCOMES:
                deliveries.add_metric([outcome], float(counts[outcome]))
            errors.add_metric([], float(counts["sink_error"]))
            sink_up.add_metric([], float(self._worker.outage.sink_up))
            outage.add_metric([], self._worker.outage.outage_seconds())
        yield deliveries
        yield errors
        yield sink_up
        yield outage
