"""Addresses spelled out against scrapers ("jane [at] example [dot] com"): found whole."""

from __future__ import annotations

import json

import pytest
from masking import masked, masking_redactor

from otel_flywheel.privacy import Redactor

KEY = b"spelled-out-email-test-key-01234"


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return masking_redactor(KEY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jane [at] example [dot] com", "<EMAIL>"),
        ("Contact: jane.doe [at] example [dot] com.", "Contact: <EMAIL>."),
        ("write to jane(at)example.com today", "write to <EMAIL> today"),
        ("j.smith {at} mail (dot) example (dot) co (dot) uk", "<EMAIL>"),
        ("J.SMITH [AT] EXAMPLE [DOT] ORG", "<EMAIL>"),
        ("sales<at>example<dot>de", "<EMAIL>"),
        ("mail jane [at] example[.]com", "mail <EMAIL>"),
        ("<li>bob_92 (at) uni-example (dot) edu</li>", "<li><EMAIL></li>"),
        ("jane@example.com, bob [at] example [dot] net", "<EMAIL>, <EMAIL>"),
    ],
)
def test_an_address_spelled_out_is_redacted_whole(
    redactor: Redactor, text: str, expected: str
) -> None:
    assert masked(redactor, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "see [at] the docs",
        "x = a[at] + b[at]",
        "values[at] = 3",
        "jane [at] example",  # no domain after it
        "[at] example [dot] com",  # no name before it
        "meet me at example dot com",  # bare words are prose
        "the meeting (at) noon",
        "arr[at].example",
    ],
)
def test_brackets_that_spell_nothing_are_kept(redactor: Redactor, text: str) -> None:
    assert masked(redactor, text) == text


def test_a_spelled_out_address_in_a_scraped_page_inside_json_is_redacted(
    redactor: Redactor,
) -> None:
    page = json.dumps(
        {
            "url": "https://example.org/team",
            "content": "<p>Press: anna.k [at] example [dot] org</p>",
        }
    )
    assert json.loads(masked(redactor, page))["content"] == "<p>Press: <EMAIL></p>"
