"""Rubrics as validated data.

A rubric file (``rubrics/*.yaml``) tells the LLM judge what to look at (``scope``, ``inputs``, and its
``view``: which parts of the steps the prompt budget goes to first), which references to assemble
(``references``), how to label (``choices``: label -> score, and ``pass_threshold``), which taxonomy
categories it may assign, and how to reason (``instructions``, few-shot ``examples``). Its
``version`` is a hash of its content, so verdicts, caches and datasets can say exactly which rubric
produced them. ``rubrics/rubric.schema.json`` is exported from :class:`Rubric` (see
:func:`rubric_json_schema`), so editors validate rubric files as you type.

The taxonomy lives in :mod:`.taxonomy`; its names are re-exported here. Every problem in a file
raises :class:`~otel_flywheel.errors.ConfigError` naming the file, the field and the fix.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import ConfigDict, Field, ValidationError, computed_field, model_validator

from otel_flywheel.errors import ConfigError

from ._fields import Frozen, Identifier, Score, Text
from ._yaml_files import read_yaml, validation_message
from .taxonomy import RUBRICS_PACKAGE, TAXONOMY_FILE, Category, Taxonomy, load_taxonomy

if TYPE_CHECKING:
    import sys

    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

    from ._yaml_files import Source

__all__ = [
    "REFERENCE_NAMES",
    "SCOPES",
    "VIEW_PARTS",
    "Category",
    "ReferenceName",
    "Rubric",
    "RubricExample",
    "RubricView",
    "Scope",
    "Taxonomy",
    "ViewPart",
    "dump_rubric_json_schema",
    "load_rubric",
    "load_rubrics",
    "load_taxonomy",
    "rubric_json_schema",
]

SCHEMA_FILE = "rubric.schema.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Keep in step with ``otel_flywheel.model.StepKind`` (a test asserts they match). A Literal, not the
# enum, so the exported JSON Schema lists the values and rubric files stay plain strings.
Scope = Literal[
    "trace",
    "agent",
    "chain",
    "llm",
    "tool",
    "retriever",
    "reranker",
    "embedding",
    "guardrail",
    "evaluator",
    "other",
]
SCOPES: tuple[str, ...] = Scope.__args__  # type: ignore[attr-defined]

ReferenceName = Literal[
    "retrieved_documents",
    "tool_schemas",
    "tool_results",
    "reference_answer",
    "expected_tool_calls",
    "policy_document",
    "conversation",
]
REFERENCE_NAMES: tuple[str, ...] = ReferenceName.__args__  # type: ignore[attr-defined]

ViewPart = Literal[
    "tool_calls",
    "tool_results",
    "retrieved_documents",
    "tools_offered",
    "tool_schemas",
    "model_output",
    "model_input",
    "step_outcomes",
]
"""What a step shows the judge:

- ``tool_calls``: the calls a model turn requested and the tools ran, with their arguments;
- ``tool_results``: what each tool returned, and its errors;
- ``retrieved_documents``: each retrieval's query and its documents;
- ``tools_offered``: the tools the model turns could call (names and descriptions);
- ``tool_schemas``: the JSON schemas of those tools' arguments;
- ``model_output``: what each model turn wrote (plans, reasoning, drafts, the answer);
- ``model_input``: what each model turn was given (system prompt, user turns, history), each text
  once however many turns carry it again;
- ``step_outcomes``: the input, output and status of the other steps (agents, chains, guardrails).
"""
VIEW_PARTS: tuple[str, ...] = ViewPart.__args__  # type: ignore[attr-defined]

# The view a rubric without one gets: the parts its references live in.
_REFERENCE_PARTS: Final[Mapping[str, tuple[ViewPart, ...]]] = {
    "retrieved_documents": ("retrieved_documents",),
    "tool_results": ("tool_results",),
    "tool_schemas": ("tools_offered", "tool_schemas"),
    "expected_tool_calls": ("tool_calls",),
    "conversation": ("model_input", "model_output"),
}


class RubricView(Frozen):
    """What the judge must see of the steps. Every part is shown when the budget allows; when it
    does not, the budget goes to ``focus`` first, then ``context``, then the parts in neither."""

    focus: list[ViewPart] = Field(
        min_length=1,
        description="The parts this rubric judges by; the prompt budget goes here first.",
    )
    context: list[ViewPart] = Field(
        default_factory=list,
        description="Parts that help; cut before the focus is. Parts in neither list come last.",
    )

    def weight(self, part: str) -> float:
        """The share of the budget a part's text gets relative to the focus (1.0)."""
        if part in self.focus:
            return 1.0
        if part in self.context:
            return 0.5
        return 0.25


class RubricExample(Frozen):
    """A few-shot example: an excerpt of what the judge sees, and the expected judgement."""

    input: Text = Field(description="An excerpt of the rendered input (steps, goal, answer).")
    explanation: Text = Field(description="The reasoning the judge should give, before the label.")
    label: Identifier = Field(description="One of the rubric's `choices`.")
    category: Identifier | None = Field(
        default=None, description="For a failing label: one of the rubric's `categories`."
    )
    subcategory: Identifier | None = Field(
        default=None, description="A subcategory of `category` in the taxonomy."
    )
    culprit_step: int | None = Field(
        default=None, ge=1, description="For a failing label: the number of the step at fault."
    )

    @model_validator(mode="after")
    def _subcategory_needs_category(self) -> RubricExample:
        if self.subcategory is not None and self.category is None:
            raise ValueError(
                "`subcategory` is set without `category`. Fix: add the `category` it belongs to"
            )
        return self


class Rubric(Frozen):
    """A rubric for the LLM judge. ``version`` is computed from the content; files leave it out."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        title="Rubric",
        json_schema_extra={"description": "An otel-flywheel rubric file (rubrics/*.yaml)."},
    )

    id: Identifier = Field(description="Rubric id, snake_case; equals the file name without .yaml.")
    description: Text = Field(description="One line: what the rubric judges.")
    scope: Scope = Field(
        description="What one judgement covers: the whole `trace`, or each step of this kind."
    )
    inputs: dict[Identifier, Text] = Field(
        min_length=1,
        description="What the judge is shown, input name -> description (e.g. goal, steps, answer).",
    )
    references: list[ReferenceName] = Field(
        default_factory=list,
        description="References assembled for the judge and recorded on each evaluation.",
    )
    required_references: list[ReferenceName] = Field(
        default_factory=list,
        description="References without which the rubric does not apply (the trace is skipped).",
    )
    choices: dict[Identifier, Score] = Field(
        min_length=2, description="Label -> score in [0, 1]. Labels are snake_case."
    )
    pass_threshold: Score = Field(
        default=0.5,
        description="A label passes when its score is at least this. Needs a label on each side.",
    )
    categories: list[Identifier] = Field(
        min_length=1, description="Taxonomy categories a failing judgement may assign."
    )
    instructions: Text = Field(description="Instructions for the judge (explanation before label).")
    examples: list[RubricExample] = Field(default_factory=list, description="Few-shot examples.")
    view: RubricView | None = Field(
        default=None,
        description=(
            "What the judge must see of the steps, most important first: the prompt budget goes "
            "there first. Unset: derived from `references`."
        ),
    )
    max_input_tokens: int | None = Field(
        default=None,
        gt=0,
        description=(
            "A ceiling on this rubric's prompt, in tokens. The judge's own budget (from its model's "
            "context window or FLYWHEEL_JUDGE_MAX_INPUT_TOKENS) applies too; the smaller wins."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_version(cls, data: Any) -> Any:
        # ``version`` is derived; a dumped rubric (which includes it) validates back unchanged.
        if isinstance(data, Mapping) and "version" in data:
            return {key: value for key, value in data.items() if key != "version"}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Rubric:
        for field in ("references", "required_references", "categories"):
            values: list[str] = getattr(self, field)
            duplicates = sorted({value for value in values if values.count(value) > 1})
            if duplicates:
                raise ValueError(f"`{field}` lists {duplicates} twice. Fix: list each once")
        missing = [name for name in self.required_references if name not in self.references]
        if missing:
            raise ValueError(
                f"`required_references` has {missing}, which `references` lacks. "
                "Fix: add them to `references`"
            )
        if not any(score >= self.pass_threshold for score in self.choices.values()):
            raise ValueError(
                f"no label in `choices` passes (score >= pass_threshold {self.pass_threshold}). "
                "Fix: add a passing label or lower `pass_threshold`"
            )
        if not any(score < self.pass_threshold for score in self.choices.values()):
            raise ValueError(
                f"no label in `choices` fails (score < pass_threshold {self.pass_threshold}). "
                "Fix: add a failing label or raise `pass_threshold`"
            )
        if self.view is not None:
            both = sorted(set(self.view.focus) & set(self.view.context))
            if both:
                raise ValueError(
                    f"`view` lists {both} in both `focus` and `context`. Fix: keep each in one"
                )
            for field in ("focus", "context"):
                parts: list[str] = getattr(self.view, field)
                duplicates = sorted({part for part in parts if parts.count(part) > 1})
                if duplicates:
                    raise ValueError(
                        f"`view.{field}` lists {duplicates} twice. Fix: list each once"
                    )
        for index, example in enumerate(self.examples):
            where = f"`examples[{index}]`"
            if example.label not in self.choices:
                raise ValueError(
                    f"{where} has label {example.label!r}, not one of `choices` "
                    f"({', '.join(self.choices)}). Fix: use one of them"
                )
            if example.category is not None and example.category not in self.categories:
                raise ValueError(
                    f"{where} has category {example.category!r}, not in the rubric's "
                    f"`categories` ({', '.join(self.categories)}). Fix: add it there or pick one"
                )
            if self.passes(example.label) and example.category is not None:
                raise ValueError(
                    f"{where} has a passing label and a category. Fix: drop `category` "
                    "(only failures are categorized)"
                )
        return self

    @computed_field(description="Content hash (12 hex digits); changes whenever the content does.")  # type: ignore[prop-decorator]
    @cached_property
    def version(self) -> str:
        # Hash the validated content, not the file's text: comments, key order and YAML style do not
        # change the version, and neither does spelling out a default value.
        content = self.model_dump(mode="json", exclude={"version"}, exclude_defaults=True)
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]

    @property
    def effective_view(self) -> RubricView:
        """`view`, or when the file declares none, one derived from `references`."""
        if self.view is not None:
            return self.view
        focus: list[ViewPart] = []
        for reference in self.references:
            for part in _REFERENCE_PARTS.get(reference, ()):
                if part not in focus:
                    focus.append(part)
        return RubricView(focus=focus or ["tool_calls", "tool_results", "model_output"])

    @property
    def shows_steps(self) -> bool:
        """Whether the judge is shown the numbered steps (``steps`` is among `inputs`)."""
        return "steps" in self.inputs

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.choices)

    def score(self, label: str) -> float:
        """The score of ``label``; :class:`KeyError` if it is not one of the choices."""
        return self.choices[label]

    def passes(self, label: str) -> bool:
        """Whether ``label`` is a passing judgement."""
        return self.choices[label] >= self.pass_threshold

    def taxonomy_problems(self, taxonomy: Taxonomy) -> list[str]:
        """Each way this rubric disagrees with ``taxonomy``, as ``field: problem. Fix: ...``."""
        problems: list[str] = []
        for index, category in enumerate(self.categories):
            problem = taxonomy.problem(category)
            if problem is not None:
                problems.append(f"`categories[{index}]`: {problem}")
        for index, example in enumerate(self.examples):
            if example.category is None:
                continue
            problem = taxonomy.problem(example.category, example.subcategory)
            if problem is not None:
                problems.append(f"`examples[{index}]`: {problem}")
        return problems


def rubric_json_schema() -> dict[str, Any]:
    """The JSON Schema of rubric files, as shipped in ``rubrics/rubric.schema.json``."""
    schema = Rubric.model_json_schema(mode="validation")
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def dump_rubric_json_schema() -> str:
    """:func:`rubric_json_schema` as the text of ``rubric.schema.json``."""
    return json.dumps(rubric_json_schema(), indent=2, sort_keys=True) + "\n"


# ---------------------------------------------------------------------------------------- loading


def _shipped() -> Traversable:
    return resources.files(RUBRICS_PACKAGE)


def load_rubric(path: Source, *, taxonomy: Taxonomy | None = None) -> Rubric:
    """Load and validate one rubric file against ``taxonomy`` (default: the shipped taxonomy)."""
    name, data = read_yaml(path, "rubric")
    if "version" in data:
        raise ConfigError(
            f"{name}: `version` is computed from the rubric's content. Fix: remove `version`"
        )
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_message(name, "rubric", exc)) from exc
    stem = Path(path.name if not isinstance(path, (str, os.PathLike)) else path).stem
    if rubric.id != stem:
        raise ConfigError(
            f"{name}: `id` is {rubric.id!r} but the file is named {stem!r}. "
            f"Fix: set `id: {stem}` or rename the file to {rubric.id}.yaml"
        )
    problems = rubric.taxonomy_problems(taxonomy if taxonomy is not None else load_taxonomy())
    if problems:
        raise ConfigError(
            "\n".join(
                [f"{name}: rubric does not match the taxonomy:", *(f"  - {p}" for p in problems)]
            )
        )
    return rubric


def load_rubrics(
    directory: Source | None = None,
    *,
    taxonomy: Taxonomy | None = None,
) -> dict[str, Rubric]:
    """Load every ``*.yaml`` rubric in ``directory`` (default: the shipped rubrics), by id.

    Without ``taxonomy``, rubrics are checked against the shipped taxonomy, extended by the
    directory's own ``taxonomy.yaml`` if it has one.
    """
    root: Traversable = (
        _shipped()
        if directory is None
        else (Path(directory) if isinstance(directory, (str, os.PathLike)) else directory)
    )
    if not root.is_dir():
        raise ConfigError(f"{root}: not a directory of rubrics. Fix: pass an existing directory")
    if taxonomy is None:
        own = root / TAXONOMY_FILE
        taxonomy = load_taxonomy(extra=own if directory is not None and own.is_file() else None)
    files = sorted(
        (entry for entry in root.iterdir() if entry.name.endswith(".yaml") and entry.is_file()),
        key=lambda entry: entry.name,
    )
    rubrics: dict[str, Rubric] = {}
    for entry in files:
        if entry.name == TAXONOMY_FILE:
            continue
        rubric = load_rubric(entry, taxonomy=taxonomy)
        rubrics[rubric.id] = rubric
    return rubrics
