"""`PipelineCollector`: the evaluation pipeline's counters as Prometheus metrics, read per scrape."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from otel_flywheel.pipeline._judge_cost import PROMPT_TOKEN_BUCKETS, JudgeCost
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
        yield from _judge_cost(stats.judge_cost)


def _judge_cost(costs: Mapping[str, JudgeCost]) -> Iterator[Metric]:
    prompt_tokens = HistogramMetricFamily(
        "flywheel_pipeline_judge_prompt_tokens",
        "Estimated prompt tokens per judgment (every request of it), by rubric.",
        labels=["rubric"],
    )
    requests = CounterMetricFamily(
        "flywheel_pipeline_judge_requests",
        "Requests judgments took (a trace judged in parts takes each part and the whole).",
        labels=["rubric"],
    )
    in_parts = CounterMetricFamily(
        "flywheel_pipeline_judge_in_parts", "Judgments made in parts.", labels=["rubric"]
    )
    unseen = CounterMetricFamily(
        "flywheel_pipeline_judge_mostly_unseen",
        "Judgments made with most of the trace's text not shown.",
        labels=["rubric"],
    )
    share = SummaryMetricFamily(
        "flywheel_pipeline_judge_share_shown",
        "Share of the trace's text shown to the judge per judgment (sum / count = mean).",
        labels=["rubric"],
    )
    for rubric, cost in sorted(costs.items()):
        buckets: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip(PROMPT_TOKEN_BUCKETS, cost.prompt_token_counts, strict=False):
            running += count
            buckets.append((repr(float(bound)), running))  # "4000.0", as client histograms
        buckets.append(("+Inf", cost.judgments))
        prompt_tokens.add_metric([rubric], buckets, sum_value=cost.prompt_tokens)
        requests.add_metric([rubric], cost.requests)
        in_parts.add_metric([rubric], cost.in_parts)
        unseen.add_metric([rubric], cost.mostly_unseen)
        share.add_metric([rubric], count_value=cost.judgments, sum_value=cost.share_shown)
    yield from (prompt_tokens, requests, in_parts, unseen, share)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"flywheel_pipeline_{name}", documentation, value=value)
