"""What a trace is judged against, beyond the trace itself.

The trace carries some references of its own (retrieved documents, tool schemas and results). The
rest come from outside: a reference answer (a golden example, a user's correction), the tool calls
the run should make, a policy document. ``read_references`` reads them from JSON lines keyed by
``trace_id``, the format ``otel-flywheel evaluate --references`` takes (``_reference_format``
validates it; ``rubrics/references.schema.json`` is its JSON Schema)::

    {"trace_id": "0af7...", "expected_output": "...", "policy": "Refunds over $500 need approval.",
     "expected_tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "A-1001"}}]}

    {"version": 2, "trace_id": "4bf9...",
     "tool_calls": {"expected": [{"name": "cancel_reservation",
                                  "arguments": {"reservation_id": "ZFA04Y"}}],
                    "others": "read_only", "allow": ["think"], "ordered": false}}

**Redaction.** Traces are redacted at capture; references are redacted with the same redactor
(and key) when they are read, so an expected ``{"email": "ada@example.com"}`` becomes the
``<EMAIL:1a2b3c4d>`` the trace holds, and no raw reference value reaches the judge, a verdict or a
dataset. Every leaf value and key of the expected arguments is redacted as the trace's JSON
arguments were; a ``$regex`` pattern is redacted as text, so it can only match what the trace
holds after redaction.

**Bad files.** Every problem is reported with its line: errors (invalid JSON, an unknown matcher,
a wrong type, a trace id given twice) stop the run and are all listed at once; warnings (a trace id
not in the traces, an expected tool no trace offers, a pattern that matches no tool) come from
:meth:`ReferencesFile.check_against` for the caller to show.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from otel_flywheel.errors import ConfigError
from otel_flywheel.model import AgentTrace
from otel_flywheel.privacy import RedactionAudit, Redactor, build_redactor

from ._reference_format import (
    REFERENCES_VERSIONS,
    PolicyFile,
    ReferencesV1,
    ReferencesV2,
    format_error,
    pattern_value,
)
from .checks import (
    EXACT_SET,
    CallMatching,
    ExpectedCall,
    NamePattern,
    ToolCatalog,
    map_matcher_values,
    validate_matcher,
)

__all__ = [
    "NO_REFERENCES",
    "ReferenceWarning",
    "References",
    "ReferencesFile",
    "load_references",
    "read_references",
    "references_from_entry",
]

logger = logging.getLogger(__name__)

_MAX_ERRORS_SHOWN: Final = 20
_KEYS_V1: Final = ("trace_id", "expected_output", "expected_tool_calls", "policy")
_KEYS_V2: Final = ("version", *_KEYS_V1, "tool_calls")
_REDACTED: Final = "<REDACTED>"
_ANY_TRACE_ID: Final = "0" * 32  # an entry without a trace id is validated as a line of one


@dataclass(frozen=True, kw_only=True)
class References:
    """External references for one trace; every field is optional.

    ``expected_tool_calls`` with ``call_matching`` say which calls the run must make and what
    else it may do (``EXACT_SET`` by default: the expected calls and nothing else);
    ``read_only`` adds read-only tools for this trace. ``redacted`` is set once the values went
    through the redactor (see :meth:`redact`); ``line`` is where they came from, for warnings.
    """

    expected_output: str | None = None
    expected_tool_calls: tuple[ExpectedCall, ...] | None = None
    policy: str | None = None
    call_matching: CallMatching = EXACT_SET
    read_only: tuple[NamePattern, ...] = ()
    redacted: bool = False
    line: int | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The reference names (rubric vocabulary) this object can supply."""
        present = []
        if self.expected_output is not None:
            present.append("reference_answer")
        if self.expected_tool_calls is not None:
            present.append("expected_tool_calls")
        if self.policy is not None:
            present.append("policy_document")
        return tuple(present)

    def redact(self, redactor: Redactor | None) -> References:
        """A copy with every value redacted as the trace's were (``None``: redaction is off)."""
        if self.redacted:
            return self
        if redactor is None:
            return replace(self, redacted=True)
        calls = self.expected_tool_calls
        return replace(
            self,
            expected_output=_redact_text(redactor, self.expected_output),
            policy=_redact_text(redactor, self.policy),
            expected_tool_calls=(
                tuple(_redact_call(redactor, call) for call in calls) if calls is not None else None
            ),
            redacted=True,
        )


NO_REFERENCES = References()


@dataclass(frozen=True)
class ReferenceWarning:
    """Something in a references file that will not be used as written."""

    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}, line {self.line}" if self.line is not None else self.source
        return f"{where}: {self.message}"


@dataclass
class ReferencesFile:
    """A references file as read: ``trace_id -> References``, and what will not be used."""

    source: str
    references: dict[str, References] = field(default_factory=dict)
    warnings: list[ReferenceWarning] = field(default_factory=list)

    def check_against(
        self, traces: Sequence[AgentTrace], *, tools: ToolCatalog | None = None
    ) -> list[ReferenceWarning]:
        """Warnings for references that cannot apply to ``traces`` as written.

        A trace id no trace has; an expected tool that no trace offers or calls (a typo, or the
        wrong references file); a tool-name pattern that matches no tool; ``others: read_only``
        where nothing says which tools are read-only (every other call is then a finding).
        """
        catalog = tools or ToolCatalog()
        by_id = {trace.trace_id: trace for trace in traces}
        known = {name for trace in traces for name in _tool_names(trace)} | set(catalog.tools)
        found: list[ReferenceWarning] = []

        def warn(refs: References, message: str) -> None:
            found.append(ReferenceWarning(self.source, refs.line, message))

        for trace_id, refs in self.references.items():
            trace = by_id.get(trace_id)
            if trace is None:
                warn(refs, f"trace {trace_id} is not among the traces evaluated; unused")
                continue
            for call in refs.expected_tool_calls or ():
                if known and call.name not in known:
                    warn(refs, f"expected tool {call.name!r} is offered and called in no trace")
            matching = refs.call_matching
            for pattern in (*matching.allow, *refs.read_only):
                if known and not any(pattern.matches(name) for name in known):
                    warn(refs, f"tool-name pattern {str(pattern)!r} matches no tool in any trace")
            if matching.others == "read_only" and refs.expected_tool_calls is not None:
                effects = catalog.merged(ToolCatalog(read_only=refs.read_only)).effects(trace)
                if not effects.known:
                    warn(
                        refs,
                        "others is 'read_only' but nothing says which tools of trace "
                        f"{trace_id} are read-only (no readOnlyHint annotation, no tools file, no "
                        "read_only patterns), so every call beyond the expected ones is a "
                        "finding; declare them or list them in allow",
                    )
        return found


def read_references(
    path: str | os.PathLike[str], *, redactor: Redactor | bool | None = True
) -> ReferencesFile:
    """Read and validate a references file; raise ``ConfigError`` listing every bad line.

    ``redactor``:

    - ``True`` (the default): redact with ``build_redactor()``, the redactor capture uses;
    - a ``Redactor``: redact with that one (``evaluate`` passes the one it reads traces with);
    - ``None``: redaction is off, as for the traces: values stay raw, marked as handled;
    - ``False``: values stay raw and unmarked; ``EvaluatorSuite`` redacts them before use.
    """
    source = Path(path)
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read references file {source}: {exc}") from None
    active = build_redactor() if redactor is True else (redactor or None)
    result = ReferencesFile(str(source))
    errors: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            trace_id, refs, notes = _parse_line(line, source.parent)
        except ConfigError as exc:
            errors.append(f"{where}: {exc}")
            continue
        if trace_id in first_line:
            errors.append(
                f"{where}: trace {trace_id} already has references on line {first_line[trace_id]}; "
                "merge them into one line"
            )
            continue
        first_line[trace_id] = number
        refs = replace(refs, line=number)
        result.references[trace_id] = refs.redact(active) if redactor is not False else refs
        result.warnings += [ReferenceWarning(str(source), number, note) for note in notes]
    if errors:
        shown = "\n  ".join(errors[:_MAX_ERRORS_SHOWN])
        more = len(errors) - _MAX_ERRORS_SHOWN
        tail = f"\n  ... and {more} more" if more > 0 else ""
        raise ConfigError(
            f"references file {source}: {len(errors)} problem(s):\n  {shown}{tail}\n"
            "The format: otel-flywheel evaluate --help, or rubrics/references.schema.json"
        )
    return result


def load_references(
    path: str | os.PathLike[str], *, redactor: Redactor | bool | None = True
) -> dict[str, References]:
    """``trace_id -> References`` from a JSON-lines file; warnings are logged.

    See :func:`read_references`, which also returns the warnings.
    """
    file = read_references(path, redactor=redactor)
    for warning in file.warnings:
        logger.warning("%s", warning)
    return file.references


def references_from_entry(entry: Mapping[str, Any], *, base: Path | None = None) -> References:
    """One line of the format as an object, without its ``trace_id`` (a training row's
    references); validated as :func:`read_references` validates a line, values left as they are
    (a training export holds them redacted already). ``ConfigError`` names what is wrong."""
    line = json.dumps({**entry, "trace_id": _ANY_TRACE_ID}, ensure_ascii=False)
    _trace_id, references, _notes = _parse_line(line, base or Path.cwd())
    return replace(references, redacted=True)


# --- parsing one line -------------------------------------------------------------------------


def _parse_line(line: str, base: Path) -> tuple[str, References, list[str]]:
    """The line's trace id, its references, and notes on what it ignores."""
    try:
        entry = json.loads(line, object_pairs_hook=_no_duplicate_keys)
    except ConfigError:
        raise
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    except ValueError as exc:
        raise ConfigError(f"not JSON ({exc})") from None
    if not isinstance(entry, dict):
        raise ConfigError('each line must be an object with a "trace_id" string')
    version = entry.get("version", 1)
    if version not in REFERENCES_VERSIONS:
        raise ConfigError(
            f"version must be one of {list(REFERENCES_VERSIONS)}; a newer otel-flywheel may read "
            "this file"
        )
    allowed = _KEYS_V1 if version == 1 else _KEYS_V2
    unknown = sorted(set(entry) - set(allowed) - {"version"})
    if unknown:
        hint = ' (tool_calls needs "version": 2)' if "tool_calls" in unknown else ""
        raise ConfigError(f"unknown keys {unknown}{hint}; use {', '.join(allowed)}")
    model: type[BaseModel] = ReferencesV1 if version == 1 else ReferencesV2
    try:
        parsed = model.model_validate(entry)
    except ValidationError as exc:
        raise ConfigError("; ".join(format_error(e) for e in exc.errors())) from None
    return _references(parsed, base)


def _references(parsed: BaseModel, base: Path) -> tuple[str, References, list[str]]:
    assert isinstance(parsed, ReferencesV1 | ReferencesV2)
    notes: list[str] = []
    calls: tuple[ExpectedCall, ...] | None = None
    matching = EXACT_SET
    read_only: tuple[NamePattern, ...] = ()
    if parsed.expected_tool_calls is not None:
        calls = tuple(
            _expected(f"expected_tool_calls[{i}]", c.name, c.arguments)
            for i, c in enumerate(parsed.expected_tool_calls)
        )
        for i, call in enumerate(parsed.expected_tool_calls):
            for key in sorted(call.model_extra or {}):
                hint = (
                    ' (counts are tool_calls.expected[].min/max, with "version": 2)'
                    if key in ("min", "max")
                    else ""
                )
                notes.append(f"expected_tool_calls[{i}]: key {key!r} is ignored{hint}")
    if isinstance(parsed, ReferencesV2) and parsed.tool_calls is not None:
        spec = parsed.tool_calls
        calls = tuple(
            _expected(f"tool_calls.expected[{i}]", c.name, c.arguments, c.min, c.max)
            for i, c in enumerate(spec.expected)
        )
        matching = CallMatching(
            ordered=spec.ordered,
            others=spec.others,
            allow=_patterns("tool_calls.allow", spec.allow),
        )
        read_only = _patterns("tool_calls.read_only", spec.read_only)
    references = References(
        expected_output=parsed.expected_output,
        expected_tool_calls=calls,
        policy=_policy(parsed.policy, base),
        call_matching=matching,
        read_only=read_only,
    )
    return parsed.trace_id.lower(), references, notes


def _expected(
    where: str,
    name: str,
    arguments: Mapping[str, Any],
    low: int = 1,
    high: int | None = 1,
) -> ExpectedCall:
    validate_matcher(dict(arguments), f"{where}.arguments")
    return ExpectedCall(name=name, arguments=dict(arguments), min=low, max=high)


def _policy(value: str | PolicyFile | None, base: Path) -> str | None:
    if value is None or isinstance(value, str):
        return value
    path = base / value.path
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"policy: cannot read policy file {path}: {exc}") from None


def _patterns(where: str, values: Sequence[Any]) -> tuple[NamePattern, ...]:
    patterns = []
    for index, value in enumerate(values):
        try:
            patterns.append(NamePattern.parse(pattern_value(value)))
        except ConfigError as exc:
            raise ConfigError(f"{where}[{index}]: {exc}") from None
    return tuple(patterns)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ConfigError(f"key {key!r} appears twice in one object")
        result[key] = value
    return result


def _tool_names(trace: AgentTrace) -> set[str]:
    names = {tool.name for step in trace.steps if step.llm for tool in step.llm.tools}
    names |= {call.name for step in trace.steps if step.llm for call in step.llm.tool_calls}
    names |= {call.name for _, call in trace.tool_calls()}
    return names


# --- redaction ------------------------------------------------------------------------------


def _redact_text(redactor: Redactor, text: str | None) -> str | None:
    return None if text is None else redactor.redact_message(text, RedactionAudit())


def _redact_call(redactor: Redactor, call: ExpectedCall) -> ExpectedCall:
    def transform(value: Any, is_regex: bool) -> Any:
        if is_regex:
            return redactor.redact_message(value, RedactionAudit())
        return _redact_json_value(redactor, value)

    return replace(call, arguments=map_matcher_values(dict(call.arguments), transform))


def _redact_json_value(redactor: Redactor, value: Any) -> Any:
    """``value`` redacted exactly as the same value inside a trace's JSON arguments is.

    The trace's arguments are JSON text that the redactor parses, redacting each string leaf,
    each key and each card-shaped integer; wrapping the value in a JSON array and letting the
    redactor do the same keeps the two paths one.
    """
    text = json.dumps([value], ensure_ascii=False)
    redacted = redactor.redact_message(text, RedactionAudit())
    if redacted == text:
        return value
    try:
        return json.loads(redacted)[0]
    except (ValueError, IndexError):
        return _REDACTED  # the redactor dropped it: it can match nothing the trace kept
