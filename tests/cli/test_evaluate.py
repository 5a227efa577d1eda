"""`otel-flywheel evaluate` on real agent traces read from an OTLP file: the demo support agent,
and the airline agent (tests/airline_agent.py) with references, tools files and a scripted judge."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from airline_agent import RETRIEVAL_TOOLS, Recording, mcp_tools_list
from airline_scenarios import CARD, MIA_EMAIL, MIA_NEW_EMAIL, MIA_NEW_PHONE
from airline_scenarios import SCENARIOS as AIRLINE_SCENARIOS
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan

from otel_flywheel.cli import main
from otel_flywheel.demo._script import SCENARIOS
from otel_flywheel.evaluators.references import read_references
from otel_flywheel.otlp import encode_otlp_json
from otel_flywheel.privacy import build_redactor
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
    assert (malformed["category"], malformed["subcategory"]) == ("parameter", "malformed_arguments")
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


# --- the airline agent: references, tools, redaction, bad files ---------------------------------


@pytest.fixture(scope="module", params=["openinference", "genai"])
def airline_files(
    request: pytest.FixtureRequest,
    airline_recordings: Callable[[str], Recording],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Recording, list[str]]:
    """The recording, and the evaluate options for its traces, references and tools."""
    recording = airline_recordings(request.param)
    folder = tmp_path_factory.mktemp(f"airline-{request.param}")
    traces, refs = folder / "traces.jsonl", folder / "refs.jsonl"
    traces.write_text(recording.otlp_json() + "\n", encoding="utf-8")
    refs.write_text(recording.references_lines(), encoding="utf-8")
    options = ["--traces", str(traces), "--references", str(refs)]
    options += [f"--retrieval-tool={name}" for name in RETRIEVAL_TOOLS]
    if request.param == "genai":  # openai-v2 records no tools: the MCP tools/list says them
        tools = folder / "tools.json"
        tools.write_text(json.dumps(mcp_tools_list()), encoding="utf-8")
        options += ["--tools", str(tools)]
    return recording, options


def test_airline_runs_get_the_verdicts_their_references_plant(
    airline_files: tuple[Recording, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    recording, options = airline_files
    assert main(["evaluate", *options, "--no-judge"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # nothing to warn about
    verdicts = {v["trace_id"]: v for v in map(json.loads, captured.out.splitlines())}
    assert len(verdicts) == len(AIRLINE_SCENARIOS)
    for scenario in AIRLINE_SCENARIOS:
        verdict = verdicts[recording.trace_ids[scenario.key]]
        if scenario.passes:
            assert verdict["passed"] is True, (scenario.key, verdict)
        else:
            got = (verdict["category"], verdict["subcategory"])
            assert got == scenario.primary, (scenario.key, verdict)
    for raw in (MIA_EMAIL, MIA_NEW_EMAIL, MIA_NEW_PHONE, CARD):
        assert raw not in captured.out


def test_raw_reference_values_never_reach_the_judge_or_the_output(
    airline_files: tuple[Recording, list[str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    recording, options = airline_files
    trace_id = recording.trace_ids["contact_update_retried_after_a_503"]
    (tmp_path / "policy.md").write_text(
        f"Contact changes are confirmed by SMS to {MIA_NEW_PHONE}.", encoding="utf-8"
    )
    refs = tmp_path / "refs.jsonl"
    refs.write_text(
        json.dumps(
            {
                "trace_id": trace_id,
                "expected_output": f"Updated: {MIA_NEW_EMAIL}, card {CARD} unchanged.",
                "policy": {"path": "policy.md"},
                "expected_tool_calls": [
                    {
                        "name": "update_contact_info",
                        "arguments": {
                            "user_id": "mia_li_3668",
                            "email": MIA_NEW_EMAIL,
                            "phone": {"$any_of": [MIA_NEW_PHONE, "+44 20 7946 0999"]},
                        },
                    }
                ],
            }
        )
        + "\n",
        encoding="utf-8",
    )
    options = [*options]
    options[options.index("--references") + 1] = str(refs)
    redactor = build_redactor()
    assert redactor is not None
    pseudonym = redactor.token("EMAIL", MIA_NEW_EMAIL)
    with ScriptedLLMServer(responder=first_label_verdict) as judge_server:
        monkeypatch.setenv("FLYWHEEL_JUDGE_MODEL", "judge-model")
        monkeypatch.setenv("FLYWHEEL_JUDGE_BASE_URL", judge_server.base_url)
        monkeypatch.setenv("FLYWHEEL_JUDGE_API_KEY", "test")
        monkeypatch.setenv("FLYWHEEL_JUDGE_CACHE", "off")
        assert main(["evaluate", *options]) == 0
        sent = json.dumps(judge_server.requests)
    out = capsys.readouterr().out
    for raw in (MIA_EMAIL, MIA_NEW_EMAIL, MIA_NEW_PHONE, CARD):
        assert raw not in sent
        assert raw not in out
    # The references did reach the judge, as the trace's own pseudonyms.
    assert "## reference_answer" in sent
    assert "## expected_tool_calls" in sent
    assert pseudonym in sent
    (verdict,) = [v for v in map(json.loads, out.splitlines()) if v["trace_id"] == trace_id]
    judged = {e["rubric_id"] for e in verdict["evaluations"] if e["judge_model"]}
    assert {"answer_correctness", "business_rules", "tool_selection"} <= judged


def test_references_that_would_go_unused_are_warned_about_with_their_lines(
    airline_files: tuple[Recording, list[str]],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    recording, options = airline_files
    refs = tmp_path / "refs.jsonl"
    trace_id = recording.trace_ids["cancel_after_lookups"]
    refs.write_text(
        json.dumps({"trace_id": "f" * 32, "expected_output": "x"})
        + "\n"
        + json.dumps(
            {
                "version": 2,
                "trace_id": trace_id,
                "tool_calls": {"expected": [{"name": "cancel_reservaton"}], "allow": ["thnk"]},
            }
        )
        + "\n",
        encoding="utf-8",
    )
    options = [*options]
    options[options.index("--references") + 1] = str(refs)

    assert main(["evaluate", *options, "--no-judge"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"otel-flywheel evaluate: warning: {refs}, line 1: trace {'f' * 32} is not among the "
        "traces evaluated; unused",
        f"otel-flywheel evaluate: warning: {refs}, line 2: expected tool 'cancel_reservaton' is "
        "offered and called in no trace",
        f"otel-flywheel evaluate: warning: {refs}, line 2: tool-name pattern 'thnk' matches no "
        "tool in any trace",
    ]

    assert main(["evaluate", *options, "--no-judge", "--strict-references"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "3 reference warning(s) with --strict-references: nothing evaluated" in captured.err


def test_a_bad_references_file_lists_every_bad_line_and_evaluates_nothing(
    airline_files: tuple[Recording, list[str]],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    _, options = airline_files
    refs = tmp_path / "refs.jsonl"
    refs.write_text(
        '{"trace_id": "' + "a" * 32 + '", "expected_tool_calls": [{"name": "x", "arguments": '
        '{"id": {"$one_of": [1, 2]}}}]}\n'
        "\n"
        "{not json}\n",
        encoding="utf-8",
    )
    options = [*options]
    options[options.index("--references") + 1] = str(refs)
    assert main(["evaluate", *options, "--no-judge"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "2 problem(s)" in captured.err
    assert 'line 1: expected_tool_calls[0].arguments.id: unknown matcher "$one_of"' in captured.err
    assert "line 3: not JSON" in captured.err
    assert "--no-judge" not in captured.err  # the judge is not what is wrong


def test_help_shows_an_example_of_each_semantics(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = capsys.readouterr().out
    for phrase in (
        "version 1",
        "exact set",
        '"version": 2',
        '"others": "allowed"',
        '"others": "forbidden"',
        '"allow":',
        '"read_only":',
        '"ordered": true',
        '"max": null',
        '"max": 0',
        "readOnlyHint",
        "--tools",
        "$any_of",
        "$literal",
        "a call that failed changed nothing",
    ):
        assert phrase in text, phrase


def test_the_readmes_reference_lines_are_valid(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Evaluate traces offline")[1].split("\n## ")[0]
    lines = [
        line
        for block in section.split("```json")[1:]
        for line in block.split("```")[0].splitlines()
        if line.startswith("{")
    ]
    assert len(lines) >= 5
    path = tmp_path / "refs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    file = read_references(path, redactor=False)
    assert file.warnings == []
    assert len(file.references) == len(lines)
