"""The prompt budget follows the judge model: the context-window table, its overrides, a rubric's
own ceiling, and rubric views (what the budget goes to first) as validated rubric data."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from otel_flywheel.errors import ConfigError
from otel_flywheel.evaluators.judge import (
    DEFAULT_CONTEXT_WINDOW,
    JudgeSettings,
    context_window_tokens,
    default_budget_tokens,
)
from otel_flywheel.evaluators.rubric import Rubric, load_rubric, load_rubrics


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-4o-mini", 128_000),
        ("openai/gpt-4o", 128_000),
        ("gpt-4.1-mini", 1_047_576),
        ("gpt-4", 8_192),
        ("gpt-4-0613", 8_192),
        ("gpt-4-turbo", 128_000),
        ("o3-mini", 200_000),
        ("claude-3-5-sonnet-latest", 200_000),
        ("llama3.1:8b", 128_000),
        ("Meta-Llama-3.1-70B-Instruct", 128_000),
        ("qwen2.5-7b-instruct", 32_768),
        ("my-finetuned-judge", DEFAULT_CONTEXT_WINDOW),
    ],
)
def test_the_context_window_comes_from_a_table_of_known_judge_models(
    model: str, window: int
) -> None:
    assert context_window_tokens(model) == window
    assert context_window_tokens(model, override=4096) == 4096


def test_the_default_budget_is_half_the_window_and_at_most_16k() -> None:
    assert default_budget_tokens(128_000) == 16_000
    assert default_budget_tokens(32_000) == 16_000
    assert default_budget_tokens(8_192) == 4_096


def _settings(**explicit: object) -> JudgeSettings:
    return JudgeSettings.resolve({"base_url": "http://localhost:1/v1", **explicit}, environ={})


@pytest.fixture(scope="module")
def grounding() -> Rubric:
    return load_rubrics()["grounding"]


def test_the_budget_follows_the_model_unless_set(grounding: Rubric) -> None:
    assert _settings(model="gpt-4o-mini").budget_tokens(grounding) == 16_000
    assert _settings(model="gpt-4").budget_tokens(grounding) == 4_096
    # A local server started with a small window: the override wins over the table.
    small = _settings(model="llama3.1:8b", context_window_tokens=8192)
    assert small.budget_tokens(grounding) == 4_096
    assert _settings(model="gpt-4o-mini", max_input_tokens=6000).budget_tokens(grounding) == 6000
    # An explicit budget past the window is held to the window less room for the reply.
    assert _settings(model="gpt-4", max_input_tokens=50_000).budget_tokens(grounding) == 8192 - 2048


def test_a_rubric_may_lower_its_own_budget_and_the_smaller_wins(grounding: Rubric) -> None:
    tight = grounding.model_copy(update={"max_input_tokens": 3000})
    assert _settings(model="gpt-4o-mini").budget_tokens(tight) == 3000
    assert _settings(model="gpt-4o-mini", max_input_tokens=2000).budget_tokens(tight) == 2000


def test_budget_settings_come_from_the_environment_and_a_bad_value_warns(
    grounding: Rubric, caplog: pytest.LogCaptureFixture
) -> None:
    environ = {
        "FLYWHEEL_JUDGE_MODEL": "gpt-4o-mini",
        "FLYWHEEL_JUDGE_BASE_URL": "http://localhost:1/v1",
        "FLYWHEEL_JUDGE_CONTEXT_TOKENS": "8192",
        "FLYWHEEL_JUDGE_MAX_PARTS": "3",
    }
    settings = JudgeSettings.resolve(environ=environ)
    assert settings.budget_tokens(grounding) == 4096
    assert settings.max_parts == 3
    with caplog.at_level(logging.WARNING):
        fallback = JudgeSettings.resolve(
            environ={**environ, "FLYWHEEL_JUDGE_CONTEXT_TOKENS": "lots"}
        )
    assert fallback.budget_tokens(grounding) == 16_000
    assert "FLYWHEEL_JUDGE_CONTEXT_TOKENS" in caplog.text


def test_a_bad_explicit_budget_names_the_field() -> None:
    with pytest.raises(ConfigError, match="max_input_tokens"):
        _settings(model="gpt-4o-mini", max_input_tokens=0)


# --- rubric views ---------------------------------------------------------------------------------


def test_every_shipped_rubric_that_shows_steps_declares_its_view() -> None:
    for rubric in load_rubrics().values():
        if rubric.shows_steps:
            assert rubric.view is not None, rubric.id
    views = {rid: r.effective_view for rid, r in load_rubrics().items()}
    assert views["grounding"].focus[:2] == ["tool_results", "retrieved_documents"]
    assert "tools_offered" in views["tool_selection"].focus
    assert "step_outcomes" in views["task_decomposition"].focus
    assert views["parameters"].focus == ["tool_calls", "tool_schemas"]
    # Focus first, context next, the rest last: never hidden, only cut sooner.
    view = views["grounding"]
    assert view.weight("tool_results") > view.weight("model_input") > view.weight("tools_offered")


def _write(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "my_rubric.yaml"
    path.write_text(
        "id: my_rubric\ndescription: Test.\nscope: trace\n"
        "inputs: {goal: The goal., steps: The steps.}\n"
        "references: [tool_results, tool_schemas]\n"
        "choices: {good: 1.0, bad: 0.0}\ncategories: [output_quality]\n"
        "instructions: Judge it.\n" + extra,
        encoding="utf-8",
    )
    return path


def test_a_rubric_without_a_view_gets_one_from_its_references(tmp_path: Path) -> None:
    rubric = load_rubric(_write(tmp_path, ""))
    assert rubric.effective_view.focus == ["tool_results", "tools_offered", "tool_schemas"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("view: {focus: [tool_results], context: [tool_results]}", "in both `focus` and `context`"),
        ("view: {focus: [tool_outputs]}", "`view.focus[0]`"),
        ("view: {focus: []}", "`view.focus`"),
        ("max_input_tokens: 0", "`max_input_tokens`"),
    ],
)
def test_a_bad_view_or_budget_in_a_rubric_file_names_the_field(
    tmp_path: Path, extra: str, message: str
) -> None:
    with pytest.raises(ConfigError, match="invalid rubric file") as caught:
        load_rubric(_write(tmp_path, extra))
    assert message in str(caught.value)
    assert "Fix:" in str(caught.value)


def test_a_view_and_a_budget_change_the_rubric_version(tmp_path: Path) -> None:
    base = load_rubric(_write(tmp_path, ""))
    viewed = load_rubric(_write(tmp_path, "view: {focus: [tool_calls]}"))
    budgeted = load_rubric(_write(tmp_path, "max_input_tokens: 4000"))
    assert len({base.version, viewed.version, budgeted.version}) == 3
