"""The writes routing produces: span and trace annotations, and dataset examples.

A write is a frozen record with an idempotency ``key``. The outbox stores it as JSON (``to_dict`` /
``write_from_dict``) before any sink sees it, so every field must survive a JSON round trip:
construction checks that, and everything else Phoenix would reject for good (the reserved name
``note``, malformed ids), so that a bad write fails where it is made, with the fix in the message,
instead of turning up later as a dead outbox entry.

Keys name *what* is written, not its content: a later write with the same key replaces the earlier
one (a rewritten verdict, a corrected example), exactly as Phoenix upserts an annotation on (name,
target, identifier) and patches a dataset example with the same id. Key parts are percent-encoded,
so a ``:`` inside a name cannot make two different writes share a key.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, TypeAlias
from urllib.parse import quote

from pydantic import TypeAdapter

__all__ = [
    "RESERVED_ANNOTATION_NAMES",
    "AnnotationTarget",
    "AnnotationWrite",
    "AnnotatorKind",
    "ExampleWrite",
    "Write",
    "write_from_dict",
]

AnnotatorKind = Literal["LLM", "CODE", "HUMAN"]
AnnotationTarget = Literal["span", "trace"]

RESERVED_ANNOTATION_NAMES = frozenset({"note"})
"""Phoenix keeps ``note`` for UI notes and answers 400 to an annotation of that name."""

MAX_EXAMPLE_ID_CHARS = 256
_ID_CHARS = {"span": 16, "trace": 32}
_ANNOTATOR_KINDS = ("LLM", "CODE", "HUMAN")
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, kw_only=True)
class AnnotationWrite:
    """One span or trace annotation, for triage in the Phoenix UI.

    Phoenix upserts on (``name``, target, ``identifier``): writing the same key again replaces the
    label, score, explanation and metadata. At least one of ``label``, ``score`` and
    ``explanation`` is required. ``user_id`` is the pseudonymized user the annotation is about, so
    that ``Outbox.purge_user`` can find it; it is not sent to Phoenix.
    """

    target: AnnotationTarget
    target_id: str
    name: str
    annotator_kind: AnnotatorKind
    label: str | None = None
    score: float | None = None
    explanation: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    identifier: str = ""
    user_id: str | None = None

    def __post_init__(self) -> None:
        if self.target not in _ID_CHARS:
            raise ValueError(f"target must be 'span' or 'trace', got {self.target!r}")
        _check_hex_id(f"{self.target} id", self.target_id, _ID_CHARS[self.target])
        _check_name("annotation name", self.name)
        if self.name in RESERVED_ANNOTATION_NAMES:
            raise ValueError(
                f"the annotation name {self.name!r} is reserved by Phoenix for UI notes; "
                "choose another name (e.g. 'flywheel.note')"
            )
        if self.annotator_kind not in _ANNOTATOR_KINDS:
            raise ValueError(
                f"annotator_kind must be one of {', '.join(_ANNOTATOR_KINDS)}, "
                f"got {self.annotator_kind!r}"
            )
        if self.label is None and self.score is None and self.explanation is None:
            raise ValueError(
                f"annotation {self.name!r} says nothing: give a label, a score or an explanation"
            )
        if self.score is not None and not math.isfinite(self.score):
            raise ValueError(f"annotation {self.name!r} has a non-finite score {self.score!r}")
        _check_json("metadata", self.metadata)

    @property
    def key(self) -> str:
        """``annotation:<target>:<id>:<name>:<identifier>``: one per Phoenix upsert key."""
        return (
            f"annotation:{self.target}:{self.target_id}:{_key_part(self.name)}:"
            f"{_key_part(self.identifier)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with a ``type`` field so that ``write_from_dict`` can tell writes apart."""
        data: dict[str, Any] = _annotation_adapter().dump_python(self, mode="json")
        return {"type": "annotation", **data}

    @staticmethod
    def from_dict(data: Any) -> AnnotationWrite:
        """Validate JSON-shaped input; raises ``pydantic.ValidationError`` or ``ValueError``."""
        return _annotation_adapter().validate_python(_without_type(data))


@dataclass(frozen=True, kw_only=True)
class ExampleWrite:
    """One example of a Phoenix dataset (``<project>/golden``, ``/regression``, ...).

    ``example_id`` is chosen by routing and stable (a hex digest of what makes the example unique);
    Phoenix keeps it as the example's id, so writing the same key again patches that example rather
    than adding a second one. ``span_id`` links the example to its source span in Phoenix.
    ``dataset_description`` (set when the upload creates the dataset) and ``dataset_labels``
    (label name -> its description) say what the dataset holds in the Phoenix UI. ``relink``:
    the example's source moved to another trace since it was first written (routing's ledger
    says so); a sink whose store keeps an example's first link (Phoenix) replaces the example.
    """

    dataset: str
    example_id: str
    input: dict[str, Any]
    output: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    span_id: str | None = None
    splits: list[str] = field(default_factory=list)
    user_id: str | None = None
    dataset_description: str | None = None
    dataset_labels: dict[str, str] = field(default_factory=dict)
    relink: bool = False

    def __post_init__(self) -> None:
        _check_name("dataset name", self.dataset)
        _check_name("example_id", self.example_id)
        if len(self.example_id) > MAX_EXAMPLE_ID_CHARS:
            raise ValueError(
                f"example_id is {len(self.example_id)} characters, more than "
                f"{MAX_EXAMPLE_ID_CHARS}: use a digest of what identifies the example"
            )
        if self.span_id is not None:
            _check_hex_id("span_id", self.span_id, _ID_CHARS["span"])
        for split in self.splits:
            _check_name("split name", split)
        for name in ("input", "output", "metadata"):
            value = getattr(self, name)
            if not isinstance(value, dict):
                raise ValueError(
                    f"{name} must be a dict (Phoenix stores JSON objects), got {type(value).__name__}"
                )
            _check_json(name, value)

    @property
    def key(self) -> str:
        """``example:<dataset>:<example_id>``: one per example of one dataset."""
        return f"example:{_key_part(self.dataset)}:{_key_part(self.example_id)}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with a ``type`` field so that ``write_from_dict`` can tell writes apart."""
        data: dict[str, Any] = _example_adapter().dump_python(self, mode="json")
        return {"type": "example", **data}

    @staticmethod
    def from_dict(data: Any) -> ExampleWrite:
        """Validate JSON-shaped input; raises ``pydantic.ValidationError`` or ``ValueError``."""
        return _example_adapter().validate_python(_without_type(data))


Write: TypeAlias = AnnotationWrite | ExampleWrite


def write_from_dict(data: Any) -> Write:
    """The write ``to_dict`` produced, whichever kind it is."""
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "annotation":
        return AnnotationWrite.from_dict(data)
    if kind == "example":
        return ExampleWrite.from_dict(data)
    raise ValueError(
        f"not a serialized write: 'type' must be 'annotation' or 'example', got {kind!r}"
    )


def _key_part(text: str) -> str:
    # '/' stays readable (dataset names are "<project>/<kind>"); ':' and '%' are escaped.
    return quote(text, safe="/")


def _without_type(data: Any) -> Any:
    if isinstance(data, dict) and "type" in data:
        return {key: value for key, value in data.items() if key != "type"}
    return data


def _check_hex_id(what: str, value: object, length: int) -> None:
    if not (isinstance(value, str) and len(value) == length and _HEX.issuperset(value)):
        raise ValueError(
            f"{what} must be {length} lowercase hex characters as OTel and Phoenix spell it, "
            f"got {value!r}"
        )


def _check_name(what: str, value: object) -> None:
    if not isinstance(value, str) or not value or value.strip() != value:
        raise ValueError(
            f"{what} must be a non-empty string without surrounding whitespace, got {value!r}"
        )


def _check_json(what: str, value: object) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{what} must be JSON (str, number, bool, None, lists and dicts with str keys; "
            f"no NaN or infinity): {error}"
        ) from None


@cache
def _annotation_adapter() -> TypeAdapter[AnnotationWrite]:
    return TypeAdapter(AnnotationWrite)


@cache
def _example_adapter() -> TypeAdapter[ExampleWrite]:
    return TypeAdapter(ExampleWrite)
