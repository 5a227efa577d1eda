"""``--format hf``: rows as Hugging Face chat templates and TRL's trainers read them.

``tokenizer.apply_chat_template(row["messages"], tools=row["tools"])`` renders a row as the model
saw it, for every template family we test (Qwen2.5, Llama 3.1, Mistral):

- tool-call ``arguments`` are JSON *objects*, which templates serialize with ``tojson``; a string
  there would be written double-encoded, and the model trained on text it never emits;
- ``tools`` is a list of ``{"type": "function", "function": {...}}`` (``None`` when the model was
  offered none: Llama 3.1's template writes its tool preamble even for an empty list);
- a message holds only the keys it needs, never a ``None`` or an empty ``tool_calls``: templates
  test ``'tool_calls' in message`` (Llama 3.1) or ``is defined`` (Mistral), not the value;
- tool-call ids are 9 letters and digits, the shape Mistral's templates require (they raise on any
  other), derived from the original id by hash so a call and its result still pair up; other
  templates do not print ids; an id that already has that shape is kept;
- tool messages also carry the tool's ``name``, which some templates print instead of an id.

SFT rows are ``{"messages", "tools"}``; DPO rows ``{"prompt", "chosen", "rejected", "tools"}``, TRL's
conversational preference format (the trainers pass ``tools`` to the template). GRPO rows are
prompt-only, ``{"prompt", "tools", "expected_tool_calls", "expected_output"}``: TRL's GRPOTrainer
hands every column but ``prompt`` to the reward functions (``otel_flywheel.rewards``).

Parquet stores every message and every tool definition as its own JSON value (``list<json>``,
Arrow's canonical JSON type, the Parquet JSON logical type), so tools with different parameter
schemas and calls with different arguments keep exactly their own keys; an Arrow struct would
give each the union of all of them, filled with nulls a template would print. ``datasets`` >= 4.7
loads these columns as ``List(Json())`` and returns the rows exactly as the JSON lines file holds
them.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final

import pyarrow as pa

from otel_flywheel.errors import ConfigError
from otel_flywheel.evaluation import load_call_scorer
from otel_flywheel.export._format_base import (
    FormatProblem,
    PreferenceRecord,
    PromptRecord,
    RowFormat,
    SFTRecord,
    TrainingKind,
    json_list_column,
)
from otel_flywheel.export._write import FileFormat

__all__ = ["HF_DPO_SCHEMA", "HF_GRPO_SCHEMA", "HF_SFT_SCHEMA", "HFFormat", "short_call_id"]

_JSON_LIST: Final = pa.list_(pa.json_())
HF_SFT_SCHEMA: Final = pa.schema(
    [pa.field("messages", _JSON_LIST, nullable=False), pa.field("tools", _JSON_LIST)],
    metadata={"otel_flywheel.kind": "sft", "otel_flywheel.row_format": "hf"},
)
HF_DPO_SCHEMA: Final = pa.schema(
    [
        pa.field("prompt", _JSON_LIST, nullable=False),
        pa.field("chosen", _JSON_LIST, nullable=False),
        pa.field("rejected", _JSON_LIST, nullable=False),
        pa.field("tools", _JSON_LIST),
    ],
    metadata={"otel_flywheel.kind": "dpo", "otel_flywheel.row_format": "hf"},
)
HF_GRPO_SCHEMA: Final = pa.schema(
    [
        pa.field("prompt", _JSON_LIST, nullable=False),
        pa.field("tools", _JSON_LIST),
        # The references format's object: its shape differs per row (version 1 or 2, matchers).
        pa.field("expected_tool_calls", pa.json_(), nullable=False),
        pa.field("expected_output", pa.string()),
    ],
    metadata={"otel_flywheel.kind": "grpo", "otel_flywheel.row_format": "hf"},
)
_SCHEMAS: Final = {"sft": HF_SFT_SCHEMA, "dpo": HF_DPO_SCHEMA, "grpo": HF_GRPO_SCHEMA}
_MESSAGE_COLUMNS: Final = {
    "sft": ("messages",),
    "dpo": ("prompt", "chosen", "rejected"),
    "grpo": ("prompt",),
}
_ID_LENGTH: Final = 9
_ID_ALPHABET: Final = string.digits + string.ascii_letters
_ID_SHAPE: Final = re.compile(rf"^[A-Za-z0-9]{{{_ID_LENGTH}}}$")
_ROLES: Final = frozenset({"system", "user", "assistant", "tool"})


class HFFormat(RowFormat):
    name: ClassVar[str] = "hf"
    reader: ClassVar[str] = "Hugging Face chat templates and TRL"
    file_formats: ClassVar[frozenset[FileFormat]] = frozenset({"jsonl", "parquet"})

    def sft_row(self, record: SFTRecord) -> dict[str, Any]:
        ids = _CallIds()
        return {
            "messages": [_message(m, ids) for m in record.messages],
            "tools": list(record.tools) or None,
        }

    def dpo_row(self, record: PreferenceRecord) -> dict[str, Any]:
        ids = _CallIds()  # one map for the row: chosen and rejected continue the prompt
        return {
            "prompt": [_message(m, ids) for m in record.prompt],
            "chosen": [_message(m, ids) for m in record.chosen],
            "rejected": [_message(m, ids) for m in record.rejected],
            "tools": list(record.tools) or None,
        }

    def grpo_row(self, record: PromptRecord) -> dict[str, Any]:
        ids = _CallIds()
        return {
            # TRL's GRPOTrainer reads every prompt message's "content" (1.16 indexes it): an
            # assistant turn that only called tools gets "", which every template we test skips.
            "prompt": [{"content": "", **_message(m, ids)} for m in record.prompt],
            "tools": list(record.tools) or None,
            "expected_tool_calls": record.expected_tool_calls,
            "expected_output": record.expected_output,
        }

    def parquet_schema(self, kind: TrainingKind) -> pa.Schema:
        return _SCHEMAS[kind]

    def parquet_table(self, kind: TrainingKind, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
        schema = self.parquet_schema(kind)
        columns = []
        for name in schema.names:
            column_type = schema.field(name).type
            if column_type == _JSON_LIST:
                columns.append(json_list_column(rows, name))
            elif column_type == pa.json_():
                texts = [json.dumps(row[name], ensure_ascii=False) for row in rows]
                columns.append(pa.array(texts, pa.string()).cast(pa.json_()))
            else:
                columns.append(pa.array([row.get(name) for row in rows], column_type))
        return pa.Table.from_arrays(columns, schema=schema)

    def problems(self, kind: TrainingKind, row: dict[str, Any]) -> list[FormatProblem]:
        found: list[FormatProblem] = []
        calls: set[str] = set()
        for column in _MESSAGE_COLUMNS[kind]:
            messages = row.get(column)
            if not isinstance(messages, list) or not messages:
                found.append(_problem(column, "missing_messages", "a non-empty list"))
                continue
            for index, message in enumerate(messages):
                found += _message_problems(message, f"{column}[{index}]", calls)
            if column in ("chosen", "rejected") and any(
                isinstance(m, dict) and m.get("role") != "assistant" for m in messages
            ):
                found.append(_problem(column, "output_not_assistant", "assistant messages only"))
        found += _tools_problems(row.get("tools"))
        if kind == "grpo":
            found += _prompt_only_problems(row)
        return found


def short_call_id(original: str, attempt: int = 0) -> str:
    """A 9-character alphanumeric id for ``original``: the same input gives the same id."""
    digest = int.from_bytes(hashlib.sha256(f"{original}\x00{attempt}".encode()).digest()[:8], "big")
    characters = []
    for _ in range(_ID_LENGTH):
        digest, index = divmod(digest, len(_ID_ALPHABET))
        characters.append(_ID_ALPHABET[index])
    return "".join(characters)


class _CallIds:
    """Original call id -> its 9-character id, unique within one row."""

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}
        self._taken: set[str] = set()

    def of(self, original: str) -> str:
        known = self._ids.get(original)
        if known is not None:
            return known
        candidate, attempt = original, 0
        if not _ID_SHAPE.match(candidate):
            candidate = short_call_id(original)
        while candidate in self._taken:
            attempt += 1
            candidate = short_call_id(original, attempt)
        self._ids[original] = candidate
        self._taken.add(candidate)
        return candidate


def _message(message: dict[str, Any], ids: _CallIds) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message["role"]}
    calls = message.get("tool_calls")
    content = message.get("content")
    if content is not None and (content or not calls):
        out["content"] = content
    if calls:
        out["tool_calls"] = [
            {
                "id": ids.of(call["id"]),
                "type": "function",
                "function": {
                    "name": call["function"]["name"],
                    "arguments": call["function"]["arguments"],
                },
            }
            for call in calls
        ]
    if "tool_call_id" in message:
        out["tool_call_id"] = ids.of(message["tool_call_id"])
    if message.get("name"):
        out["name"] = message["name"]
    return out


def _message_problems(message: Any, path: str, calls: set[str]) -> list[FormatProblem]:
    if not isinstance(message, dict) or message.get("role") not in _ROLES:
        return [_problem(path, "unknown_role", "a message with role system, user, assistant, tool")]
    found = [
        _problem(f"{path}.{key}", "null_value", "leave the key out instead of writing null")
        for key, value in message.items()
        if value is None
    ]
    role, tool_calls = message["role"], message.get("tool_calls")
    if not isinstance(message.get("content"), str) and not (role == "assistant" and tool_calls):
        found.append(_problem(f"{path}.content", "content_not_text", "templates concatenate it"))
    if "tool_calls" in message:
        if not isinstance(tool_calls, list) or not tool_calls:
            found.append(_problem(f"{path}.tool_calls", "empty_tool_calls", "leave the key out"))
        else:
            for index, call in enumerate(tool_calls):
                found += _call_problems(call, f"{path}.tool_calls[{index}]", calls)
    if role == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str) or call_id not in calls:
            found.append(
                _problem(
                    f"{path}.tool_call_id", "tool_result_unpaired", "answers no call before it"
                )
            )
    return found


def _call_problems(call: Any, path: str, calls: set[str]) -> list[FormatProblem]:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        return [_problem(path, "tool_call_shape", '{"id", "type", "function": {"name", ...}}')]
    found = []
    call_id = call.get("id")
    if not isinstance(call_id, str) or not _ID_SHAPE.match(call_id):
        found.append(_problem(f"{path}.id", "call_id_shape", "9 letters and digits (Mistral)"))
    else:
        calls.add(call_id)
    if not isinstance(function.get("arguments"), dict):
        found.append(
            _problem(f"{path}.function.arguments", "arguments_not_object", "a JSON object")
        )
    return found


def _tools_problems(tools: Any) -> list[FormatProblem]:
    if tools is None:
        return []
    if not isinstance(tools, list) or not tools:
        return [_problem("tools", "tools_shape", "a non-empty list, or null when none")]
    return [
        _problem(f"tools[{index}]", "tools_shape", '{"type": "function", "function": {"name"}}')
        for index, tool in enumerate(tools)
        if not (
            isinstance(tool, dict)
            and tool.get("type") == "function"
            and isinstance(tool.get("function"), dict)
            and isinstance(tool["function"].get("name"), str)
        )
    ]


def _prompt_only_problems(row: dict[str, Any]) -> list[FormatProblem]:
    """A GRPO row: the model continues the prompt, and the reward can read what it expects."""
    found = []
    prompt = row.get("prompt")
    for index, message in enumerate(prompt if isinstance(prompt, list) else ()):
        if isinstance(message, dict) and "content" not in message:
            found.append(
                _problem(
                    f"prompt[{index}].content", "content_missing", "TRL's GRPOTrainer reads it"
                )
            )
    last = prompt[-1] if isinstance(prompt, list) and prompt else None
    if isinstance(last, dict) and last.get("role") == "assistant":
        found.append(
            _problem(
                f"prompt[{len(prompt) - 1}]",  # type: ignore[arg-type]
                "prompt_ends_with_assistant",
                "the model continues after a user or tool message",
            )
        )
    try:
        load_call_scorer().parse_expected(row.get("expected_tool_calls"))
    except ConfigError:
        found.append(
            _problem(
                "expected_tool_calls",
                "references_format",
                "an object in the references format that tool_call_reward reads",
            )
        )
    output = row.get("expected_output")
    if output is not None and not isinstance(output, str):
        found.append(_problem("expected_output", "expected_output_not_text", "text, or null"))
    return found


def _problem(field: str, rule: str, explanation: str) -> FormatProblem:
    return FormatProblem(field=field, rule=rule, explanation=explanation)
