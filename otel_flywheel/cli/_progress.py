"""How a long command shows that it moves, on stderr.

On a terminal: a progress bar with the count, the total when known, the rate and the time left
(rich). In a log (stderr is not a TTY, as in CI): a plain line at most every few seconds, and one
at the end, so the log says what happened without a line per item. Library code never prints: it
reports through the callbacks a `Progress` hands out, and the command renders them here.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.text import Text

__all__ = ["Counter", "Progress"]

PLAIN_INTERVAL_SECONDS: Final = 5.0
# A phase over sooner than this is not reported at its end: a quick command stays quiet.
QUIET_BELOW_SECONDS: Final = 1.0


class Counter:
    """One counted phase (``Progress.counting``): ``advance`` as items finish."""

    def __init__(self, advance_by: Callable[[int], None]) -> None:
        self._advance_by = advance_by

    def advance(self, count: int = 1) -> None:
        self._advance_by(count)

    def __call__(self, *_ignored: object) -> None:
        """A callback that counts one item, whatever it is handed (``on_result=counter``)."""
        self._advance_by(1)


class Progress:
    """Progress of command ``command`` on ``stream`` (stderr by default)."""

    def __init__(
        self,
        command: str,
        *,
        stream: TextIO | None = None,
        plain_interval_seconds: float = PLAIN_INTERVAL_SECONDS,
        quiet_below_seconds: float = QUIET_BELOW_SECONDS,
    ) -> None:
        self._command = command
        self._given_stream = stream
        self._interval = plain_interval_seconds
        self._quiet_below = quiet_below_seconds
        self._bars: RichProgress | None = None

    @property
    def _stream(self) -> TextIO:
        # Looked up at each use: a test (or the user's code) may have replaced sys.stderr.
        return self._given_stream if self._given_stream is not None else sys.stderr

    def say(self, message: str) -> None:
        """One line of news (above the bar on a terminal)."""
        line = f"{self._command}: {message}"
        if self._bars is not None:
            self._bars.console.print(Text(line))
        else:
            print(line, file=self._stream, flush=True)

    @contextmanager
    def counting(
        self, description: str, *, total: int | None = None, unit: str = "items"
    ) -> Iterator[Counter]:
        """Count a phase of ``total`` items (unknown: ``None``): a bar on a terminal, plain
        lines otherwise; the phase's final count and rate are said when it ends, unless it took
        less than a second."""
        started = time.monotonic()
        done = 0
        if self._stream.isatty():
            with RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                _RateColumn(unit),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self._stream, highlight=False),
                transient=True,
            ) as bars:
                task = bars.add_task(description, total=total)
                self._bars = bars

                def advance_bar(count: int) -> None:
                    nonlocal done
                    done += count
                    bars.advance(task, count)

                try:
                    yield Counter(advance_bar)
                finally:
                    self._bars = None
        else:
            last_said = started

            def advance_plain(count: int) -> None:
                nonlocal done, last_said
                done += count
                now = time.monotonic()
                if now - last_said >= self._interval:
                    last_said = now
                    self.say(_count_line(description, done, total, unit, now - started))

            yield Counter(advance_plain)
        seconds = time.monotonic() - started
        if seconds >= self._quiet_below:
            self.say(_count_line(description, done, total, unit, seconds))


class _RateColumn(ProgressColumn):
    """Items per second, in the phase's unit."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self._unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f} {self._unit}/s" if speed else f"- {self._unit}/s")


def _count_line(description: str, done: int, total: int | None, unit: str, seconds: float) -> str:
    of = f"/{total}" if total is not None else ""
    rate = f", {done / seconds:,.1f} {unit}/s" if seconds > 0 and done else ""
    return f"{description}: {done}{of} {unit} in {seconds:.1f} s{rate}"
