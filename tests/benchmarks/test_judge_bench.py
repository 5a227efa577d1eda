"""benchmarks/judge.py keeps working: a tiny run against its scripted endpoint, phoenix-evals
included. Nothing here is about time; the script itself checks request counts and labels, and exits
with 1 when a judgment did not go as scripted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "judge.py"


def test_judge_benchmark_runs_every_contender_and_the_cache_pass_makes_no_requests() -> None:
    # No --check: the figures of a run this small say nothing, only the exit status matters.
    command = [sys.executable, str(SCRIPT), "--traces", "8", "--concurrency", "4"]
    command += ["--sweep", "4", "--latency-millis", "20"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    contenders = {row[1] for row in rows if len(row) > 2 and row[0] == "4"}
    assert contenders == {"endpoint", "ours", "phoenix-evals"}
    assert "2nd pass: 0 requests, 8 of 8 from the cache" in result.stdout
    assert "NOT EVERY JUDGMENT" not in result.stdout
