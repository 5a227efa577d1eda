"""argument_schema: each tool call's arguments validated against the tool's JSON schema.

Every call site (see ``_calls``) is validated once, with the arguments the model wrote (those the tool
received when the request was not recorded), reporting every error ``iter_errors`` finds:

=================================================  ===================================
what is wrong                                      category / subcategory
=================================================  ===================================
arguments are not a JSON object (truncated, text)  parameter / invalid_type_or_value
a required property is missing (``required``)      parameter / missing_required
an unexpected property (``additionalProperties``,  parameter / wrong_field_mapping
``unevaluatedProperties``)
anything else: type, enum, pattern, bounds, ...    parameter / invalid_type_or_value
=================================================  ===================================

The culprit is the LLM step that produced the arguments, else the TOOL step. Calls without a known
schema are skipped. A tool whose schema is itself invalid yields one unscored evaluation.
"""

from __future__ import annotations

from otel_flywheel.model import AgentTrace, Evaluation

from ._base import failing, passing, unscored
from ._calls import CallSite, call_sites
from ._schema import BrokenSchema, schema_errors, schema_for

__all__ = ["ArgumentSchemaCheck"]

_WRONG_FIELD = frozenset({"additionalProperties", "unevaluatedProperties", "propertyNames"})


class ArgumentSchemaCheck:
    name: str = "argument_schema"

    def evaluate(self, trace: AgentTrace) -> list[Evaluation]:
        findings: list[Evaluation] = []
        broken: set[str] = set()
        for site in call_sites(trace):
            findings.extend(self._check(site, broken))
        return findings or [passing(self.name, "Every tool call's arguments match its schema.")]

    def _check(self, site: CallSite, broken: set[str]) -> list[Evaluation]:
        call = site.call
        if call.arguments_malformed:
            return [
                failing(
                    self.name,
                    category="parameter",
                    subcategory="invalid_type_or_value",
                    culprit=site.culprit,
                    explanation=f"Tool {site.name!r} was called with arguments that are not a JSON "
                    f"object: {call.raw_arguments!r}.",
                )
            ]
        schema = schema_for(site)
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
        for error in errors:
            if error.validator == "required":
                subcategory = "missing_required"
            elif error.validator in _WRONG_FIELD:
                subcategory = "wrong_field_mapping"
            else:
                subcategory = "invalid_type_or_value"
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
                )
            )
        return findings
