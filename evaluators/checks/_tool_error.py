"""tool_error: a tool call that failed (see ``_failure`` for what counts as a failure).

Category rule, one finding per failed TOOL step, culprit = that TOOL step (where the failure shows):

- the arguments were bad (not a JSON object, or breaking the tool's JSON schema): ``parameter``,
  with the subcategory ``argument_schema`` gives the first error (``malformed_arguments``,
  ``missing_required``, ``unexpected_argument`` ...), label ``fail``. The agent caused the failure;
  ``argument_schema`` reports every error, blamed on the LLM step that wrote the arguments.
- otherwise (a well-formed call the tool or its backend rejected: not found, conflict, 5xx, timeout)
  the failure is not by itself a badcase of the agent: label ``tool_error``, ``passed=False``, no
  category. Whether the agent then recovered (retried, told the user) is a judgment, made by the
  task_decomposition rubric (``no_recovery_after_failure``), not by this check; a state-changing
  call the references expect and that never succeeded is ``expected_tool_calls``' missing call.

Each finding carries the call's effect (read-only or state-changing) when the tool catalog knows it.
"""

from __future__ import annotations

from collections.abc import Mapping

from otel_flywheel.model import AgentTrace, Evaluation, ToolDefinition

from ._argument_schema import schema_subcategories
from ._base import failing, passing
from ._calls import CallSite, call_sites
from ._schema import BrokenSchema, schema_errors, schema_for
from ._tools import EMPTY_CATALOG, ToolCatalog

__all__ = ["ToolErrorCheck"]


class ToolErrorCheck:
    name: str = "tool_error"

    def __init__(self, *, tools: ToolCatalog = EMPTY_CATALOG) -> None:
        self.tools = tools

    def evaluate(self, trace: AgentTrace) -> list[Evaluation]:
        findings = []
        effects = self.tools.effects(trace)
        for site in call_sites(trace):
            step = site.executed_by
            if step is None or site.failure is None:
                continue
            effect = effects.effect(site.name)
            subcategory = _bad_arguments(site, self.tools.tools)
            if subcategory is not None:
                findings.append(
                    failing(
                        self.name,
                        category="parameter",
                        subcategory=subcategory,
                        culprit=step,
                        explanation=f"Tool {site.name!r} failed on bad arguments: "
                        f"{site.describe()} {site.failure}.",
                        effect=effect,
                    )
                )
            else:
                findings.append(
                    failing(
                        self.name,
                        category=None,
                        subcategory=None,
                        culprit=step,
                        label="tool_error",
                        explanation=f"Tool {site.name!r} failed: {site.describe()} {site.failure}.",
                        effect=effect,
                    )
                )
        return findings or [passing(self.name, "No tool call failed.")]


def _bad_arguments(site: CallSite, declared: Mapping[str, ToolDefinition]) -> str | None:
    """The subcategory of what is wrong with the arguments the tool received, if anything."""
    call = site.executed or site.call
    if call.arguments_malformed:
        return "malformed_arguments"
    schema = schema_for(site, declared)
    if schema is None:
        return None
    try:
        errors = schema_errors(schema, call.arguments)
    except BrokenSchema:
        return None
    return schema_subcategories(errors)[0] if errors else None
