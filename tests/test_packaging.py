"""The distribution ships every package in the tree (the list in pyproject.toml is explicit)."""

from __future__ import annotations

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {"evaluators": "otel_flywheel.evaluators", "rubrics": "otel_flywheel.rubrics"}


def packages_in_tree() -> set[str]:
    found = set()
    for top in ("otel_flywheel", *MAPPED):
        for init in (ROOT / top).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT).parts
            found.add(".".join((MAPPED.get(parts[0], parts[0]), *parts[1:])))
    return found


def test_every_package_in_the_tree_is_listed_for_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    assert listed == packages_in_tree()
