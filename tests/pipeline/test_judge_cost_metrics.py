"""The judge's cost is visible: the pipeline exports, per rubric, the estimated prompt tokens of
each judgment as a histogram, the requests judgments took, those made in parts, the share of the
trace shown and the verdicts made with most of the trace unseen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from otel_flywheel.evaluation import load_trace_evaluator
from otel_flywheel.model import AgentTrace
from otel_flywheel.pipeline import EvaluationPipeline, PipelineCollector, VerdictFile
from otel_flywheel.testing.llm_server import ScriptedLLMServer, StructuredJSON


def reply(_body: dict[str, Any]) -> StructuredJSON:
    return StructuredJSON(
        {
            "explanation": "Every call was needed.",
            "label": "correct",
            "category": None,
            "subcategory": None,
            "culprit_step": None,
            "confidence": 0.9,
        }
    )


@pytest.fixture
def pipeline(llm_server: ScriptedLLMServer, tmp_path: Path) -> Iterator[EvaluationPipeline]:
    evaluator = load_trace_evaluator(
        judge=True,
        rubric_ids=["tool_selection"],
        judge_options={
            "model": "judge-model",
            "base_url": llm_server.base_url,
            "api_key": "test",
            "cache_path": None,
            "max_input_tokens": 3000,
            "environ": {},
        },
    )
    sink = VerdictFile(tmp_path / "verdicts.jsonl")
    made = EvaluationPipeline(evaluator, sinks=[sink], judge_sample_ratio=1.0)
    yield made
    made.shutdown(timeout_millis=10_000)


def test_judge_tokens_requests_parts_and_unseen_verdicts_are_exported_per_rubric(
    pipeline: EvaluationPipeline,
    llm_server: ScriptedLLMServer,
    demo_traces: dict[str, AgentTrace],
) -> None:
    llm_server.responder = reply
    traces = list(demo_traces.values())
    for trace in traces:
        pipeline.submit(trace)
    assert pipeline.force_flush(timeout_millis=60_000)

    registry = CollectorRegistry()
    registry.register(PipelineCollector(pipeline))

    def sample(name: str, **labels: str) -> float:
        value = registry.get_sample_value(name, {"rubric": "tool_selection", **labels})
        assert value is not None, name
        return value

    judgments = sample("flywheel_pipeline_judge_prompt_tokens_count")
    assert judgments == len(traces)
    assert sample("flywheel_pipeline_judge_prompt_tokens_bucket", le="+Inf") == judgments
    assert sample("flywheel_pipeline_judge_prompt_tokens_bucket", le="4000.0") == judgments
    assert sample("flywheel_pipeline_judge_prompt_tokens_bucket", le="1000.0") == 0
    tokens = sample("flywheel_pipeline_judge_prompt_tokens_sum")
    assert 1000 * judgments < tokens <= 3000 * judgments  # each within the 3000-token budget
    assert sample("flywheel_pipeline_judge_requests_total") == len(llm_server.requests)
    assert sample("flywheel_pipeline_judge_in_parts_total") == 0
    assert sample("flywheel_pipeline_judge_mostly_unseen_total") == 0
    assert sample("flywheel_pipeline_judge_share_shown_count") == judgments
    assert sample("flywheel_pipeline_judge_share_shown_sum") > 0.5 * judgments

    stats = pipeline.stats()
    cost = stats.judge_cost["tool_selection"]
    assert cost.judgments == len(traces)
    assert cost.prompt_tokens == tokens
