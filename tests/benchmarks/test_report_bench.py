"""benchmarks/report.py keeps working: a small run that must flag its planted effect. Nothing here
is about time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "report.py"


def test_report_benchmark_runs_and_flags_the_planted_effect(tmp_path: Path) -> None:
    command = [
        sys.executable,
        str(SCRIPT),
        "--verdicts",
        "5000",
        "--file",
        str(tmp_path / "v.jsonl"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "the planted effect is flagged" in result.stdout
    assert "2. report over 5,000 verdicts:" in result.stdout
