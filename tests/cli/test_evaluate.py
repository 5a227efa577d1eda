"""`otel-flywheel evaluate --no-judge` on the demo agent's real traces, read from an OTLP file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan

from otel_flywheel.cli import main
from otel_flywheel.demo._script import SCENARIOS
from otel_flywheel.otlp import encode_otlp_json
from otel_flywheel.testing.llm_server import Reply, ScriptedLLMServer, StructuredJSON


@pytest.fixture(scope="module")
def demo_file(
    demo_spans: list[ReadableSpan], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str]]:
    """The demo's 20 conversations as OTLP/JSON lines, and trace id -> question."""
    questions = {
        f"{span.context.trace_id:032x}": str((span.attributes or {}).get("input.value"))
        for span in demo_spans
        if span.parent is None and span.context is not None
    }
    path = tmp_path_factory.mktemp("evaluate") / "demo.jsonl"
    path.write_text(encode_otlp_json(encode_spans(demo_spans)) + "\n", encoding="utf-8")
    return path, questions


def verdicts_by_question(
    demo_file: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str], *args: str
) -> dict[str, dict[str, object]]:
    path, questions = demo_file
    assert main(["evaluate", "--traces", str(path), "--no-judge", *args]) == 0
    lines = capsys.readouterr().out.splitlines()
    verdicts = [json.loads(line) for line in lines]
    return {questions[v["trace_id"]]: v for v in verdicts}


def subcategories(verdict: dict[str, object]) -> set[object]:
    evaluations = verdict["evaluations"]
    assert isinstance(evaluations, list)
    return {e["subcategory"] for e in evaluations if e["passed"] is False}


def test_no_judge_catches_the_demos_tool_parameter_repeat_and_retrieval_failures(
    demo_file: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    verdicts = verdicts_by_question(demo_file, capsys)
    assert len(verdicts) == len(SCENARIOS)

    bad_arguments = verdicts["Status of order A-1003 please"]
    assert (bad_arguments["passed"], bad_arguments["category"]) == (False, "parameter")
    assert {"missing_required", "wrong_field_mapping"} <= subcategories(bad_arguments)

    repeated = verdicts["Has A-1001 shipped yet?"]
    assert (repeated["category"], repeated["subcategory"]) == ("tool_selection", "repeated_call")

    empty = verdicts["Do you price-match competitors?"]
    assert (empty["category"], empty["subcategory"]) == ("knowledge_context", "empty_retrieval")

    malformed = verdicts["Refund order A-1003, it was late"]
    assert (malformed["category"], malformed["subcategory"]) == (
        "parameter",
        "invalid_type_or_value",
    )
    for verdict in (bad_arguments, repeated, empty, malformed):
        assert isinstance(verdict["culprit_span_id"], str)
        assert len(verdict["culprit_span_id"]) == 16
        assert verdict["root_cause_owner"]

    clean = verdicts["How long does standard shipping take?"]
    assert clean["passed"] is True
    assert all(
        {"name", "label", "score", "passed", "category", "explanation"} <= set(e)
        for e in clean["evaluations"]  # type: ignore[union-attr]
    )


def test_expected_tool_calls_from_references_are_checked(
    demo_file: tuple[Path, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    _, questions = demo_file
    trace_id = next(t for t, q in questions.items() if q == "What is your return policy?")
    references = tmp_path / "refs.jsonl"
    references.write_text(
        json.dumps(
            {
                "trace_id": trace_id,
                "expected_tool_calls": [
                    {"name": "search_kb", "arguments": {"query": {"$any": True}}}
                ],
            }
        )
        + "\n",
        encoding="utf-8",
    )

    verdict = verdicts_by_question(demo_file, capsys, "--references", str(references))[
        "What is your return policy?"
    ]

    assert verdict["passed"] is False
    assert {"missing_tool_call", "unnecessary_call"} <= subcategories(verdict)


def test_without_a_judge_model_it_names_the_variable_and_no_judge(
    demo_file: tuple[Path, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLYWHEEL_JUDGE_MODEL", raising=False)
    assert main(["evaluate", "--traces", str(demo_file[0])]) == 2
    err = capsys.readouterr().err
    assert "FLYWHEEL_JUDGE_MODEL" in err
    assert "--no-judge" in err


def first_label_verdict(request: dict[str, Any]) -> Reply:
    """A judge that answers every rubric with its first label, whatever the trace says."""
    schema = request["response_format"]["json_schema"]["schema"]
    return StructuredJSON(
        {
            "explanation": "scripted",
            "label": schema["properties"]["label"]["enum"][0],
            "category": None,
            "subcategory": None,
            "culprit_step": None,
            "confidence": 0.9,
        }
    )


def test_with_a_judge_every_trace_gets_the_rubrics_it_has_references_for(
    demo_file: tuple[Path, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with ScriptedLLMServer(responder=first_label_verdict) as judge_server:
        monkeypatch.setenv("FLYWHEEL_JUDGE_MODEL", "judge-model")
        monkeypatch.setenv("FLYWHEEL_JUDGE_BASE_URL", judge_server.base_url)
        monkeypatch.setenv("FLYWHEEL_JUDGE_API_KEY", "test")
        monkeypatch.setenv("FLYWHEEL_JUDGE_CACHE", "off")
        path, _ = demo_file
        assert main(["evaluate", "--traces", str(path)]) == 0
        requests = len(judge_server.requests)

    captured = capsys.readouterr()
    verdicts = [json.loads(line) for line in captured.out.splitlines()]
    assert len(verdicts) == len(SCENARIOS)
    # The judge's cost, on stderr: one judgment per rubric and trace, each one request.
    judgments = 5 * len(SCENARIOS)
    assert f"judge: {judgments} judgments in {judgments} requests, prompts ~" in captured.err
    assert "0 judged in parts, 0 with most of the trace unseen" in captured.err
    for verdict in verdicts:
        for evaluation in verdict["evaluations"]:
            if evaluation["judge_model"]:
                assert evaluation["coverage"]["share_shown"] == 1.0
                assert evaluation["coverage"]["elided"] == ""
                assert evaluation["coverage"]["prompt_tokens"] > 0
                assert evaluation["input_tokens"] > 0
        judged = {e["rubric_id"] for e in verdict["evaluations"] if e["judge_model"]}
        # answer_correctness and business_rules need a reference answer and a policy: skipped.
        assert judged == {
            "tool_selection",
            "parameters",
            "task_decomposition",
            "grounding",
            "output_quality",
        }
    assert requests == 5 * len(SCENARIOS)
    # The judge only ever saw redacted traces: no raw email from the demo's conversations.
    assert all("ada.lovelace@example.com" not in json.dumps(v) for v in verdicts)


def test_a_missing_traces_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["evaluate", "--traces", str(tmp_path / "nope.jsonl"), "--no-judge"]) == 2
    assert "nope.jsonl" in capsys.readouterr().err
