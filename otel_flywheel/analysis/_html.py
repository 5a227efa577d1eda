"""Pieces of the HTML report: escaped tables, sections, links, and how figures read in words."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from otel_flywheel.analysis._svg import IntervalRow
from otel_flywheel.analysis._tally import rate

__all__ = [
    "Html",
    "cat",
    "cell",
    "cohort",
    "interval",
    "kappa",
    "links",
    "num",
    "p",
    "pct",
    "rate_text",
    "section",
    "table",
    "value",
    "window",
]


class Html(str):
    """Already-escaped markup."""


def section(key: str, title: str, content: str) -> str:
    return f'<section id="{key}"><h2>{escape(title)}</h2>{content}</section>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(header)}</th>" for header in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{cell if isinstance(cell, Html) else escape(str(cell))}</td>" for cell in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def links(examples: Sequence[Mapping[str, Any]]) -> Html:
    links = []
    for example in examples:
        text = escape(example["trace_id"][:12])
        url = example.get("url")
        links.append(
            f'<a href="{escape(url)}"><code>{text}</code></a>' if url else f"<code>{text}</code>"
        )
    return Html(" ".join(links))


def rate_text(figure: Mapping[str, Any], min_traces: int) -> str:
    traces = figure.get("traces") or 0
    if figure.get("rate") is None or traces < min_traces:
        return f"not enough data ({figure.get('failed', 0)} of {traces})"
    low, high = figure["ci95"]
    return f"{figure['rate']:.1%} ({low:.1%}–{high:.1%}; {figure['failed']} of {traces})"


def kappa(row: Mapping[str, Any]) -> str:
    if row["kappa"] is None:
        return f"not enough data (n={row['n']})"
    ci = row["kappa_ci95"]
    return f"{row['kappa']:.2f} ({ci[0]:.2f}–{ci[1]:.2f})" if ci else f"{row['kappa']:.2f}"


def interval(label: str, cell: Mapping[str, Any]) -> IntervalRow:
    def triple(figure: Mapping[str, Any]) -> tuple[float, float, float] | None:
        return (figure["rate"], *figure["ci95"]) if figure.get("rate") is not None else None

    return IntervalRow(
        label, triple(cell["baseline"]), triple(cell["current"]), bool(cell["flagged"])
    )


def cell(result: Mapping[str, Any]) -> str:
    """A drift cell's name: its category and cohort."""
    who = cohort(result["cohort"])
    return f"{result['category'] or 'all'}{' · ' + who if who else ''}"


def cohort(members: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={value(v)}" for k, v in members.items())


def value(item: Any) -> str:
    """A cohort value as shown: a missing attribute reads "(not set)"."""
    return "(not set)" if item is None else str(item)


def cat(point: Mapping[str, Any], category: str, part: str) -> float | None:
    figure = point["categories"].get(category) or rate(0, point["traces"])
    if part == "rate":
        return float(figure["rate"])
    return float(figure["ci95"][0 if part == "low" else 1]) if figure["ci95"] else None


def window(bounds: Mapping[str, str] | None) -> str:
    return "(none)" if not bounds else escape(f"{bounds['start']} .. {bounds['end']}")


def pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def p(value: float | None) -> str:
    return "" if value is None else f"{value:.2g}"


def num(value: int) -> str:
    return f"{value:,}"
