"""The badcase taxonomy as validated data.

The taxonomy (``rubrics/taxonomy.yaml``) lists badcase categories, their subcategories, definitions and
the usual root-cause owner. Users extend it with their own file: new categories, or new subcategories
of existing categories; redefining an existing entry differently is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING

from pydantic import Field, ValidationError

from otel_flywheel.errors import ConfigError

from ._fields import Frozen, Identifier, Text
from ._yaml_files import read_yaml, validation_message

if TYPE_CHECKING:
    from ._yaml_files import Source

__all__ = ["RUBRICS_PACKAGE", "TAXONOMY_FILE", "Category", "Taxonomy", "load_taxonomy"]

RUBRICS_PACKAGE = "otel_flywheel.rubrics"
TAXONOMY_FILE = "taxonomy.yaml"


class Category(Frozen):
    """One badcase category: what it means, who usually fixes it, and its subcategories."""

    definition: Text = Field(description="What a failure of this category looks like.")
    root_cause_owner: Text = Field(
        description="Who usually owns the fix, e.g. 'routing / orchestration' or 'product / policy'."
    )
    subcategories: dict[Identifier, Text] = Field(
        default_factory=dict, description="Subcategory id (snake_case) -> definition."
    )


class Taxonomy(Frozen):
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


def load_taxonomy(
    path: Source | None = None,
    *,
    extra: Source | Sequence[Source] | None = None,
) -> Taxonomy:
    """Load the taxonomy (default: the shipped one), extended by the user file(s) in ``extra``."""
    shipped = resources.files(RUBRICS_PACKAGE) / TAXONOMY_FILE
    taxonomy = _load_taxonomy_file(path if path is not None else shipped)
    if extra is None:
        return taxonomy
    extras: Sequence[Source] = (
        list(extra) if isinstance(extra, (list, tuple)) else [extra]  # type: ignore[list-item]
    )
    for source in extras:
        taxonomy = taxonomy.merged(_load_taxonomy_file(source), source=str(source))
    return taxonomy


def _load_taxonomy_file(source: Source) -> Taxonomy:
    name, data = read_yaml(source, "taxonomy")
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_message(name, "taxonomy", exc)) from exc
