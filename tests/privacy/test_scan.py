"""The fast paths of redaction find exactly what the plain ones would.

Joining a span's strings into one scan, substituting changed strings in a JSON text instead of
rebuilding it, reusing cached results, finding keywords in a byte copy of non-ASCII text: each is
checked against the straightforward way on the same input.
"""

from __future__ import annotations

import json
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from otel_flywheel.privacy import (
    BuiltinDetector,
    Match,
    RedactionAudit,
    Redactor,
    TermDetector,
    find_all,
)
from otel_flywheel.privacy._cache import ResultCache
from otel_flywheel.privacy._joined import JOIN, find_in_each

BUILTIN = BuiltinDetector()
KEY = b"scan-test-key-0123456789abcdef"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nq2Yh+/x==\n-----END RSA PRIVATE KEY-----"
SAMPLES = [
    "jane.doe@example.com",
    "+44 20 7946 0958",
    "(415) 555-0132",
    "030 901820",
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "123-45-6789",
    "203.0.113.7",
    "2001:db8::8a2e:370:7334",
    "sk-proj-" + "a1B2" * 12,
    "Authorization: Bearer abc123.def-456_ghi",
    "postgres://app:s3cr3t!@db.internal:5432/orders",
    "password=hunter2",
    "2026-03-05T10:22:31.123+00:00",
    "order A-2988609748",
    "v1.2.3.4",
    "10:15:30",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIE",
    "\nq2Yh+/x==\n-----END RSA PRIVATE KEY-----",
    PEM,
    "",
    "Grüße, İstanbul",
]
TEXTS = st.lists(
    st.one_of(
        st.sampled_from(SAMPLES),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
        st.builds(
            lambda a, b, c: f"{a} {b} {c}",
            st.sampled_from(SAMPLES),
            st.text(max_size=8),
            st.sampled_from(SAMPLES),
        ),
    ),
    max_size=12,
)


def one_by_one(texts: list[str]) -> dict[int, list[Match]]:
    return {i: m for i, text in enumerate(texts) if (m := find_all(text, [BUILTIN]))}


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_one_scan_of_joined_strings_finds_what_a_scan_of_each_finds(texts: list[str]) -> None:
    assert find_in_each(texts, [BUILTIN], []) == one_by_one(texts)


def test_a_private_key_split_over_two_strings_is_found_in_each_as_alone() -> None:
    texts = [
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7",
        "q2Yh\n-----END RSA PRIVATE KEY-----",
    ]
    assert JOIN not in "".join(texts)
    assert find_in_each(texts, [BUILTIN], []) == one_by_one(texts)
    assert 0 in find_in_each(texts, [BUILTIN], [])  # the truncated block alone is a key


def test_term_lists_join_and_user_regexes_do_not() -> None:
    terms = TermDetector("CUSTOMER", ["Globex Corporation"])
    texts = ["Globex", "Corporation", "call Globex Corporation"]
    found = find_in_each(texts, [terms], [])
    assert found == {2: [Match(5, 23, "CUSTOMER")]}


def redactor(**options: object) -> Redactor:
    return Redactor(key=KEY, detectors=[BuiltinDetector()], **options)  # type: ignore[arg-type]


DOCUMENT = {
    "rows": [
        {"id": "A-2988609748", "contact": "jane.doe@example.com", "note": "call (415) 555-0132"},
        {"id": "A-2988609749", "contact": "jane.doe@example.com", "qty": 2},
        {"jane.doe@example.com": "primary", "card": 4111111111111111},
    ],
    "model": "gpt-4o-mini",
    "total": 12.5,
}


def test_changed_strings_are_substituted_in_the_json_text_and_its_formatting_kept() -> None:
    source = json.dumps(DOCUMENT, indent=2)
    audit = RedactionAudit()

    result = str(redactor().redact_text(source, audit))

    parsed = json.loads(result)
    assert "jane.doe@example.com" not in result
    assert "555-0132" not in result
    assert "4111111111111111" not in result
    assert parsed["rows"][0]["contact"] == parsed["rows"][1]["contact"]  # the same pseudonym
    assert parsed["rows"][0]["id"] == "A-2988609748"
    assert parsed["total"] == 12.5
    assert parsed["model"] == "gpt-4o-mini"
    assert audit.counts == {"EMAIL": 3, "PHONE": 1, "CARD": 1}
    # A card-shaped integer becomes a string token: that document is rebuilt. Without one, in a
    # document much longer than what changes, the changed strings are replaced where they stand
    # and the indentation is the source's.
    filler = [{"sku": f"SKU-{i}", "status": "shipped"} for i in range(20)]
    rows = {"rows": [*DOCUMENT["rows"][:2], *filler]}
    source = json.dumps(rows, indent=2)
    result = str(redactor().redact_text(source, RedactionAudit()))
    assert "jane.doe@example.com" not in result
    assert result.count("\n") == source.count("\n")
    assert result.replace(json.loads(result)["rows"][0]["contact"], "X") == source.replace(
        "jane.doe@example.com", "X"
    ).replace("call (415) 555-0132", json.loads(result)["rows"][0]["note"])


def test_substitution_and_rebuilding_give_the_same_document() -> None:
    filler = [f"line {i}: nothing to see" for i in range(30)]
    small = {"a": "jane.doe@example.com", "b": filler, "c": ["jane.doe@example.com"]}  # substituted
    large = {"a": "jane.doe@example.com " + "y" * 400, "b": filler}  # too long to substitute
    for document in (small, large):
        for encoding in (json.dumps(document), json.dumps(document, ensure_ascii=True)):
            result = json.loads(str(redactor().redact_text(encoding, RedactionAudit())))
            # redact_value walks the parsed value: the straightforward way.
            assert result == redactor().redact_value(document, RedactionAudit())
            assert "jane.doe@example.com" not in json.dumps(result)


def test_a_string_that_is_also_json_structure_is_never_substituted_across_tokens() -> None:
    # The token of ", " occurs between every two values: substitution must not touch those.
    source = json.dumps(["jane.doe@example.com", ", ", "b"])
    result = json.loads(str(redactor().redact_text(source, RedactionAudit())))
    assert result[1:] == [", ", "b"]
    assert result[0].startswith("<EMAIL:")


def test_escaped_encodings_are_rebuilt_and_stay_valid() -> None:
    source = (
        '{"url": "https:\\/\\/example.com", "to": "jane.doe\\u0040example.com", "k": "\\u00e9"}'
    )
    result = str(redactor().redact_text(source, RedactionAudit()))
    parsed = json.loads(result)
    assert parsed["to"].startswith("<EMAIL:")
    assert parsed["url"] == "https://example.com"
    assert parsed["k"] == "é"


def counting_redactor(calls: list[str]) -> Redactor:
    """A redactor whose built-in detector records every text it is asked to scan."""

    class Counting(BuiltinDetector):
        def find(self, text: str) -> list[Match]:
            calls.append(text)
            return super().find(text)

    return Redactor(key=KEY, detectors=[Counting()])


def test_a_repeated_string_is_scanned_once_and_counted_each_time() -> None:
    calls: list[str] = []

    counting = counting_redactor(calls)
    text = "please write to jane.doe@example.com about the refund for order A-1029384756"
    audit = RedactionAudit()

    first = counting.redact_text(text, audit)
    second = counting.redact_text(text, audit)

    assert first == second
    assert len(calls) == 1
    assert audit.counts["EMAIL"] == 2


def test_a_span_is_scanned_once_whatever_its_attributes() -> None:
    calls: list[str] = []

    counting = counting_redactor(calls)
    attributes = {
        "input.value": json.dumps({"messages": [{"role": "user", "content": "hi jane@x.io"}]}),
        "output.value": "mail bob@example.com",
        "tags": ["a", "+44 20 7946 0958"],
        "count": 3,
    }
    maps, texts = counting.redact_many(
        [attributes, {"exception.message": "x"}], ["name"], RedactionAudit()
    )

    assert len(calls) == 1
    assert "jane@x.io" not in json.dumps(maps)
    assert texts == ["name"]


def test_the_cache_is_bounded_and_safe_to_share() -> None:
    cache: ResultCache[int] = ResultCache(max_entries=100, max_chars=10_000)

    def fill(worker: int) -> None:
        for i in range(1000):
            cache.put(f"worker {worker} string {i:04d} " + "x" * 20, i)

    threads = [threading.Thread(target=fill, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(cache) <= 100
    cache.put("y" * 5_000, 1)  # more than an eighth of the characters: not kept
    assert cache.get("y" * 5_000) is None


def test_the_result_cache_lets_its_oldest_entries_go_first() -> None:
    by_entries: ResultCache[int] = ResultCache(max_entries=3, max_chars=10_000)
    for i in range(10):
        by_entries.put(f"string {i}", i)
    assert [by_entries.get(f"string {i}") for i in range(10)] == [None] * 7 + [7, 8, 9]

    by_chars: ResultCache[int] = ResultCache(max_entries=100, max_chars=800)
    for i in range(10):
        by_chars.put(f"{i}" * 100, i)  # room for eight of a hundred characters
    assert [by_chars.get(f"{i}" * 100) for i in range(10)] == [None, None, *range(2, 10)]
    by_chars.put("n" * 100, 10)
    assert by_chars.get("2" * 100) is None
    assert by_chars.get("n" * 100) == 10
    assert len(by_chars) == 8


def test_keywords_are_found_at_their_place_in_non_ascii_text() -> None:
    for prefix in ("", "Grüße ", "İİİ ", "日本語のテキスト ", "\ud800 lone surrogate "):
        text = f"{prefix}Authorization: Bearer abc123.def-456_ghi; PASSWORD=hunter2x"
        found = {(m.kind, text[m.start : m.end]) for m in BUILTIN.find(text)}
        assert found == {("BEARER_TOKEN", "abc123.def-456_ghi"), ("PASSWORD", "hunter2x")}, prefix
