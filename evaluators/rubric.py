"""Rubrics and the badcase taxonomy as validated data.

A rubric file (``rubrics/*.yaml``) tells the LLM judge what to look at (``scope``, ``inputs``), which
references to assemble (``references``), how to label (``choices``: label -> score, and
``pass_threshold``), which taxonomy categories it may assign, and how to reason (``instructions``,
few-shot ``examples``). Its ``version`` is a hash of its content, so verdicts, caches and datasets can
say exactly which rubric produced them. ``rubrics/rubric.schema.json`` is exported from :class:`Rubric`
(see :func:`rubric_json_schema`), so editors validate rubric files as you type.

The taxonomy (``rubrics/taxonomy.yaml``) lists badcase categories, their subcategories, definitions and
the usual root-cause owner. Users extend it with their own file: new categories, or new subcategories
of existing categories; redefining an existing entry differently is an error.

Every problem in a file raises :class:`~otel_flywheel.errors.ConfigError` naming the file, the field
and the fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    computed_field,
    model_validator,
)
from pydantic_core import ErrorDetails

from otel_flywheel.errors import ConfigError

if TYPE_CHECKING:
    from typing import TypeAlias

    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

    Source: TypeAlias = str | os.PathLike[str] | Traversable

__all__ = [
    "REFERENCE_NAMES",
    "SCOPES",
    "Category",
    "ReferenceName",
    "Rubric",
    "RubricExample",
    "Scope",
    "Taxonomy",
    "dump_rubric_json_schema",
    "load_rubric",
    "load_rubrics",
    "load_taxonomy",
    "rubric_json_schema",
]

RUBRICS_PACKAGE = "otel_flywheel.rubrics"
TAXONOMY_FILE = "taxonomy.yaml"
SCHEMA_FILE = "rubric.schema.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_SNAKE = r"^[a-z][a-z0-9_]*$"
Identifier = Annotated[str, StringConstraints(pattern=_SNAKE, max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Score = Annotated[float, Field(ge=0.0, le=1.0)]

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


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------------------- taxonomy


class Category(_Frozen):
    """One badcase category: what it means, who usually fixes it, and its subcategories."""

    definition: Text = Field(description="What a failure of this category looks like.")
    root_cause_owner: Text = Field(
        description="Who usually owns the fix, e.g. 'routing / orchestration' or 'product / policy'."
    )
    subcategories: dict[Identifier, Text] = Field(
        default_factory=dict, description="Subcategory id (snake_case) -> definition."
    )


class Taxonomy(_Frozen):
    """The badcase taxonomy: category id -> :class:`Category`."""

    categories: dict[Identifier, Category] = Field(min_length=1)

    def contains(self, category: str, subcategory: str | None = None) -> bool:
        """Whether ``category`` (and, if given, its ``subcategory``) is in the taxonomy."""
        entry = self.categories.get(category)
        if entry is None:
            return False
        return subcategory is None or subcategory in entry.subcategories

    def problem(self, category: str, subcategory: str | None = None) -> str | None:
        """Why ``(category, subcategory)`` is not in the taxonomy, with the fix; None when it is."""
        entry = self.categories.get(category)
        if entry is None:
            known = ", ".join(sorted(self.categories))
            return (
                f"unknown taxonomy category {category!r}. Fix: use one of {known}, "
                "or add it to the taxonomy with load_taxonomy(extra=...)"
            )
        if subcategory is not None and subcategory not in entry.subcategories:
            known = ", ".join(sorted(entry.subcategories)) or "(none)"
            return (
                f"unknown subcategory {subcategory!r} of category {category!r}. Fix: use one of "
                f"{known}, or add it to the taxonomy with load_taxonomy(extra=...)"
            )
        return None

    def check(self, category: str, subcategory: str | None = None) -> None:
        """Raise :class:`ConfigError` unless ``(category, subcategory)`` is in the taxonomy."""
        problem = self.problem(category, subcategory)
        if problem is not None:
            raise ConfigError(problem)

    def root_cause_owner(self, category: str) -> str | None:
        entry = self.categories.get(category)
        return entry.root_cause_owner if entry is not None else None

    def merged(self, extra: Taxonomy, *, source: str = "the extension") -> Taxonomy:
        """This taxonomy plus ``extra``'s new categories and subcategories.

        Restating an existing entry identically is allowed (a copied taxonomy file still loads);
        changing an existing definition or owner raises :class:`ConfigError`.
        """
        categories = dict(self.categories)
        for name, new in extra.categories.items():
            old = categories.get(name)
            if old is None:
                categories[name] = new
                continue
            for field in ("definition", "root_cause_owner"):
                if getattr(new, field) != getattr(old, field):
                    raise ConfigError(
                        f"{source}: `categories.{name}.{field}` redefines the existing category "
                        f"{name!r}. Fix: remove `{field}` or give it the existing value, or add a "
                        "new category under another id"
                    )
            subcategories = dict(old.subcategories)
            for sub, definition in new.subcategories.items():
                if sub in subcategories and subcategories[sub] != definition:
                    raise ConfigError(
                        f"{source}: `categories.{name}.subcategories.{sub}` redefines an existing "
                        "subcategory. Fix: use a new subcategory id, or drop it to keep the "
                        "shipped definition"
                    )
                subcategories[sub] = definition
            categories[name] = old.model_copy(update={"subcategories": subcategories})
        return Taxonomy(categories=categories)


# ----------------------------------------------------------------------------------------- rubric


class RubricExample(_Frozen):
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


class Rubric(_Frozen):
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


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that rejects duplicate keys (PyYAML keeps the last one silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(source: Source, what: str) -> tuple[str, Any]:
    name = str(source)
    try:
        text = (
            Path(source).read_text(encoding="utf-8")
            if isinstance(source, (str, os.PathLike))
            else source.read_text(encoding="utf-8")
        )
    except OSError as exc:
        raise ConfigError(
            f"{name}: cannot read the {what} file ({exc.strerror or exc}). Fix: check the path"
        ) from exc
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{name}: not valid YAML: {exc}. Fix: correct the YAML at the position shown"
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"{name}: a {what} file must be a YAML mapping, got {type(data).__name__}. "
            "Fix: write `key: value` fields at the top level"
        )
    return name, data


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[key]":
            text += " (key)"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


def _fix(error: ErrorDetails) -> str:
    kind = error["type"]
    field = error["loc"][-1] if error["loc"] else ""
    hints = {
        "missing": f"add `{field}`",
        "extra_forbidden": "remove it or correct its spelling",
        "literal_error": "use one of the values listed",
        "string_pattern_mismatch": (
            "use snake_case: lowercase letters, digits and underscores, starting with a letter"
        ),
        "greater_than_equal": "use a value in the allowed range",
        "less_than_equal": "use a value in the allowed range",
        "too_short": "add entries",
        "string_too_short": "write some text",
    }
    return hints.get(kind, "see rubric.schema.json for the expected format")


def _validation_message(name: str, what: str, exc: ValidationError) -> str:
    lines = [f"{name}: invalid {what} file:"]
    for error in exc.errors(include_url=False):
        message = error["msg"]
        if error["type"] == "value_error":
            # Our own validators already say what to change.
            message = message.removeprefix("Value error, ")
            lines.append(f"  - {message}")
            continue
        got = "" if error["type"] == "missing" else f" (got {error['input']!r})"
        lines.append(f"  - `{_location(error['loc'])}`: {message}{got}. Fix: {_fix(error)}"[:600])
    return "\n".join(lines)


def _shipped() -> Traversable:
    return resources.files(RUBRICS_PACKAGE)


def load_taxonomy(
    path: Source | None = None,
    *,
    extra: Source | Sequence[Source] | None = None,
) -> Taxonomy:
    """Load the taxonomy (default: the shipped one), extended by the user file(s) in ``extra``."""
    taxonomy = _load_taxonomy_file(path if path is not None else _shipped() / TAXONOMY_FILE)
    if extra is None:
        return taxonomy
    extras: Sequence[Source] = (
        list(extra) if isinstance(extra, (list, tuple)) else [extra]  # type: ignore[list-item]
    )
    for source in extras:
        taxonomy = taxonomy.merged(_load_taxonomy_file(source), source=str(source))
    return taxonomy


def _load_taxonomy_file(source: Source) -> Taxonomy:
    name, data = _read_yaml(source, "taxonomy")
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_validation_message(name, "taxonomy", exc)) from exc


def load_rubric(path: Source, *, taxonomy: Taxonomy | None = None) -> Rubric:
    """Load and validate one rubric file against ``taxonomy`` (default: the shipped taxonomy)."""
    name, data = _read_yaml(path, "rubric")
    if "version" in data:
        raise ConfigError(
            f"{name}: `version` is computed from the rubric's content. Fix: remove `version`"
        )
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_validation_message(name, "rubric", exc)) from exc
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
