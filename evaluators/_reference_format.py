"""The references file format, as validated data with a JSON Schema users can read.

One JSON object per line, keyed by ``trace_id``. ``version`` says which format a line is in:

- **1** (the default, what a line without ``version`` is): ``expected_output``, ``policy`` and
  ``expected_tool_calls``, a list of ``{name, arguments}`` with exact-set semantics: each expected
  call once, in any order, and no other call.
- **2**: everything in 1, plus ``tool_calls``: which calls must happen (with ``min``/``max``
  counts), which others are free (``others``, ``allow``, ``read_only``), and whether order matters
  (``ordered``).

``rubrics/references.schema.json`` is exported from these models (:func:`references_json_schema`).
The models check shapes; matcher syntax inside ``arguments`` is checked by ``checks``' matchers.
Error messages name the field, never its value: references may hold personal data.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, model_validator
from pydantic_core import ErrorDetails

__all__ = [
    "JSON_SCHEMA_DIALECT",
    "REFERENCES_VERSIONS",
    "ExpectedCallV1",
    "ExpectedCallV2",
    "PolicyFile",
    "ReferencesV1",
    "ReferencesV2",
    "ToolCallsV2",
    "ToolsFile",
    "dump_references_json_schema",
    "format_error",
    "pattern_value",
    "references_json_schema",
]

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
REFERENCES_VERSIONS: Final = (1, 2)

TraceId = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-fA-F]{32}$"),
    Field(description="The trace these references are for: 32 hex digits, as OTel spells it."),
]
ToolName = Annotated[str, StringConstraints(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegexPattern(_Strict):
    """A tool-name pattern as a regular expression, matched against the whole name."""

    regex: str = Field(alias="$regex", description="Python regular expression (re.fullmatch).")


def pattern_value(pattern: str | RegexPattern) -> str | dict[str, str]:
    """A validated tool-name pattern back as plain JSON, for ``NamePattern.parse``."""
    return pattern if isinstance(pattern, str) else {"$regex": pattern.regex}


NamePatternJSON = Annotated[
    str | RegexPattern,
    Field(description='A tool-name glob ("get_*", "search_*") or {"$regex": "^(get|list)_"}.'),
]


class PolicyFile(_Strict):
    """A policy document read from a file, relative to the references file."""

    path: str = Field(min_length=1)


_ARGUMENTS_DESCRIPTION: Final = (
    "Expected argument values. A value may be a matcher: "
    '{"$any_of": [v1, v2]}, {"$optional": v}, {"$regex": "..."} (full match), {"$any": true}, '
    '{"$literal": v} (plain data that itself holds "$" keys). An argument the call has and this '
    "object does not name is unexpected."
)


class ExpectedCallV1(BaseModel):
    """A call the agent must make (version 1: name and arguments only)."""

    # Unknown keys were silently ignored before version 2; they are now reported as warnings.
    model_config = ConfigDict(extra="allow", frozen=True)

    name: ToolName = Field(description="The tool's name.")
    arguments: dict[str, Any] = Field(default_factory=dict, description=_ARGUMENTS_DESCRIPTION)


class ExpectedCallV2(_Strict):
    """A call the agent must (or may, or must not) make, and how many times."""

    name: ToolName = Field(description="The tool's name.")
    arguments: dict[str, Any] = Field(default_factory=dict, description=_ARGUMENTS_DESCRIPTION)
    min: int = Field(1, ge=0, description="At least this many matching calls (0: optional).")
    max: int | None = Field(
        1,
        ge=0,
        description="At most this many matching calls; null for no upper bound, 0 for a call "
        "that must not happen.",
    )

    @model_validator(mode="after")
    def _range(self) -> ExpectedCallV2:
        if self.max is not None and self.max < self.min:
            raise ValueError("max must not be below min (null: no upper bound)")
        return self


class ToolCallsV2(_Strict):
    """Which tool calls the run must make, which it may make freely, and in what order."""

    expected: list[ExpectedCallV2] = Field(
        default_factory=list,
        description="The calls that must happen (usually the state-changing ones), with argument "
        "matchers and counts. Empty: no call is required.",
    )
    others: Literal["forbidden", "read_only", "allowed"] = Field(
        "read_only",
        description="Calls no expected call accounts for: 'forbidden' (each is a finding: the "
        "exact-set semantics of single-turn function calling), 'read_only' (tools known to be "
        "read-only, by MCP's readOnlyHint annotation or a declaration, may be called freely; any "
        "other call is a finding), 'allowed' (only the expected calls matter).",
    )
    allow: list[NamePatternJSON] = Field(
        default_factory=list,
        description="Tools that may always be called freely, whatever they do (e.g. 'think', "
        "'transfer_to_human_agents').",
    )
    read_only: list[NamePatternJSON] = Field(
        default_factory=list,
        description="Tools to treat as read-only in this trace, beside those the tool "
        "annotations or the tools file declare. Read-only calls are free under others="
        "'read_only', and findings about them rank below findings about state-changing calls.",
    )
    ordered: bool = Field(
        False,
        description="Whether the expected calls must first happen in the listed order. Calls "
        "requested together (parallel calls of one model turn) count as simultaneous.",
    )


class _ReferencesBase(_Strict):
    trace_id: TraceId
    expected_output: str | None = Field(
        None, description="The answer the agent should give (a golden answer, a correction)."
    )
    policy: str | PolicyFile | None = Field(
        None, description="A policy document the business-rules rubric judges against."
    )
    expected_tool_calls: list[ExpectedCallV1] | None = Field(
        None,
        description="Exact-set semantics: each call once, in any order, and no other call. An "
        "empty list: no tool call at all.",
    )


class ReferencesV1(_ReferencesBase):
    """References for one trace, version 1 (what a line without "version" is)."""

    model_config = ConfigDict(title="References, version 1")

    version: Literal[1] = 1


class ReferencesV2(_ReferencesBase):
    """References for one trace, version 2: adds ``tool_calls``."""

    model_config = ConfigDict(title="References, version 2")

    version: Literal[2]
    tool_calls: ToolCallsV2 | None = None

    @model_validator(mode="after")
    def _one_form(self) -> ReferencesV2:
        if self.tool_calls is not None and self.expected_tool_calls is not None:
            raise ValueError(
                "give expected_tool_calls (exact set) or tool_calls, not both: "
                "tool_calls with others='forbidden' is the exact set"
            )
        return self


class _ToolEntry(BaseModel):
    """A tool definition: MCP ``{"name", "inputSchema", "annotations"}`` or OpenAI's
    ``{"type": "function", "function": {...}}``; other keys are kept and ignored."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str | None = None
    annotations: dict[str, Any] | None = None
    function: dict[str, Any] | None = None


class ToolsFile(_Strict):
    """What ``evaluate --tools FILE`` reads: tool definitions (an MCP ``tools/list`` result) and
    declarations of read-only and retrieval tools."""

    tools: list[_ToolEntry] = Field(default_factory=list)
    nextCursor: str | None = None  # MCP's own spelling, kept so a saved tools/list result loads
    read_only: list[NamePatternJSON] = Field(default_factory=list)
    retrieval: list[NamePatternJSON] = Field(default_factory=list)


def references_json_schema() -> dict[str, Any]:
    """The JSON Schema of one references line, as shipped in ``rubrics/references.schema.json``."""
    adapter: TypeAdapter[ReferencesV1 | ReferencesV2] = TypeAdapter(ReferencesV1 | ReferencesV2)
    schema = adapter.json_schema(mode="validation")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": "otel-flywheel references (one JSON object per line)",
        "description": "References for one trace. A line without 'version' is version 1.",
        **schema,
    }


def dump_references_json_schema() -> str:
    """:func:`references_json_schema` as the text of ``references.schema.json``."""
    return json.dumps(references_json_schema(), indent=2, sort_keys=True) + "\n"


_MODELS_BY_KEY: Final[dict[str, type[BaseModel]]] = {
    "tool_calls": ToolCallsV2,
    "expected": ExpectedCallV2,
    "policy": PolicyFile,
}


def format_error(error: ErrorDetails) -> str:
    """One pydantic error as ``where: what`` without the offending value."""
    loc = error["loc"]
    where = _path(loc)
    if not where:  # a check of the whole line
        return str(error["msg"]).removeprefix("Value error, ")
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = next((p for p in reversed(loc[:-1]) if isinstance(p, str)), "")
        model = _MODELS_BY_KEY.get(parent)
        known = f"; the keys are {', '.join(model.model_fields)}" if model else ""
        return f"{where}: unknown key{known}"
    if kind == "missing":
        if loc == ("trace_id",):
            return 'trace_id: required: each line is an object with a "trace_id" string'
        return f"{where}: required"
    if kind == "string_pattern_mismatch" and loc and loc[-1] == "trace_id":
        return f"{where}: must be 32 hex digits, as OTel spells a trace id"
    if kind in _TYPE_ERRORS:
        return f"{where}: {_TYPE_ERRORS[kind]}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}"


_TYPE_ERRORS: Final = {
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "bool_type": "must be true or false",
}
# Labels pydantic adds to locations for the branches of a union (``str | RegexPattern``).
_BRANCH_LABELS: Final = frozenset({"str", "int", "none", "RegexPattern", "PolicyFile"})


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in _BRANCH_LABELS or "[" in part:
            continue
        else:
            text += f".{part}" if text else str(part)
    return text
