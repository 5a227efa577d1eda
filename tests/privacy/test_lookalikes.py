"""Values written with typographic spaces, hyphens or full-width digits are found as written.

Web pages and European text put no-break or thin spaces between digit groups, chat models write
phone numbers with non-breaking hyphens, CJK text uses full-width digits. The scanner reads each
as its ASCII counterpart, one character for one: the value is found at its place and redacted as
it was written, and nothing benign is found because its spaces are no-break spaces.
"""

from __future__ import annotations

import json

import pytest
from benign_corpus import benign_values
from hypothesis import given
from hypothesis import strategies as st
from key_fields import assert_redacted_as_written, redact, tool_span_both_ways

from otel_flywheel.privacy import BuiltinDetector, find_all
from otel_flywheel.privacy._lookalikes import with_ascii_lookalikes

BUILTIN = BuiltinDetector()

SPACES = {
    "no-break space": "\u00a0",
    "narrow no-break space": "\u202f",
    "thin space": "\u2009",
    "figure space": "\u2007",
    "zero-width space": "\u200b",
    "ideographic space": "\u3000",
}
HYPHENS = {
    "non-breaking hyphen": "\u2011",
    "hyphen": "\u2010",
    "figure dash": "\u2012",
    "en dash": "\u2013",
    "minus sign": "\u2212",
    "full-width hyphen-minus": "\uff0d",
}
# Written with ASCII spaces and hyphens, each of which the variants below replace.
VALUES = {
    "+44 20 7946 0958": "PHONE",
    "+1-415-555-0132": "PHONE",
    "(415) 555-0132": "PHONE",
    "030 901820": "PHONE",
    "06 12 34 56 78": "PHONE",
    "4111 1111 1111 1111": "CARD",
    "4111-1111-1111-1111": "CARD",
    "DE89 3704 0044 0532 0130 00": "IBAN",
    "123-45-6789": "SSN",
}
PLACES = ("call {} today", "Kunde: {}.", "<td>{}</td>", '{{"contact": "{}"}}')


def found(text: str) -> list[tuple[str, str]]:
    return [(m.kind, text[m.start : m.end]) for m in find_all(text, [BUILTIN])]


def variants(value: str) -> list[tuple[str, str]]:
    """``value`` with its spaces, or its hyphens, written with each look-alike."""
    out = []
    if " " in value:
        out += [(name, value.replace(" ", char)) for name, char in SPACES.items()]
    if "-" in value:
        out += [(name, value.replace("-", char)) for name, char in HYPHENS.items()]
    return out


CASES = [
    (name, written, kind, place)
    for value, kind in VALUES.items()
    for name, written in variants(value)
    for place in PLACES
]


@pytest.mark.parametrize(("separator", "written", "kind", "place"), CASES)
def test_a_value_with_typographic_separators_is_found_as_written(
    separator: str, written: str, kind: str, place: str
) -> None:
    assert_redacted_as_written(place.format(written), written, kind)


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("電話 ０３-１２３４-５６７８ まで", "０３-１２３４-５６７８"),
        ("电话：＋４４ ２０ ７９４６ ０９５８。", "＋４４ ２０ ７９４６ ０９５８"),
        ("TEL （０３）１２３４-５６７８", "（０３）１２３４-５６７８"),
        (
            "カード 4111\u3000１１１１\u3000１１１１\u30001111",
            "4111\u3000１１１１\u3000１１１１\u30001111",
        ),
    ],
)
def test_full_width_digits_are_read_as_digits(text: str, written: str) -> None:
    assert [value for _, value in found(text)] == [written]
    assert written not in redact(text)[0]


def test_a_phone_field_written_with_no_break_spaces_is_redacted_whole() -> None:
    output, counts = redact(json.dumps({"phone": "415\u00a0555\u00a00132"}, ensure_ascii=False))
    assert "555" not in output
    assert counts == {"PHONE": 1}
    number = "415\u2011555\u20110132"
    exported, trace = tool_span_both_ways("crm", {"user.phone": number})
    assert exported.attributes is not None
    assert str(exported.attributes["user.phone"]).startswith("<PHONE:")
    for written in (exported.to_json(), trace.to_json()):  # ids are random hex: the whole number
        assert number not in written
        assert json.dumps(number).strip('"') not in written


def test_the_em_dash_stays_prose_punctuation() -> None:
    # A "-" right before digits makes them a range's end or an id's suffix; an em dash does not.
    assert found("Call us\u2014415-555-0132 any time") == [("PHONE", "415-555-0132")]
    assert found("pages 10\u201312 and 2019\u20132020, \u2212 5 points") == []


def test_benign_values_written_with_no_break_spaces_and_hyphens_stay_untouched() -> None:
    corpus = benign_values()  # the corpus test_detectors keeps untouched with ASCII spaces
    rewritten = [
        (family, value.replace(" ", space).replace("-", hyphen))
        for family, value in corpus
        for space, hyphen in (("\u00a0", "\u2011"), ("\u202f", "\u2013"), ("\u2009", "\u2212"))
        if " " in value or "-" in value
    ]
    altered = [(family, value) for family, value in rewritten if BUILTIN.find(value)]
    assert len(rewritten) > 3000
    assert altered == [], f"{len(altered)} of {len(rewritten)} altered, e.g. {altered[:5]}"


@given(st.text())
def test_reading_look_alikes_keeps_every_offset(text: str) -> None:
    read = with_ascii_lookalikes(text)
    assert len(read) == len(text)
    assert all(a == b for a, b in zip(read, text, strict=True) if b.isascii())
