"""``otel-flywheel export sft|dpo|grpo|evals``: training files and the offline evals file.

The command loads the named datasets (latest or ``--version``), finds each example's source trace
(the local routing store, then Phoenix), curates, runs the second PII scan, and writes the file
with its lineage manifest beside it. See `otel_flywheel.export`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Final

from pydantic import ValidationError

from otel_flywheel.errors import FlywheelError
from otel_flywheel.export import (
    ROW_FORMATS,
    CurationSettings,
    ExportError,
    ExportResult,
    PIIFoundError,
    StepReport,
    TraceLookup,
    default_row_format,
    export_dpo,
    export_evals,
    export_grpo,
    export_sft,
    file_format,
    get_row_format,
    load_source,
)
from otel_flywheel.phoenix import phoenix_client
from otel_flywheel.routing import RoutingStore

from ._files import is_stdio

if TYPE_CHECKING:
    from otel_flywheel.datasets import LoadedDataset
    from otel_flywheel.phoenix import PhoenixClient

__all__ = ["add_export_parser", "format_steps"]

_PREFIX: Final = "otel-flywheel export"

EXAMPLES = """\
what each kind writes:
  sft    a conversation to learn from, from golden examples (as it ran, tool calls and results
         included) and corrected regressions (the final answer replaced by the correction)
  dpo    a prompt with a preferred and a rejected answer, from preference examples
  grpo   prompt-only rows for reinforcement learning, from golden examples (one per decision:
         each assistant turn, with the tool calls it made as expected_tool_calls, or the answer)
         and corrected regressions (the answer, with the correction as expected_output); columns
         prompt, tools, expected_tool_calls (the references format), expected_output: what
         otel_flywheel.rewards.tool_call_reward reads in TRL's GRPOTrainer. --granularity
         conversation: one row per user request, every call until the answer expected (for
         trainers that run the tools during rollouts). Written as hf rows only
  evals  the examples themselves, the file `otel-flywheel replay --offline` reads

--format says who reads the file (sft and dpo):
  openai  OpenAI fine-tuning, .jsonl only: sft {"messages", "tools"}, dpo {"input",
          "preferred_output", "non_preferred_output"}; tool-call arguments as JSON text; every
          row checked against OpenAI's format rules
  hf      Hugging Face chat templates and TRL (SFTTrainer, DPOTrainer), .parquet or .jsonl: sft
          {"messages", "tools"}, dpo {"prompt", "chosen", "rejected", "tools"}; arguments as
          objects, "tools" a list for apply_chat_template, 9-character tool-call ids; in Parquet
          each message and tool is a JSON value (datasets >= 4.7 loads them as List(Json()))
  default: hf for .parquet, openai for .jsonl (grpo: always hf)
A manifest is written beside the file: <file>.manifest.json (the row format, sources and versions,
every curation step with counts, each row's example, trace and span, labels with rubric versions
and judge models, the file's sha256).

curation (sft, dpo, grpo; every step counted in the manifest and on stdout): consent, source trace,
length, exact duplicates, near-duplicates (MinHash, Jaccard threshold), leakage against the
--gating-set datasets/files CI gates on, balance per category, format (rows the reader would
reject, by field and rule), then a PII scan that fails the export (exit 1, nothing written)
naming row, field and kind, never the value.

examples:
  otel-flywheel export sft --dataset support/golden --dataset support/regression --out sft.parquet
  otel-flywheel export sft --dataset support/golden --out sft.jsonl --format hf
  otel-flywheel export dpo --dataset support/preference --out dpo.jsonl --gating-set evals.jsonl
  otel-flywheel export grpo --dataset support/golden --dataset support/regression --out grpo.parquet
  otel-flywheel export evals --dataset support/golden --version RGF0YXNldFZlcnNpb246Mw== \\
      --out golden.jsonl
  otel-flywheel export sft --dataset support/golden --max-per-category 200 \\
      --category-ratio tool_selection=1 --category-ratio parameter=1 --out sft.jsonl

Phoenix: --phoenix-url, else PHOENIX_ENDPOINT / PHOENIX_COLLECTOR_ENDPOINT / ... as for `judge`.
Source traces: <FLYWHEEL_STATE_DIR>/routing.sqlite when present (--no-local-store skips it), then
Phoenix, redacted as capture would.

exit codes: 0 written; 1 the PII scan found values (nothing written); 2 bad options, a dataset or
file not found, or Phoenix unreachable.
"""


def add_export_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write SFT, DPO or GRPO training data, or the offline evals file, from datasets",
        description=(
            "Export Phoenix datasets as SFT rows, DPO pairs, GRPO prompts or the offline evals "
            "file, curated, PII-scanned, with a lineage manifest beside the file."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", choices=("sft", "dpo", "grpo", "evals"), help="what to write")
    parser.add_argument(
        "--dataset",
        dest="datasets",
        action="append",
        required=True,
        metavar="NAME",
        help="a Phoenix dataset to export (repeat for more; the first listed wins ties)",
    )
    parser.add_argument(
        "--version",
        dest="versions",
        action="append",
        metavar="V",
        help="the dataset version id to read (one per --dataset, in order; default: latest)",
    )
    parser.add_argument("--out", type=Path, required=True, help="FILE.parquet or FILE.jsonl")
    parser.add_argument(
        "--format",
        dest="row_format",
        choices=sorted(ROW_FORMATS),
        help="who reads the file: openai (fine-tuning JSONL) or hf (chat templates, TRL); "
        "default hf for .parquet, openai for .jsonl",
    )
    parser.add_argument(
        "--no-parallel-tool-calls",
        dest="parallel_tool_calls",
        action="store_false",
        help="one tool call per assistant turn: a turn that made several becomes one turn per "
        "call, each followed by its result (for Llama 3.1/3.2, whose templates render one call "
        "per turn; openai rows say parallel_tool_calls: false)",
    )
    parser.add_argument(
        "--granularity",
        choices=("turn", "conversation"),
        default=None,
        help="grpo: one row per assistant turn (default), or per user request",
    )
    parser.add_argument(
        "--gating-set",
        dest="gating",
        action="append",
        default=[],
        metavar="NAME|FILE",
        help="a dataset or `export evals` file CI gates on: rows whose input is in it are dropped",
    )
    parser.add_argument("--phoenix-url", help="Phoenix's base URL, e.g. http://localhost:6006")
    parser.add_argument(
        "--no-local-store",
        action="store_true",
        help="read source traces from Phoenix only, not from the local routing store",
    )
    curation = parser.add_argument_group("curation")
    curation.add_argument(
        "--require-consent",
        action="store_true",
        help="keep only examples whose trace stated consent (default: drop only consent=false)",
    )
    curation.add_argument("--min-chars", type=int, default=0, help="shortest row kept")
    curation.add_argument("--max-chars", type=int, default=200_000, help="longest row kept")
    curation.add_argument(
        "--near-duplicates",
        default="0.85",
        metavar="JACCARD|off",
        help="similarity from which rows count as near-duplicates (default 0.85)",
    )
    curation.add_argument("--max-per-category", type=int, help="rows kept per category")
    curation.add_argument(
        "--category-ratio",
        dest="ratios",
        action="append",
        default=[],
        metavar="CATEGORY=WEIGHT",
        help="target proportions among the named categories (repeat)",
    )
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    try:
        curation = _curation(args)
        versions = _versions(args.datasets, args.versions)
        _check_shape_options(args)
    except ValueError as exc:
        return _fail(str(exc))
    say = _say
    try:
        with ExitStack() as stack:
            client, _ = stack.enter_context(phoenix_client(args.phoenix_url))
            sources = [
                load_source(client, name, version_id=version)
                for name, version in zip(args.datasets, versions, strict=True)
            ]
            gating = [load_source(client, ref) for ref in args.gating]
            result = _run(
                args, client, sources=sources, gating=gating, curation=curation, stack=stack
            )
    except PIIFoundError as exc:
        print(f"{_PREFIX}: {exc}", file=sys.stderr)
        return 1
    except (FlywheelError, OSError) as exc:
        return _fail(str(exc))
    say(f"wrote {result.rows} rows to {result.path}")
    print(format_steps(result.steps))
    print(f"{result.kind}: {result.rows} rows -> {result.path}")
    if result.row_format is not None:
        print(f"format: {result.row_format} ({ROW_FORMATS[result.row_format].reader})")
    print(f"manifest: {result.manifest_path}")
    print(f"sha256: {result.sha256}")
    return 0


def _run(
    args: argparse.Namespace,
    client: PhoenixClient,
    *,
    sources: list[LoadedDataset],
    gating: list[LoadedDataset],
    curation: CurationSettings,
    stack: ExitStack,
) -> ExportResult:
    if args.kind == "evals":
        return export_evals(sources, out=args.out, curation=curation, progress=_say)
    store = None if args.no_local_store else RoutingStore.existing()
    if store is not None:
        stack.callback(store.close)
    traces = TraceLookup(store=store, client=client, progress=_say)
    if args.kind == "grpo":
        return export_grpo(
            sources,
            out=args.out,
            traces=traces,
            gating=gating,
            granularity=args.granularity or "turn",
            row_format=args.row_format,
            parallel_tool_calls=args.parallel_tool_calls,
            curation=curation,
            progress=_say,
        )
    export = export_sft if args.kind == "sft" else export_dpo
    return export(
        sources,
        out=args.out,
        traces=traces,
        gating=gating,
        row_format=args.row_format,
        parallel_tool_calls=args.parallel_tool_calls,
        curation=curation,
        progress=_say,
    )


def format_steps(steps: Sequence[StepReport]) -> str:
    """The curation steps as a table: rows in, removed, and why."""
    lines = [f"{'step':<16} {'rows in':>8} {'removed':>8}  reasons"]
    for step in steps:
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(step.reasons.items()))
        lines.append(f"{step.step:<16} {step.rows_in:>8} {step.removed:>8}  {reasons}".rstrip())
    return "\n".join(lines)


def _curation(args: argparse.Namespace) -> CurationSettings:
    threshold: float | None
    if args.near_duplicates.strip().lower() == "off":
        threshold = None
    else:
        try:
            threshold = float(args.near_duplicates)
        except ValueError:
            raise ValueError(
                f"--near-duplicates {args.near_duplicates!r}: give a Jaccard similarity in "
                "(0, 1] or 'off'"
            ) from None
    ratios: dict[str, float] = {}
    for item in args.ratios:
        name, _, weight = item.partition("=")
        try:
            ratios[name.strip()] = float(weight)
        except ValueError:
            raise ValueError(
                f"--category-ratio {item!r}: write CATEGORY=WEIGHT, e.g. tool_selection=2"
            ) from None
    try:
        return CurationSettings(
            require_consent=args.require_consent,
            min_chars=args.min_chars,
            max_chars=args.max_chars,
            near_duplicate_threshold=threshold,
            max_per_category=args.max_per_category,
            category_ratios=ratios,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'options'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(f"bad curation options: {problems}") from None


def _check_shape_options(args: argparse.Namespace) -> None:
    """Row-format options that cannot work fail before Phoenix is asked for anything."""
    if is_stdio(args.out):
        raise ValueError(
            "--out - is not supported: an export writes its lineage manifest beside the file. "
            "Fix: give a file name (FILE.parquet or FILE.jsonl)"
        )
    if args.granularity is not None and args.kind != "grpo":
        raise ValueError("--granularity applies to grpo rows only")
    if args.kind == "evals":
        if args.row_format is not None or not args.parallel_tool_calls:
            raise ValueError(
                "--format and --no-parallel-tool-calls apply to sft, dpo and grpo; an evals file "
                "holds the examples themselves"
            )
        return
    try:
        suffix = file_format(args.out)
        default = "hf" if args.kind == "grpo" else default_row_format(suffix)
        shape = get_row_format(args.row_format or default)
        shape.check_file_format(suffix, args.out)
        if args.kind == "grpo" and shape.name != "hf":
            raise ExportError(
                f"{shape.reader} reads no prompt-only (GRPO) rows: write them with --format hf, "
                "the layout TRL's GRPOTrainer reads"
            )
    except ExportError as exc:
        raise ValueError(str(exc)) from None


def _versions(datasets: list[str], versions: list[str] | None) -> list[str | None]:
    if not versions:
        return [None] * len(datasets)
    if len(versions) != len(datasets):
        raise ValueError(
            f"{len(versions)} --version for {len(datasets)} --dataset: give one per dataset, "
            "in the same order"
        )
    return list(versions)


def _say(message: str) -> None:
    print(f"{_PREFIX}: {message}", file=sys.stderr, flush=True)


def _fail(message: str) -> int:
    print(f"{_PREFIX}: {message}", file=sys.stderr)
    return 2
