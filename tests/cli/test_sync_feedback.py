"""`otel-flywheel sync-feedback`: reviewers' annotations in the session's real Phoenix become
feedback, routed into its datasets.

Traces are made with the real SDK (OpenInference attributes) and exported with the real OTLP
exporter, each test in a project of its own; annotations are added through phoenix.client as a
reviewer's browser would add them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openinference.semconv.trace import OpenInferenceSpanKindValues, SpanAttributes
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import format_span_id, format_trace_id
from phoenix.client import Client

from otel_flywheel._feedback import feedback_from_annotation, feedback_id_for
from otel_flywheel.cli import main
from otel_flywheel.phoenix import Annotation
from otel_flywheel.testing.phoenix import LocalPhoenix, find_free_port, wait_for_spans

TRACE_ID = "ab" * 16
SPAN_ID = "cd" * 8
EMAIL = "ada.lovelace@example.com"


# --- what counts as feedback --------------------------------------------------------------------


def annotation(
    *,
    label: str | None = None,
    score: float | None = None,
    explanation: str | None = None,
    metadata: dict[str, Any] | None = None,
    name: str = "correctness",
    identifier: str = "",
    annotation_id: str = "U3BhbkFubm90YXRpb246MQ==",
) -> Annotation:
    """As Phoenix's REST API returns a span annotation."""
    return Annotation.from_phoenix(
        {
            "id": annotation_id,
            "span_id": SPAN_ID,
            "name": name,
            "annotator_kind": "HUMAN",
            "result": {"label": label, "score": score, "explanation": explanation},
            "metadata": metadata,
            "identifier": identifier,
            "source": "APP",
            "user_id": None,
            "created_at": "2026-11-21T09:00:00+00:00",
            "updated_at": "2026-11-21T09:30:00.250000+00:00",
        },
        trace_id=TRACE_ID,
    )


@pytest.mark.parametrize(
    ("given", "thumbs", "correction", "reason"),
    [
        (annotation(label="Thumbs Up", explanation="spot on"), "up", None, "spot on"),
        (annotation(label="thumbs-down", explanation="30 days."), "down", "30 days.", None),
        (annotation(label="INCORRECT", explanation="reason: too vague"), "down", None, "too vague"),
        (
            annotation(label="good", explanation="Correction: say 30 days"),
            "up",
            "say 30 days",
            None,
        ),
        (annotation(score=0.0), "down", None, None),
        (annotation(score=1), "up", None, None),
        (annotation(label="👎", metadata={"correction": "30 days."}), "down", "30 days.", None),
        (
            annotation(label="bad", explanation="wrong policy", metadata={"correction": "30 d"}),
            "down",
            "30 d",
            "wrong policy",
        ),
        (annotation(explanation="correction: 30 days."), None, "30 days.", None),
    ],
)
def test_labels_scores_explanations_and_metadata_read_as_thumbs_corrections_and_reasons(
    given: Annotation, thumbs: str | None, correction: str | None, reason: str | None
) -> None:
    feedback = feedback_from_annotation(given)
    assert feedback is not None
    assert (feedback.thumbs, feedback.correction, feedback.reason) == (thumbs, correction, reason)
    assert (feedback.trace_id, feedback.span_id) == (TRACE_ID, SPAN_ID)
    assert feedback.created_at_unix == 1_795_253_400.25  # updated_at: the latest word counts


def test_with_explanation_is_reason_a_thumbs_downs_explanation_is_not_a_correction() -> None:
    feedback = feedback_from_annotation(
        annotation(label="down", explanation="the wrong tool"), explanation_is="reason"
    )
    assert feedback is not None
    assert (feedback.thumbs, feedback.correction, feedback.reason) == (
        "down",
        None,
        "the wrong tool",
    )


def test_chosen_and_rejected_metadata_make_a_preference() -> None:
    feedback = feedback_from_annotation(annotation(metadata={"chosen": "A", "rejected": "B"}))
    assert feedback is not None
    assert (feedback.chosen, feedback.rejected, feedback.thumbs) == ("A", "B", None)


@pytest.mark.parametrize(
    "given",
    [
        annotation(name="hallucination", label="yes", explanation="invented a policy"),
        annotation(label="helpful", score=0.5),
        annotation(explanation="looked fine to me"),
        annotation(metadata={"chosen": "A"}),
    ],
)
def test_an_annotation_that_says_no_thumbs_correction_or_preference_is_not_feedback(
    given: Annotation,
) -> None:
    assert feedback_from_annotation(given) is None


def test_feedback_ids_are_stable_per_phoenix_annotation_and_differ_between_annotations() -> None:
    first = annotation(label="up")
    assert feedback_id_for(first) == feedback_id_for(annotation(label="down", score=0.0))
    assert feedback_id_for(first) != feedback_id_for(annotation(label="up", annotation_id="X"))
    feedback = feedback_from_annotation(first)
    assert feedback is not None
    assert feedback.feedback_id == feedback_id_for(first)


def test_each_reviewer_annotation_is_routed_under_its_own_annotator() -> None:
    reviewer = feedback_from_annotation(annotation(label="up", identifier="px-app:VXNlcjox"))
    anonymous = feedback_from_annotation(annotation(label="up", name="thumbs"))
    assert reviewer is not None
    assert anonymous is not None
    assert reviewer.annotator == "phoenix:span:correctness:px-app:VXNlcjox"
    assert anonymous.annotator == "phoenix:span:thumbs"


# --- against Phoenix ----------------------------------------------------------------------------


class Agent:
    """Makes agent traces with the real SDK and exports them to Phoenix as they end."""

    def __init__(self, phoenix: LocalPhoenix, project: str) -> None:
        self.project = project
        self._provider = TracerProvider(
            resource=Resource.create({"openinference.project.name": project})
        )
        self._provider.add_span_processor(
            SimpleSpanProcessor(OTLPSpanExporter(endpoint=phoenix.otlp_traces_endpoint, timeout=30))
        )
        self._spans = 0

    def run(self, question: str, answer: str, *, user_id: str = "user-1") -> tuple[str, str]:
        """One run: an AGENT root and a TOOL child. Returns (trace id, root span id)."""
        tracer = self._provider.get_tracer("tests.sync_feedback")
        kind = SpanAttributes.OPENINFERENCE_SPAN_KIND
        with (
            tracer.start_as_current_span(
                "support-agent",
                attributes={
                    kind: OpenInferenceSpanKindValues.AGENT.value,
                    SpanAttributes.INPUT_VALUE: question,
                    SpanAttributes.OUTPUT_VALUE: answer,
                    SpanAttributes.USER_ID: user_id,
                    SpanAttributes.SESSION_ID: f"session-{uuid.uuid4().hex[:8]}",
                },
            ) as root,
            tracer.start_as_current_span(
                "search_kb",
                attributes={
                    kind: OpenInferenceSpanKindValues.TOOL.value,
                    SpanAttributes.TOOL_NAME: "search_kb",
                    SpanAttributes.INPUT_VALUE: json.dumps({"query": question}),
                    SpanAttributes.OUTPUT_VALUE: "Returns are accepted within 30 days.",
                },
            ),
        ):
            pass
        self._spans += 2
        context = root.get_span_context()
        return format_trace_id(context.trace_id), format_span_id(context.span_id)

    def wait_until_stored(self, client: Client) -> None:
        wait_for_spans(client, project=self.project, min_count=self._spans, timeout_seconds=120)

    def close(self) -> None:
        self._provider.shutdown()


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty state directory: the routing store knows no trace, the outbox holds nothing."""
    path = tmp_path / "state"
    monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(path))
    return path


@pytest.fixture
def agent(phoenix_server: LocalPhoenix) -> Iterator[Agent]:
    made = Agent(phoenix_server, f"sync-feedback-{uuid.uuid4().hex[:10]}")
    yield made
    made.close()


def sync(
    phoenix: LocalPhoenix, capsys: pytest.CaptureFixture[str], project: str, *args: str
) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["sync-feedback", "--project", project, "--phoenix-url", phoenix.base_url, *args])
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err


def examples(client: Client, dataset: str) -> list[dict[str, Any]]:
    if dataset not in {d["name"] for d in client.datasets.list()}:
        return []
    return [dict(e) for e in client.datasets.get_dataset(dataset=dataset).examples]


def test_a_trace_the_flywheel_never_saw_is_read_from_phoenix_redacted_and_routed(
    agent: Agent,
    phoenix_server: LocalPhoenix,
    phoenix_server_client: Client,
    state_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    trace_id, root = agent.run(f"Can I return shoes? Mail me at {EMAIL}", "Yes, within 30 days.")
    agent.wait_until_stored(phoenix_server_client)
    phoenix_server_client.traces.add_trace_annotation(
        trace_id=trace_id,
        annotation_name="quality",
        annotator_kind="HUMAN",
        score=1.0,
        sync=True,
    )

    code, err = sync(phoenix_server, capsys, agent.project)

    assert code == 0, err
    assert "1 feedback routed (1 up, 0 down, 0 corrections)" in err
    assert "1 traces read from Phoenix" in err
    (golden,) = examples(phoenix_server_client, f"{agent.project}/golden")
    assert golden["source"]["span_id"] == root
    assert golden["input"]["input"].startswith("Can I return shoes? Mail me at <EMAIL:")
    assert EMAIL not in json.dumps(golden)
    assert golden["output"]["expected_tool_calls"] == [
        {"name": "search_kb", "arguments": {"query": golden["input"]["input"]}}
    ]
    (copy,) = [
        a
        for a in phoenix_server_client.spans.get_span_annotations(
            span_ids=[root], project_identifier=agent.project
        )
        if a["name"] == "user_feedback"
    ]
    assert (copy["annotator_kind"], copy["result"]["label"]) == ("HUMAN", "up")
    assert copy["identifier"] == "phoenix:trace:quality"


def test_annotations_that_are_not_a_reviewers_feedback_are_left_alone(
    agent: Agent,
    phoenix_server: LocalPhoenix,
    phoenix_server_client: Client,
    state_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, root = agent.run("What is your return policy?", "Whenever you like.")
    agent.wait_until_stored(phoenix_server_client)
    spans = phoenix_server_client.spans
    for name, kind, label, explanation in (
        ("hallucination", "HUMAN", "yes", "There is no such policy."),  # not feedback
        ("tool_selection", "LLM", "incorrect", "Wrong tool."),  # a judge, not a person
        ("tone", "HUMAN", "bad", "Too curt."),  # a name not asked for
        ("correctness", "HUMAN", "incorrect", "Returns are accepted within 30 days."),
    ):
        spans.add_span_annotation(
            span_id=root,
            annotation_name=name,
            annotator_kind=kind,  # type: ignore[arg-type]
            label=label,
            explanation=explanation,
            sync=True,
        )

    code, err = sync(
        phoenix_server, capsys, agent.project, "--name", "correctness", "--name", "hallucination"
    )

    assert code == 0, err
    assert "4 annotations, 3 by people: 1 feedback routed (0 up, 1 down, 1 corrections)" in err
    assert "1 not feedback, 1 other names" in err
    (regression,) = examples(phoenix_server_client, f"{agent.project}/regression")
    assert regression["output"] == {"output": "Returns are accepted within 30 days."}
    assert examples(phoenix_server_client, f"{agent.project}/review") == []


def test_two_reviewers_on_one_span_each_get_a_routed_copy_and_a_second_run_adds_nothing(
    agent: Agent,
    phoenix_server: LocalPhoenix,
    phoenix_server_client: Client,
    state_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, root = agent.run("How long is the warranty?", "Two years.")
    agent.wait_until_stored(phoenix_server_client)
    # The Phoenix UI gives each signed-in reviewer their own identifier on an annotation name.
    for reviewer, label, explanation in (
        ("px-app:VXNlcjox", "correct", None),
        ("px-app:VXNlcjoy", "incorrect", "One year, parts and labour."),
    ):
        phoenix_server_client.spans.add_span_annotation(
            span_id=root,
            annotation_name="correctness",
            annotator_kind="HUMAN",
            label=label,
            explanation=explanation,
            identifier=reviewer,
            sync=True,
        )

    code, err = sync(phoenix_server, capsys, agent.project)
    assert code == 0, err
    assert "2 feedback routed (1 up, 1 down, 1 corrections), 0 synced before" in err

    code, err = sync(phoenix_server, capsys, agent.project)
    assert code == 0, err
    assert "0 feedback routed (0 up, 0 down, 0 corrections), 2 synced before" in err
    copies = [
        a
        for a in phoenix_server_client.spans.get_span_annotations(
            span_ids=[root], project_identifier=agent.project
        )
        if a["name"] == "user_feedback"
    ]
    assert sorted((a["identifier"], a["result"]["label"]) for a in copies) == [
        ("phoenix:span:correctness:px-app:VXNlcjox", "up"),
        ("phoenix:span:correctness:px-app:VXNlcjoy", "down"),
    ]


def test_a_project_phoenix_does_not_have_exits_2_naming_the_ones_it_has(
    agent: Agent,
    phoenix_server: LocalPhoenix,
    phoenix_server_client: Client,
    state_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    agent.run("Hello?", "Hi.")
    agent.wait_until_stored(phoenix_server_client)

    code, err = sync(phoenix_server, capsys, "no-such-project")

    assert code == 2
    assert "Phoenix has no project 'no-such-project'; known projects: " in err
    assert repr(agent.project) in err


def test_an_unreachable_phoenix_exits_2_naming_the_url_and_the_fix(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{find_free_port()}"
    code = main(["sync-feedback", "--project", "p", "--phoenix-url", url])

    err = capsys.readouterr().err
    assert code == 2
    assert f"cannot reach Phoenix at {url}" in err
    assert "--phoenix-url" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "1h", "--until", "2h"], "--until ("),
        (["--since", "yesterday"], "'yesterday' is neither a duration"),
    ],
)
def test_a_window_that_cannot_be_read_exits_2_before_calling_phoenix(
    args: list[str], message: str, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sync-feedback", "--project", "p", "--phoenix-url", "http://127.0.0.1:9", *args])

    assert code == 2
    assert message in capsys.readouterr().err


def test_help_documents_the_conventions_and_the_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sync-feedback", "--help"])

    assert exited.value.code == 0
    out = capsys.readouterr().out
    for text in (
        "thumbs_down",
        "correction:",
        "chosen",
        "exit codes: 0",
        "sync-feedback --project",
    ):
        assert text in out
