"""Values written with JSON string escapes are found as written: '\\"to\\": \\"+81\\u202f90-...\\"'.

A tool call's arguments are a JSON text inside the request's JSON, so once the outer document is
parsed its leaves still hold escapes ("\\u00fc", "\\u202f", '\\"', "\\/"); exception messages and
logs quote JSON the same way. The detector reads the escapes as the characters they stand for and
maps what it finds back to the text as written.
"""

from __future__ import annotations

import json

import pytest
from benign_corpus import benign_values
from hypothesis import given
from hypothesis import strategies as st
from key_fields import assert_reads_back, assert_redacted_as_written, redactor

from otel_flywheel.privacy import BuiltinDetector, RedactionAudit, find_all
from otel_flywheel.privacy._decoding import json_unescaped

BUILTIN = BuiltinDetector()

VALUES = {
    "+81\u202f90-1117-8957": "PHONE",  # a narrow no-break space, as typesetting writes it
    "+34\u2011888\u201172\u201136\u201106": "PHONE",  # non-breaking hyphens, as chat models do
    "+44\u00a020\u00a07946\u00a00958": "PHONE",
    "müller.jörg@example.de": "EMAIL",
    "josé@example.com": "EMAIL",
    "4111\u20091111\u20091111\u20091111": "CARD",
    "DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000": "IBAN",
    "１２３-45-6789": "SSN",  # full-width digits
}
PLACES = (
    # a JSON text inside text: what a parsed request's tool-call arguments leaf holds
    "{}",
    # quoted inside an exception message or a log line
    'ValueError: invalid payload {{\\"to\\": {}, \\"n\\": 2}}',
    '2026-12-07 12:00:01 WARN retry body={{\\"customer\\": {{\\"contact\\": {}}}}}',
)


def found(text: str) -> list[tuple[str, str]]:
    return [(m.kind, text[m.start : m.end]) for m in find_all(text, [BUILTIN])]


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize(("value", "kind"), VALUES.items())
def test_a_value_written_with_json_escapes_is_found_where_it_is_written(
    value: str, kind: str, place: str
) -> None:
    token = json.dumps(value)  # '"+81\\u202f90-1117-8957"', escapes and quotes
    escaped = token[1:-1]
    assert_redacted_as_written(place.format(token if place == "{}" else escaped), escaped, kind)


@pytest.mark.parametrize("levels", [2, 3])
@pytest.mark.parametrize(("value", "kind"), VALUES.items())
def test_a_value_escaped_again_in_a_quoted_request_is_found_where_it_is_written(
    value: str, kind: str, levels: int
) -> None:
    # A log line quoting a request whose tool-call arguments are a JSON string: escaped twice.
    quoted = json.dumps({"to": value})
    written = value
    for _ in range(levels):
        written = json.dumps(written)[1:-1]
    for _ in range(levels - 1):
        quoted = json.dumps(quoted)
    assert_redacted_as_written(f"DEBUG retry body={quoted}", written, kind)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        # an escaped quote or slash hid the words and the scheme around the value
        ('{\\"phone\\": \\"4155550132\\"}', "PHONE"),
        ("url=https:\\/\\/app:s3cr3t!@db.internal:5432\\/orders", "PASSWORD"),
        ('msg=\\"call me at 612 345 678\\"', "PHONE"),
        ("line one\\nphone: 4155550132\\tok", "PHONE"),
    ],
)
def test_escaped_quotes_slashes_and_newlines_keep_the_context_a_value_needs(
    text: str, kind: str
) -> None:
    assert [k for k, _ in found(text)] == [kind], text


def test_a_tool_calls_arguments_leaf_and_the_same_json_later_are_both_redacted() -> None:
    # The arguments are a leaf of the first span's request (scanned as text) and the whole
    # input.value of the next: one answer, remembered for the string, must be right for both.
    arguments = json.dumps(
        {"to": "+81\u202f90-1117-8957", "cc": "müller.jörg@example.de", "pad": "x" * 200}
    )
    request = json.dumps({"tool_calls": [{"function": {"arguments": arguments}}]})
    shared = redactor()
    for text in (request, arguments):
        output = str(shared.redact_text(text, RedactionAudit()))
        assert "90-1117-8957" not in output
        assert "ller.j" not in output


def test_benign_values_json_escaped_in_text_stay_untouched() -> None:
    texts = [
        (family, '{"q": ' + json.dumps(value) + "}")
        for family, value in benign_values()
        if "\\" in json.dumps(value)
    ]
    texts += [(family, json.dumps({"q": value})) for family, value in benign_values()]
    altered = [(family, text, found(text)) for family, text in texts if BUILTIN.find(text)]
    assert len(texts) > 4000
    assert altered == [], f"{len(altered)} of {len(texts)} altered, e.g. {altered[:5]}"


def test_windows_paths_and_regexes_with_backslashes_are_left_alone() -> None:
    for text in (
        r"C:\Users\build\AppData\Local\Temp\tmp1234567890",
        r"re.compile(r'\d{3}-\d{3}-\d{4}')",
        r"\\server\share\2024\01\15\report.pdf",
        r"printf('%s\n', \"done\")",
    ):
        assert found(text) == [], text


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_every_unescaped_position_maps_to_where_it_is_written(text: str) -> None:
    escaped = json.dumps(text)[1:-1]  # \uXXXX for what is not ASCII, \" \\ \n and the rest
    assert_reads_back(
        json_unescaped(escaped), text, escaped, lambda before: len(json.dumps(before)) - 2
    )
