"""Curation, conversations and the PII scan on examples made by the real routing rules (no Phoenix).

Traces are built as the normalizer builds them (an agent step, two LLM calls, a tool step), stored
in a real `RoutingStore`, and routed with the real `Router`: what an export reads from Phoenix is
exactly these examples.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from otel_flywheel.config import RoutingSettings, resolve_settings
from otel_flywheel.datasets import DatasetExample, LoadedDataset
from otel_flywheel.export import (
    CurationSettings,
    ExportError,
    NearDuplicateIndex,
    PIIFoundError,
    TraceLookup,
    conversation_from_trace,
    export_dpo,
    export_sft,
)
from otel_flywheel.minhash import jaccard, shingles
from otel_flywheel.model import (
    AgentTrace,
    Feedback,
    LLMCall,
    Message,
    Step,
    StepKind,
    ToolCall,
    ToolDefinition,
)
from otel_flywheel.routing import Router, RoutingStore

SYSTEM = "You are Acme's support agent."
LOOKUP = ToolDefinition(
    name="lookup_order",
    description="Look up an order.",
    parameters={"type": "object", "properties": {"order_id": {"type": "string"}}},
)


def agent_trace(
    goal: str,
    answer: str,
    *,
    order: str = "A-1001",
    consent: bool | None = None,
    tool_result_in_context: bool = True,
    malformed: bool = False,
) -> AgentTrace:
    digest = hashlib.sha256(goal.encode()).hexdigest()
    trace_id, ids = digest[:32], [digest[32 + 8 * i : 40 + 8 * i] * 2 for i in range(4)]
    result = json.dumps({"order_id": order, "status": "shipped"})
    call = ToolCall(
        name="lookup_order",
        arguments={} if malformed else {"order_id": order},
        arguments_malformed=malformed,
        raw_arguments='{"order_id": ' if malformed else None,
        call_id="call_1",
    )
    context = [Message(role="system", content=SYSTEM), Message(role="user", content=goal)]
    second_context = [*context, Message(role="assistant", tool_calls=[call])]
    if tool_result_in_context:
        second_context.append(Message(role="tool", content=result, tool_call_id="call_1"))

    def step(index: int, kind: StepKind, **fields: object) -> Step:
        return Step(
            trace_id=trace_id,
            span_id=ids[index],
            parent_id=None if index == 0 else ids[0],
            kind=kind,
            name=kind.value,
            start_time_unix_nano=index,
            **fields,  # type: ignore[arg-type]
        )

    return AgentTrace(
        trace_id=trace_id,
        goal=goal,
        final_output=answer,
        user_id="<USER:0a1b2c3d>",
        consent=consent,
        project="support",
        steps=[
            step(0, StepKind.AGENT, input=goal, output=answer),
            step(
                1,
                StepKind.LLM,
                llm=LLMCall(
                    messages=context,
                    output_messages=[Message(role="assistant", tool_calls=[call])],
                    tools=[LOOKUP],
                ),
            ),
            step(
                2,
                StepKind.TOOL,
                tool=ToolCall(name="lookup_order", arguments={"order_id": order}, result=result),
            ),
            step(
                3,
                StepKind.LLM,
                llm=LLMCall(
                    messages=second_context,
                    output_messages=[Message(role="assistant", content=answer)],
                    tools=[LOOKUP],
                ),
            ),
        ],
    )


class Routed:
    """Traces routed by the real rules into examples, with the traces in a real store."""

    def __init__(self, tmp_path: Path) -> None:
        self.router = Router(resolve_settings(RoutingSettings, {"project": "support"}, environ={}))
        self.store = RoutingStore(tmp_path / "routing.sqlite")
        self.examples: dict[str, list[DatasetExample]] = {}

    def feedback(self, trace: AgentTrace, **fields: object) -> None:
        self.store.put_trace(trace, None)
        feedback = Feedback(trace_id=trace.trace_id, **fields)  # type: ignore[arg-type]
        for routed in self.router.feedback_examples(trace, feedback):
            write = self.router.example_write(routed, None)
            self.examples.setdefault(routed.route, []).append(
                DatasetExample(
                    example_id=write.example_id,
                    dataset=write.dataset,
                    input=write.input,
                    output=write.output,
                    metadata=write.metadata,
                    span_id=write.span_id,
                )
            )

    def sources(self, *routes: str) -> list[LoadedDataset]:
        return [
            LoadedDataset(name=f"support/{r}", examples=self.examples.get(r, [])) for r in routes
        ]

    def lookup(self) -> TraceLookup:
        return TraceLookup(store=self.store)


@pytest.fixture
def routed(tmp_path: Path) -> Routed:
    return Routed(tmp_path)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- conversations --------------------------------------------------------------------------------


def test_tool_results_missing_from_the_llm_context_are_taken_from_the_tool_steps() -> None:
    trace = agent_trace("Where is A-1001?", "It shipped.", tool_result_in_context=False)

    conversation = conversation_from_trace(trace)

    assert conversation.problem is None
    assert [m["role"] for m in conversation.messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    assert conversation.messages[3] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "name": "lookup_order",  # the canonical form names the tool; the openai format drops it
        "content": '{"order_id": "A-1001", "status": "shipped"}',
    }
    assert conversation.tools == [
        {
            "type": "function",
            "function": {
                "name": "lookup_order",
                "description": "Look up an order.",
                "parameters": LOOKUP.parameters,
            },
        }
    ]


def test_malformed_tool_arguments_are_not_trained_on(routed: Routed, tmp_path: Path) -> None:
    routed.feedback(agent_trace("Where is A-1001?", "It shipped.", malformed=True), thumbs="up")

    result = export_sft(
        routed.sources("golden"), out=tmp_path / "sft.jsonl", traces=routed.lookup()
    )

    assert result.rows == 0
    assert result.manifest["curation"]["steps"][2]["reasons"] == {"malformed_tool_arguments": 1}


def test_an_example_whose_trace_is_gone_is_counted_not_fatal(
    routed: Routed, tmp_path: Path
) -> None:
    routed.feedback(agent_trace("Where is A-1001?", "It shipped."), thumbs="up")
    found = routed.examples["golden"][0]
    lost = replace(
        found, example_id="lost", metadata={**found.metadata, "source_trace_id": "f" * 32}
    )
    source = LoadedDataset(name="support/golden", examples=[*routed.examples["golden"], lost])

    result = export_sft([source], out=tmp_path / "sft.jsonl", traces=routed.lookup())

    assert result.rows == 1
    assert result.manifest["source_traces"] == {"local_store": 1, "phoenix": 0, "missing": 1}
    [removal] = result.manifest["curation"]["removed"]
    assert removal == {
        "step": "source_trace",
        "reason": "source_trace_not_found",
        "example_id": "lost",
        "dataset": "support/golden",
    }


# --- selection and consent --------------------------------------------------------------------


def test_only_golden_and_corrected_regressions_are_sft_material(
    routed: Routed, tmp_path: Path
) -> None:
    routed.feedback(agent_trace("Where is A-1001?", "It shipped."), thumbs="up")
    routed.feedback(agent_trace("Where is A-1002?", "It is lost."), correction="It is on its way.")
    routed.feedback(agent_trace("Where is A-1003?", "No idea."), thumbs="down")

    result = export_sft(
        routed.sources("golden", "regression", "review", "preference"),
        out=tmp_path / "sft.jsonl",
        traces=routed.lookup(),
    )

    assert result.rows == 2
    selection = result.manifest["curation"]["steps"][0]
    assert selection["reasons"] == {"review_example": 1, "preference_example": 1}
    assert [row["messages"][-1]["content"] for row in lines(result.path)] == [
        "It shipped.",
        "It is on its way.",
    ]


def test_consent_withdrawn_keeps_an_example_out_before_its_trace_is_read(
    routed: Routed, tmp_path: Path
) -> None:
    routed.feedback(agent_trace("Where is A-1001?", "It shipped."), thumbs="up")
    routed.feedback(agent_trace("Where is A-1002?", "Delayed."), thumbs="up")
    withdrawn = routed.examples["golden"][1]
    withdrawn.metadata["consent"] = False  # e.g. set by hand in Phoenix after a request
    lookup = routed.lookup()

    result = export_sft(routed.sources("golden"), out=tmp_path / "sft.jsonl", traces=lookup)

    assert result.rows == 1
    assert result.manifest["curation"]["steps"][1]["reasons"] == {"consent_withheld": 1}
    assert lookup.counts == {"local_store": 1}  # the withdrawn trace was never read


def test_a_trace_that_withheld_consent_is_dropped_even_if_its_example_says_nothing(
    routed: Routed, tmp_path: Path
) -> None:
    trace = agent_trace("Where is A-1001?", "It shipped.")
    routed.feedback(trace, thumbs="up")
    routed.store.put_trace(replace(trace, consent=False), None)

    result = export_sft(
        routed.sources("golden"), out=tmp_path / "sft.jsonl", traces=routed.lookup()
    )

    assert result.rows == 0
    assert result.manifest["curation"]["steps"][2]["reasons"] == {"consent_withheld_on_trace": 1}


# --- PII ----------------------------------------------------------------------------------------


def test_a_raw_email_in_a_correction_fails_the_export_and_names_row_field_and_kind(
    routed: Routed, tmp_path: Path
) -> None:
    # A flywheel built without a redactor routes the correction as typed.
    routed.feedback(agent_trace("Where is A-1001?", "It shipped."), thumbs="up")
    routed.feedback(
        agent_trace("Where is A-1002?", "Lost."),
        correction="It ships today; we emailed jane.doe@example.com the tracking link.",
    )
    out = tmp_path / "dpo.parquet"

    with pytest.raises(PIIFoundError) as failure:
        export_dpo(routed.sources("preference"), out=out, traces=routed.lookup())

    [finding] = failure.value.findings
    assert (finding.row, finding.field, finding.kinds) == (0, "chosen[0].content", ("EMAIL",))
    assert "jane" not in str(failure.value)
    assert not out.exists()


def test_pseudonym_tokens_pass_the_pii_scan(routed: Routed, tmp_path: Path) -> None:
    routed.feedback(
        agent_trace("Email <EMAIL:1a2b3c4d> about A-1001", "Sent to <EMAIL:1a2b3c4d>."),
        thumbs="up",
    )

    result = export_sft(
        routed.sources("golden"), out=tmp_path / "sft.jsonl", traces=routed.lookup()
    )

    assert result.rows == 1


# --- length, balance --------------------------------------------------------------------------


def test_rows_outside_the_length_bounds_are_counted_by_reason(
    routed: Routed, tmp_path: Path
) -> None:
    routed.feedback(agent_trace("Where is A-1001?", "It shipped."), thumbs="up")
    routed.feedback(agent_trace("Where is A-1002?", "word " * 400, order="A-1002"), thumbs="up")
    routed.feedback(agent_trace("Hi", "Ok", order="A-1003"), thumbs="up")
    sizes = sorted(
        len(json.dumps(r))
        for r in lines(
            export_sft(
                routed.sources("golden"), out=tmp_path / "all.jsonl", traces=routed.lookup()
            ).path
        )
    )

    result = export_sft(
        routed.sources("golden"),
        out=tmp_path / "sft.jsonl",
        traces=routed.lookup(),
        curation=CurationSettings(min_chars=sizes[0] + 1, max_chars=sizes[-1] - 1),
    )

    assert result.rows == 1
    assert result.manifest["curation"]["steps"][3]["reasons"] == {"too_short": 1, "too_long": 1}


def test_balance_caps_each_category_then_applies_target_ratios(
    routed: Routed, tmp_path: Path
) -> None:
    categories = ["tool_selection"] * 5 + ["parameter"] * 3 + ["output_quality"] * 2
    for index, category in enumerate(categories):
        routed.feedback(
            agent_trace(
                f"Question {index}: where is A-{2000 + index}?",
                f"Answer {index}.",
                order=f"A-{2000 + index}",
            ),
            thumbs="up",
        )
        routed.examples["golden"][-1].metadata["category"] = category

    result = export_sft(
        routed.sources("golden"),
        out=tmp_path / "sft.jsonl",
        traces=routed.lookup(),
        curation=CurationSettings(
            max_per_category=4,
            category_ratios={"tool_selection": 2, "parameter": 1},
            near_duplicate_threshold=None,
        ),
    )

    kept = [row["category"] for row in result.manifest["rows"]]
    # Cap: tool_selection 5 -> 4. Ratio 2:1 with 3 parameter rows: 4 tool_selection would need
    # 2 parameter rows, so 4 and 2. output_quality is not named and keeps its 2.
    assert (
        kept.count("tool_selection"),
        kept.count("parameter"),
        kept.count("output_quality"),
    ) == (4, 2, 2)
    assert result.manifest["curation"]["steps"][7]["reasons"] == {
        "category_cap": 1,
        "category_ratio": 1,
    }


def test_bad_curation_settings_name_the_field() -> None:
    with pytest.raises(ValidationError, match="near_duplicate_threshold"):
        CurationSettings(near_duplicate_threshold=1.5)
    with pytest.raises(ValidationError, match="must not exceed max_chars"):
        CurationSettings(min_chars=10, max_chars=5)
    with pytest.raises(ValidationError, match="category_ratios must be >= 0"):
        CurationSettings(category_ratios={"parameter": -1})


def test_an_unknown_output_format_fails_before_any_work(routed: Routed, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"write \.parquet or \.jsonl"):
        export_sft(routed.sources("golden"), out=tmp_path / "sft.csv", traces=routed.lookup())


# --- near-duplicates ----------------------------------------------------------------------------

WORDS = [f"w{i}" for i in range(60)]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=30),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=30),
    st.sampled_from([0.3, 0.5, 0.8, 0.9]),
)
def test_a_near_duplicate_match_always_reaches_the_threshold(
    first: list[str], second: list[str], threshold: float
) -> None:
    index = NearDuplicateIndex(threshold=threshold)
    a, b = shingles(" ".join(first)), shingles(" ".join(second))
    index.add("first", a)

    match = index.find(b)

    if match is not None:
        assert match == ("first", jaccard(a, b))
        assert match[1] >= threshold


def test_near_duplicates_are_found_among_many_distinct_texts() -> None:
    rng = random.Random(7)
    vocabulary = [f"word{i}" for i in range(5000)]
    originals = [" ".join(rng.choices(vocabulary, k=60)) for _ in range(300)]
    index = NearDuplicateIndex(threshold=0.8)
    for number, text in enumerate(originals):
        assert index.find(shingles(text)) is None  # distinct texts are not matched
        index.add(str(number), shingles(text))

    for number, text in enumerate(originals):
        words = text.split()
        words[30] = "changed"  # one word in 60: Jaccard 55/61 ~ 0.90
        assert index.find(shingles(" ".join(words))) == (
            str(number),
            pytest.approx(jaccard(shingles(text), shingles(" ".join(words)))),
        )
