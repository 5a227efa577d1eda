"""Values written with HTML character references are found as written: "+44&nbsp;20&nbsp;7946".

Agents fetch web pages, and a scraped page writes a no-break space between a number's groups as
"&nbsp;", an "@" hidden from harvesters as "&#64;", accents as "&eacute;" and every "&" of a link
as "&amp;". The detector reads the references as the characters they stand for and maps what it
finds back to the text as written.
"""

from __future__ import annotations

import html

import pytest
from benign_corpus import benign_values
from hypothesis import given
from hypothesis import strategies as st
from key_fields import assert_reads_back, assert_redacted_as_written

from otel_flywheel.privacy import BuiltinDetector, find_all
from otel_flywheel.privacy._decoding import html_unescaped

BUILTIN = BuiltinDetector()


def found(text: str) -> list[tuple[str, str]]:
    return [(m.kind, text[m.start : m.end]) for m in find_all(text, [BUILTIN])]


@pytest.mark.parametrize(
    ("written", "kind"),
    [
        ("+44&nbsp;20&nbsp;7946&nbsp;0958", "PHONE"),
        ("&#43;1 415 555 0132", "PHONE"),
        ("01&#160;42&#160;68&#160;53&#160;00", "PHONE"),
        ("(415)&nbsp;555-0132", "PHONE"),
        ("jane&#64;example.com", "EMAIL"),
        ("jane&#x40;example.com", "EMAIL"),
        ("jane&commat;example.com", "EMAIL"),
        ("jos&eacute;@example.com", "EMAIL"),
        ("4111&thinsp;1111&thinsp;1111&thinsp;1111", "CARD"),
        ("DE89&#8239;3704&#8239;0044&#8239;0532&#8239;0130&#8239;00", "IBAN"),
    ],
)
@pytest.mark.parametrize(
    "place",
    [
        "<p>Contact: {}</p>",
        '<a href="mailto:x">{}</a> &middot; <span>Impressum</span>',
        "Page text: Call us on {}. &copy; 2024 ACME &amp; Co.",
    ],
)
def test_a_value_written_with_character_references_is_found_where_it_is_written(
    written: str, kind: str, place: str
) -> None:
    assert_redacted_as_written(place.format(written), written, kind)


@pytest.mark.parametrize(
    "text",
    [
        "AT&T and R&D; Q&A",
        "&copy; 2024 &lt;div&gt; &amp;&amp; &quot;x&quot;",
        "https://x.test/?para=1&section=2&copy=3",  # legacy names without ";" are a query's keys
        "&fjlig; &unknownentity; &#xFFFFFFF; &#99999999;",
        "price&nbsp;&euro;&nbsp;1&nbsp;299,00 and 2024&ndash;2025",
    ],
)
def test_references_without_a_value_are_left_alone(text: str) -> None:
    assert found(text) == []


def test_benign_values_html_escaped_stay_untouched() -> None:
    texts = [
        (family, f"<td>{html.escape(value).replace(' ', '&nbsp;')}</td>")
        for family, value in benign_values()
    ]
    altered = [(family, text, found(text)) for family, text in texts if BUILTIN.find(text)]
    assert len(texts) > 4000
    assert altered == [], f"{len(altered)} of {len(texts)} altered, e.g. {altered[:5]}"


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_every_read_position_maps_to_where_it_is_written(text: str) -> None:
    def written_form(part: str) -> str:  # every other character as a decimal reference
        return "".join(f"&#{ord(c)};" if i % 2 else c for i, c in enumerate(part))

    written = written_form(text)
    assert_reads_back(
        html_unescaped(written), text, written, lambda before: len(written_form(before))
    )
