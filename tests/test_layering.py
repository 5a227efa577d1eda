"""The house's layering, read from the code's own imports: imports point down, privates stay home.

Every module of ``otel_flywheel`` (``evaluators/`` included, as ``otel_flywheel.evaluators``) belongs
to one unit: a subpackage, or a top-level module. Units sit on layers (``LAYERS``, top first). A unit
may import units on lower layers, and its own modules; never a unit on its own layer or above. Imports
inside functions and under ``TYPE_CHECKING`` count: a lazy import is still a dependency. A module
named ``_something`` inside a package is that package's business: other units use what the package
exports from its ``__init__``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "otel_flywheel"
MAPPED = {"evaluators": "otel_flywheel.evaluators", "rubrics": "otel_flywheel.rubrics"}

# Top first. The entry points (the CLI, the demo) and the test kit are imported by nothing below them.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli",),
    ("demo",),
    ("testing",),
    ("replay", "fewshot"),
    ("server", "export", "analysis", "privacy_ops", "rewards"),
    ("_register",),
    ("_flywheel",),
    ("pipeline", "routing", "verdict_metrics"),
    ("_feedback",),
    ("outbox",),
    ("phoenix",),
    ("evaluators",),
    ("evaluation", "sinks"),
    ("capture",),
    ("privacy", "datasets"),
    ("conventions", "otlp", "rubrics", "verdict_context"),
    ("model", "config", "_worker", "minhash", "rates", "times"),
    ("state",),
    ("errors", "semconv", "_env", "_internal"),
)
LAYER_OF = {unit: depth for depth, units in enumerate(LAYERS) for unit in units}
# The package's face: `import otel_flywheel` re-exports from below, lazily.
FACE = "__init__"


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    line: int
    target: str  # the imported module, dotted
    name: str = ""  # the name taken from it (``from target import name``), if any


def module_files() -> Iterator[tuple[str, Path]]:
    for top in (PACKAGE, *MAPPED):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            parts[0] = MAPPED.get(parts[0], parts[0])
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


def imports_of(module: str, path: Path, *, modules: frozenset[str]) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            for alias in node.names:
                # `from pkg import name`: name is a submodule, or a name defined in pkg.
                dotted = f"{stem}.{alias.name}"
                if dotted in modules:
                    yield Import(module, node.lineno, dotted)
                else:
                    yield Import(module, node.lineno, stem, alias.name)


def unit_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    if len(parts) == 1:
        return FACE
    return MAPPED.get(parts[1], parts[1]).removeprefix(f"{PACKAGE}.")


def private_part(item: Import) -> str | None:
    """The private module or name an import reaches into (``pkg._mod``, ``pkg._Name``), if any.

    The unit itself may be private-named (``otel_flywheel._internal``): that is its public face.
    """
    parts = [*item.target.split("."), *([item.name] if item.name else [])]
    for index, part in enumerate(parts[2:], start=2):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[: index + 1])
    return None


def all_imports() -> list[Import]:
    files = list(module_files())
    modules = frozenset(module for module, _ in files)
    return [found for module, path in files for found in imports_of(module, path, modules=modules)]


def violations(imports: list[Import] | None = None) -> list[str]:
    found: list[str] = []
    for item in all_imports() if imports is None else imports:
        source, target = unit_of(item.module), unit_of(item.target)
        if source is None or target is None or source in (target, FACE):
            continue
        if target == FACE and item.name.startswith("__"):
            continue  # the distribution's metadata (__version__), not an API
        where = f"{item.module}:{item.line} imports {item.target}" + (
            f".{item.name}" if item.name else ""
        )
        if target == FACE:
            found.append(f"{where}: the package's face is for users, import the module itself")
            continue
        if source not in LAYER_OF or target not in LAYER_OF:
            unknown = source if source not in LAYER_OF else target
            found.append(f"{where}: {unknown!r} is on no layer (add it to LAYERS)")
            continue
        if LAYER_OF[target] <= LAYER_OF[source]:
            found.append(f"{where}: {source!r} may not import {target!r} (same layer or above)")
        private = private_part(item)
        if private is not None:
            found.append(f"{where}: {private} is private to {target!r}; use its public name")
    return found


def test_imports_point_down_and_privates_stay_home() -> None:
    problems = violations()
    assert not problems, "\n".join(problems)


def test_every_unit_of_the_tree_is_on_a_layer() -> None:
    units = {unit_of(module) for module, _ in module_files()} - {FACE, None}
    assert units <= LAYER_OF.keys(), sorted(units - LAYER_OF.keys())


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from otel_flywheel.cli._judge import pull_traces", "may not import 'cli'"),
        ("from otel_flywheel.privacy._keys import KEY_FILE_NAME", "private to 'privacy'"),
        ("from otel_flywheel.capture import _TRACE_ID_LOW_BITS_MASK", "private to 'capture'"),
        ("from otel_flywheel import register", "the package's face is for users"),
        ("import otel_flywheel.pipeline", "may not import 'pipeline'"),
    ],
)
def test_the_checker_sees_each_kind_of_violation(
    tmp_path: Path, source: str, expected: str
) -> None:
    module = tmp_path / "probe.py"
    module.write_text(f"def lazy() -> None:\n    {source}\n", encoding="utf-8")
    modules = frozenset(name for name, _ in module_files())
    found = list(imports_of("otel_flywheel.model", module, modules=modules))
    assert found
    assert any(expected in problem for problem in violations(found))
