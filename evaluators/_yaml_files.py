"""Reading rubric and taxonomy files: strict YAML, and validation errors that name field and fix."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from otel_flywheel.errors import ConfigError

if TYPE_CHECKING:
    from typing import TypeAlias

    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

    Source: TypeAlias = str | os.PathLike[str] | Traversable

__all__ = ["read_yaml", "validation_message"]


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that rejects duplicate keys (PyYAML keeps the last one silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(source: Source, what: str) -> tuple[str, Any]:
    """``(name, mapping)`` of a YAML file; `ConfigError` naming the file and the fix otherwise."""
    name = str(source)
    try:
        text = (
            Path(source).read_text(encoding="utf-8")
            if isinstance(source, (str, os.PathLike))
            else source.read_text(encoding="utf-8")
        )
    except OSError as exc:
        raise ConfigError(
            f"{name}: cannot read the {what} file ({exc.strerror or exc}). Fix: check the path"
        ) from exc
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{name}: not valid YAML: {exc}. Fix: correct the YAML at the position shown"
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"{name}: a {what} file must be a YAML mapping, got {type(data).__name__}. "
            "Fix: write `key: value` fields at the top level"
        )
    return name, data


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[key]":
            text += " (key)"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


def _fix(error: ErrorDetails) -> str:
    kind = error["type"]
    field = error["loc"][-1] if error["loc"] else ""
    hints = {
        "missing": f"add `{field}`",
        "extra_forbidden": "remove it or correct its spelling",
        "literal_error": "use one of the values listed",
        "string_pattern_mismatch": (
            "use snake_case: lowercase letters, digits and underscores, starting with a letter"
        ),
        "greater_than_equal": "use a value in the allowed range",
        "less_than_equal": "use a value in the allowed range",
        "greater_than": "use a value in the allowed range",
        "too_short": "add entries",
        "string_too_short": "write some text",
    }
    return hints.get(kind, "see rubric.schema.json for the expected format")


def validation_message(name: str, what: str, exc: ValidationError) -> str:
    """One line per problem: the field's location, what is wrong, and the fix."""
    lines = [f"{name}: invalid {what} file:"]
    for error in exc.errors(include_url=False):
        message = error["msg"]
        if error["type"] == "value_error":
            # Our own validators already say what to change.
            message = message.removeprefix("Value error, ")
            lines.append(f"  - {message}")
            continue
        got = "" if error["type"] == "missing" else f" (got {error['input']!r})"
        lines.append(f"  - `{_location(error['loc'])}`: {message}{got}. Fix: {_fix(error)}"[:600])
    return "\n".join(lines)
