"""What the user declares about their tools, read from a tools file (``evaluate --tools``).

The file is JSON: a saved MCP ``tools/list`` result (``{"tools": [...]}``) or a list of tool
definitions (MCP ``{"name", "inputSchema", "annotations"}`` or OpenAI's ``{"type": "function",
"function": {...}}``), plus optional ``read_only`` and ``retrieval`` lists of tool-name patterns
(globs, or ``{"$regex": ...}``). A tool whose ``annotations.readOnlyHint`` is true only reads;
the definitions also stand in for the tools and schemas a trace did not record. See
``checks._tools`` for how a ``ToolCatalog`` is applied.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from otel_flywheel.errors import ConfigError
from otel_flywheel.model import ToolDefinition

from ._reference_format import ToolsFile, format_error, pattern_value
from .checks import ToolCatalog

__all__ = ["ToolCatalog", "load_tool_catalog"]


def load_tool_catalog(
    path: str | os.PathLike[str] | None = None,
    *,
    read_only: Iterable[Any] = (),
    retrieval: Iterable[Any] = (),
) -> ToolCatalog:
    """What a tools file (and extra patterns) declare; ``ConfigError`` names what is wrong.

    The file is JSON: an MCP ``tools/list`` result (``{"tools": [...]}``) or a list of tool
    definitions, whose ``annotations.readOnlyHint`` marks read-only tools, plus optional
    ``read_only`` and ``retrieval`` lists of tool-name patterns.
    """
    try:
        catalog = ToolCatalog.of(read_only=read_only, retrieval=retrieval)
    except ConfigError as exc:
        raise ConfigError(f"tool-name pattern: {exc}") from None
    if path is None:
        return catalog
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read tools file {source}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"tools file {source}: not JSON ({exc})") from None
    if isinstance(data, list):
        data = {"tools": data}
    try:
        file = ToolsFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(format_error(e) for e in exc.errors())
        raise ConfigError(f"tools file {source}: {problems}") from None
    definitions: list[ToolDefinition] = []
    for index, entry in enumerate(file.tools):
        function = entry.function or {}
        name = entry.name or function.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"tools file {source}: tools[{index}] has no name")
        extra = entry.model_extra or {}
        annotations = entry.annotations or function.get("annotations")
        parameters = function.get("parameters", extra.get("inputSchema", extra.get("parameters")))
        definitions.append(
            ToolDefinition(
                name=name,
                description=function.get("description", extra.get("description")),
                parameters=dict(parameters) if isinstance(parameters, Mapping) else None,
                annotations=dict(annotations) if isinstance(annotations, Mapping) else None,
            )
        )
    try:
        declared = ToolCatalog.of(
            read_only=[pattern_value(p) for p in file.read_only],
            retrieval=[pattern_value(p) for p in file.retrieval],
            tools=definitions,
        )
    except ConfigError as exc:
        raise ConfigError(f"tools file {source}: {exc}") from None
    return declared.merged(catalog)
