"""The report's HTML as a person sees it: opened offline in headless Chromium, with no console
error, its plots drawn, and a screenshot kept as a test artifact."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright
from report_world import verdict_file

from otel_flywheel.cli import main
from otel_flywheel.testing.verdicts import Effect

CHROMIUM = Path("/usr/bin/chromium")
# Everything that would call out is off, as in tests/test_phoenix_ui.py; the page must not need it.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: run `make .venv/.installed-chromium`"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
            yield context.new_page()
        finally:
            browser.close()


def test_the_html_report_opens_offline_with_its_plots_and_no_console_errors(
    tmp_path: Path, page: Page, request: pytest.FixtureRequest
) -> None:
    verdicts = verdict_file(
        tmp_path / "v.jsonl",
        6000,
        effects=[Effect("parameter", 4.0, from_day=7, cohort={"tenant": "globex"})],
    )
    html = tmp_path / "report.html"
    assert (
        main(
            [
                "report",
                "--verdicts",
                str(verdicts),
                "--html",
                str(html),
                "--phoenix-url",
                "http://phoenix.invalid:6006",
            ]
        )
        == 0
    )

    messages: list[str] = []
    failed_requests: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    page.on("requestfailed", lambda req: failed_requests.append(req.url))
    page.goto(html.as_uri())
    page.wait_for_load_state("load")

    screenshot = tmp_path / "report.png"
    page.screenshot(path=str(screenshot), full_page=True)
    artifacts = Path(request.config.rootpath) / ".flywheel" / "test-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copy(screenshot, artifacts / "report.png")

    assert [m for m in messages if m.startswith(("error", "pageerror"))] == []
    assert failed_requests == []  # nothing fetched: every plot and style is inline
    plots = {p.get_attribute("data-plot") for p in page.locator("svg.plot").all()}
    assert {
        "monitor-overall",
        "monitor-categories",
        "attribute-categories",
        "drift-cells",
        "compare-versions",
    } <= plots
    for name in ("monitor-overall", "drift-cells"):
        box = page.locator(f'svg[data-plot="{name}"]').bounding_box()
        assert box is not None
        assert box["width"] > 300
        assert box["height"] > 100
        assert page.locator(f'svg[data-plot="{name}"] circle').count() > 3
    assert page.get_by_role("heading", name="Plan: what to fix next").is_visible()
    first_plan_row = page.locator("#plan tbody tr").first.inner_text()
    assert "parameter" in first_plan_row
    # Example traces link into Phoenix's UI.
    link = page.locator("#plan tbody tr").first.locator("a").first
    assert link.get_attribute("href").startswith("http://phoenix.invalid:6006/redirects/spans/")
    for section in (
        "Monitor",
        "Attribute: what fails, where, who fixes it",
        "Drift: current against baseline",
        "Calibration: the judge against people",
    ):
        assert page.get_by_role("heading", name=section).count() == 1


def test_untrusted_text_is_escaped(tmp_path: Path, page: Page) -> None:
    verdicts = verdict_file(
        tmp_path / "v.jsonl",
        400,
        goals=["<script>alert(1)</script> order A-{n}"],
        cohorts={"tenant": ("<b>acme</b>", "globex")},
    )
    html = tmp_path / "report.html"
    assert main(["report", "--verdicts", str(verdicts), "--html", str(html)]) == 0
    text = html.read_text()
    assert "<script>" not in text
    assert "&lt;b&gt;acme&lt;/b&gt;" in text
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(html.as_uri())
    assert dialogs == []
