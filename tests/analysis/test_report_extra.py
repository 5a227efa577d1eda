"""The report's statistics libraries are an extra: without them, the commands say which to install."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Runs the CLI with SciPy made unimportable, as in an environment without the `report` extra.
WITHOUT_SCIPY = (
    "import sys; sys.modules['scipy'] = None; "
    "from otel_flywheel.cli import main; sys.exit(main(sys.argv[1:]))"
)


@pytest.mark.parametrize("command", ["report", "calibrate"])
def test_without_the_extra_the_command_names_it_and_exits_2(command: str, tmp_path: Path) -> None:
    verdicts = tmp_path / "verdicts.jsonl"
    verdicts.write_text(json.dumps({"trace_id": "ab" * 16, "passed": True}) + "\n")
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_SCIPY, command, "--verdicts", str(verdicts)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'otel-flywheel[report]'" in done.stderr
    assert "Traceback" not in done.stderr
