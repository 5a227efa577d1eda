"""The judge sees the evidence: long traces made through the real instrumentors, with evidence
planted where budgets used to hide it, judged by `LLMJudge` against a server that records every
prompt. The shares are over the planted corpus (``tests/planted_evidence.py``); no clock is read."""

from __future__ import annotations

import statistics

import pytest
from planted_evidence import PlantedTrace, build_corpus, measure


@pytest.fixture(scope="module")
def corpus() -> list[PlantedTrace]:
    return build_corpus()


def test_the_corpus_is_long_and_holds_every_planted_quote(corpus: list[PlantedTrace]) -> None:
    assert len(corpus) == 16
    assert {p.convention for p in corpus} == {"openinference", "genai", "genai-no-tool-spans"}
    wrong_figure = next(p for p in corpus if p.name == "wrong_figure")
    assert len(wrong_figure.trace.steps) == 60
    (planted,) = wrong_figure.evidence
    holder = [
        number
        for number, step in enumerate(wrong_figure.trace.steps, start=1)
        if step.tool is not None and planted.quote in (step.tool.result or "")
    ]
    assert holder == [37]  # a wrong figure in step 37 of 60


def test_at_the_default_budget_the_judge_sees_the_evidence_with_prompts_of_at_most_16k(
    corpus: list[PlantedTrace],
) -> None:
    run = measure(corpus, budget=None, model="gpt-4o-mini")
    assert run.share >= 0.9, run.missed
    assert run.share_concerned >= 0.9, run.missed
    assert statistics.median(run.prompt_tokens) <= 16_000
    assert max(run.prompt_tokens) <= 16_100  # every prompt within its budget (estimated)


def test_at_the_old_6k_budget_parts_keep_the_evidence_within_each_prompt(
    corpus: list[PlantedTrace],
) -> None:
    run = measure(corpus, budget=6000)
    assert run.share >= 0.9, run.missed
    assert run.share_concerned >= 0.9, run.missed
    assert max(run.prompt_tokens) <= 6100
    assert run.requests > run.judgments  # the long traces were judged in parts


def test_without_parts_a_tight_budget_still_keeps_the_small_evidence(
    corpus: list[PlantedTrace],
) -> None:
    # One prompt per judgment at 6k: long texts are excerpted around what the answer says and
    # small texts (arguments, errors) stay whole, so most evidence survives even without parts.
    chosen = [
        p for p in corpus if p.name in ("policy_breach", "buried_tool_error", "page_contradiction")
    ]
    run = measure(chosen, budget=6000, max_parts=1)
    assert run.requests == run.judgments
    assert run.share == 1.0, run.missed
