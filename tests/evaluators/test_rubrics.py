"""Rubric files and the taxonomy are validated data: every shipped file loads, and bad files fail
with a ConfigError that names the file, the field and the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from otel_flywheel.errors import ConfigError
from otel_flywheel.evaluators.rubric import (
    REFERENCE_NAMES,
    SCOPES,
    Rubric,
    Taxonomy,
    dump_rubric_json_schema,
    load_rubric,
    load_rubrics,
    load_taxonomy,
    rubric_json_schema,
)
from otel_flywheel.model import StepKind

RUBRICS_DIR = Path(__file__).resolve().parents[2] / "rubrics"
RUBRIC_FILES = sorted(p for p in RUBRICS_DIR.glob("*.yaml") if p.name != "taxonomy.yaml")
EXPECTED_RUBRICS = {
    "tool_selection",
    "parameters",
    "task_decomposition",
    "grounding",
    "answer_correctness",
    "business_rules",
    "output_quality",
}
DESIGN_CATEGORIES = {
    "tool_selection",
    "parameter",
    "task_decomposition",
    "knowledge_context",
    "business_rule",
    "output_quality",
}


def _valid() -> dict[str, Any]:
    return {
        "id": "sample",
        "description": "A sample rubric.",
        "scope": "trace",
        "inputs": {"goal": "The user's request."},
        "references": ["tool_results"],
        "choices": {"good": 1.0, "bad": 0.0},
        "categories": ["output_quality"],
        "instructions": "Explain, then label.",
        "examples": [
            {
                "input": "Goal: hi",
                "explanation": "Made it up.",
                "label": "bad",
                "category": "output_quality",
                "subcategory": "hallucination",
            }
        ],
    }


def _write(tmp_path: Path, data: dict[str, Any], name: str = "sample.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ shipped files


def test_every_shipped_rubric_is_present() -> None:
    assert {p.stem for p in RUBRIC_FILES} == EXPECTED_RUBRICS


@pytest.mark.parametrize("path", RUBRIC_FILES, ids=lambda p: p.stem)
def test_every_rubric_file_loads_and_validates(path: Path) -> None:
    rubric = load_rubric(path)
    assert rubric.id == path.stem
    assert len(rubric.version) == 12
    assert any(rubric.passes(label) for label in rubric.choices)
    assert not all(rubric.passes(label) for label in rubric.choices)
    assert 2 <= len(rubric.examples) <= 3
    assert any(not rubric.passes(example.label) for example in rubric.examples)
    assert "explanation" in rubric.instructions.lower()
    assert path.read_text(encoding="utf-8").startswith(
        "# yaml-language-server: $schema=rubric.schema.json\n"
    )


@pytest.mark.parametrize("path", RUBRIC_FILES, ids=lambda p: p.stem)
def test_rubric_categories_and_example_subcategories_exist_in_the_taxonomy(path: Path) -> None:
    taxonomy = load_taxonomy()
    rubric = load_rubric(path)
    for category in rubric.categories:
        assert taxonomy.contains(category)
    for example in rubric.examples:
        if example.category is not None:
            assert taxonomy.contains(example.category, example.subcategory)


def test_taxonomy_has_the_six_design_categories_with_owners_and_subcategories() -> None:
    taxonomy = load_taxonomy()
    assert set(taxonomy.categories) == DESIGN_CATEGORIES
    for category in taxonomy.categories.values():
        assert category.definition
        assert category.root_cause_owner
        assert len(category.subcategories) >= 4
    assert taxonomy.root_cause_owner("business_rule") == "product / policy"
    assert taxonomy.contains("tool_selection", "repeated_call")
    assert not taxonomy.contains("tool_selection", "hallucination")
    assert not taxonomy.contains("nonsense")


def test_schema_file_equals_the_model_schema() -> None:
    text = (RUBRICS_DIR / "rubric.schema.json").read_text(encoding="utf-8")
    assert text == dump_rubric_json_schema(), (
        "rubrics/rubric.schema.json is stale; regenerate it with "
        "python -c 'from otel_flywheel.evaluators.rubric import dump_rubric_json_schema as d; "
        'open("rubrics/rubric.schema.json", "w").write(d())\''
    )
    assert json.loads(text) == rubric_json_schema()


def test_schema_validates_rubric_files_as_editors_do() -> None:
    validator = jsonschema.Draft202012Validator(rubric_json_schema())
    for path in RUBRIC_FILES:
        validator.validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    bad = _valid() | {"choices": {"good": 2.0, "bad": 0.0}}
    assert not validator.is_valid(bad)


def test_scopes_are_trace_and_the_step_kinds() -> None:
    assert set(SCOPES) == {"trace"} | {kind.value for kind in StepKind}


def test_load_rubrics_reads_installed_package_data() -> None:
    rubrics = load_rubrics()
    assert set(rubrics) == EXPECTED_RUBRICS
    assert all(isinstance(r, Rubric) for r in rubrics.values())
    assert rubrics == load_rubrics(RUBRICS_DIR)


# ------------------------------------------------------------------------------- bad rubrics


@pytest.mark.parametrize(
    ("change", "field", "fix"),
    [
        ({"choices": None}, "choices", "add `choices`"),
        ({"categories": ["output_quality", "vibes"]}, "categories[1]", "unknown taxonomy category"),
        ({"choices": {"good": 1.5, "bad": 0.0}}, "choices.good", "allowed range"),
        ({"references": ["gut_feeling"]}, "references[0]", "one of the values listed"),
        ({"choices": {"good": 1.0, "fine": 0.9}}, "no label in `choices` fails", "Fix:"),
        ({"scope": "span"}, "scope", "one of the values listed"),
        ({"colour": "red"}, "colour", "remove it"),
        ({"id": "other"}, "`id`", "set `id: sample`"),
        ({"version": "abc"}, "`version`", "remove `version`"),
        ({"choices": {"Good": 1.0, "bad": 0.0}}, "choices.Good", "snake_case"),
        ({"required_references": ["policy_document"]}, "required_references", "add them"),
    ],
)
def test_broken_rubric_raises_config_error_naming_file_field_and_fix(
    tmp_path: Path, change: dict[str, Any], field: str, fix: str
) -> None:
    data = _valid() | change
    data = {k: v for k, v in data.items() if v is not None}
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_rubric(path)
    message = str(caught.value)
    assert str(path) in message
    assert field in message
    assert fix in message


def test_example_with_unknown_subcategory_is_rejected(tmp_path: Path) -> None:
    data = _valid()
    data["examples"][0]["subcategory"] = "made_up"
    with pytest.raises(ConfigError, match=r"examples\[0\].*unknown subcategory 'made_up'"):
        load_rubric(_write(tmp_path, data))


def test_example_label_must_be_a_choice(tmp_path: Path) -> None:
    data = _valid()
    data["examples"][0]["label"] = "awful"
    with pytest.raises(ConfigError, match=r"examples\[0\].*'awful'.*Fix"):
        load_rubric(_write(tmp_path, data))


def test_duplicate_yaml_keys_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "sample.yaml"
    path.write_text("id: sample\nid: sample\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="duplicate key 'id'"):
        load_rubric(path)


def test_non_mapping_and_invalid_yaml_are_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "sample.yaml"
    path.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_rubric(path)
    path.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_rubric(path)


def test_labels_map_to_pass_and_fail() -> None:
    rubric = Rubric.model_validate(_valid())
    assert rubric.passes("good")
    assert not rubric.passes("bad")
    assert rubric.score("bad") == 0.0
    assert rubric.labels == ("good", "bad")


def test_reference_vocabulary_is_fixed() -> None:
    assert set(REFERENCE_NAMES) == {
        "retrieved_documents",
        "tool_schemas",
        "tool_results",
        "reference_answer",
        "expected_tool_calls",
        "policy_document",
        "conversation",
    }


# ----------------------------------------------------------------------------------- versions


def test_version_changes_when_content_changes(tmp_path: Path) -> None:
    before = load_rubric(_write(tmp_path, _valid())).version
    after = load_rubric(_write(tmp_path, _valid() | {"instructions": "Label, then explain."}))
    assert after.version != before
    rescored = load_rubric(_write(tmp_path, _valid() | {"choices": {"good": 1.0, "bad": 0.1}}))
    assert rescored.version != before


def test_version_ignores_yaml_formatting_comments_and_key_order(tmp_path: Path) -> None:
    plain = load_rubric(_write(tmp_path, _valid())).version
    data = _valid()
    reordered = dict(reversed(list(data.items())))
    text = "# a comment\n" + yaml.safe_dump(reordered, default_flow_style=True, width=40)
    path = tmp_path / "sample.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_rubric(path).version == plain


def test_version_survives_a_dump_and_reload() -> None:
    rubric = Rubric.model_validate(_valid())
    dumped = rubric.model_dump(mode="json")
    assert dumped["version"] == rubric.version
    assert Rubric.model_validate(dumped) == rubric
    assert Rubric.model_validate(dumped).version == rubric.version


def test_shipped_rubrics_have_distinct_versions() -> None:
    versions = [r.version for r in load_rubrics().values()]
    assert len(set(versions)) == len(versions)


# ------------------------------------------------------------------------ taxonomy extension


def test_user_taxonomy_extension_adds_categories_and_subcategories(tmp_path: Path) -> None:
    extra = tmp_path / "mine.yaml"
    extra.write_text(
        yaml.safe_dump(
            {
                "categories": {
                    "latency": {
                        "definition": "Too slow.",
                        "root_cause_owner": "infrastructure",
                        "subcategories": {"slow_tool": "A tool took too long."},
                    },
                    "business_rule": {
                        "definition": load_taxonomy().categories["business_rule"].definition,
                        "root_cause_owner": "product / policy",
                        "subcategories": {"kyc": "Identity not verified."},
                    },
                }
            }
        ),
        encoding="utf-8",
    )
    taxonomy = load_taxonomy(extra=extra)
    assert taxonomy.contains("latency", "slow_tool")
    assert taxonomy.contains("business_rule", "kyc")
    assert taxonomy.contains("business_rule", "approval")

    data = _valid() | {"categories": ["latency"]}
    data["examples"] = []
    assert load_rubric(_write(tmp_path, data), taxonomy=taxonomy).categories == ["latency"]
    with pytest.raises(ConfigError, match="unknown taxonomy category 'latency'"):
        load_rubric(_write(tmp_path, data))


def test_rubric_directory_taxonomy_extends_the_shipped_one(tmp_path: Path) -> None:
    (tmp_path / "taxonomy.yaml").write_text(
        "categories:\n  latency:\n    definition: Too slow.\n    root_cause_owner: infra\n",
        encoding="utf-8",
    )
    data = _valid() | {"categories": ["latency", "output_quality"]}
    _write(tmp_path, data)
    assert set(load_rubrics(tmp_path)) == {"sample"}


def test_a_copy_of_the_shipped_taxonomy_is_not_a_redefinition() -> None:
    shipped = load_taxonomy()
    assert load_taxonomy(extra=RUBRICS_DIR / "taxonomy.yaml") == shipped


@pytest.mark.parametrize(
    ("extension", "field"),
    [
        (
            {"categories": {"parameter": {"definition": "Mine.", "root_cause_owner": "me"}}},
            "categories.parameter.definition",
        ),
        (
            {
                "categories": {
                    "tool_selection": {
                        "definition": Taxonomy.model_validate(
                            yaml.safe_load((RUBRICS_DIR / "taxonomy.yaml").read_text())
                        )
                        .categories["tool_selection"]
                        .definition,
                        "root_cause_owner": "routing / orchestration",
                        "subcategories": {"wrong_tool": "Something else."},
                    }
                }
            },
            "categories.tool_selection.subcategories.wrong_tool",
        ),
    ],
)
def test_redefining_a_taxonomy_entry_fails(
    tmp_path: Path, extension: dict[str, Any], field: str
) -> None:
    extra = tmp_path / "mine.yaml"
    extra.write_text(yaml.safe_dump(extension), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_taxonomy(extra=extra)
    message = str(caught.value)
    assert str(extra) in message
    assert field in message
    assert "Fix:" in message


def test_bad_taxonomy_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.yaml"
    path.write_text("categories:\n  latency:\n    definition: Too slow.\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"categories\.latency\.root_cause_owner.*add"):
        load_taxonomy(path)


def test_taxonomy_check_raises_with_the_known_values() -> None:
    taxonomy = load_taxonomy()
    taxonomy.check("parameter", "missing_required")
    with pytest.raises(ConfigError, match=r"use one of .*missing_required"):
        taxonomy.check("parameter", "nope")
