"""A reviewer's thumbs down with a correction, added in Phoenix, reaches the datasets through
``otel-flywheel sync-feedback``; a second run routes nothing new."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from flywheel_e2e import (
    copy_demo,
    dataset_examples,
    demo_questions,
    export_and_wait,
    phoenix,
    phoenix_writes,
    span_annotations,
)
from opentelemetry.sdk.trace import ReadableSpan

from otel_flywheel._flywheel import build_flywheel
from otel_flywheel.cli import main
from otel_flywheel.testing.phoenix import LocalPhoenix

CORRECTED = "How many days do I have to return a jacket?"
ANSWER = "You have 90 days to return it for a full refund."
CORRECTION = "You have 30 days to return it for a full refund, with the receipt."


def everything_in(client: Any, project: str, copy: Any) -> dict[str, Any]:
    """What a second run must leave exactly as it was: every annotation and example, with the
    times Phoenix last changed them."""
    annotations = span_annotations(client, project, copy.span_ids())
    examples = [
        e
        for route in ("golden", "regression", "review", "preference")
        for e in dataset_examples(client, f"{project}/{route}")
    ]
    return {
        "annotations": sorted((a["id"], a["updated_at"]) for a in annotations),
        "examples": sorted((e["id"], e["updated_at"]) for e in examples),
        "datasets": {
            d["name"]: (d["example_count"], d["updated_at"])
            for d in client.datasets.list()
            if d["name"].startswith(f"{project}/")
        },
    }


def test_a_reviewers_correction_in_phoenix_becomes_regression_and_preference_examples_once(
    demo_spans: list[ReadableSpan],
    phoenix_server: LocalPhoenix,
    state_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = f"e2e-sync-{uuid.uuid4().hex[:10]}"
    copy = copy_demo(demo_spans, demo_questions(demo_spans), project=project)
    export_and_wait(copy.spans, base_url=phoenix_server.base_url, project=project)
    flywheel = build_flywheel(project=project, phoenix_url=phoenix_server.base_url, judge=False)
    try:
        for trace in copy.traces().values():
            flywheel.submit(trace)
        assert flywheel.force_flush(60_000)
    finally:
        flywheel.shutdown()
    root = copy.root_span_id(CORRECTED)

    with phoenix(phoenix_server.base_url) as client:
        # As a reviewer does it in the UI: a thumbs down, the right answer as the explanation.
        client.spans.add_span_annotation(
            span_id=root,
            annotation_name="correctness",
            annotator_kind="HUMAN",
            label="thumbs_down",
            explanation=CORRECTION,
            sync=True,
        )
        capsys.readouterr()
        code = main(
            ["sync-feedback", "--project", project, "--phoenix-url", phoenix_server.base_url]
        )
        err = capsys.readouterr().err
        assert code == 0, err
        assert "1 feedback routed (0 up, 1 down, 1 corrections), 0 synced before" in err

        (regression,) = [
            e
            for e in dataset_examples(client, f"{project}/regression")
            if e["input"]["input"] == CORRECTED
        ]
        assert regression["output"] == {"output": CORRECTION}
        assert regression["metadata"]["original_output"] == ANSWER
        assert regression["metadata"]["annotator"] == "phoenix:span:correctness"
        assert regression["source"]["span_id"] == root
        (preference,) = dataset_examples(client, f"{project}/preference")
        assert preference["output"] == {"chosen": CORRECTION, "rejected": ANSWER}
        assert preference["source"]["span_id"] == root
        on_root = {a["name"]: a for a in span_annotations(client, project, [root])}
        assert on_root["user_feedback"]["result"]["label"] == "down"
        assert on_root["correctness"]["result"]["label"] == "thumbs_down"  # left as it was
        before = everything_in(client, project, copy)
        counted = phoenix_writes(client, copy, ignore_names=["correctness"])
        assert set(counted.values()) == {1}

        code = main(
            ["sync-feedback", "--project", project, "--phoenix-url", phoenix_server.base_url]
        )
        err = capsys.readouterr().err
        assert code == 0, err
        assert "0 feedback routed (0 up, 0 down, 0 corrections), 1 synced before" in err
        assert everything_in(client, project, copy) == before
