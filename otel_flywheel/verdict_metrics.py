"""Verdict counters between reports: by category, subcategory, agent version and outcome.

`VerdictMetrics` is a ``VerdictSink``: every verdict the pipeline hands out is counted

- as the OpenTelemetry counter ``flywheel.verdicts`` (attributes ``flywheel.category``,
  ``flywheel.subcategory``, ``service.version``, ``flywheel.outcome``) on the meter provider given,
  else the global one, so an app that exports OTel metrics can alert on them;
- for Prometheus, through `VerdictMetrics.collector` (``flywheel_verdicts_total`` with labels
  ``category``, ``subcategory``, ``agent_version``, ``outcome``), which ``otel-flywheel serve``
  exposes on ``/metrics``.

``outcome`` is ``pass``, ``fail`` or ``unscored``; a passing verdict has no category (empty label).
Label sets are capped at ``max_series``: past it new combinations are counted under ``other``, so a
misbehaving version string cannot blow up a metrics backend.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Final

from opentelemetry import metrics
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from otel_flywheel import __version__
from otel_flywheel.model import AgentTrace, Verdict

__all__ = ["METRIC_NAME", "VerdictMetrics"]

METRIC_NAME: Final = "flywheel.verdicts"
_OTHER: Final = "other"
_Key = tuple[str, str, str, str]  # category, subcategory, agent version, outcome


class VerdictMetrics:
    """Counts verdicts; thread-safe (the pipeline calls sinks from its worker threads)."""

    def __init__(
        self, *, meter_provider: metrics.MeterProvider | None = None, max_series: int = 1000
    ) -> None:
        provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
        meter = provider.get_meter("otel_flywheel", __version__)
        self._counter = meter.create_counter(
            METRIC_NAME,
            unit="{verdict}",
            description="Verdicts by badcase category, subcategory, agent version and outcome.",
        )
        self._max_series = max_series
        self._lock = threading.Lock()  # guards _counts
        self._counts: Counter[_Key] = Counter()

    def submit_verdict(self, trace: AgentTrace, verdict: Verdict) -> None:
        key: _Key = (
            verdict.category or "",
            verdict.subcategory or "",
            verdict.service.get("version") or "",
            verdict.outcome,
        )
        with self._lock:
            if key not in self._counts and len(self._counts) >= self._max_series:
                key = (_OTHER, _OTHER, _OTHER, verdict.outcome)
            self._counts[key] += 1
        category, subcategory, version, outcome = key
        self._counter.add(
            1,
            {
                "flywheel.category": category,
                "flywheel.subcategory": subcategory,
                "service.version": version,
                "flywheel.outcome": outcome,
            },
        )

    def counts(self) -> dict[_Key, int]:
        with self._lock:
            return dict(self._counts)

    def collector(self) -> Collector:
        return _PrometheusVerdicts(self)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # counted as they arrive; the meter provider flushes its own exporters

    def shutdown(self) -> None:
        return None  # nothing held: the counts stay readable for a last scrape


class _PrometheusVerdicts(Collector):
    def __init__(self, metrics_: VerdictMetrics) -> None:
        self._metrics = metrics_

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "flywheel_verdicts",
            "Verdicts by badcase category, subcategory, agent version and outcome.",
            labels=["category", "subcategory", "agent_version", "outcome"],
        )
        for key, count in sorted(self._metrics.counts().items()):
            family.add_metric(list(key), count)
        yield family
