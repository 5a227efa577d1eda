"""CI replay: re-run a dataset's examples against a new agent version and gate the release.

``run_comparison`` (``replay --compare``) replays two variants over the same examples, reports
them side by side with intervals and per-example differences, and writes the pairs where the
checks or the judge preferred one variant's run to the preference dataset.

``run_replay`` (and ``otel-flywheel replay``) loads examples from a Phoenix dataset or an offline
file, runs a task per example with bounded concurrency, captures each run's trace with the
flywheel's processor, evaluates it with what the example calls for, records a Phoenix experiment
and decides the gate: the Wilson lower bound of the pass rate, golden regressions, flaky examples.

``tool`` records tool calls as OpenInference TOOL spans; inside ``replay_tools`` (which the runner
enters for every run) matching calls are answered from the example's source trace.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# The decorator is what agents import in production: it loads only OTel and the model. The
# runner, Phoenix and file formats (pyarrow) load on first use.
from otel_flywheel.replay._tools import (
    RecordedToolError,
    ToolRecording,
    ToolReplay,
    ToolReplayMiss,
    recordings_from_trace,
    replay_tools,
    tool,
)

if TYPE_CHECKING:
    from otel_flywheel.replay._capture import RunCapture
    from otel_flywheel.replay._compare import (
        Comparison,
        ExampleDifference,
        compare_variants,
        paired_difference_interval,
    )
    from otel_flywheel.replay._compare_job import (
        PREFERENCES_OUTBOX_FILE,
        ComparisonReport,
        run_comparison,
    )
    from otel_flywheel.replay._compare_report import (
        PreferenceDelivery,
        comparison_dict,
        render_comparison,
        write_comparison,
    )
    from otel_flywheel.replay._gate import (
        Baseline,
        BaselineEntry,
        CategoryRow,
        ExampleOutcome,
        GateResult,
        GateSettings,
        evaluate_gate,
    )
    from otel_flywheel.replay._job import RECORDINGS_KEY, ReplayReport, find_recordings, run_replay
    from otel_flywheel.replay._preferences import (
        PreferencePair,
        preference_examples,
        preference_pairs,
    )
    from otel_flywheel.replay._report import (
        ReplayInfo,
        read_baseline_file,
        render_report,
        summary_dict,
        write_junit,
        write_summary,
    )
    from otel_flywheel.replay._runner import (
        RunResult,
        ToolReplayMode,
        expectations,
        replay_examples,
    )
    from otel_flywheel.replay._task import ReplayTask, load_task

__all__ = [
    "PREFERENCES_OUTBOX_FILE",
    "RECORDINGS_KEY",
    "Baseline",
    "BaselineEntry",
    "CategoryRow",
    "Comparison",
    "ComparisonReport",
    "ExampleDifference",
    "ExampleOutcome",
    "GateResult",
    "GateSettings",
    "PreferenceDelivery",
    "PreferencePair",
    "RecordedToolError",
    "ReplayInfo",
    "ReplayReport",
    "ReplayTask",
    "RunCapture",
    "RunResult",
    "ToolRecording",
    "ToolReplay",
    "ToolReplayMiss",
    "ToolReplayMode",
    "compare_variants",
    "comparison_dict",
    "evaluate_gate",
    "expectations",
    "find_recordings",
    "load_task",
    "paired_difference_interval",
    "preference_examples",
    "preference_pairs",
    "read_baseline_file",
    "recordings_from_trace",
    "render_comparison",
    "render_report",
    "replay_examples",
    "replay_tools",
    "run_comparison",
    "run_replay",
    "summary_dict",
    "tool",
    "write_comparison",
    "write_junit",
    "write_summary",
]

_LAZY = {
    "RunCapture": "_capture",
    "Comparison": "_compare",
    "ExampleDifference": "_compare",
    "compare_variants": "_compare",
    "paired_difference_interval": "_compare",
    "ComparisonReport": "_compare_job",
    "PREFERENCES_OUTBOX_FILE": "_compare_job",
    "run_comparison": "_compare_job",
    "PreferenceDelivery": "_compare_report",
    "comparison_dict": "_compare_report",
    "render_comparison": "_compare_report",
    "write_comparison": "_compare_report",
    "PreferencePair": "_preferences",
    "preference_examples": "_preferences",
    "preference_pairs": "_preferences",
    "Baseline": "_gate",
    "BaselineEntry": "_gate",
    "CategoryRow": "_gate",
    "ExampleOutcome": "_gate",
    "GateResult": "_gate",
    "GateSettings": "_gate",
    "evaluate_gate": "_gate",
    "RECORDINGS_KEY": "_job",
    "ReplayReport": "_job",
    "run_replay": "_job",
    "find_recordings": "_job",
    "ReplayInfo": "_report",
    "read_baseline_file": "_report",
    "render_report": "_report",
    "summary_dict": "_report",
    "write_junit": "_report",
    "write_summary": "_report",
    "RunResult": "_runner",
    "ToolReplayMode": "_runner",
    "expectations": "_runner",
    "replay_examples": "_runner",
    "ReplayTask": "_task",
    "load_task": "_task",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otel_flywheel.replay' has no attribute {name!r}")
    value = getattr(import_module(f"otel_flywheel.replay.{module}"), name)
    globals()[name] = value
    return value
