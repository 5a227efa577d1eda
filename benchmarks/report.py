"""How fast ``otel-flywheel report`` reads and analyzes verdict files, and how much memory it holds.

A verdict file of N lines is written from a fixed seed (``otel_flywheel.testing.verdicts``): two
weeks, two agent versions, two cohort attributes (4 cohorts), five categories, three judge
evaluations per verdict with a sentence of explanation each (~1.2 KB a line, what ``evaluate``
writes with a judge), and one planted effect (parameter failures x4 for one tenant in the second
week). Then, on one core (the process is pinned to CPU 0 and Arrow to one thread):

1. **baseline**: the least a row-by-row reader does, ``json.loads`` of every line in Python,
   discarding the result (same file, same process);
2. **report**: ``load_files`` (block-wise Arrow parsing of the columns used, dedupe by trace) and
   ``build_report`` (every section), then the HTML, JSON and Markdown renderings.

It prints the wall time of each phase, the report's time as a ratio of the baseline's, and the
peak resident memory while the report ran (sampled from /proc every 20 ms) against the process's
memory before it, with the file size for comparison. The run fails (exit 1) when the planted
effect is not flagged, or, with ``--check``, when the report takes longer than ``--max-seconds``.
No assertions on time in the test suite: tests/benchmarks only checks the script runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shlex
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from otel_flywheel import __version__
from otel_flywheel.analysis import (
    ReportOptions,
    build_report,
    load_files,
    render_html,
    render_markdown,
)
from otel_flywheel.testing.verdicts import Effect, synthetic_verdicts

_T = TypeVar("_T")
PLANTED = Effect("parameter", 4.0, from_day=7, cohort={"tenant": "globex"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verdicts", type=int, default=1_000_000, help="lines in the file")
    parser.add_argument("--file", type=Path, help="reuse (or write) the verdict file here")
    parser.add_argument("--check", action="store_true", help="exit 1 past --max-seconds")
    parser.add_argument("--max-seconds", type=float, default=60.0)
    args = parser.parse_args()

    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    print("otel-flywheel report benchmark")
    print("command: .venv/bin/python benchmarks/report.py " + shlex.join(sys.argv[1:]))
    print(
        f"python {platform.python_version()}, pyarrow {pa.__version__}, otel-flywheel "
        f"{__version__}, {platform.system()} {platform.machine()}, pinned to 1 of "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start"
    )

    path = args.file or Path(tempfile.gettempdir()) / f"flywheel-bench-{args.verdicts}.jsonl"
    if not path.is_file() or _lines(path) != args.verdicts:
        started = time.perf_counter()
        with path.open("w", encoding="utf-8") as out:
            for line in synthetic_verdicts(args.verdicts, effects=[PLANTED], seed=1):
                out.write(line + "\n")
        print(f"wrote {args.verdicts:,} verdicts in {time.perf_counter() - started:.1f} s")
    size = path.stat().st_size
    print(f"file: {path} ({size / 2**20:,.0f} MiB, {size / args.verdicts:,.0f} bytes a line)")

    gc.collect()
    baseline_seconds, _ = _timed(lambda: _json_loads_every_line(path))
    print(f"\n1. baseline, json.loads of every line: {baseline_seconds:.1f} s")

    gc.collect()
    before = _rss()
    with _PeakRss() as peak:
        load_seconds, data = _timed(lambda: load_files([path]))
        build_seconds, report = _timed(lambda: build_report(data, ReportOptions()))
        render_seconds, sizes = _timed(lambda: _render(report))
    total = load_seconds + build_seconds + render_seconds
    print(f"2. report over {data.verdicts.num_rows:,} verdicts:")
    print(f"   load    {load_seconds:6.1f} s  (Arrow JSON, block by block, columns used only)")
    print(f"   analyze {build_seconds:6.1f} s  (every section)")
    print(
        f"   render  {render_seconds:6.1f} s  (HTML {sizes[0] / 1024:,.0f} KiB, JSON "
        f"{sizes[1] / 1024:,.0f} KiB, Markdown {sizes[2] / 1024:,.0f} KiB)"
    )
    print(f"   total   {total:6.1f} s  = {total / baseline_seconds:.2f}x the baseline")
    table_bytes = data.verdicts.nbytes
    print(
        f"   memory: peak {peak.bytes / 2**20:,.0f} MiB resident, {(peak.bytes - before) / 2**20:,.0f} "
        f"MiB over the {before / 2**20:,.0f} MiB before ({(peak.bytes - before) / size:.2f}x the "
        f"file); the verdict table holds {table_bytes / 2**20:,.0f} MiB "
        f"({table_bytes / max(1, data.verdicts.num_rows):,.0f} bytes a verdict)"
    )

    flagged = [
        c
        for c in report["drift"]
        if c["flagged"]
        and c["category"] == PLANTED.category
        and c["cohort"] == dict(PLANTED.cohort)
    ]
    failures = []
    if not flagged:
        failures.append("the planted effect was not flagged")
    if args.check and total > args.max_seconds:
        failures.append(f"the report took {total:.1f} s, more than {args.max_seconds:g} s")
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print(
        "the planted effect is flagged" + (f"; under {args.max_seconds:g} s" if args.check else "")
    )
    return 0


def _render(report: dict[str, Any]) -> tuple[int, int, int]:
    return (
        len(render_html(report)),
        len(json.dumps(report, allow_nan=False)),
        len(render_markdown(report)),
    )


def _json_loads_every_line(path: Path) -> None:
    with path.open("rb") as file:
        for line in file:
            json.loads(line)


def _lines(path: Path) -> int:
    with path.open("rb") as file:
        return sum(block.count(b"\n") for block in iter(lambda: file.read(1 << 24), b""))


def _timed(work: Callable[[], _T]) -> tuple[float, _T]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def _rss() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class _PeakRss:
    """The largest resident set size seen while the block ran, sampled every 20 ms."""

    def __enter__(self) -> _PeakRss:
        self.bytes = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.bytes = max(self.bytes, _rss())

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.bytes = max(self.bytes, _rss())


if __name__ == "__main__":
    raise SystemExit(main())
