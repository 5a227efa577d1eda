"""Evaluator suites plug in through the ``otel_flywheel.evaluators`` entry-point group."""

from __future__ import annotations

import asyncio
import textwrap
import uuid
from pathlib import Path

import pytest

from otel_flywheel.errors import ConfigError
from otel_flywheel.evaluation import (
    ENTRY_POINT_GROUP,
    EvaluatorPlugin,
    TraceEvaluator,
    evaluator_plugin,
    load_trace_evaluator,
)
from otel_flywheel.model import AgentTrace, Step

# A third-party suite as a package would ship it: one module, one entry point in its metadata.
THIRD_PARTY = """
from otel_flywheel.evaluation import JudgeResult
from otel_flywheel.model import Evaluation, Verdict


class AnswersMustBeShort:
    judge_model = None

    def __init__(self, limit):
        self.limit = limit

    def check(self, trace, references=None):
        too_long = len(trace.final_output or "") > self.limit
        return [Evaluation(evaluator="short_answer", label="long" if too_long else "short",
                           passed=not too_long, score=0.0 if too_long else 1.0,
                           category="output_quality" if too_long else None)]

    async def judge(self, trace, references=None, *, rubric_ids=None):
        return JudgeResult()

    def roll_up(self, trace, evaluations):
        failed = [e for e in evaluations if e.passed is False]
        return Verdict(trace_id=trace.trace_id, passed=not failed, evaluations=list(evaluations),
                       category=failed[0].category if failed else None)

    def references_for(self, *, expected_output=None, expected_tool_calls=None):
        return None

    async def aclose(self):
        return None


class Plugin:
    loaded_with = None

    @classmethod
    def load(cls, *, judge, rubrics_dir, rubric_ids, judge_options, cohort_attributes, tools):
        cls.loaded_with = {"judge": judge, "rubric_ids": rubric_ids}
        return AnswersMustBeShort(limit=10)

    @staticmethod
    def read_references(path, *, redactor):
        raise NotImplementedError("this suite reads no references")

    @staticmethod
    def load_tool_catalog(path, *, read_only, retrieval):
        return None


class NotAPlugin:
    pass
"""


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A package installed on ``sys.path`` that registers two entries in our group."""
    name = f"short_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(THIRD_PARTY), encoding="utf-8")
    dist = tmp_path / f"{name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n{name} = {name}:Plugin\n{name}_broken = {name}:NotAPlugin\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_the_shipped_suite_is_the_default_entry_point() -> None:
    plugin = evaluator_plugin("default")
    assert isinstance(plugin, EvaluatorPlugin)
    evaluator = load_trace_evaluator(judge=False)
    assert isinstance(evaluator, TraceEvaluator)
    assert type(evaluator).__module__ == "otel_flywheel.evaluators.suite"


def test_a_third_party_suite_plugs_in_by_name(installed: str) -> None:
    evaluator = load_trace_evaluator(judge=False, rubric_ids=["x"], suite=installed)
    plugin = evaluator_plugin(installed)
    assert plugin.loaded_with == {"judge": False, "rubric_ids": ["x"]}  # type: ignore[attr-defined]
    trace = AgentTrace(
        trace_id="ab" * 16,
        steps=[
            Step(trace_id="ab" * 16, span_id="cd" * 8, parent_id=None, kind="agent", name="agent")
        ],
        final_output="a very long answer indeed",
    )
    checks = evaluator.check(trace)
    verdict = evaluator.roll_up(trace, checks)
    assert (verdict.passed, verdict.category) == (False, "output_quality")
    assert asyncio.run(evaluator.judge(trace)).evaluations == []


def test_the_environment_picks_the_suite(installed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYWHEEL_EVALUATORS", installed)
    assert type(load_trace_evaluator(judge=False)).__name__ == "AnswersMustBeShort"


def test_an_unknown_suite_names_the_installed_ones(installed: str) -> None:
    with pytest.raises(ConfigError, match=r"no evaluator suite 'nope'.*installed: .*default"):
        evaluator_plugin("nope")


def test_an_entry_that_is_not_a_plugin_is_refused_with_what_it_lacks(installed: str) -> None:
    with pytest.raises(ConfigError, match="needs load\\(\\), read_references\\(\\)"):
        evaluator_plugin(f"{installed}_broken")
