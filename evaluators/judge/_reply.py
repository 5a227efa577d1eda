"""The judge's reply: the JSON schema it is asked for, and reading what came back.

The schema puts ``explanation`` first so the model reasons before it labels. It is compatible with
OpenAI's strict structured outputs: every field required, ``additionalProperties: false``, nullable
fields typed ``[..., "null"]``.

:func:`parse_reply` never turns a doubtful reply into a pass: anything that is not JSON, a label
outside the rubric's choices, a category the rubric does not allow, a subcategory outside the
category (when a taxonomy was given) or a field of the wrong type gives an *unscored* evaluation
(``passed=None``) that keeps the raw reply and says what was wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from otel_flywheel.model import Evaluation

from ..rubric import Rubric, Taxonomy  # noqa: TID252 (decisions.md: relative inside evaluators/)
from ._render import JudgePrompt

__all__ = ["UNSCORED", "parse_reply", "reply_schema"]

UNSCORED: Final = "unscored"
_FENCE: Final = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\r?\n?(.*?)```", re.DOTALL)


def reply_schema(rubric: Rubric, taxonomy: Taxonomy | None = None) -> dict[str, Any]:
    """The JSON Schema of a reply under ``rubric`` (strict-mode compatible).

    With ``taxonomy``, ``subcategory`` is an enum of the subcategories of the rubric's categories
    (strict mode cannot tie it to the chosen category; :func:`parse_reply` checks the pair).
    """
    subcategory: dict[str, Any] = {
        "type": ["string", "null"],
        "description": "A subcategory of the category, for a failing label; else null.",
    }
    if taxonomy is not None:
        names: list[str] = []
        for category in rubric.categories:
            entry = taxonomy.categories.get(category)
            if entry is not None:
                names += [name for name in entry.subcategories if name not in names]
        subcategory["enum"] = [*names, None]
    return {
        "type": "object",
        "properties": {
            "explanation": {
                "type": "string",
                "description": "Your reasoning, written before you choose the label.",
            },
            "label": {"type": "string", "enum": list(rubric.choices)},
            "category": {
                "type": ["string", "null"],
                "enum": [*rubric.categories, None],
                "description": "The badcase category, for a failing label; else null.",
            },
            "subcategory": subcategory,
            "culprit_step": {
                "type": ["integer", "null"],
                "description": "The number of the step at fault, for a failing label; else null.",
            },
            "confidence": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "How sure you are of the label, from 0 to 1.",
            },
        },
        "required": [
            "explanation",
            "label",
            "category",
            "subcategory",
            "culprit_step",
            "confidence",
        ],
        "additionalProperties": False,
    }


class _Invalid(Exception):
    """The reply cannot be used; the message says why."""


def parse_reply(
    reply: str | Mapping[str, Any] | None,
    prompt: JudgePrompt,
    *,
    judge_model: str | None = None,
) -> Evaluation:
    """The evaluation a judge ``reply`` gives for ``prompt``; unscored when it cannot be used.

    ``reply`` is the raw message content (JSON, JSON in a code fence, or JSON in prose: the first
    complete object is taken, preferring one with both ``explanation`` and ``label``) or an
    already-parsed mapping (tool-call arguments, a parsed structured output).
    """
    rubric = prompt.rubric
    raw = _raw_text(reply)
    try:
        data = reply if isinstance(reply, Mapping) else _extract(reply)
        return _evaluation(data, prompt, judge_model)
    except _Invalid as exc:
        return Evaluation(
            evaluator=rubric.id,
            label=UNSCORED,
            passed=None,
            explanation=f"unusable judge reply: {exc}",
            rubric_id=rubric.id,
            rubric_version=rubric.version,
            judge_model=judge_model,
            references=list(prompt.references_used),
            raw=raw,
        )


def _raw_text(reply: str | Mapping[str, Any] | None) -> str | None:
    if reply is None or isinstance(reply, str):
        return reply
    try:
        return json.dumps(reply, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return repr(reply)


def _extract(text: str | None) -> Mapping[str, Any]:
    if text is None or not text.strip():
        raise _Invalid("the judge returned no content")
    stripped = text.strip()
    try:
        whole = json.loads(stripped)
    except ValueError:
        pass
    else:
        if isinstance(whole, Mapping):
            return whole
        raise _Invalid(f"the reply is JSON but not an object (got {type(whole).__name__})")
    for match in _FENCE.finditer(text):
        try:
            fenced = json.loads(match.group(1).strip())
        except ValueError:
            continue
        if isinstance(fenced, Mapping):
            return fenced
    found = _objects(text)
    for candidate in found:
        if "label" in candidate and "explanation" in candidate:
            return candidate
    for candidate in found:
        if "label" in candidate:
            return candidate
    if found:
        return found[0]
    raise _Invalid("no JSON object found in the reply")


def _objects(text: str) -> list[Mapping[str, Any]]:
    """The top-level JSON objects embedded in ``text``, in order."""
    decoder = json.JSONDecoder()
    objects: list[Mapping[str, Any]] = []
    index = text.find("{")
    while index != -1:
        try:
            value, end = decoder.raw_decode(text, index)
        except ValueError:
            index = text.find("{", index + 1)
            continue
        if isinstance(value, Mapping):
            objects.append(value)
        index = text.find("{", end)
    return objects


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{key!r} must be a string or null, got {value!r}")
    value = value.strip()
    return value or None


def _evaluation(
    data: Mapping[str, Any], prompt: JudgePrompt, judge_model: str | None
) -> Evaluation:
    rubric = prompt.rubric
    explanation = data.get("explanation")
    if not isinstance(explanation, str):
        raise _Invalid(f"'explanation' must be a string, got {explanation!r}")
    label = data.get("label")
    if not isinstance(label, str):
        raise _Invalid(f"'label' must be a string, got {label!r}")
    label = label.strip()
    if label not in rubric.choices:
        raise _Invalid(
            f"label {label!r} is not one of the rubric's choices ({', '.join(rubric.choices)})"
        )
    category = _optional_str(data, "category")
    subcategory = _optional_str(data, "subcategory")
    confidence = data.get("confidence")
    if confidence is not None:
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)):
            raise _Invalid(f"'confidence' must be a number from 0 to 1, got {confidence!r}")
        if not 0.0 <= confidence <= 1.0:
            raise _Invalid(f"'confidence' must be from 0 to 1, got {confidence!r}")
        confidence = float(confidence)
    step = data.get("culprit_step")
    if step is not None:
        if isinstance(step, float) and step.is_integer():
            step = int(step)
        if isinstance(step, bool) or not isinstance(step, int):
            raise _Invalid(f"'culprit_step' must be an integer or null, got {step!r}")

    passed = rubric.passes(label)
    notes: list[str] = []
    culprit: str | None = None
    if passed:
        category = subcategory = None
    else:
        if category is not None and category not in rubric.categories:
            raise _Invalid(
                f"category {category!r} is not allowed by rubric {rubric.id!r} "
                f"(allowed: {', '.join(rubric.categories)})"
            )
        if subcategory is not None and category is None:
            raise _Invalid(f"subcategory {subcategory!r} is given without a category")
        taxonomy = prompt.taxonomy
        if taxonomy is not None and category is not None:
            problem = taxonomy.problem(category, subcategory)
            if problem is not None:
                raise _Invalid(problem)
        if step is not None:
            culprit = prompt.step_spans.get(step)
            if culprit is None:
                notes.append(
                    f"(The judge named culprit step {step}, which the trace does not have.)"
                )
    return Evaluation(
        evaluator=rubric.id,
        label=label,
        passed=passed,
        score=rubric.score(label),
        category=category,
        subcategory=subcategory,
        culprit_span_id=culprit,
        explanation=" ".join([explanation.strip(), *notes]).strip(),
        rubric_id=rubric.id,
        rubric_version=rubric.version,
        confidence=confidence,
        judge_model=judge_model,
        references=list(prompt.references_used),
        raw=None,
    )
