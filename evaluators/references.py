"""What a trace is judged against, beyond the trace itself.

The trace carries some references of its own (retrieved documents, tool schemas and results). The
rest come from outside: a reference answer (a golden example, a user's correction), the tool calls
a replay example expects, a policy document. ``load_references`` reads them from JSON lines keyed
by ``trace_id``, the format ``otel-flywheel evaluate --references`` takes::

    {"trace_id": "0af7...", "expected_output": "...", "policy": "Refunds over $500 need approval.",
     "expected_tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "A-1001"}}]}

``policy`` may also be ``{"path": "policies/refunds.md"}``, read relative to the references file.
Argument values in ``expected_tool_calls`` use the matcher syntax of
``otel_flywheel.evaluators.checks`` (``$any_of``, ``$optional``, ``$regex``, ``$any``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from otel_flywheel.errors import ConfigError

from .checks import ExpectedCall

__all__ = ["NO_REFERENCES", "References", "load_references"]


@dataclass(frozen=True, kw_only=True)
class References:
    """External references for one trace; every field is optional."""

    expected_output: str | None = None
    expected_tool_calls: tuple[ExpectedCall, ...] | None = None
    policy: str | None = None

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


NO_REFERENCES = References()


def load_references(path: str | os.PathLike[str]) -> dict[str, References]:
    """``trace_id -> References`` from a JSON-lines file; errors name the line and the fix."""
    source = Path(path)
    result: dict[str, References] = {}
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read references file {source}: {exc}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}, line {number}"
        try:
            entry = json.loads(line)
        except ValueError as exc:
            raise ConfigError(f"{where}: not JSON ({exc})") from None
        if not isinstance(entry, dict) or not isinstance(entry.get("trace_id"), str):
            raise ConfigError(f'{where}: each line must be an object with a "trace_id" string')
        result[entry["trace_id"].lower()] = _references(entry, where, source.parent)
    return result


def _references(entry: Mapping[str, Any], where: str, base: Path) -> References:
    unknown = set(entry) - {"trace_id", "expected_output", "expected_tool_calls", "policy"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown keys {sorted(unknown)}; use expected_output, "
            "expected_tool_calls, policy"
        )
    expected_output = entry.get("expected_output")
    if expected_output is not None and not isinstance(expected_output, str):
        raise ConfigError(f"{where}: expected_output must be a string")
    calls = entry.get("expected_tool_calls")
    expected_calls: tuple[ExpectedCall, ...] | None = None
    if calls is not None:
        if not isinstance(calls, list):
            raise ConfigError(f"{where}: expected_tool_calls must be a list of {{name, arguments}}")
        expected_calls = tuple(_expected_call(call, where) for call in calls)
    return References(
        expected_output=expected_output,
        expected_tool_calls=expected_calls,
        policy=_policy(entry.get("policy"), where, base),
    )


def _expected_call(call: Any, where: str) -> ExpectedCall:
    if not isinstance(call, dict):
        raise ConfigError(f"{where}: each expected tool call must be an object {{name, arguments}}")
    try:
        return ExpectedCall.from_dict(call)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _policy(value: Any, where: str, base: Path) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("path"), str):
        path = base / str(value["path"])
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read policy file {path}: {exc}") from None
    raise ConfigError(f'{where}: policy must be text or {{"path": "file"}}')
