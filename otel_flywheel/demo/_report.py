"""The demo's last step: ``otel-flywheel report`` over what the demo left in Phoenix, written as
HTML, JSON and Markdown under the demo's working dir."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from otel_flywheel.analysis import (
    ReportOptions,
    build_report,
    load_phoenix,
    render_html,
    render_markdown,
)
from otel_flywheel.phoenix import phoenix_client

__all__ = ["DemoReport", "write_demo_report"]


@dataclass(frozen=True)
class DemoReport:
    html: Path
    json: Path
    markdown: Path
    report: dict[str, Any]


def write_demo_report(
    *,
    phoenix_url: str,
    project: str,
    datasets: Sequence[str],
    out_dir: Path,
    api_key: str | None = None,
    progress: Callable[[str], None] = lambda _message: None,
) -> DemoReport:
    since = datetime.now(timezone.utc) - timedelta(days=30)
    with phoenix_client(phoenix_url, api_key=api_key) as (client, _):
        data = load_phoenix(
            client,
            project=project,
            since=since,
            until=None,
            datasets=datasets,
            phoenix_url=phoenix_url,
            progress=progress,
        )
    report = build_report(data, ReportOptions())
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = DemoReport(
        html=out_dir / "report.html",
        json=out_dir / "report.json",
        markdown=out_dir / "report.md",
        report=report,
    )
    paths.html.write_text(render_html(report), encoding="utf-8")
    paths.json.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    paths.markdown.write_text(render_markdown(report), encoding="utf-8")
    return paths
