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


def in_digits_of(zero: int, ascii: str) -> str:
    return "".join(chr(zero + int(c)) if c.isdigit() else c for c in ascii)


ARABIC_INDIC, PERSIAN, DEVANAGARI, BENGALI = 0x0660, 0x06F0, 0x0966, 0x09E6
# Long texts of each script around the value: the digits are looked for where the script is.
ARABIC_PROSE = "شكرا لتواصلك معنا، سنقوم بمراجعة طلبك والرد عليك في أقرب وقت ممكن. " * 6
PERSIAN_PROSE = "با سلام، سفارش شما ثبت شد و به زودی ارسال خواهد شد. لطفا منتظر بمانید. " * 6
HINDI_PROSE = "आपका ऑर्डर मिल गया है और जल्द ही भेजा जाएगा। कृपया प्रतीक्षा करें। " * 6


@pytest.mark.parametrize(
    ("text", "ascii", "zero", "kind"),
    [
        ("هاتف: {}", "0501234567", ARABIC_INDIC, "PHONE"),
        ("الجوال {}", "+966 50 123 4567", ARABIC_INDIC, "PHONE"),
        ("رقم البطاقة {}", "4111 1111 1111 1111", ARABIC_INDIC, "CARD"),
        ("موبایل {}", "09121234567", PERSIAN, "PHONE"),
        ("تلفن: {}", "021-8812-3456", PERSIAN, "PHONE"),
        ("{}", "09121234567", PERSIAN, "PHONE"),  # a form's field: the number alone
        ("फ़ोन {}", "09812045673", DEVANAGARI, "PHONE"),
        ("कार्ड {}", "4111111111111111", DEVANAGARI, "CARD"),
        ("ফোন {}", "+880 1712-345678", BENGALI, "PHONE"),
        (ARABIC_PROSE + "هاتف: {} " + ARABIC_PROSE, "0501234567", ARABIC_INDIC, "PHONE"),
        (PERSIAN_PROSE + "موبایل {}. " + PERSIAN_PROSE, "09121234567", PERSIAN, "PHONE"),
        (HINDI_PROSE + "फ़ोन: {} " + HINDI_PROSE, "+91 98120 45673", DEVANAGARI, "PHONE"),
    ],
)
def test_digits_of_other_scripts_are_read_as_digits(
    text: str, ascii: str, zero: int, kind: str
) -> None:
    written = in_digits_of(zero, ascii)
    full = text.format(written)
    assert [(k, v) for k, v in found(full)] == [(kind, written)]
    output, counts = redact(full)
    assert written not in output
    assert counts == {kind: 1}


@pytest.mark.parametrize(
    ("text", "zero"),
    [
        ("قیمت {} تومان", PERSIAN),
        ("سفارش شماره {} ثبت شد", PERSIAN),
        ("تاریخ {}", PERSIAN),
        ("السعر {} ريال", ARABIC_INDIC),
        ("कुल {} रुपये", DEVANAGARI),
    ],
)
@pytest.mark.parametrize("number", ["120000", "1403/05/12", "12345678", "2024-01-15", "3.5"])
def test_other_numbers_in_digits_of_other_scripts_stay(text: str, zero: int, number: str) -> None:
    full = text.format(in_digits_of(zero, number))
    assert redact(full) == (full, {})


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("メール ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ まで", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ"),
        (
            "連絡先：Ｙａｍａｄａ＿Ｔａｒｏ＠ｍａｉｌ．ｅｘａｍｐｌｅ．ｊｐ",
            "Ｙａｍａｄａ＿Ｔａｒｏ＠ｍａｉｌ．ｅｘａｍｐｌｅ．ｊｐ",
        ),
        ("mail: taro﹫example.com", "taro﹫example.com"),
    ],
)
def test_an_address_typed_in_full_width_is_found_as_written(text: str, written: str) -> None:
    assert found(text) == [("EMAIL", written)]
    assert written not in redact(text)[0]


def test_full_width_letters_are_read_as_letters_only_beside_a_full_width_at() -> None:
    assert with_ascii_lookalikes("ＡＢＣ株式会社 ０３") == "ＡＢＣ株式会社 03"
    assert with_ascii_lookalikes("ａｂ＠ｃｄ．ｊｐ") == "ab@cd.jp"
