"""``-`` means stdin and stdout for every command; long commands show progress the CLI way."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan

from otel_flywheel.cli import main
from otel_flywheel.cli._progress import Progress
from otel_flywheel.otlp import encode_otlp_json

CLI = str(Path(sys.executable).with_name("otel-flywheel"))


@pytest.fixture(scope="module")
def traces_file(demo_spans: list[ReadableSpan], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stdio") / "demo.jsonl"
    path.write_text(encode_otlp_json(encode_spans(demo_spans)) + "\n", encoding="utf-8")
    return path


def run(args: list[str], *, stdin: bytes, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [CLI, *args], input=stdin, capture_output=True, cwd=cwd, timeout=120, check=False
    )


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_evaluate_reads_traces_from_stdin_and_writes_verdicts_to_stdout(
    traces_file: Path, tmp_path: Path, compress: bool
) -> None:
    data = traces_file.read_bytes()
    piped = run(
        ["evaluate", "--traces", "-", "--no-judge", "--output", "-"],
        stdin=gzip.compress(data) if compress else data,
        cwd=tmp_path,
    )
    assert piped.returncode == 0, piped.stderr.decode()
    from_pipe = [json.loads(line) for line in piped.stdout.decode().splitlines()]
    from_file = run(
        ["evaluate", "--traces", str(traces_file), "--no-judge"], stdin=b"", cwd=tmp_path
    )
    assert from_pipe == [json.loads(line) for line in from_file.stdout.decode().splitlines()]
    assert len(from_pipe) == 20  # the demo's conversations
    assert not (tmp_path / "-").exists()  # never a file named "-"


def test_inspect_reads_stdin(traces_file: Path, tmp_path: Path) -> None:
    piped = run(["inspect", "-", "--format", "json"], stdin=traces_file.read_bytes(), cwd=tmp_path)
    assert piped.returncode == 0, piped.stderr.decode()
    assert len(piped.stdout.decode().splitlines()) == 20


def test_an_export_to_stdout_is_refused_naming_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "sft", "--dataset", "x/golden", "--out", "-"]) == 2
    assert "manifest" in capsys.readouterr().err


def test_a_log_gets_plain_lines_now_and_then_and_a_final_count() -> None:
    log = io.StringIO()
    progress = Progress(
        "otel-flywheel test", stream=log, plain_interval_seconds=0, quiet_below_seconds=0
    )
    with progress.counting("evaluated", total=3, unit="traces") as counter:
        for _ in range(3):
            counter()
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("otel-flywheel test: evaluated: 1/3 traces in ")
    assert lines[-1].startswith("otel-flywheel test: evaluated: 3/3 traces in ")
    assert "traces/s" in lines[-1]
    assert "\x1b" not in log.getvalue()  # no terminal control codes in a log


def test_a_quick_phase_says_nothing() -> None:
    log = io.StringIO()
    with Progress("otel-flywheel test", stream=log).counting("evaluated", total=2) as counter:
        counter.advance(2)
    assert log.getvalue() == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_with_counts_and_rate() -> None:
    terminal = _Terminal()
    progress = Progress("otel-flywheel test", stream=terminal, quiet_below_seconds=0)
    with progress.counting("evaluated", total=4, unit="traces") as counter:
        progress.say("a line above the bar")
        for _ in range(4):
            counter()
            time.sleep(0.01)
    shown = terminal.getvalue()
    assert "a line above the bar" in shown
    assert "4/4" in shown
    assert "traces/s" in shown
