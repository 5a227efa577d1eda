"""What is known about the tools: which only read, which retrieve knowledge.

A check needs two facts about a tool that a trace rarely states:

- **Does a call change state?** A read-only call (get the user, search flights) changes nothing,
  so references may let it happen freely and a finding about it matters less than one about a
  write (book, cancel, refund). A tool is ``read_only`` when its definition carries MCP's
  ``annotations.readOnlyHint: true`` (offered to the model in the trace, or in a tools file) or
  when its name matches a pattern the user declares read-only. It is ``state_changing`` when its
  annotations are known and do not say so (MCP's default for ``readOnlyHint`` is false), and,
  once anything is declared read-only, whenever it is not among them. When nothing at all is
  known, the effect is ``None``: the checks do not guess.
- **Is it a retrieval?** Only tools the user declares (``retrieval``) and RETRIEVER spans are:
  a flight search that correctly finds nothing is not an empty retrieval.

Name patterns are globs (``get_*``, matched case-sensitively with ``fnmatchcase``) or
``{"$regex": "..."}`` (``re.fullmatch``), the matcher syntax of expected arguments.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_flywheel.errors import ConfigError
from otel_flywheel.model import AgentTrace, CallEffect, ToolDefinition

__all__ = ["NamePattern", "ToolCatalog", "ToolEffects"]


@dataclass(frozen=True)
class NamePattern:
    """A tool-name pattern: a glob, or a regular expression matched in full."""

    text: str
    regex: bool = False

    def __post_init__(self) -> None:
        source = self.text if self.regex else fnmatch.translate(self.text)
        try:
            object.__setattr__(self, "_compiled", re.compile(source))
        except re.error as exc:
            raise ConfigError(f"not a valid regular expression ({exc})") from None

    @classmethod
    def parse(cls, value: Any) -> NamePattern:
        """``"get_*"`` or ``{"$regex": "^(get|list)_"}``; ``ConfigError`` says what else is meant."""
        if isinstance(value, NamePattern):
            return value
        if isinstance(value, str) and value:
            return cls(value)
        if (
            isinstance(value, Mapping)
            and set(value) == {"$regex"}
            and isinstance(value["$regex"], str)
        ):
            return cls(value["$regex"], regex=True)
        raise ConfigError(
            'a tool-name pattern is a glob string ("get_*") or {"$regex": "^(get|list)_"}'
        )

    def matches(self, name: str) -> bool:
        compiled: re.Pattern[str] = self.__dict__["_compiled"]
        return compiled.fullmatch(name) is not None

    def __str__(self) -> str:
        return f"/{self.text}/" if self.regex else self.text


def _patterns(values: Iterable[Any]) -> tuple[NamePattern, ...]:
    return tuple(NamePattern.parse(value) for value in values)


@dataclass(frozen=True)
class ToolCatalog:
    """What the user declares about their tools, for every trace: read-only and retrieval name
    patterns, and the tool definitions themselves (an MCP ``tools/list`` result, say), whose
    schemas and annotations stand in where a trace did not record the tools offered."""

    read_only: tuple[NamePattern, ...] = ()
    retrieval: tuple[NamePattern, ...] = ()
    tools: Mapping[str, ToolDefinition] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        *,
        read_only: Iterable[Any] = (),
        retrieval: Iterable[Any] = (),
        tools: Iterable[ToolDefinition] = (),
    ) -> ToolCatalog:
        """A catalog from plain values: patterns as strings or ``{"$regex": ...}``."""
        return cls(_patterns(read_only), _patterns(retrieval), {tool.name: tool for tool in tools})

    def merged(self, other: ToolCatalog) -> ToolCatalog:
        return ToolCatalog(
            self.read_only + other.read_only,
            self.retrieval + other.retrieval,
            {**self.tools, **other.tools},
        )

    def effects(self, trace: AgentTrace) -> ToolEffects:
        return ToolEffects(self, trace)


EMPTY_CATALOG = ToolCatalog()


class ToolEffects:
    """The catalog applied to one trace, whose tool definitions may carry annotations too."""

    def __init__(self, catalog: ToolCatalog, trace: AgentTrace) -> None:
        self.catalog = catalog
        found: dict[str, Mapping[str, Any]] = {}
        for step in trace.steps:
            if step.llm is not None:
                for tool in step.llm.tools:
                    if tool.annotations:
                        found.setdefault(tool.name, tool.annotations)
            if step.tool is not None and step.tool.annotations:
                found.setdefault(step.tool.name, step.tool.annotations)
        # The user's own declarations (a tools file) win over what the trace recorded.
        declared = {
            name: tool.annotations for name, tool in catalog.tools.items() if tool.annotations
        }
        self._annotations = {**found, **declared}
        self.known = bool(catalog.read_only or self._annotations)
        self._cache: dict[str, CallEffect | None] = {}

    def effect(self, name: str) -> CallEffect | None:
        """``read_only``, ``state_changing``, or ``None`` when nothing is known about tools."""
        if name not in self._cache:
            self._cache[name] = self._effect(name)
        return self._cache[name]

    def is_read_only(self, name: str) -> bool:
        return self.effect(name) == "read_only"

    def is_retrieval(self, name: str) -> bool:
        return any(pattern.matches(name) for pattern in self.catalog.retrieval)

    def _effect(self, name: str) -> CallEffect | None:
        if any(pattern.matches(name) for pattern in self.catalog.read_only):
            return "read_only"
        annotations = self._annotations.get(name)
        if annotations is not None and annotations.get("readOnlyHint") is True:
            return "read_only"
        return "state_changing" if self.known else None
