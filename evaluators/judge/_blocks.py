"""A trace as the judge's prompt shows it: blocks of lines, each text an `Item` that can be cut.

The trace fence holds a head block (trace id, goal, final output), a shared block (what every model
turn was given again: the system prompt and the tools offered, shown once), then one block per step
in tree order, numbered ``[1]``, ``[2]``, ... and indented by depth. Each item belongs to one part of
the rubric's view (``tool_results``, ``model_input``, ...), which decides its share of the budget.

Text repeated across steps is shown once: a model turn's input lists only the messages no earlier
shown step holds (its history of earlier turns and tool results is counted, not repeated), and a
tool result, document or answer identical to one shown before points to it (``(same as step 3)``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from otel_flywheel.model import AgentTrace, Message, Step, ToolCall, ToolDefinition, step_ranges

from ..rubric import Rubric  # noqa: TID252 (decisions.md: relative inside evaluators/)
from ._excerpt import Excerpter, cut_middle
from ._fence import neutralize

__all__ = ["Block", "Item", "failed", "step_blocks", "text_key"]

# Texts shorter than this are repeated rather than pointed to: a pointer would be as long.
_DEDUPE_MIN_CHARS = 48


def text_key(text: str) -> str:
    """What identifies a text for de-duplication: a digest of it, whitespace-normalized."""
    return hashlib.sha1(" ".join(text.split()).encode(), usedforsecurity=False).hexdigest()


@dataclass(eq=False)
class Item:
    """One text of a block, rendered ``{label}: {before}{text}{after}`` and cut to its allowance.

    ``quoted`` texts are agent data shown as JSON strings; the others (call arguments, schemas) are
    JSON already. ``floor`` is what the item keeps however tight the budget; ``dedupe`` makes a
    repeat of a text already shown render as a pointer, or (``skip_repeat``) not at all.
    """

    label: str
    text: str
    part: str
    quoted: bool = True
    before: str = ""
    after: str = ""
    floor: int = 80
    weight: float = 1.0
    reference: str | None = None
    dedupe: bool = False
    skip_repeat: bool = False
    excerpter: Excerpter | None = None
    message: bool = False
    """One of a model turn's input messages (counted in its ``input:`` line)."""
    key: str = ""
    _lines: dict[tuple[str, int | None], str] = field(default_factory=dict, repr=False)

    def line(self, prefix: str, allowance: int | None) -> str:
        """``prefix`` and the rendering within ``allowance``, fence look-alikes defused (cached:
        fitting renders the same text at the same allowance many times)."""
        key = (prefix, allowance)
        line = self._lines.get(key)
        if line is None:
            line = self._lines[key] = neutralize(prefix + self.render(allowance))
        return line

    def __post_init__(self) -> None:
        if self.dedupe and (self.skip_repeat or len(self.text) >= _DEDUPE_MIN_CHARS):
            self.key = text_key(self.text)

    def content(self, allowance: int | None) -> str:
        """The item's text within ``allowance`` characters (None: whole)."""
        text = self.text
        if allowance is None or len(text) <= allowance:
            return text
        allowance = max(allowance, 1)
        if self.excerpter is not None:
            return self.excerpter.excerpt(allowance)
        return cut_middle(text, allowance)

    def render(self, allowance: int | None) -> str:
        body = self.content(allowance)
        shown = json.dumps(body, ensure_ascii=False) if self.quoted else body
        label = f"{self.label}: " if self.label else ""
        return f"{label}{self.before}{shown}{self.after}"


@dataclass(eq=False)
class Block:
    """Lines that are shown or omitted together: a step (``number`` >= 1) or a fixed section."""

    number: int
    lines: list[str | Item]
    depth: int = 0
    span_id: str | None = None
    suspicion: float = 0.0
    protected: bool = False
    item_indent: str = ""
    """The indent of a fixed block's lines after its first (steps indent theirs by depth)."""
    fixed: dict[int, str] = field(default_factory=dict, repr=False)
    """Rendered fixed lines by position (they never change)."""

    @property
    def items(self) -> Iterator[Item]:
        return (line for line in self.lines if isinstance(line, Item))


def failed(step: Step) -> bool:
    """Whether the step failed or produced malformed tool arguments."""
    tool = step.tool
    requested = step.llm.tool_calls if step.llm is not None else []
    return (
        step.status == "error"
        or step.error is not None
        or (tool is not None and (tool.error is not None or tool.arguments_malformed))
        or any(call.arguments_malformed for call in requested)
    )


def header(number: int, step: Step) -> str:
    kind = step.kind.value
    model = f" model={step.llm.model}" if step.llm is not None and step.llm.model else ""
    status: str = step.status
    if step.error:
        status = f"error: {cut_middle(step.error, 200)}"
    return f"[{number}] {kind} {step.name}{model} ({status})"


def _call_item(label: str, call: ToolCall, part: str) -> Item:
    if call.arguments_malformed:
        return Item(
            label=label,
            text=call.raw_arguments or "",
            part=part,
            before=f"{call.name}((malformed arguments) ",
            after=")",
            floor=400,
        )
    return Item(
        label=label,
        text=json.dumps(call.arguments, ensure_ascii=False),
        part=part,
        quoted=False,
        before=f"{call.name}(",
        after=")",
        floor=400,
    )


def _tools_line(tools: Sequence[ToolDefinition]) -> str:
    return "; ".join(
        f"{tool.name}: {tool.description}" if tool.description else tool.name for tool in tools
    )


@dataclass
class _Shared:
    """Texts most model turns were given again (system prompts, tool lists) and where."""

    system: dict[str, tuple[str, list[int]]] = field(default_factory=dict)
    tools: dict[str, tuple[list[ToolDefinition], list[int]]] = field(default_factory=dict)

    @classmethod
    def of(cls, trace: AgentTrace) -> _Shared:
        shared = cls()
        for number, step in enumerate(trace.steps, start=1):
            if step.llm is None:
                continue
            for message in step.llm.messages:
                if message.role in ("system", "developer") and message.content:
                    key = text_key(message.content)
                    shared.system.setdefault(key, (message.content, []))[1].append(number)
            if step.llm.tools:
                names = json.dumps([tool.name for tool in step.llm.tools])
                shared.tools.setdefault(names, (list(step.llm.tools), []))[1].append(number)
        # Only what two or more turns repeat is shared; the rest stays on its step.
        shared.system = {k: v for k, v in shared.system.items() if len(v[1]) >= 2}
        shared.tools = {k: v for k, v in shared.tools.items() if len(v[1]) >= 2}
        return shared

    def block(self) -> Block | None:
        lines: list[str | Item] = []
        for text, numbers in self.system.values():
            lines.append(
                Item(
                    label=f"system prompt (model turns {step_ranges(numbers)})",
                    text=text,
                    part="model_input",
                    floor=600,
                    dedupe=True,
                )
            )
        for tools, numbers in self.tools.values():
            lines.append(
                Item(
                    label=f"tools offered (model turns {step_ranges(numbers)})",
                    text=_tools_line(tools),
                    part="tools_offered",
                    quoted=False,
                    floor=400,
                )
            )
        if not lines:
            return None
        return Block(
            number=0, lines=["shared by the model turns:", *lines], protected=True, item_indent="  "
        )


def step_blocks(trace: AgentTrace, rubric: Rubric) -> tuple[Block | None, list[Block]]:
    """The shared block (or None) and one block per step, with every item's view part."""
    wanted: set[str] = set(rubric.references)
    shared = _Shared.of(trace)
    shared_tools = set(shared.tools)
    numbers = {step.span_id: i for i, step in enumerate(trace.steps, start=1)}
    blocks: list[Block] = []
    for number, step in enumerate(trace.steps, start=1):
        depth, parent, seen = 0, step.parent_id, {step.span_id}
        while parent is not None and parent in numbers and parent not in seen:
            seen.add(parent)
            depth += 1
            parent = trace.steps[numbers[parent] - 1].parent_id
        lines: list[str | Item] = [header(number, step)]
        lines += _details(trace, step, wanted, shared_tools)
        blocks.append(Block(number=number, lines=lines, depth=depth, span_id=step.span_id))
    return shared.block(), blocks


def _details(
    trace: AgentTrace, step: Step, wanted: set[str], shared_tools: set[str]
) -> list[str | Item]:
    lines: list[str | Item] = []
    if step.llm is not None:
        llm = step.llm
        messages = [m for m in llm.messages if m.content]
        if messages:
            lines.append(f"input: {len(llm.messages)} messages")
            lines += [_message_item(message) for message in messages]
        for message in llm.output_messages:
            if message.content:
                lines.append(
                    Item(label="assistant", text=message.content, part="model_output", dedupe=True)
                )
        requested = llm.tool_calls or [
            call for message in llm.output_messages for call in message.tool_calls
        ]
        lines += [_call_item("requests", call, "tool_calls") for call in requested]
        if llm.tools and json.dumps([t.name for t in llm.tools]) not in shared_tools:
            lines.append(
                Item(
                    label="tools offered",
                    text=_tools_line(llm.tools),
                    part="tools_offered",
                    quoted=False,
                    floor=400,
                )
            )
        if not messages and not llm.output_messages and not requested and step.output:
            lines.append(Item(label="output", text=step.output, part="model_output", dedupe=True))
    elif step.tool is not None:
        tool = step.tool
        lines.append(_call_item("call", tool, "tool_calls"))
        result = tool.result if tool.result is not None else step.output
        reference = "tool_results" if "tool_results" in wanted else None
        if result is not None:
            lines.append(
                Item(
                    label="result",
                    text=result,
                    part="tool_results",
                    reference=reference,
                    dedupe=True,
                )
            )
        if tool.error and tool.error != step.error:
            lines.append(
                Item(
                    label="tool error",
                    text=tool.error,
                    part="tool_results",
                    reference=reference,
                    floor=600,
                )
            )
    elif step.retrieval is not None:
        retrieval = step.retrieval
        query = retrieval.query if retrieval.query is not None else step.input
        if query is None:
            lines.append("query: (none)")
        else:
            lines.append(Item(label="query", text=query, part="retrieved_documents", floor=200))
        if not retrieval.documents:
            lines.append("documents: none")
        reference = "retrieved_documents" if "retrieved_documents" in wanted else None
        for document in retrieval.documents:
            score = f" score={document.score:.3g}" if document.score is not None else ""
            head = f"document id={document.id or '?'}{score}"
            if document.content is None:
                lines.append(head)
                continue
            lines.append(
                Item(
                    label=head,
                    text=document.content,
                    part="retrieved_documents",
                    reference=reference,
                    dedupe=True,
                )
            )
    else:
        if step.input is not None and step.input != trace.goal:
            lines.append(Item(label="input", text=step.input, part="step_outcomes", dedupe=True))
        if step.output is not None and step.output != trace.final_output:
            lines.append(Item(label="output", text=step.output, part="step_outcomes", dedupe=True))
    return lines


def _message_item(message: Message) -> Item:
    role = message.role
    label = f"{role} ({message.name})" if message.name and role != "tool" else role
    assert message.content is not None
    return Item(
        label=label,
        text=message.content,
        part="model_input",
        dedupe=True,
        skip_repeat=True,
        message=True,
        floor=200 if role in ("system", "developer", "user") else 80,
    )
