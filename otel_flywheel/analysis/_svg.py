"""Plots as inline SVG: no script, no font or stylesheet to fetch, so the page opens offline and
prints as it shows. Three shapes cover the report: rates over time with their interval bands,
horizontal bars, and baseline-vs-current intervals per row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

__all__ = ["Band", "IntervalRow", "bar_chart", "interval_plot", "line_chart"]

COLORS: Final = ("#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477")
_FONT: Final = 'font-family="system-ui, sans-serif" font-size="11"'


@dataclass(frozen=True)
class Band:
    """One series: a value per x position (``None`` where there is none) and its interval."""

    label: str
    values: Sequence[float | None]
    low: Sequence[float | None]
    high: Sequence[float | None]


def line_chart(
    name: str,
    x_labels: Sequence[str],
    bands: Sequence[Band],
    *,
    width: int = 720,
    height: int = 240,
) -> str:
    """Rates (0-1) over time, each with its shaded 95 % interval."""
    left, right, top, bottom = 48, 140, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([h for b in bands for h in b.high if h is not None] + [0.05])
    y_max = min(1.0, _nice(peak))
    count = max(len(x_labels), 1)

    def x(i: int) -> float:
        return left + (plot_w * (i + 0.5) / count)

    def y(v: float) -> float:
        return top + plot_h * (1 - v / y_max)

    parts = [_axes(left, top, plot_w, plot_h, y_max)]
    step = max(1, count // 8)
    for i, label in enumerate(x_labels):
        if i % step == 0:
            parts.append(
                f'<text x="{x(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle" {_FONT}>'
                f"{escape(label)}</text>"
            )
    for index, band in enumerate(bands):
        color = COLORS[index % len(COLORS)]
        points = [
            (i, v, lo, hi)
            for i, (v, lo, hi) in enumerate(zip(band.values, band.low, band.high, strict=True))
            if v is not None and lo is not None and hi is not None
        ]
        if not points:
            continue
        outline = [f"{x(i):.1f},{y(hi):.1f}" for i, _, _, hi in points] + [
            f"{x(i):.1f},{y(lo):.1f}" for i, _, lo, _ in reversed(points)
        ]
        parts.append(
            f'<polygon points="{" ".join(outline)}" fill="{color}" fill-opacity="0.15" stroke="none"/>'
        )
        line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v, _, _ in points)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2"/>')
        for i, v, lo, hi in points:
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}">'
                f"<title>{escape(band.label)} {escape(x_labels[i])}: {v:.1%} "
                f"({lo:.1%}-{hi:.1%})</title></circle>"
            )
        legend_y = top + 14 * index + 8
        parts.append(
            f'<rect x="{left + plot_w + 12}" y="{legend_y - 8}" width="10" height="10" fill="{color}"/>'
            f'<text x="{left + plot_w + 26}" y="{legend_y + 1}" {_FONT}>{escape(_short(band.label, 18))}</text>'
        )
    return _svg(name, width, height, parts, "rate over time with 95% intervals")


def bar_chart(
    name: str, items: Sequence[tuple[str, float]], *, width: int = 720, as_share: bool = False
) -> str:
    """Horizontal bars, largest first as given."""
    bar_h, gap, left = 18, 6, 220
    height = max(len(items), 1) * (bar_h + gap) + 10
    peak = max([v for _, v in items] + [1e-9])
    parts = []
    for i, (label, value) in enumerate(items):
        y0 = 5 + i * (bar_h + gap)
        length = (width - left - 80) * value / peak
        text = f"{value:.1%}" if as_share else f"{value:g}"
        parts.append(
            f'<text x="{left - 6}" y="{y0 + 13}" text-anchor="end" {_FONT}>{escape(_short(label, 34))}</text>'
            f'<rect x="{left}" y="{y0}" width="{length:.1f}" height="{bar_h}" fill="{COLORS[0]}">'
            f"<title>{escape(label)}: {text}</title></rect>"
            f'<text x="{left + length + 4:.1f}" y="{y0 + 13}" {_FONT}>{text}</text>'
        )
    return _svg(name, width, height, parts, "bar chart")


@dataclass(frozen=True)
class IntervalRow:
    label: str
    before: tuple[float, float, float] | None  # rate, low, high
    after: tuple[float, float, float] | None
    flagged: bool = False


def interval_plot(name: str, rows: Sequence[IntervalRow], *, width: int = 720) -> str:
    """Per row: the baseline (grey) and current (blue, red when flagged) rate with its interval."""
    row_h, left, right = 26, 240, 20
    height = max(len(rows), 1) * row_h + 30
    peak = max(
        [r.after[2] for r in rows if r.after] + [r.before[2] for r in rows if r.before] + [0.05]
    )
    x_max = min(1.0, _nice(peak))
    plot_w = width - left - right

    def x(v: float) -> float:
        return left + plot_w * v / x_max

    parts = []
    for tick in _ticks(x_max):
        parts.append(
            f'<line x1="{x(tick):.1f}" y1="4" x2="{x(tick):.1f}" y2="{height - 22}" stroke="#ddd"/>'
            f'<text x="{x(tick):.1f}" y="{height - 8}" text-anchor="middle" {_FONT}>{tick:.0%}</text>'
        )
    for i, row in enumerate(rows):
        y0 = 14 + i * row_h
        weight = ' font-weight="bold"' if row.flagged else ""
        parts.append(
            f'<text x="{left - 8}" y="{y0 + 4}" text-anchor="end" {_FONT}{weight}>{escape(_short(row.label, 38))}</text>'
        )
        for offset, figure, color in (
            (-4, row.before, "#999"),
            (4, row.after, COLORS[1] if row.flagged else COLORS[0]),
        ):
            if figure is None:
                continue
            value, low, high = figure
            parts.append(
                f'<line x1="{x(low):.1f}" y1="{y0 + offset}" x2="{x(high):.1f}" y2="{y0 + offset}" '
                f'stroke="{color}" stroke-width="2"/>'
                f'<circle cx="{x(value):.1f}" cy="{y0 + offset}" r="3.5" fill="{color}">'
                f"<title>{escape(row.label)}: {value:.1%} ({low:.1%}-{high:.1%})</title></circle>"
            )
    return _svg(name, width, height, parts, "baseline (grey) and current rates with 95% intervals")


def _axes(left: int, top: int, plot_w: int, plot_h: int, y_max: float) -> str:
    parts = []
    for tick in _ticks(y_max):
        y = top + plot_h * (1 - tick / y_max)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e5e5e5"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" {_FONT}>{tick:.0%}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#888"/>'
    )
    return "".join(parts)


def _ticks(maximum: float) -> list[float]:
    return [maximum * i / 4 for i in range(5)]


def _nice(value: float) -> float:
    for step in (0.05, 0.1, 0.2, 0.25, 0.4, 0.5, 0.6, 0.8, 1.0):
        if value <= step:
            return step
    return 1.0


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg(name: str, width: int, height: int, parts: Sequence[str], title: str) -> str:
    return (
        f'<svg class="plot" data-plot="{escape(name)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )
