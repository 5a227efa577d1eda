"""A call's JSON schema and its validation with ``jsonschema``.

The schema is the TOOL step's ``tool.schema`` (OpenInference ``tool.parameters``), else the
``parameters`` of the same-named tool offered to the requesting LLM, else that of the tool the user
declared (a tools file: instrumentors such as openai-v2 do not record the tools offered). The validator class follows the
schema's ``$schema`` and defaults to Draft 2020-12. An invalid schema raises :class:`BrokenSchema`,
which callers report as unscored rather than crash.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.protocols import Validator

from otel_flywheel.model import ToolDefinition

from ._calls import CallSite

__all__ = ["BrokenSchema", "schema_errors", "schema_for"]


class BrokenSchema(Exception):
    """The tool's own JSON schema is invalid, so its arguments cannot be judged."""


def schema_for(
    site: CallSite, declared: Mapping[str, ToolDefinition] | None = None
) -> Mapping[str, Any] | None:
    """The call's schema from the trace, else from the tools the user declared (``--tools``)."""
    if site.executed is not None and site.executed.schema:
        return site.executed.schema
    if site.requested is not None and site.requested.schema:
        return site.requested.schema
    for tool in site.offered:
        if tool.name == site.name and tool.parameters:
            return tool.parameters
    definition = (declared or {}).get(site.name)
    return definition.parameters if definition is not None else None


def schema_errors(schema: Mapping[str, Any], instance: Any) -> list[ValidationError]:
    """Every way ``instance`` breaks ``schema``, in a stable order (by path, then message)."""
    validator = _validator(json.dumps(schema, sort_keys=True, default=str))
    if isinstance(validator, str):
        raise BrokenSchema(validator)
    return sorted(
        validator.iter_errors(instance), key=lambda e: ([str(part) for part in e.path], e.message)
    )


# Checking a schema against its metaschema costs ~2 ms, far more than validating a call with it,
# and every trace of an agent offers the same few tools: validators are kept per schema text.
@functools.lru_cache(maxsize=1024)
def _validator(text: str) -> Validator | str:
    """The validator, or why the schema is broken."""
    document = json.loads(text)
    try:
        cls = jsonschema.validators.validator_for(document, default=jsonschema.Draft202012Validator)
        cls.check_schema(document)
        return cls(document)
    except SchemaError as exc:
        return str(exc.message)
    except Exception as exc:  # a schema that is not even an object, an unusable $schema ...
        return f"{type(exc).__name__}: {exc}"
