"""Golden dataset examples as few-shot examples: what is kept, and why the rest is not.

Each example is rebuilt from its source trace (the conversation exports train on: the request,
tool calls, results, answer; the system prompt left out, since the agent has its own). Kept only
when it may be shown to other users:

- its route is one of ``routes`` (``golden`` by default: runs a person approved);
- consent was not withheld, on the example or its trace (``require_consent``: stated true);
- it was redacted: every text in it passes the privacy detectors' scan (the export's second PII
  scan), so a value that escaped redaction is never put in front of another user's model;
- it shows something: a trace with a final answer, or, without a trace, an example whose output
  is the answer and that made no tool call (a tool call without its result cannot be shown);
- it is no near-duplicate of one kept before it (Jaccard of word 3-shingles >= 0.85).

Why the others were left out is counted by reason in `LoadReport`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from otel_flywheel.fewshot._example import FewShotExample
from otel_flywheel.minhash import NearDuplicateIndex, shingles
from otel_flywheel.model import AgentTrace

if TYPE_CHECKING:
    from otel_flywheel.datasets import DatasetExample
    from otel_flywheel.privacy import Redactor

__all__ = ["DEFAULT_ROUTES", "LoadReport", "build_examples"]

DEFAULT_ROUTES: Final = ("golden",)
NEAR_DUPLICATE_JACCARD: Final = 0.85


@dataclass(frozen=True, kw_only=True)
class LoadReport:
    """What one load kept, and how many it left out for each reason."""

    kept: int
    left_out: Mapping[str, int] = field(default_factory=dict)
    sources: tuple[str, ...] = ()


def build_examples(
    loaded: Iterable[tuple[DatasetExample, AgentTrace | None]],
    *,
    routes: Sequence[str] = DEFAULT_ROUTES,
    require_consent: bool = False,
    scanner: Redactor | None = None,
) -> tuple[list[FewShotExample], Counter[str]]:
    """The examples that may be shown, in source order, and the count of the others by reason."""
    kept: list[FewShotExample] = []
    left_out: Counter[str] = Counter()
    duplicates = NearDuplicateIndex(threshold=NEAR_DUPLICATE_JACCARD)
    for example, trace in loaded:
        built = _build(example, trace, routes=routes, require_consent=require_consent)
        if isinstance(built, str):
            left_out[built] += 1
            continue
        if scanner is not None and _finds_pii(built, scanner):
            left_out["pii_found"] += 1
            continue
        if duplicates.find_or_add(built.example_id, shingles(built.text)) is not None:
            left_out["near_duplicate"] += 1
            continue
        kept.append(built)
    return kept, left_out


def _build(
    example: DatasetExample,
    trace: AgentTrace | None,
    *,
    routes: Sequence[str],
    require_consent: bool,
) -> FewShotExample | str:
    if example.route not in routes:
        return f"route_{example.route or 'unknown'}"
    consent = example.metadata.get("consent")
    if trace is not None and trace.consent is False:
        consent = False
    if consent is False:
        return "consent_withheld"
    if require_consent and consent is not True and (trace is None or trace.consent is not True):
        return "no_consent_statement"
    user = _text(example.metadata.get("user_id")) or (trace.user_id if trace else None)
    session = _text(example.metadata.get("session_id")) or _text(example.input.get("session_id"))
    if session is None and trace is not None:
        session = trace.session_id
    messages = _messages(example, trace)
    if isinstance(messages, str):
        return messages
    return FewShotExample.from_messages(
        example.example_id,
        messages,
        dataset=example.dataset,
        user_id=user,
        session_id=session,
        source_trace_id=_text(example.metadata.get("source_trace_id")),
    )


def _messages(example: DatasetExample, trace: AgentTrace | None) -> list[dict[str, Any]] | str:
    from otel_flywheel.export import conversation_from_trace

    if trace is None:
        calls = example.output.get("expected_tool_calls")
        answer = example.output.get("output")
        question = example.input.get("input")
        if calls:
            return "source_trace_not_found"  # calls without their results cannot be shown
        if not isinstance(question, str) or not isinstance(answer, str) or not answer:
            return "nothing_to_show"
        return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    conversation = conversation_from_trace(trace)
    if conversation.problem is not None:
        return conversation.problem
    if conversation.final_answer_index is None:
        return "no_final_answer"
    messages = [m for m in conversation.messages if m["role"] != "system"]
    first_user = next((i for i, m in enumerate(messages) if m["role"] == "user"), None)
    if first_user is None:
        return "no_user_turn"
    return messages[first_user:]


def _finds_pii(example: FewShotExample, scanner: Redactor) -> bool:
    from otel_flywheel.privacy import RedactionAudit

    audit = RedactionAudit()
    for message in example.messages:
        scanner.redact_value(message.get("content") or "", audit)
        for call in message.get("tool_calls") or ():
            scanner.redact_value(call["function"]["arguments"], audit)
        if audit.total:
            return True
    return False


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
