"""The compiled prefilter changes where the scan looks, never what it finds.

The scan with Hyperscan's candidate starts must return exactly the matches of the scan with
``re`` alone: on the benchmark's agent text, on the leak tests' corpora, and on generated text
that crowds the places where starts are subtle (digits and separators, colons, non-ASCII
characters and lone surrogates before and inside values, values at the very start and end).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from benign_corpus import benign_values
from hypothesis import given, settings
from hypothesis import strategies as st
from phone_corpus import national_numbers, unassigned_numbers

from otel_flywheel.privacy import BuiltinDetector
from otel_flywheel.privacy import _prefilter as prefilter_module
from otel_flywheel.privacy._password_forms import PASSWORD_FORM_ALTERNATIVES
from otel_flywheel.privacy._phones import CONTEXT_PHONE_ALTERNATIVE
from otel_flywheel.privacy._pii import (
    DEFAULT_PHONE_REGIONS,
    PII_ALTERNATIVES,
    national_phone_alternatives,
)
from otel_flywheel.privacy._prefilter import Prefilter, hyperscan_available
from otel_flywheel.privacy._scan import Scanner
from otel_flywheel.privacy._secrets import SECRET_ALTERNATIVES
from otel_flywheel.privacy._shapes import ACCESS_LOG_TIMES, Alternative, Start
from otel_flywheel.privacy._told import TOLD_ALTERNATIVES

pytestmark = pytest.mark.skipif(not hyperscan_available(), reason="Hyperscan is not installed")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from agent_text import agent_texts  # noqa: E402

ALTERNATIVES = [  # the built-in detector's, in its order
    *SECRET_ALTERNATIVES,
    *PASSWORD_FORM_ALTERNATIVES,
    *TOLD_ALTERNATIVES,
    *PII_ALTERNATIVES,
    *national_phone_alternatives(DEFAULT_PHONE_REGIONS),
    CONTEXT_PHONE_ALTERNATIVE,
]
SCANNER = Scanner(ALTERNATIVES)

# Values and near-values, each next to what makes starts subtle.
PIECES = [
    "jane.doe@example.com",
    "+44 20 7946 0958",
    "+1 (415) 555-2671",
    "(415) 555-0132",
    "415-555-0132",
    "1-415-555-0132",
    "030 901820",
    "0044 20 7946 0958",
    "011 44 20 7946 0958",
    "4111 1111 1111 1111",
    "4111111111111111",
    "DE89 3704 0044 0532 0130 00",
    "GB82WEST12345698765432",
    "123-45-6789",
    "203.0.113.7",
    "10.135.40.229",
    "2001:db8::8a2e:370:7334",
    "fe80::1",
    "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
    "::ffff:192.0.2.1",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_" + "a1B2c3D4" * 5,
    "glpat-" + "x" * 24,
    "xoxb-123456789012-abcdefghij",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    "https://app:s3cr3t@db.internal:5432/orders",
    "sk-proj-" + "a1B2" * 12,
    "Authorization: Bearer abc123.def-456_ghi",
    "password=hunter2",
    '"GET /a HTTP/1.1" 404 76435',
    "batch 74963 (512 items)",
    "2026-03-05T10:22:31.123+00:00",
    "2026-03-05 10:22",
    "2026/03/05.7",
    "2026.03.05-1",
    "GB2026-03-05T10",
    "DE89 2026-03-05T1",
    "19:38:37",
    "1653.64",
    "v1.2.3.4",
    "A-8141445255",
    "a[1::2]",
    "std::vector",
    '{"@context": "https://schema.org", "@type": "Person"}',
    "@dataclass",
    "x.@example.com",
    "glass global flaglist gldt-" + "y" * 22,
    "http://host:8080/path?q=1",
    "http://user@host/",
    "ftp://:pw@host",
    "https://u:p@ss:w0rd@host.example.com/x",
    "[31/Jul/2026:07:52:57 +0000]",
    "2026:07:52:57::1",
    "fe80:0:0:0:0:0:0:1",
    "1:2:3:4:5:10.0.0.1",
    # words the compiled scan cannot see (non-ASCII letters), and what follows them
    "телефон 89123456789",
    "联系电话：13800138000",
    "tél. 22 383 47 01",
    "пароль: S3cr3t!9",
    "密码：S3cr3t!9",
    "hasło = S3cr3t!9",
    "パスワードは S3cr3t!9",
    "phone: 4155550132",
    "mysql -u root -pS3cr3t9",
    "my social is 123 45 6789",
]
NOISE = st.sampled_from(
    [" ", "\n", "\n\x00\n", "-", ".", "/", "(", ")", ":", "+", "@", "_", "x", "A", "g", "J",
     "é", "€", "😀", "漢", "\ud800", "0", "1", "9", "12", " (", ") ", '"', "=", "\t"]
)  # fmt: skip
TEXTS = st.lists(
    st.one_of(
        st.sampled_from(PIECES),
        NOISE,
        st.text(alphabet="0123456789 .-/():+@éx😀", max_size=24),
        st.text(max_size=12),
    ),
    max_size=40,
).map("".join)


def plain(text: str) -> list[object]:
    return SCANNER.find_with(text, SCANNER.group_regexes())


def prefiltered(text: str) -> list[object]:
    return SCANNER.find_prefiltered(text)[0]


@settings(max_examples=1500, deadline=None)
@given(TEXTS)
def test_generated_text_gets_the_same_matches_with_and_without_the_prefilter(text: str) -> None:
    assert prefiltered(text) == plain(text)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PIECES), st.sampled_from(["", "é", "😀", "\ud800", "ü" * 7, "x "]))
def test_values_at_the_start_and_end_of_a_text_and_after_non_ascii_are_found(
    piece: str, before: str
) -> None:
    for text in (piece, before + piece, piece + before, before + piece + before):
        assert prefiltered(text) == plain(text)


def test_offsets_are_characters_not_bytes_in_non_ascii_text() -> None:
    text = "Grüße 😀 " * 50 + "jane.doe@example.com, 😀 +44 20 7946 0958 ü 203.0.113.7 漢"
    found = prefiltered(text)
    assert found == plain(text)
    assert [text[m.start : m.end] for m in found] == [  # type: ignore[attr-defined]
        "jane.doe@example.com",
        "+44 20 7946 0958",
        "203.0.113.7",
    ]


def test_the_benchmark_agent_text_gets_the_same_matches() -> None:
    texts = agent_texts(60, seed=5, plant_rate=0.5)
    found = 0
    for item in texts:
        matches = prefiltered(item.text)
        assert matches == plain(item.text), item.kind
        found += len(matches)
    assert found > 100


def test_the_leak_corpora_get_the_same_matches() -> None:
    values = [
        *(number for _, number in national_numbers()),
        *(number for _, number in unassigned_numbers()),
        *(value for _, value in benign_values(per_family=40)),
    ]
    for joiner in (" ", "\n", ", ", "é", "\n\x00\n"):
        text = joiner.join(values)
        assert prefiltered(text) == plain(text)


def test_long_texts_use_the_prefilter_and_find_what_re_finds() -> None:
    detector = BuiltinDetector()
    text = ("log line 404 76435 at 2026-03-05T10:22:31Z from 10.0.0.7 " * 200) + PIECES[1]
    assert len(text) > 4096
    assert detector.find(text) == plain(text)


def test_scans_from_many_threads_each_get_their_own_results() -> None:
    texts = [" ".join(PIECES[i:] + PIECES[:i]) * 40 for i in range(8)]
    expected = [plain(text) for text in texts]
    results: dict[int, list[object]] = {}

    def scan(index: int) -> None:
        for _ in range(20):
            results[index] = prefiltered(texts[index])

    threads = [threading.Thread(target=scan, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[i] for i in range(len(texts))] == expected


def test_without_hyperscan_the_scanner_searches_with_re_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(prefilter_module, "_hs", None)
    assert Prefilter.load([[Start("@")]]) is None
    scanner = Scanner(ALTERNATIVES)
    text = " ".join(PIECES) * 30
    assert scanner.find(text) == plain(text)


def test_a_variable_width_start_reports_where_its_match_starts() -> None:
    prefilter = Prefilter.load([[Start(r"[^0-9][0-9]{2,6}x", 1)], [Start("@")]])
    assert prefilter is not None
    assert [divmod(code, 2) for code in prefilter.starts("a12x b123456x @ 9x")] == [
        (1, 0),
        (6, 0),
        (14, 1),
    ]


def test_a_start_counted_from_its_end_reports_its_last_character() -> None:
    # The words before a number vary in length; the anchor is the digit the match ends at.
    start = Start(r"[^a-z](?:tel|phone)[: ]{1,4}[0-9]", anchor_at=-1, caseless=True)
    prefilter = Prefilter.load([[start], [Start("@")]])
    assert prefilter is not None
    text = "Tel: 5 and phone 7 @ hotel 9"
    assert [divmod(code, 2) for code in prefilter.starts(text)] == [
        (text.index("5"), 0),
        (text.index("7"), 0),
        (text.index("@"), 1),
    ]


def test_start_patterns_have_their_anchor_inside_them() -> None:
    for group_starts in (g.starts() for g in SCANNER._groups):
        for start in group_starts:
            width = start.width
            assert width is None or 0 <= start.anchor_at < width, start


def test_a_prefilter_hyperscan_cannot_build_falls_back_to_re_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING"):
        assert Prefilter.load([[Start("(?<=a)b")]]) is None  # lookbehind: Hyperscan refuses it
    assert "redaction scans with re alone" in caplog.text


def test_a_place_is_ruled_out_only_where_every_branch_of_its_group_refuses_it() -> None:
    line = '10.1.2.3 - - [31/Jul/2026:07:52:57 +0000] "GET / HTTP/1.1" 200 512'
    with_refusal = Scanner(ALTERNATIVES)
    assert all(
        start in group.starts()
        for group in with_refusal._groups
        if group.anchor == "[:]"
        for start in ACCESS_LOG_TIMES
    )
    # A branch of the ":" group that does not refuse the place keeps it a candidate.
    greedy = Alternative("colon_anything", "TEST", "[:]", r"[0-9]{2}(?=:)")
    without = Scanner([*ALTERNATIVES, greedy])
    (colon_group,) = [g for g in without._groups if g.anchor == "[:]"]
    assert not set(ACCESS_LOG_TIMES) & set(colon_group.starts())
    assert without.find_prefiltered(line)[0] == without.find_with(line, without.group_regexes())
    # The first colon of the time, which the built-in branches refuse, is this one's match.
    assert ":07" in [line[m.start : m.end] for m in without.find_prefiltered(line)[0]]


@pytest.mark.parametrize(
    ("text", "marked"),
    [
        ("пароль: S3cr3t!9", True),
        ("ваш Пароль — Xk9#mq2Lp", True),
        ("密码：S3cr3t!9", True),
        ("HASŁO = S3cr3t!9", True),
        ("It’s done — the order ships Friday…", False),  # English text's lone non-ASCII
        ("café: 12345678, naïve résumé", False),
        ("plain ASCII text, password: hunter2", False),
    ],
)
def test_words_the_prefilter_cannot_see_mark_the_texts_that_may_hold_them(
    text: str, marked: bool
) -> None:
    prefilter = SCANNER._prefilter
    assert prefilter is not None
    assert prefilter.places(text).marked is marked
    assert prefiltered(text) == plain(text)
