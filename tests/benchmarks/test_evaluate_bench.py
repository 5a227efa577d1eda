"""benchmarks/evaluate.py keeps working: a tiny run. Nothing here is about time; the script checks
that every trace got a verdict, that copies of a conversation got the same one and that the
references raised no warning, and exits with 1 otherwise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "evaluate.py"


def test_evaluate_benchmark_measures_each_phase_and_checks_its_verdicts() -> None:
    command = [sys.executable, str(SCRIPT), "--traces", "40", "--repeats", "1"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "file: 40 traces" in result.stdout
    for label in (
        "read, not redacted",
        "read (baseline)",
        "checks + roll-up",
        "evaluate --no-judge",
    ):
        assert label in result.stdout
    assert "ratios (CPU): evaluate / read" in result.stdout
    assert "!!!" not in result.stdout
