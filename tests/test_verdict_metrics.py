"""Verdict counters as OTel metrics (in-process) and Prometheus samples (serve's /metrics)."""

from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry, generate_latest
from trace_builders import build_trace, check_failure, verdict_of

from otel_flywheel.model import Verdict
from otel_flywheel.verdict_metrics import METRIC_NAME, VerdictMetrics


def verdict(passed: bool | None, version: str = "2.0.0") -> tuple[object, Verdict]:
    trace = build_trace()
    if passed is False:
        result = verdict_of(trace, check_failure(trace))
    else:
        result = Verdict(trace_id=trace.trace_id, passed=passed)
    result.service = {"name": "support-agent", "version": version}
    return trace, result


def test_verdicts_are_counted_as_an_otel_counter_by_category_version_and_outcome() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    counter = VerdictMetrics(meter_provider=provider)
    for passed in (False, False, True, None):
        counter.submit_verdict(*verdict(passed))  # type: ignore[arg-type]
    counter.submit_verdict(*verdict(False, version="2.1.0"))  # type: ignore[arg-type]

    data = reader.get_metrics_data()
    (metric,) = [
        m
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == METRIC_NAME
    ]
    points = {
        (
            p.attributes["flywheel.category"],
            p.attributes["flywheel.subcategory"],
            p.attributes["service.version"],
            p.attributes["flywheel.outcome"],
        ): p.value
        for p in metric.data.data_points
    }
    assert points == {
        ("parameter", "invalid_type", "2.0.0", "fail"): 2,
        ("", "", "2.0.0", "pass"): 1,
        ("", "", "2.0.0", "unscored"): 1,
        ("parameter", "invalid_type", "2.1.0", "fail"): 1,
    }
    provider.shutdown()


def test_the_prometheus_collector_exposes_the_same_counts() -> None:
    counter = VerdictMetrics(meter_provider=MeterProvider())
    counter.submit_verdict(*verdict(False))  # type: ignore[arg-type]
    counter.submit_verdict(*verdict(True))  # type: ignore[arg-type]
    registry = CollectorRegistry()
    registry.register(counter.collector())
    text = generate_latest(registry).decode()
    assert (
        'flywheel_verdicts_total{agent_version="2.0.0",category="parameter",'
        'outcome="fail",subcategory="invalid_type"} 1.0' in text
    )
    assert (
        'flywheel_verdicts_total{agent_version="2.0.0",category="",outcome="pass",subcategory=""} 1.0'
        in text
    )


def test_label_sets_are_capped_so_a_bad_version_string_cannot_explode_the_series() -> None:
    counter = VerdictMetrics(meter_provider=MeterProvider(), max_series=3)
    for index in range(10):
        counter.submit_verdict(*verdict(False, version=f"build-{index}"))  # type: ignore[arg-type]
    counts = counter.counts()
    assert len(counts) == 4  # three series, then everything else under "other"
    assert counts[("other", "other", "other", "fail")] == 7
    assert sum(counts.values()) == 10
