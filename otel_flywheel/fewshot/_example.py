"""What a few-shot library holds and hands out: examples as chat messages, and a selection of them.

An example is a run a person approved (a golden dataset example), rebuilt from its source trace:
the user's request, the assistant's tool calls with their arguments, the tools' results, and the
answer, in OpenAI's chat format (tool-call ``arguments`` as JSON text), ready to put between the
system prompt and the request. Each keeps the ids that say where it came from: the dataset
example's id (what spans record), the source trace, and the (pseudonymized) user and session, so
that a request is never shown its own user's or session's examples.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

__all__ = ["FewShotExample", "FewShotSelection", "ScoredExample"]

# Stands before every tool-call id in an example's JSON template; each selection replaces it with
# the example's position, so ids never collide. Invisible separators: never in an id or a text.
_ID_PREFIX: Final = "\u2063fewshot\u2063"
_ID_PREFIX_JSON: Final = json.dumps(_ID_PREFIX)[1:-1]


@dataclass(frozen=True, kw_only=True)
class FewShotExample:
    """One demonstration. ``messages`` start with the user's request and end with the answer;
    ``text`` is what similarity is computed on (by default the request and the answer)."""

    example_id: str
    messages: tuple[Mapping[str, Any], ...]
    text: str
    dataset: str | None = None
    source_trace_id: str | None = None
    user_id: str | None = None
    session_id: str | None = None

    @staticmethod
    def from_messages(
        example_id: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        dataset: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        source_trace_id: str | None = None,
    ) -> FewShotExample:
        """An example from chat messages (OpenAI's format; arguments as objects or JSON text).
        Its ``text`` is its user messages and its answer."""
        shaped = tuple(_openai_message(m) for m in messages)
        users = [m.get("content") or "" for m in shaped if m.get("role") == "user"]
        answer = next(
            (
                m.get("content") or ""
                for m in reversed(shaped)
                if m.get("role") == "assistant" and not m.get("tool_calls")
            ),
            "",
        )
        return FewShotExample(
            example_id=example_id,
            messages=shaped,
            text=" ".join([*users, answer]).strip(),
            dataset=dataset,
            source_trace_id=source_trace_id,
            user_id=user_id,
            session_id=session_id,
        )

    @cached_property
    def _template(self) -> str:
        """The messages as JSON text with a placeholder before each tool-call id: a selection
        parses fresh dicts from it (much cheaper than deep copies on the agent's thread)."""
        marked = []
        for message in self.messages:
            copied = dict(message)
            if copied.get("tool_calls"):
                copied["tool_calls"] = [
                    {**call, "id": _ID_PREFIX + call["id"]} for call in copied["tool_calls"]
                ]
            if "tool_call_id" in copied:
                copied["tool_call_id"] = _ID_PREFIX + copied["tool_call_id"]
            marked.append(copied)
        return json.dumps(marked)

    def messages_with_ids(self, prefix: str) -> list[dict[str, Any]]:
        """Fresh copies of the messages, every tool-call id prefixed with ``prefix``."""
        parsed: list[dict[str, Any]] = json.loads(self._template.replace(_ID_PREFIX_JSON, prefix))
        return parsed


@dataclass(frozen=True)
class ScoredExample:
    example: FewShotExample
    score: float


@dataclass(frozen=True, kw_only=True)
class FewShotSelection:
    """The examples chosen for one request, most similar first.

    ``skipped`` says why the selection is empty when it is for a reason other than "nothing
    similar enough": ``"not_ready"`` (no library loaded yet), ``"stale"`` (the library is older
    than its staleness bound: examples erased since may still be in it, so none is served).
    """

    examples: tuple[ScoredExample, ...] = ()
    skipped: str | None = None

    @property
    def example_ids(self) -> tuple[str, ...]:
        return tuple(scored.example.example_id for scored in self.examples)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every chosen example's messages, in order, as fresh dicts to put in a request: tool-call
        ids are prefixed per example (``fewshot1_...``) so they never collide with the live
        conversation's or with each other."""
        messages: list[dict[str, Any]] = []
        for position, scored in enumerate(self.examples, start=1):
            messages += scored.example.messages_with_ids(f"fewshot{position}_")
        return messages

    def __len__(self) -> int:
        return len(self.examples)


def _openai_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A message in OpenAI's request shape: arguments as JSON text, only the keys it needs."""
    out: dict[str, Any] = {"role": message["role"]}
    calls = message.get("tool_calls") or []
    content = message.get("content")
    if content is not None or not calls:
        out["content"] = content if content is not None else ""
    if calls:
        out["tool_calls"] = [
            {
                "id": str(call.get("id") or f"call_{index}"),
                "type": "function",
                "function": {
                    "name": call["function"]["name"],
                    "arguments": _arguments_text(call["function"].get("arguments")),
                },
            }
            for index, call in enumerate(calls, start=1)
        ]
    if message.get("tool_call_id"):
        out["tool_call_id"] = str(message["tool_call_id"])
    return out


def _arguments_text(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)
