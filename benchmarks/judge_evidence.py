"""How much of the evidence in a trace reaches the LLM judge's prompts, and how large the prompts
are, at each budget.

The corpus is ``tests/planted_evidence.py``: 16 long agent runs made through the real instrumentors
(OpenInference, and OTel's openai-v2 with and without GenAI tool spans) on the real ``openai``
client, each with evidence planted where budgets used to hide it (a wrong figure in step 37 of 60,
a contradicting sentence in the middle of a 200 KB page, a refund over the policy limit between two
long searches, a failed payment mid-run, one document out of twelve, a failing test in a 150 KB
log, an impossible date among 24 lookups). Every rubric that applies judges every run (business
rules where the run has a policy), against a scripted OpenAI-compatible server that records each
prompt it receives and answers with a valid verdict.

For each budget it prints:

- *share*: the issue's measure: per rubric, the share of planted quotes found in its prompts,
  averaged over the rubrics that ran;
- *concerned*: the share of (quote, rubric the quote concerns) pairs found in that rubric's prompts;
- prompt sizes, estimated as UTF-8 bytes / 3.5 for every checkout alike: the median and largest
  prompt, and the median judgment (all its prompts);
- requests per judgment (more than 1 when a run is judged in parts).

It uses only ``LLMJudge(max_input_tokens=...)``, so the same script measures an older checkout:
run it with that checkout's interpreter. ``--check`` exits with 2 unless the default budget's share
is at least 0.9 with a median prompt of at most 16,000 tokens.

    .venv/bin/python benchmarks/judge_evidence.py
    .venv/bin/python benchmarks/judge_evidence.py --budgets 6000,default --no-parts 6000 --check
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from planted_evidence import EvidenceRun, PlantedTrace, build_corpus, measure

DEFAULT = "default"


def _budgets(text: str) -> list[int | None]:
    return [None if part == DEFAULT else int(part) for part in text.split(",") if part]


def _row(label: str, run: EvidenceRun, seconds: float) -> str:
    prompts = sorted(run.prompt_tokens)
    return (
        f"{label:<22} {run.share:>6.1%} {run.share_concerned:>10.1%} "
        f"{statistics.median(prompts):>8.0f} {prompts[-1]:>8.0f} "
        f"{statistics.median(run.judgment_tokens):>10.0f} "
        f"{run.requests / run.judgments:>9.2f} {seconds:>6.1f}"
    )


def _by_scenario(run: EvidenceRun) -> list[str]:
    found: dict[str, list[bool]] = {}
    for (label, _), quotes in run.reached.items():
        found.setdefault(label, []).extend(quotes.values())
    return [f"  {label:<44} {sum(v)}/{len(v)}" for label, v in sorted(found.items())]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budgets",
        default="4000,6000,16000,32000,default",
        help="comma-separated token budgets; 'default' lets the judge choose from its model",
    )
    parser.add_argument(
        "--no-parts",
        default="6000,16000",
        help="budgets to measure again with one prompt per judgment (max_parts=1)",
    )
    parser.add_argument("--model", default="gpt-4o-mini", help="the judge model's name")
    parser.add_argument("--check", action="store_true", help="exit 2 if the target is missed")
    args = parser.parse_args()

    started = time.perf_counter()
    corpus: list[PlantedTrace] = build_corpus()
    steps = sorted(len(p.trace.steps) for p in corpus)
    print(
        f"corpus: {len(corpus)} traces (steps {steps[0]}-{steps[-1]}), "
        f"{sum(len(p.evidence) for p in corpus)} planted quotes, built in "
        f"{time.perf_counter() - started:.1f}s; judge model {args.model}"
    )
    print(
        f"{'budget':<22} {'share':>6} {'concerned':>10} {'median':>8} {'largest':>8} "
        f"{'judgment':>10} {'requests':>9} {'secs':>6}"
    )
    print(f"{'':<22} {'':>6} {'':>10} {'prompt':>8} {'prompt':>8} {'(median)':>10} {'/judgm.':>9}")
    default_run: EvidenceRun | None = None
    runs: list[tuple[str, int | None, int | None]] = [
        (DEFAULT if b is None else str(b), b, None) for b in _budgets(args.budgets)
    ]
    runs += [(f"{b} one prompt", b, 1) for b in _budgets(args.no_parts) if b is not None]
    for label, budget, max_parts in runs:
        began = time.perf_counter()
        run = measure(corpus, budget=budget, model=args.model, max_parts=max_parts)
        print(_row(label, run, time.perf_counter() - began), flush=True)
        if budget is None and max_parts is None:
            default_run = run
    if default_run is not None:
        print("\nplanted quotes found, per run, at the default budget (over the rubrics that ran):")
        print("\n".join(_by_scenario(default_run)))
        for missed in default_run.missed:
            print(f"  missed: {missed}")
        ok = default_run.share >= 0.9 and statistics.median(default_run.prompt_tokens) <= 16_000
        if args.check and not ok:
            print("TARGET MISSED: share >= 0.9 with a median prompt <= 16,000 tokens")
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
