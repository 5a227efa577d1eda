"""Junk never crashes the normalizer: it becomes `other` steps, flags and trace warnings."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from otel_flywheel.conventions import SpanEvent, SpanView, normalize_trace
from otel_flywheel.conventions._values import parse_json
from otel_flywheel.model import AgentTrace, StepKind

TRACE = "0af7651916cd43dd8448eb211c80319c"


def span(span_id: str, parent: str | None = None, start: int = 0, **attributes: object) -> SpanView:
    return SpanView(
        trace_id=TRACE,
        span_id=span_id,
        parent_id=parent,
        name=f"span-{span_id[-2:]}",
        start_time_unix_nano=start,
        end_time_unix_nano=start + 10,
        attributes=attributes,
    )


def test_unknown_kind_becomes_other_and_keeps_raw_attributes() -> None:
    trace = normalize_trace(
        [span("a" * 16, **{"openinference.span.kind": "PROMPT", "custom.field": 3})]
    )
    [step] = trace.steps
    assert step.kind is StepKind.OTHER
    assert step.attributes == {"openinference.span.kind": "PROMPT", "custom.field": 3}


def test_span_with_no_convention_is_other() -> None:
    trace = normalize_trace([span("a" * 16, **{"http.method": "GET"})])
    assert trace.steps[0].kind is StepKind.OTHER


def test_missing_parent_attaches_to_root_with_a_warning() -> None:
    root = span("1" * 16, start=0)
    child = span("2" * 16, parent="1" * 16, start=1)
    orphan = span("3" * 16, parent="9" * 16, start=2)

    trace = normalize_trace([orphan, child, root])

    assert [s.span_id for s in trace.steps] == ["1" * 16, "2" * 16, "3" * 16]
    assert trace.steps[2].parent_id == "1" * 16
    assert any("missing parent" in w and "9" * 16 in w for w in trace.warnings)


def test_trace_without_root_uses_earliest_orphan_as_root() -> None:
    first = span("1" * 16, parent="f" * 16, start=5)
    second = span("2" * 16, parent="f" * 16, start=9)

    trace = normalize_trace([second, first])

    assert trace.root is not None
    assert trace.root.span_id == "1" * 16
    assert trace.steps[1].parent_id == "1" * 16
    assert any("root span missing" in w for w in trace.warnings)


def test_parent_cycle_is_kept_under_the_root() -> None:
    root = span("1" * 16, start=0)
    a = span("2" * 16, parent="3" * 16, start=1)
    b = span("3" * 16, parent="2" * 16, start=2)

    trace = normalize_trace([root, a, b])

    assert {s.span_id for s in trace.steps} == {"1" * 16, "2" * 16, "3" * 16}
    assert any("cycle" in w for w in trace.warnings)


def test_resent_span_replaces_its_earlier_copy() -> None:
    early = span("1" * 16, **{"openinference.span.kind": "AGENT", "output.value": "draft"})
    final = span("1" * 16, **{"openinference.span.kind": "AGENT", "output.value": "final"})

    trace = normalize_trace([early, final])

    assert len(trace.steps) == 1
    assert trace.final_output == "final"


def test_deep_chain_does_not_hit_the_recursion_limit() -> None:
    spans = [span(f"{0:016x}")]
    spans += [span(f"{i:016x}", parent=f"{i - 1:016x}", start=i) for i in range(1, 5000)]

    trace = normalize_trace(spans)

    assert len(trace.steps) == 5000


def test_lone_surrogates_are_replaced_so_the_trace_serializes() -> None:
    bad = b"caf\xe9 order".decode("utf-8", "surrogateescape")
    trace = normalize_trace(
        [span("1" * 16, **{"openinference.span.kind": "AGENT", "input.value": bad})]
    )

    assert trace.goal == "caf\ufffd order"
    assert AgentTrace.from_json(trace.to_json()) == trace


def test_huge_attribute_is_kept_whole() -> None:
    big = "x" * 5_000_000
    trace = normalize_trace(
        [span("1" * 16, **{"openinference.span.kind": "AGENT", "input.value": big})]
    )
    assert trace.goal == big


def test_exception_event_without_error_status_still_records_the_error() -> None:
    view = SpanView(
        trace_id=TRACE,
        span_id="1" * 16,
        parent_id=None,
        name="tool",
        attributes={"openinference.span.kind": "TOOL", "tool.name": "t"},
        events=(
            SpanEvent(
                name="exception",
                time_unix_nano=1,
                attributes={"exception.type": "KeyError", "exception.message": "'sku'"},
            ),
        ),
    )
    trace = normalize_trace([view])
    assert trace.steps[0].tool is not None
    assert trace.steps[0].tool.error == "KeyError: 'sku'"


def test_wrongly_typed_convention_values_are_ignored_not_fatal() -> None:
    trace = normalize_trace(
        [
            span(
                "1" * 16,
                **{
                    "openinference.span.kind": "LLM",
                    "llm.token_count.prompt": "not a number",
                    "llm.input_messages.0.message.role": 7,
                    "llm.input_messages.x.message.role": "user",
                    "llm.tools.0.tool.json_schema": "{broken",
                    "llm.invocation_parameters": "[1, 2]",
                    "retrieval.documents.0.document.score": "high",
                },
            )
        ]
    )
    llm = trace.steps[0].llm
    assert llm is not None
    assert llm.usage.input_tokens is None
    assert llm.tools == []
    assert llm.invocation_parameters == {}


_scalars = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
_values = st.one_of(_scalars, st.lists(st.text(max_size=10), max_size=3).map(tuple))
_keys = st.one_of(
    st.sampled_from(
        [
            "openinference.span.kind",
            "input.value",
            "output.value",
            "tool.name",
            "tool.parameters",
            "llm.input_messages.0.message.content",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name",
            "retrieval.documents.0.document.content",
            "gen_ai.operation.name",
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.tool.call.arguments",
            "gen_ai.retrieval.documents",
            "session.id",
            "metadata",
            "flywheel.consent",
        ]
    ),
    st.text(min_size=1, max_size=20),
)
_kinds = st.sampled_from(["LLM", "TOOL", "AGENT", "RETRIEVER", "RERANKER", "CHAIN", "junk"])
_operations = st.sampled_from(["chat", "execute_tool", "retrieval", "invoke_agent", "nonsense"])


@settings(max_examples=300, deadline=None)
@given(
    attributes=st.lists(st.dictionaries(_keys, _values, max_size=8), min_size=1, max_size=5),
    kinds=st.lists(_kinds, min_size=5, max_size=5),
    operations=st.lists(_operations, min_size=5, max_size=5),
    json_blobs=st.lists(
        st.recursive(
            _scalars | st.none(),
            lambda children: (
                st.lists(children, max_size=3)
                | st.dictionaries(st.text(max_size=8), children, max_size=3)
            ),
            max_leaves=10,
        ).map(json.dumps),
        min_size=5,
        max_size=5,
    ),
)
def test_any_attributes_normalize_and_round_trip(
    attributes: list[dict[str, object]],
    kinds: list[str],
    operations: list[str],
    json_blobs: list[str],
) -> None:
    spans = []
    for index, extra in enumerate(attributes):
        attrs = {
            "openinference.span.kind": kinds[index],
            "gen_ai.operation.name": operations[index],
            "gen_ai.input.messages": json_blobs[index],
            "input.value": json_blobs[-index - 1],
            **extra,
        }
        parent = None if index == 0 else f"{index - 1:016x}"
        spans.append(span(f"{index:016x}", parent=parent, start=index, **attrs))

    trace = normalize_trace(spans)

    assert len(trace.steps) == len(spans)
    assert AgentTrace.from_json(trace.to_json()) == trace


def test_span_continuing_a_remote_trace_is_the_root_without_a_warning() -> None:
    entry = SpanView(
        trace_id=TRACE,
        span_id="1" * 16,
        parent_id="e" * 16,
        parent_is_remote=True,
        name="POST /chat",
        attributes={"openinference.span.kind": "AGENT", "input.value": "hi"},
    )
    child = span("2" * 16, parent="1" * 16, start=1)

    trace = normalize_trace([child, entry])

    assert trace.root is entry_step(trace)
    assert trace.warnings == []
    assert trace.goal == "hi"


def entry_step(trace: AgentTrace) -> object:
    return trace.step("1" * 16)


def test_otlp_span_flags_mark_a_remote_parent() -> None:
    from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

    from otel_flywheel.conventions import span_view_from_otlp

    remote = ProtoSpan(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, parent_span_id=b"\x03" * 8)
    remote.flags = 0x300
    local = ProtoSpan(trace_id=b"\x01" * 16, span_id=b"\x04" * 8, parent_span_id=b"\x03" * 8)
    local.flags = 0x100

    assert span_view_from_otlp(remote).parent_is_remote
    assert not span_view_from_otlp(local).parent_is_remote


def test_error_names_its_type_once_when_the_message_already_starts_with_it() -> None:
    view = SpanView(
        trace_id=TRACE,
        span_id="1" * 16,
        parent_id=None,
        name="tool",
        status_code="error",
        status_message="TimeoutError: upstream slow",
        attributes={"openinference.span.kind": "TOOL", "tool.name": "t"},
        events=(
            SpanEvent(
                name="exception",
                time_unix_nano=1,
                attributes={"exception.type": "asyncio.exceptions.TimeoutError"},
            ),
        ),
    )
    assert normalize_trace([view]).steps[0].error == "TimeoutError: upstream slow"


_NOT_JSON = object()
_JSONISH = st.one_of(
    st.text(max_size=40),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=8,
    ).map(json.dumps),
).flatmap(lambda text: st.sampled_from([text, f"  {text}", f"\n\t{text}", f"x{text}"]))


@given(_JSONISH)
@settings(max_examples=400, deadline=None)
def test_parse_json_answers_what_json_loads_answers(text: str) -> None:
    # parse_json turns prose away before parsing; it must never turn away what json.loads reads.
    try:
        expected = json.loads(text)
    except (ValueError, RecursionError):
        expected = _NOT_JSON
    parsed = parse_json(text, _NOT_JSON)
    assert repr(parsed) == repr(expected)  # repr: a NaN inside equals itself
