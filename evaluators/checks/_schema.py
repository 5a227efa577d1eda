"""A call's JSON schema and its validation with ``jsonschema``.

The schema is the TOOL step's ``tool.schema`` (OpenInference ``tool.parameters``), else the
``parameters`` of the same-named tool offered to the requesting LLM. The validator class follows the
schema's ``$schema`` and defaults to Draft 2020-12. An invalid schema raises :class:`BrokenSchema`,
which callers report as unscored rather than crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.protocols import Validator

from ._calls import CallSite

__all__ = ["BrokenSchema", "schema_errors", "schema_for"]


class BrokenSchema(Exception):
    """The tool's own JSON schema is invalid, so its arguments cannot be judged."""


def schema_for(site: CallSite) -> Mapping[str, Any] | None:
    if site.executed is not None and site.executed.schema:
        return site.executed.schema
    if site.requested is not None and site.requested.schema:
        return site.requested.schema
    for tool in site.offered:
        if tool.name == site.name and tool.parameters:
            return tool.parameters
    return None


def schema_errors(schema: Mapping[str, Any], instance: Any) -> list[ValidationError]:
    """Every way ``instance`` breaks ``schema``, in a stable order (by path, then message)."""
    validator = _validator(schema)
    return sorted(
        validator.iter_errors(instance), key=lambda e: ([str(part) for part in e.path], e.message)
    )


def _validator(schema: Mapping[str, Any]) -> Validator:
    document = dict(schema)
    try:
        cls = jsonschema.validators.validator_for(document, default=jsonschema.Draft202012Validator)
        cls.check_schema(document)
        return cls(document)
    except SchemaError as exc:
        raise BrokenSchema(exc.message) from exc
    except Exception as exc:  # a schema that is not even an object, an unusable $schema ...
        raise BrokenSchema(f"{type(exc).__name__}: {exc}") from exc
