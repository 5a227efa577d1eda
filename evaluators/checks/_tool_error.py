"""tool_error: a tool call that failed (see ``_failure`` for what counts as a failure).

Category rule, one finding per failed TOOL step, culprit = that TOOL step (where the failure shows):

- the arguments were bad (not a JSON object, or breaking the tool's JSON schema):
  ``parameter / invalid_type_or_value``, label ``fail``. The agent caused the failure;
  ``argument_schema`` names the precise subcategory and the LLM step that wrote the arguments.
- otherwise (a well-formed call the tool or its backend rejected: not found, conflict, 5xx, timeout)
  the failure is not by itself a badcase of the agent: label ``tool_error``, ``passed=False``, no
  category. Whether the agent then recovered (retried, told the user) is a judgment, made by the
  task_decomposition rubric (``no_recovery_after_failure``), not by this check.
"""

from __future__ import annotations

from otel_flywheel.model import AgentTrace, Evaluation

from ._base import failing, passing
from ._calls import CallSite, call_sites
from ._failure import failure_reason
from ._schema import BrokenSchema, schema_errors, schema_for

__all__ = ["ToolErrorCheck"]


class ToolErrorCheck:
    name: str = "tool_error"

    def evaluate(self, trace: AgentTrace) -> list[Evaluation]:
        findings = []
        for site in call_sites(trace):
            step = site.executed_by
            if step is None:
                continue
            reason = failure_reason(step)
            if reason is None:
                continue
            if _bad_arguments(site):
                findings.append(
                    failing(
                        self.name,
                        category="parameter",
                        subcategory="invalid_type_or_value",
                        culprit=step,
                        explanation=f"Tool {site.name!r} failed on bad arguments: "
                        f"{site.describe()} {reason}.",
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
                        explanation=f"Tool {site.name!r} failed: {site.describe()} {reason}.",
                    )
                )
        return findings or [passing(self.name, "No tool call failed.")]


def _bad_arguments(site: CallSite) -> bool:
    call = site.executed or site.call
    if call.arguments_malformed:
        return True
    schema = schema_for(site)
    if schema is None:
        return False
    try:
        return bool(schema_errors(schema, call.arguments))
    except BrokenSchema:
        return False
