"""The Phoenix UI, as a person sees it after ``make demo``: headless Chromium follows the link the
demo prints and finds our annotation, with its label, on the failing trace's culprit span.

The browser is Debian's ``chromium`` (``make test`` installs it: target ``.venv/.installed-chromium``),
driven by Playwright's Python package; never a browser Playwright downloads. The machine's network is
closed, so Chromium runs with everything that would call out switched off, in a fresh profile.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from test_demo import EXPECTED_DATASETS, demo_of_session

from otel_flywheel.demo import DemoResult
from otel_flywheel.model import Evaluation
from otel_flywheel.routing import DATASET_PURPOSES
from otel_flywheel.testing.phoenix import LocalPhoenix

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# For actions and for `expect` (whose own default is 5 s). Generous: the machine is shared, and
# Phoenix's app runs GraphQL queries behind every page.
UI_TIMEOUT_MILLIS = 60_000


@pytest.fixture(scope="session")
def demo(
    request: pytest.FixtureRequest,
    phoenix_server: LocalPhoenix,
    tmp_path_factory: pytest.TempPathFactory,
) -> DemoResult:
    return demo_of_session(request.config, phoenix_server, tmp_path_factory.mktemp("demo-state"))


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    # A missing browser fails the test, it never skips it: `make test` installs one.
    assert CHROMIUM.is_file(), (
        f"{CHROMIUM} is missing: run `make .venv/.installed-chromium` (apt-get install chromium)"
    )
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1600, "height": 1000},
        )
        try:
            page = context.new_page()
            page.set_default_timeout(UI_TIMEOUT_MILLIS)
            yield page
        finally:
            context.close()


@contextmanager
def screenshot_on_failure(page: Page, path: Path) -> Iterator[None]:
    """What the browser showed when a check failed, kept in pytest's temporary directory."""
    try:
        yield
    except BaseException:
        page.screenshot(path=path, full_page=True)
        print(f"the page at {page.url} is in {path}", file=sys.stderr)  # shown with the failure
        raise


def culprit_findings(demo: DemoResult) -> list[Evaluation]:
    failing = demo.failing_run()
    assert failing is not None
    verdict = failing.verdict
    return [
        e
        for e in verdict.evaluations
        if e.passed is False and e.culprit_span_id == verdict.culprit_span_id
    ]


def test_the_failing_trace_link_opens_the_trace_with_the_culprit_span_and_our_annotation(
    demo: DemoResult, page: Page, tmp_path: Path
) -> None:
    failing = demo.failing_run()
    assert failing is not None
    culprit = failing.verdict.culprit_span_id
    assert culprit is not None
    findings = culprit_findings(demo)
    assert findings

    page.goto(demo.culprit_url(failing))

    with screenshot_on_failure(page, tmp_path / "culprit-span.png"):
        # Phoenix's app resolves the link to the trace's page with the culprit span selected.
        page.wait_for_url(
            re.compile(rf"/projects/[^/]+/spans/{failing.trace.trace_id}\?selectedSpanNodeId=")
        )
        expect(page.get_by_text(culprit, exact=True).filter(visible=True).first).to_be_visible(
            timeout=UI_TIMEOUT_MILLIS
        )
        # The trace tree lists every span of the trace.
        for name in {step.name for step in failing.trace.steps}:
            expect(page.get_by_text(name, exact=True).filter(visible=True).first).to_be_visible(
                timeout=UI_TIMEOUT_MILLIS
            )
        # The selected span's annotations, as a table: name, kind, label, score, explanation.
        page.get_by_role("button", name="Annotations", exact=True).click()
        page.get_by_text("Table", exact=True).click()
        for finding in findings:
            row = page.locator("tr").filter(has_text=finding.explanation)
            expect(row).to_have_count(1, timeout=UI_TIMEOUT_MILLIS)
            cells = [cell.strip() for cell in row.locator("td").all_inner_texts()]
            # The label says what failed; the score stays for sorting.
            label = f"{finding.category}/{finding.subcategory}"
            assert cells[:5] == [finding.evaluator, "CODE", label, "0", finding.explanation]
            assert f'"subcategory":"{finding.subcategory}"' in row.inner_text()
    assert failing.verdict.subcategory in {f.subcategory for f in findings}


def test_the_datasets_page_lists_the_four_datasets_with_their_example_counts(
    demo: DemoResult, page: Page, tmp_path: Path
) -> None:
    page.goto(f"{demo.phoenix_url}/datasets")

    with screenshot_on_failure(page, tmp_path / "datasets.png"):
        for route, expected in EXPECTED_DATASETS.items():
            row = page.locator("tr").filter(has_text=demo.datasets[route])
            expect(row).to_have_count(1, timeout=UI_TIMEOUT_MILLIS)
            cells = [cell.strip() for cell in row.locator("td").all_inner_texts()]
            assert str(len(expected)) in cells, route
            # What the dataset holds and how examples get there, as description and labels.
            text = row.inner_text()
            assert DATASET_PURPOSES[route].description[:30] in text, route
            for label in DATASET_PURPOSES[route].labels:
                expect(row.get_by_text(label, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MILLIS)
