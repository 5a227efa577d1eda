"""The references fence: what the rubric judges the trace against, as items the budget can cut.

Trace references (tool schemas, the conversation; for a rubric shown no steps, the tool results and
documents) come from the trace itself; external ones (a reference answer, expected tool calls, a
policy document) from the caller. External references weigh more than any step text: they are the
ground truth the rubric names, and a policy cut in the middle could hide the rule that was broken.
"""

from __future__ import annotations

import json

from otel_flywheel.model import AgentTrace, ToolDefinition

from ..checks import ExpectedCall, NamePattern  # noqa: TID252 (decisions.md: relative inside evaluators/)
from ..references import References  # noqa: TID252
from ..rubric import Rubric  # noqa: TID252
from ._blocks import Block, Item

__all__ = ["reference_blocks"]

_EXTERNAL_WEIGHT = 3.0
_EXTERNAL_FLOOR = 4000


def reference_blocks(
    trace: AgentTrace, rubric: Rubric, references: References | None
) -> list[Block]:
    """One block per reference section the rubric lists and the trace or caller supplies."""
    wanted = set(rubric.references)
    blocks: list[Block] = []

    def section(name: str, title: str, lines: list[str | Item]) -> None:
        if name in wanted and lines:
            for line in lines:
                if isinstance(line, Item):
                    line.reference = name
            blocks.append(Block(number=0, lines=[f"## {title}", *lines], protected=True))

    if not rubric.shows_steps:
        section("retrieved_documents", "retrieved_documents", _documents(trace))
        section("tool_results", "tool_results", _tool_results(trace))
    section("tool_schemas", "tool_schemas", _tool_schemas(trace))
    section("conversation", "conversation", _conversation(trace))
    if references is not None:
        if references.expected_output is not None:
            section("reference_answer", "reference_answer", [_external(references.expected_output)])
        if references.expected_tool_calls is not None:
            calls: list[str | Item] = [
                Item(
                    label="",
                    text=json.dumps(dict(call.arguments), ensure_ascii=False),
                    part="reference",
                    quoted=False,
                    before=f"- {call.name}(",
                    after=")" + _times(call),
                    floor=_EXTERNAL_FLOOR,
                    weight=_EXTERNAL_WEIGHT,
                )
                for call in references.expected_tool_calls
            ] or ["- (no tool calls expected)"]
            calls += _matching_rules(references)
            section(
                "expected_tool_calls",
                "expected_tool_calls (argument values may be matchers: $any_of, $optional, "
                "$regex, $any)",
                calls,
            )
        if references.policy is not None:
            section("policy_document", "policy_document", [_external(references.policy)])
    return blocks


def _times(call: ExpectedCall) -> str:
    """How often the call may occur, when it is not "exactly once"."""
    low, high = call.min, call.max
    if (low, high) == (1, 1):
        return ""
    if high == 0:
        return " (must not be called)"
    if high is None:
        return f" (at least {low} times)" if low > 1 else " (any number of times)"
    if low == 0:
        return " (optional)" if high == 1 else f" (optional, at most {high} times)"
    return f" (exactly {low} times)" if low == high else f" ({low} to {high} times)"


def _matching_rules(references: References) -> list[str | Item]:
    """What else the run may do, as the deterministic check reads the references: without it
    the judge would fail a run for the lookups the references allow."""
    matching = references.call_matching
    lines: list[str | Item] = [
        "order: as listed" if matching.ordered else "order: any",
        {
            "forbidden": "other calls: none (a call not listed above is a mistake)",
            "allowed": "other calls: allowed",
            "read_only": "other calls: read-only tools (lookups) only",
        }[matching.others],
    ]
    allowed = [_pattern(p) for p in matching.allow]
    if allowed:
        lines.append("always allowed: " + ", ".join(allowed))
    read_only = [_pattern(p) for p in references.read_only]
    if read_only and matching.others == "read_only":
        lines.append("read-only tools here: " + ", ".join(read_only))
    return lines


def _pattern(pattern: NamePattern) -> str:
    return f"/{pattern.text}/" if pattern.regex else pattern.text


def _external(text: str) -> Item:
    # Rendered bare under its heading (no label), as a document is read.
    return Item(
        label="",
        text=text,
        part="reference",
        quoted=False,
        floor=_EXTERNAL_FLOOR,
        weight=_EXTERNAL_WEIGHT,
    )


def _tool_schemas(trace: AgentTrace) -> list[str | Item]:
    offered: dict[str, ToolDefinition] = {}
    for step in trace.steps:
        if step.llm is not None:
            for tool in step.llm.tools:
                offered.setdefault(tool.name, tool)
    for _, call in trace.tool_calls():
        if call.name not in offered and (call.schema is not None or call.description):
            offered[call.name] = ToolDefinition(
                name=call.name, description=call.description, parameters=call.schema
            )
    lines: list[str | Item] = []
    for tool in offered.values():
        if tool.description:
            lines.append(
                Item(
                    label=f"- {tool.name}",
                    text=tool.description,
                    part="tools_offered",
                    quoted=False,
                    floor=200,
                )
            )
        else:
            lines.append(f"- {tool.name}")
        if tool.parameters is not None:
            schema = json.dumps(tool.parameters, ensure_ascii=False, sort_keys=True)
            lines.append(
                Item(
                    label="  parameters", text=schema, part="tool_schemas", quoted=False, floor=400
                )
            )
    return lines


def _conversation(trace: AgentTrace) -> list[str | Item]:
    llm_steps = [s for s in trace.steps if s.llm is not None]
    turns: list[tuple[str, str]] = []
    if llm_steps:
        last = llm_steps[-1].llm
        assert last is not None
        for message in [*last.messages, *last.output_messages]:
            if message.role in ("user", "assistant") and message.content:
                turns.append((message.role, message.content))
    elif trace.goal:
        turns.append(("user", trace.goal))
    final = trace.final_output
    if final and (not turns or turns[-1] != ("assistant", final)):
        turns.append(("assistant", final))
    return [Item(label=role, text=text, part="model_input", dedupe=True) for role, text in turns]


def _tool_results(trace: AgentTrace) -> list[str | Item]:
    lines: list[str | Item] = []
    for number, step in enumerate(trace.steps, start=1):
        call = step.tool
        if call is None:
            continue
        result = call.result if call.result is not None else step.output
        if result is None and call.error is None:
            continue
        arguments = (
            call.raw_arguments or ""
            if call.arguments_malformed
            else json.dumps(call.arguments, ensure_ascii=False)
        )
        label = f"- step {number} {call.name}({arguments[:400]})"
        if call.error:
            lines.append(Item(label=label, text=call.error, part="tool_results", before="error "))
        else:
            lines.append(Item(label=label, text=result or "", part="tool_results"))
    return lines


def _documents(trace: AgentTrace) -> list[str | Item]:
    lines: list[str | Item] = []
    for number, step in enumerate(trace.steps, start=1):
        if step.retrieval is None:
            continue
        for document in step.retrieval.documents:
            if document.content is not None:
                lines.append(
                    Item(
                        label=f"- step {number} document id={document.id or '?'}",
                        text=document.content,
                        part="retrieved_documents",
                    )
                )
    return lines
