"""One normalizer for OpenInference and OTel GenAI spans, and the assembly of steps into a trace.

A span may carry both conventions (Phoenix-bound agents often do); OpenInference's declared kind wins,
and each typed field falls back to the other convention when the first left it empty. Nothing here
raises on bad input: junk becomes ``other`` steps, flags and trace warnings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from otel_flywheel import semconv as sc
from otel_flywheel.conventions._genai import (
    genai_llm,
    genai_messages,
    genai_retrieval,
    genai_span_kind,
    genai_tool,
)
from otel_flywheel.conventions._messages import messages_from_json
from otel_flywheel.conventions._openinference import oi_llm, oi_retrieval, oi_span_kind, oi_tool
from otel_flywheel.conventions._span_view import SpanEvent, SpanView
from otel_flywheel.conventions._values import (
    as_bool,
    as_dict,
    as_text,
    first_present,
    jsonable,
    parse_json,
)
from otel_flywheel.model import AgentTrace, LLMCall, Message, Step, StepKind

__all__ = ["normalize_span", "normalize_trace"]

SA = sc.SpanAttributes
G = sc.gen_ai

_SESSION_KEYS = (SA.SESSION_ID, G.GEN_AI_CONVERSATION_ID)
_USER_KEYS = (SA.USER_ID,)
# Keys under which agent frameworks put the user's request or the agent's answer in a JSON input/output.
_GOAL_KEYS = ("input", "query", "question", "goal", "task", "prompt", "message", "text")
_ANSWER_KEYS = ("output", "answer", "response", "result", "final_output", "content", "text")


def normalize_span(view: SpanView) -> Step:
    # The one copy a Step keeps, made first: every read below is then a plain dict lookup, not a
    # trip through the SDK's Python-level attribute mapping.
    attributes: dict[str, Any] = jsonable(view.attributes)
    kind = oi_span_kind(attributes) or genai_span_kind(attributes) or StepKind.OTHER
    step = Step(
        trace_id=view.trace_id,
        span_id=view.span_id,
        parent_id=view.parent_id,
        kind=kind,
        name=as_text(view.name) or "",
        status=view.status_code,
        error=_error(view, attributes),
        start_time_unix_nano=view.start_time_unix_nano,
        end_time_unix_nano=view.end_time_unix_nano,
        input=as_text(attributes.get(SA.INPUT_VALUE)),
        output=as_text(attributes.get(SA.OUTPUT_VALUE)),
        attributes=attributes,
    )
    if kind is StepKind.LLM:
        step.llm = llm = _llm(attributes, view.events)
        # An LLM span's input.value/output.value is the raw request/response JSON (OpenInference's
        # OpenAI instrumentor); the conversation is what a reader and a judge want. Raw stays in
        # attributes. A reply of tool calls only has no text output: its calls are in llm.tool_calls.
        step.input = _last_text(llm.messages, role="user") or step.input
        if llm.output_messages:
            step.output = _last_text(llm.output_messages, role="assistant")
    elif kind is StepKind.TOOL:
        tool = oi_tool(attributes, span_name=step.name)
        if not tool.arguments and not tool.raw_arguments and _has_genai(attributes):
            tool = genai_tool(attributes, span_name=step.name)
        tool.error = step.error
        step.tool = tool
    elif kind in (StepKind.RETRIEVER, StepKind.RERANKER):
        retrieval = oi_retrieval(attributes, kind=kind)
        if not retrieval.documents and retrieval.query is None:
            retrieval = genai_retrieval(attributes)
        step.retrieval = retrieval

    # GenAI spans carry no input.value/output.value: derive them so every step reads the same way.
    if step.input is None or step.output is None:
        _fill_io_from_genai(step, attributes, view.events)
    return step


def normalize_trace(
    spans: Iterable[SpanView], *, complete: bool = True, truncated: bool = False
) -> AgentTrace:
    """Assemble one trace's spans into an ``AgentTrace`` (steps in tree order).

    ``complete`` and ``truncated`` come from whoever buffered the spans (the capture assembler or the
    receiver's spool). Missing parents attach to the root; so do cycles and extra parentless spans,
    each noted in ``warnings``.
    """
    by_id: dict[str, SpanView] = {}
    for view in spans:
        by_id[view.span_id] = view  # a re-sent span replaces its earlier copy
    if not by_id:
        raise ValueError("normalize_trace needs at least one span")
    views = list(by_id.values())
    trace_id = views[0].trace_id
    warnings: list[str] = []
    if any(v.trace_id != trace_id for v in views):
        warnings.append("spans from other traces were mixed in; they were kept under this trace")

    steps = {view.span_id: normalize_span(view) for view in views}
    remote_children = {v.span_id for v in views if v.parent_is_remote and v.parent_id not in by_id}
    root = _choose_root(steps, remote_children, warnings)
    ordered = _tree_order(steps, root, warnings)
    root_view = by_id[root.span_id]

    trace = AgentTrace(
        trace_id=trace_id,
        steps=ordered,
        session_id=_first_text(ordered, _SESSION_KEYS),
        user_id=_first_text(ordered, _USER_KEYS),
        consent=_consent(ordered),
        project=as_text(
            first_present(root_view.resource, (sc.ResourceAttributes.PROJECT_NAME, sc.SERVICE_NAME))
        ),
        resource=jsonable(root_view.resource),
        metadata=as_dict(root.attributes.get(SA.METADATA)) or {},
        complete=complete,
        truncated=truncated,
        warnings=warnings,
    )
    trace.goal = _goal(trace)
    trace.final_output = _final_output(trace)
    _warn_if_content_missing(trace)
    return trace


def _has_genai(attributes: Mapping[str, Any]) -> bool:
    return any(key.startswith("gen_ai.") for key in attributes)


def _llm(attributes: Mapping[str, Any], events: Sequence[SpanEvent]) -> LLMCall:
    call = oi_llm(attributes)
    if call.messages or call.output_messages:
        return call
    genai = genai_llm(attributes, events)
    # Keep whatever OpenInference did provide (model, usage) when GenAI supplies the messages.
    genai.model = call.model or genai.model
    genai.provider = call.provider or genai.provider
    genai.tools = call.tools or genai.tools
    if call.usage.input_tokens is not None or call.usage.output_tokens is not None:
        genai.usage = call.usage
    return genai


def _fill_io_from_genai(
    step: Step, attributes: Mapping[str, Any], events: Sequence[SpanEvent]
) -> None:
    if step.tool is not None:
        step.input = step.input or as_text(attributes.get(G.GEN_AI_TOOL_CALL_ARGUMENTS))
        step.output = step.output or step.tool.result
        return
    if step.retrieval is not None:
        step.input = step.input or step.retrieval.query
        return
    if step.llm is not None:
        inputs, outputs = step.llm.messages, step.llm.output_messages
    elif step.kind in (StepKind.AGENT, StepKind.CHAIN, StepKind.OTHER):
        inputs, outputs = genai_messages(attributes, events)
    else:
        return
    step.input = step.input or _last_text(inputs, role="user")
    step.output = step.output or _last_text(outputs, role="assistant")


def _error(view: SpanView, attributes: Mapping[str, Any]) -> str | None:
    """``"<type>: <message>"`` from the status, the last exception event and ``error.type``."""
    exception = next((e for e in reversed(view.events) if e.name == sc.EXCEPTION_EVENT), None)
    if view.status_code != "error" and exception is None:
        return None
    exception_attributes = exception.attributes if exception is not None else {}
    error_type = as_text(
        exception_attributes.get(sc.EXCEPTION_TYPE) or attributes.get(sc.ERROR_TYPE)
    )
    message = as_text(view.status_message) or as_text(
        exception_attributes.get(sc.EXCEPTION_MESSAGE)
    )
    # The SDK records the qualified type (json.decoder.JSONDecodeError); status messages often
    # already start with the short one. Say the type once.
    if error_type and message and not message.startswith(error_type.rsplit(".", 1)[-1]):
        return f"{error_type}: {message}"
    return message or error_type or "error"


def _choose_root(steps: Mapping[str, Step], remote_children: set[str], warnings: list[str]) -> Step:
    by_start = sorted(steps.values(), key=lambda s: (s.start_time_unix_nano, s.span_id))
    parentless = [s for s in by_start if s.parent_id is None]
    if parentless:
        return parentless[0]
    # A service handling a traced request: its entry span's parent is the caller's, elsewhere.
    continued = [s for s in by_start if s.span_id in remote_children]
    if continued:
        return continued[0]
    orphans = [s for s in by_start if s.parent_id not in steps]
    root = orphans[0] if orphans else by_start[0]
    warnings.append(f"root span missing; using span {root.span_id} ({root.name!r}) as the root")
    return root


def _tree_order(steps: Mapping[str, Step], root: Step, warnings: list[str]) -> list[Step]:
    children: dict[str, list[Step]] = {}
    for step in steps.values():
        if step is root:
            continue
        parent = step.parent_id
        if parent is None or parent not in steps:
            what = "has no parent" if parent is None else f"has missing parent {parent}"
            warnings.append(f"span {step.span_id} ({step.name!r}) {what}; attached to the root")
            step.parent_id = root.span_id
            parent = root.span_id
        children.setdefault(parent, []).append(step)
    for siblings in children.values():
        siblings.sort(key=lambda s: (s.start_time_unix_nano, s.span_id))

    ordered: list[Step] = []
    visited: set[str] = set()
    stack = [root]
    while stack:  # iterative: deep agent loops must not hit the recursion limit
        step = stack.pop()
        if step.span_id in visited:
            continue
        visited.add(step.span_id)
        ordered.append(step)
        stack.extend(reversed(children.get(step.span_id, [])))
    # A parent cycle leaves spans unreachable from the root: keep them, under the root.
    for step in sorted(steps.values(), key=lambda s: (s.start_time_unix_nano, s.span_id)):
        if step.span_id not in visited:
            warnings.append(f"span {step.span_id} ({step.name!r}) is in a parent cycle; attached")
            step.parent_id = root.span_id
            ordered.append(step)
            visited.add(step.span_id)
    return ordered


def _first_text(steps: Sequence[Step], keys: Sequence[str]) -> str | None:
    for step in steps:
        value = as_text(first_present(step.attributes, keys))
        if value:
            return value
    return None


def _consent(steps: Sequence[Step]) -> bool | None:
    """Consent is withheld if any span says so: one ``false`` anywhere keeps the trace out."""
    values = [as_bool(s.attributes.get(sc.FLYWHEEL_CONSENT)) for s in steps]
    stated = [v for v in values if v is not None]
    if not stated:
        return None
    return all(stated)


def _goal(trace: AgentTrace) -> str | None:
    root = trace.root
    if root is None:
        return None
    if root.llm is not None:
        return _last_text(root.llm.messages, role="user") or root.input
    goal = _text_from_payload(root.input, _GOAL_KEYS, role="user")
    if goal:
        return goal
    first_llm = next((s.llm for s in trace.steps if s.llm is not None), None)
    return _last_text(first_llm.messages, role="user") if first_llm else None


def _final_output(trace: AgentTrace) -> str | None:
    root = trace.root
    if root is None:
        return None
    if root.llm is not None:
        return _last_text(root.llm.output_messages, role="assistant") or root.output
    answer = _text_from_payload(root.output, _ANSWER_KEYS, role="assistant")
    if answer:
        return answer
    llm_steps = sorted(
        (s for s in trace.steps if s.llm is not None), key=lambda s: s.end_time_unix_nano
    )
    for step in reversed(llm_steps):
        assert step.llm is not None
        text = _last_text(step.llm.output_messages, role="assistant")
        if text:
            return text
    return None


def _text_from_payload(payload: str | None, keys: Sequence[str], *, role: str) -> str | None:
    """The text in an input/output value: plain text, a JSON object with a known key, or messages."""
    if payload is None:
        return None
    parsed = parse_json(payload)
    if isinstance(parsed, Mapping):
        messages = parsed.get("messages")
        if isinstance(messages, list):
            text = _last_text(messages_from_json(messages), role=role)
            if text:
                return text
        value = first_present(parsed, keys)
        if isinstance(value, str):
            return value
    return payload


def _last_text(messages: Sequence[Message], *, role: str) -> str | None:
    for message in reversed(messages):
        if message.role == role and message.content:
            return message.content
    return None


def _warn_if_content_missing(trace: AgentTrace) -> None:
    """GenAI instrumentors record no message content by default; say how to turn it on."""
    for step in trace.steps:
        if (
            step.llm is not None
            and not step.llm.messages
            and not step.llm.output_messages
            and G.GEN_AI_OPERATION_NAME in step.attributes
        ):
            trace.warnings.append(
                f"LLM span {step.span_id} has no message content: set "
                "OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental and "
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=span_only"
            )
            return
