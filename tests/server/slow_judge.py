"""The flywheel's own pipeline behind ``serve`` in-process: real evaluators, the scripted judge
answering slowly, verdicts written to a file the test reads."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from otel_flywheel.evaluation import load_trace_evaluator
from otel_flywheel.pipeline import EvaluationPipeline, VerdictFile
from otel_flywheel.testing.llm_server import ScriptedLLMServer, Slow, StructuredJSON

CORRECT = StructuredJSON(
    {
        "explanation": "Every call was needed.",
        "label": "correct",
        "category": None,
        "subcategory": None,
        "culprit_step": None,
        "confidence": 0.9,
    }
)


@contextmanager
def slow_judge_pipeline(
    tmp_path: Path, *, max_queue_size: int, judge_seconds: float
) -> Iterator[tuple[EvaluationPipeline, Callable[[], list[dict[str, Any]]]]]:
    """An ``EvaluationPipeline`` judging with ``tool_selection`` on a judge that takes
    ``judge_seconds`` per call; yields it and a reader of the verdicts written so far."""
    path = tmp_path / "verdicts.jsonl"
    with ScriptedLLMServer(responder=lambda request: Slow(judge_seconds, then=CORRECT)) as llm:
        evaluator = load_trace_evaluator(
            judge=True,
            rubric_ids=["tool_selection"],
            judge_options={
                "model": "judge-model",
                "base_url": llm.base_url,
                "api_key": "test",
                "cache_path": None,
                "timeout_seconds": 30.0,
                "environ": {},
            },
        )
        pipeline = EvaluationPipeline(
            evaluator, sinks=[VerdictFile(path)], max_queue_size=max_queue_size
        )

        def verdicts() -> list[dict[str, Any]]:
            if not path.exists():
                return []
            return [json.loads(line) for line in path.read_text().splitlines() if line]

        yield pipeline, verdicts
