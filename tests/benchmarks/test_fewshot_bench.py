"""benchmarks/fewshot.py keeps working on a small library. Nothing here is about time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "fewshot.py"


def test_fewshot_benchmark_runs_and_reports_each_size() -> None:
    command = [sys.executable, str(SCRIPT), "--sizes", "50,200", "--calls", "50", "--rounds", "1"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1. baselines, per call:" in result.stdout
    lines = [line.split() for line in result.stdout.splitlines()]
    sizes = [line[0] for line in lines if line and line[0] in ("50", "200")]
    assert sizes == ["50", "200"]
