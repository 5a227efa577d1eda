"""argument_schema: each tool call's arguments validated against the tool's JSON schema.

Every call site (see ``_calls``) is validated once, with the arguments the model wrote (those the tool
received when the request was not recorded), reporting every error ``iter_errors`` finds:

=================================================  ===================================
what is wrong                                      category / subcategory
=================================================  ===================================
arguments are not a JSON object (truncated, text)  parameter / malformed_arguments
a required property is missing (``required``)      parameter / missing_required
an unexpected property (``additionalProperties``,  parameter / unexpected_argument
``unevaluatedProperties``, ``propertyNames``)
... while a required property of the same object   parameter / wrong_field_mapping
is missing (a value under the wrong name)
anything else: type, enum, pattern, bounds, ...    parameter / invalid_type_or_value
=================================================  ===================================

The culprit is the LLM step that produced the arguments, else the TOOL step. Calls without a known
schema are skipped. A tool whose schema is itself invalid yields one unscored evaluation. Each
finding carries the call's effect (read-only or state-changing) when the tool catalog knows it.
"""

from __future__ import annotations

from collections.abc import Sequence

from jsonschema.exceptions import ValidationError

from otel_flywheel.model import AgentTrace, CallEffect, Evaluation

from ._base import failing, passing, unscored
from ._calls import CallSite, call_sites
from ._schema import BrokenSchema, schema_errors, schema_for
from ._tools import EMPTY_CATALOG, ToolCatalog

__all__ = ["ArgumentSchemaCheck", "schema_subcategories"]

_UNEXPECTED = frozenset({"additionalProperties", "unevaluatedProperties", "propertyNames"})


def schema_subcategories(errors: Sequence[ValidationError]) -> list[str]:
    """The taxonomy subcategory of each schema error, in order (see the module's table)."""
    missing_at = {tuple(e.absolute_path) for e in errors if e.validator == "required"}
    subcategories = []
    for error in errors:
        if error.validator == "required":
            subcategories.append("missing_required")
        elif error.validator in _UNEXPECTED:
            wrong_field = tuple(error.absolute_path) in missing_at
            subcategories.append("wrong_field_mapping" if wrong_field else "unexpected_argument")
        else:
            subcategories.append("invalid_type_or_value")
    return subcategories


class ArgumentSchemaCheck:
    name: str = "argument_schema"

    def __init__(self, *, tools: ToolCatalog = EMPTY_CATALOG) -> None:
        self.tools = tools

    def evaluate(self, trace: AgentTrace) -> list[Evaluation]:
        findings: list[Evaluation] = []
        broken: set[str] = set()
        effects = self.tools.effects(trace)
        for site in call_sites(trace):
            findings.extend(self._check(site, broken, effects.effect(site.name)))
        return findings or [passing(self.name, "Every tool call's arguments match its schema.")]

    def _check(
        self, site: CallSite, broken: set[str], effect: CallEffect | None
    ) -> list[Evaluation]:
        call = site.call
        if call.arguments_malformed:
            return [
                failing(
                    self.name,
                    category="parameter",
                    subcategory="malformed_arguments",
                    culprit=site.culprit,
                    explanation=f"Tool {site.name!r} was called with arguments that are not a JSON "
                    f"object: {call.raw_arguments!r}.",
                    effect=effect,
                )
            ]
        schema = schema_for(site, self.tools.tools)
        if schema is None:
            return []
        try:
            errors = schema_errors(schema, call.arguments)
        except BrokenSchema as exc:
            if site.name in broken:
                return []
            broken.add(site.name)
            return [
                unscored(
                    self.name,
                    culprit=site.executed_by or site.culprit,
                    explanation=f"The JSON schema of tool {site.name!r} is invalid, so its "
                    f"arguments were not checked: {exc}",
                )
            ]
        findings = []
        for error, subcategory in zip(errors, schema_subcategories(errors), strict=True):
            where = "/".join(str(part) for part in error.absolute_path)
            at = f" at {where!r}" if where else ""
            findings.append(
                failing(
                    self.name,
                    category="parameter",
                    subcategory=subcategory,
                    culprit=site.culprit,
                    explanation=f"{site.describe()}: {error.message}{at} "
                    f"(schema keyword {error.validator!r}).",
                    effect=effect,
                )
            )
        return findings
