"""Values percent-encoded in URLs are found as written: "?email=jane%40example.com".

HTTP spans carry URLs (``url.full``), tools fetch them, pages link them; a query string writes
"@" as %40, "+" as %2B and spaces as %20 or "+". The detector decodes the runs of URL characters
that hold an escape, scans them, and maps what it finds back to the encoded characters.
"""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest
from benign_corpus import benign_values
from hypothesis import given
from hypothesis import strategies as st
from key_fields import assert_redacted_as_written, tool_span_both_ways

from otel_flywheel.privacy import BuiltinDetector, find_all
from otel_flywheel.privacy._decoding import written_at
from otel_flywheel.privacy._percent import _decoded

BUILTIN = BuiltinDetector()

VALUES = {
    "jane.doe@example.com": "EMAIL",
    "josé.garcía@example.es": "EMAIL",
    "+1 415 555 0132": "PHONE",
    "+44 20 7946 0958": "PHONE",
    "(415) 555-0132": "PHONE",
    "4111 1111 1111 1111": "CARD",
    "DE89 3704 0044 0532 0130 00": "IBAN",
}
QUERIES = (
    "https://api.example.com/v1/users?email={}&page=2",
    '{{"url": "https://crm.test/search?q={}"}}',
    "GET /v1/lookup?contact={} HTTP/1.1",
)
# A value ends its path segment: "/users/+14155550132/orders" is a path, as it is unencoded.
PATHS = ("https://api.example.com/v1/lookup/{}", "see https://crm.test/find/{}?page=2")


def found(text: str) -> list[tuple[str, str]]:
    return [(m.kind, text[m.start : m.end]) for m in find_all(text, [BUILTIN])]


CASES = [
    (value, kind, encoded, place)
    for value, kind in VALUES.items()
    for encoded, places in (
        # %20 for spaces, %40, %2B; "/(415) 555-0132" is a path, as it is unencoded.
        (quote(value, safe=""), QUERIES + (() if value.startswith("(") else PATHS)),
        (quote_plus(value), QUERIES),  # "+" for spaces: a query's form encoding
    )
    for place in places
] + [
    # An address after "letters/" in a path is read as a version ("Chrome/120.0.0.0"): in a query.
    ("203.0.113.77", "IP_ADDRESS", "203.0.113.77", QUERIES[0]),
    ("2001:db8::8a2e:370:7334", "IP_ADDRESS", "2001%3Adb8%3A%3A8a2e%3A370%3A7334", QUERIES[1]),
]


@pytest.mark.parametrize(("value", "kind", "encoded", "place"), CASES)
def test_a_percent_encoded_value_is_found_where_it_is_written(
    value: str, kind: str, encoded: str, place: str
) -> None:
    assert_redacted_as_written(place.format(encoded), encoded, kind)


def test_an_http_span_url_with_an_encoded_email_is_redacted_on_both_paths() -> None:
    url = "https://api.example.com/v1/users?email=jane.doe%40example.com&phone=%2B14155550132"
    exported, trace = tool_span_both_ways("http_get", {"url.full": url, "input.value": url})
    assert exported.attributes is not None
    redacted = str(exported.attributes["url.full"])
    assert redacted.startswith("https://api.example.com/v1/users?email=<EMAIL:")
    assert "&phone=<PHONE:" in redacted
    for written in (exported.to_json(), trace.to_json()):
        assert "jane.doe" not in written
        assert "4155550132" not in written


@pytest.mark.parametrize(
    "text",
    [
        "50% off, 100%, %s and %d, %ZZ",
        "GET /search?q=hello%20world&ids=123%2C456%2C789&at=2024-01-15%2012%3A00",
        "https://example.com/a%20b/c%2Fd?x=%E2%9C%93&y=%F0%9F%98%80",
        "bad %C3%28 and %FF%FE bytes",
        "%40 alone, x%40, %40example.com",
    ],
)
def test_escapes_without_a_value_are_left_alone(text: str) -> None:
    assert found(text) == []


def test_benign_values_percent_encoded_in_a_query_stay_untouched() -> None:
    corpus = benign_values()
    texts = [(f, f"https://api.test/v1?q={quote(v, safe='')}") for f, v in corpus if quote(v) != v]
    altered = [(family, text, found(text)) for family, text in texts if BUILTIN.find(text)]
    assert len(texts) > 1000
    assert altered == [], f"{len(altered)} of {len(texts)} altered, e.g. {altered[:5]}"


@given(st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40))
def test_every_decoded_position_maps_to_where_it_is_written(text: str) -> None:
    encoded = quote(text, safe="")
    reading = _decoded(encoded)
    assert reading.text == text
    for position in range(len(text) + 1):
        assert written_at(position, reading.at, reading.longer) == len(
            quote(text[:position], safe="")
        )


# A URL inside a URL's query is encoded again: its own "%40" is written "%2540". Sign-in
# redirects, tracking links and a redirect chain's hops carry values so.
def encoded_in_urls(value: str, times: int) -> str:
    for _ in range(times):
        value = quote(value, safe="")
    return value


NESTED = [
    (value, kind, times, place)
    for value, kind in VALUES.items()
    for times in (2, 3)
    for place in (
        "https://login.example.com/authorize?redirect_uri={}&state=x7",
        "https://t.example.com/click?u=https%3A%2F%2Fshop.test%2Fcart%3Fq%3D{}&id=9",
        '{{"location": "https://sso.test/cb?next={}"}}',
    )
]


@pytest.mark.parametrize(("value", "kind", "times", "place"), NESTED)
def test_a_value_encoded_in_a_url_inside_a_url_is_found_where_it_is_written(
    value: str, kind: str, times: int, place: str
) -> None:
    encoded = encoded_in_urls(value, times)
    assert_redacted_as_written(place.format(encoded), encoded, kind)


@pytest.mark.parametrize(
    "text",
    [
        "https://cdn.test/files/report%2520final.pdf?v=2",  # a space encoded twice
        "GET /search?q=50%2525%20off&ids=123%252C456",
        "https://a.test/r?u=https%253A%252F%252Fb.test%252Fdocs%253Fv%253D2.36.23",
        "https://a.test/r?u=%25252540example.com",  # deeper than is read, and no address
    ],
)
def test_escapes_encoded_again_without_a_value_are_left_alone(text: str) -> None:
    assert found(text) == []


def test_benign_values_encoded_twice_in_a_query_stay_untouched() -> None:
    corpus = benign_values()
    texts = [
        (f, f"https://api.test/v1?next={encoded_in_urls(f'/s?q={v}', 2)}")
        for f, v in corpus
        if quote(v) != v
    ]
    altered = [(family, text, found(text)) for family, text in texts if BUILTIN.find(text)]
    assert len(texts) > 1000
    assert altered == [], f"{len(altered)} of {len(texts)} altered, e.g. {altered[:5]}"
