"""`PipelineCollector`: the evaluation pipeline's counters as Prometheus metrics, read per scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from otel_flywheel.pipeline._pipeline import EvaluationPipeline

__all__ = ["PipelineCollector"]


class PipelineCollector(Collector):
    """Register it on the registry ``otel-flywheel serve`` (or your app) exposes."""

    def __init__(self, pipeline: EvaluationPipeline) -> None:
        self._pipeline = pipeline

    def collect(self) -> Iterator[Metric]:
        stats = self._pipeline.stats()
        yield _counter("traces_received", "Traces submitted to the pipeline.", stats.received)
        yield _counter("traces_evaluated", "Traces with a verdict in the sinks.", stats.evaluated)
        yield _counter("traces_judged", "Traces the LLM judge evaluated.", stats.judged)
        yield _counter("traces_failed", "Verdicts that failed.", stats.failed)
        yield _counter("traces_unscored", "Verdicts left unscored.", stats.unscored)
        yield _counter("judge_retries", "Traces waiting to retry the judge.", stats.judge_retries)
        yield _counter("sink_errors", "Verdicts a sink failed to take.", stats.sink_errors)
        yield _counter(
            "traces_refused",
            "Acknowledged hand-overs refused while the queue was full (the caller kept them).",
            stats.refused,
        )
        decisions = CounterMetricFamily(
            "flywheel_pipeline_judge_decisions",
            "Judge-sampling decisions by reason.",
            labels=["reason"],
        )
        for reason, count in sorted(stats.judge_decisions.items()):
            decisions.add_metric([reason], count)
        yield decisions
        dropped = CounterMetricFamily(
            "flywheel_pipeline_traces_dropped", "Traces dropped, by reason.", labels=["reason"]
        )
        for reason, count in sorted(stats.dropped.items()):
            dropped.add_metric([reason], count)
        yield dropped
        yield GaugeMetricFamily(
            "flywheel_pipeline_pending_traces",
            "Traces queued, being evaluated or waiting to retry the judge.",
            value=stats.pending,
        )
        yield _counter("judge_evaluations", "Judge evaluations made.", stats.judge_evaluations)
        yield _counter(
            "judge_latency_seconds",
            "Time judge evaluations took, summed (divide by judge_evaluations for the mean).",
            stats.judge_latency_millis / 1000,
        )
        tokens = CounterMetricFamily(
            "flywheel_pipeline_judge_tokens", "Judge tokens, by direction.", labels=["direction"]
        )
        tokens.add_metric(["input"], stats.judge_input_tokens)
        tokens.add_metric(["output"], stats.judge_output_tokens)
        yield tokens


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"flywheel_pipeline_{name}", documentation, value=value)
