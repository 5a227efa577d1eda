"""output_format: the final output must be JSON (optionally schema-valid) or match a regex.

Failures are ``output_quality / format_error``; the culprit is the step that produced the final output:
the last LLM step with assistant text, else the root. Surrounding whitespace is ignored; a Markdown code
fence around JSON is not (a client parsing the reply would choke on it too). A regex must match the
whole output (``re.fullmatch``, with ``re.DOTALL``); write ``.*`` to allow text around it. A missing
final output fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from otel_flywheel.errors import ConfigError
from otel_flywheel.model import AgentTrace, Evaluation, Step

from ._base import failing, passing
from ._schema import BrokenSchema, schema_errors

__all__ = ["OutputFormatCheck"]


class OutputFormatCheck:
    def __init__(
        self,
        format: Literal["json", "regex"],
        *,
        pattern: str | None = None,
        schema: Mapping[str, Any] | None = None,
        name: str = "output_format",
    ) -> None:
        if format == "regex":
            if pattern is None:
                raise ConfigError("output_format 'regex' needs a pattern")
            try:
                self._regex: re.Pattern[str] | None = re.compile(pattern, re.DOTALL)
            except re.error as exc:
                raise ConfigError(f"invalid output_format pattern {pattern!r}: {exc}") from exc
        elif format == "json":
            self._regex = None
        else:
            raise ConfigError(f"output_format must be 'json' or 'regex', not {format!r}")
        self.format = format
        self.schema = schema
        self.name = name

    @classmethod
    def json(cls, schema: Mapping[str, Any] | None = None) -> OutputFormatCheck:
        return cls("json", schema=schema)

    @classmethod
    def regex(cls, pattern: str) -> OutputFormatCheck:
        return cls("regex", pattern=pattern)

    def evaluate(self, trace: AgentTrace) -> list[Evaluation]:
        output = trace.final_output
        culprit = _producer(trace)
        if output is None:
            return [self._fail(culprit, "The trace has no final output.")]
        if self._regex is not None:
            if self._regex.fullmatch(output.strip()) is None:
                return [
                    self._fail(
                        culprit,
                        f"The final output {output[:300]!r} does not match {self._regex.pattern!r}.",
                    )
                ]
            return [passing(self.name, "The final output matches the expected pattern.")]
        try:
            value = json.loads(output)
        except ValueError as exc:
            return [self._fail(culprit, f"The final output is not JSON ({exc}): {output[:300]!r}.")]
        if self.schema is not None:
            try:
                errors = schema_errors(self.schema, value)
            except BrokenSchema as exc:
                return [
                    Evaluation(
                        evaluator=self.name,
                        label="unscored",
                        passed=None,
                        explanation=f"The expected output schema is invalid: {exc}",
                    )
                ]
            if errors:
                text = "; ".join(error.message for error in errors)
                return [
                    self._fail(culprit, f"The final output is JSON but breaks the schema: {text}.")
                ]
        return [passing(self.name, "The final output is valid JSON.")]

    def _fail(self, culprit: Step | None, explanation: str) -> Evaluation:
        return failing(
            self.name,
            category="output_quality",
            subcategory="format_error",
            culprit=culprit,
            explanation=explanation,
        )


def _producer(trace: AgentTrace) -> Step | None:
    for step in reversed(trace.steps):
        if step.llm is not None and any(
            m.role == "assistant" and m.content for m in step.llm.output_messages
        ):
            return step
    return trace.root
