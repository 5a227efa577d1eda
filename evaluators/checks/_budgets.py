"""latency_budget and token_budget: operational limits, not badcases.

Going over a budget says the run was slow or expensive, not that the agent was wrong, so the finding
has label ``over_budget``, ``passed=False`` and no taxonomy category; routing may send it to a cost or
latency review rather than a badcase dataset.

- ``LatencyBudgetCheck(trace_millis=..., step_millis=...)``: the root step's duration over
  ``trace_millis`` (culprit: the root), each step other than the root over ``step_millis`` (culprit:
  that step). Either budget may be left out.
- ``TokenBudgetCheck(max_total_tokens=...)``: the LLM steps' tokens summed (``total_tokens``, else
  input + output) over the budget; culprit: the LLM step that used the most.
"""

from __future__ import annotations

from otel_flywheel.errors import ConfigError
from otel_flywheel.model import AgentTrace, Evaluation, Step

from ._base import failing, passing

__all__ = ["LatencyBudgetCheck", "TokenBudgetCheck"]

OVER_BUDGET = "over_budget"


class LatencyBudgetCheck:
    def __init__(
        self,
        *,
        trace_millis: float | None = None,
        step_millis: float | None = None,
        name: str = "latency_budget",
    ) -> None:
        if trace_millis is None and step_millis is None:
            raise ConfigError("latency_budget needs trace_millis, step_millis or both")
        for label, value in (("trace_millis", trace_millis), ("step_millis", step_millis)):
            if value is not None and value <= 0:
                raise ConfigError(f"latency_budget {label} must be positive, got {value!r}")
        self.trace_millis = trace_millis
        self.step_millis = step_millis
        self.name = name

    def evaluate(self, trace: AgentTrace) -> list[Evaluation]:
        findings = []
        root = trace.root
        if (
            root is not None
            and self.trace_millis is not None
            and root.duration_millis > self.trace_millis
        ):
            findings.append(
                self._over(
                    root,
                    f"The trace took {root.duration_millis:.0f} ms, over its budget of {self.trace_millis:.0f} ms.",
                )
            )
        if self.step_millis is not None:
            for step in trace.steps[1:]:
                if step.duration_millis > self.step_millis:
                    findings.append(
                        self._over(
                            step,
                            f"Step {step.name!r} ({step.kind.value}) took {step.duration_millis:.0f} ms, "
                            f"over the per-step budget of {self.step_millis:.0f} ms.",
                        )
                    )
        return findings or [passing(self.name, "Within the latency budget.")]

    def _over(self, step: Step, explanation: str) -> Evaluation:
        return failing(
            self.name,
            category=None,
            subcategory=None,
            culprit=step,
            label=OVER_BUDGET,
            explanation=explanation,
        )


class TokenBudgetCheck:
    def __init__(self, *, max_total_tokens: int, name: str = "token_budget") -> None:
        if max_total_tokens <= 0:
            raise ConfigError(
                f"token_budget max_total_tokens must be positive, got {max_total_tokens!r}"
            )
        self.max_total_tokens = max_total_tokens
        self.name = name

    def evaluate(self, trace: AgentTrace) -> list[Evaluation]:
        used = [(step, _tokens(step)) for step in trace.steps if step.llm is not None]
        total = sum(tokens for _, tokens in used)
        if total <= self.max_total_tokens:
            return [
                passing(
                    self.name, f"{total} LLM tokens, within the budget of {self.max_total_tokens}."
                )
            ]
        culprit = max(used, key=lambda pair: pair[1])[0]
        return [
            failing(
                self.name,
                category=None,
                subcategory=None,
                culprit=culprit,
                label=OVER_BUDGET,
                explanation=f"The LLM calls used {total} tokens over {len(used)} step(s), over the "
                f"budget of {self.max_total_tokens}; the largest was {culprit.name!r}.",
            )
        ]


def _tokens(step: Step) -> int:
    assert step.llm is not None
    usage = step.llm.usage
    if usage.total_tokens is not None:
        return usage.total_tokens
    return (usage.input_tokens or 0) + (usage.output_tokens or 0)
