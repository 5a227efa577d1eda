"""Values encoded in URLs (RFC 3986), read decoded: "?email=jane%40example.com".

HTTP spans carry URLs (``url.full``, ``http.url``, ``http.target``) and tools fetch them. A URL
writes "@" as %40, "+" as %2B and a space as %20, or as "+" in a query (HTML's form encoding), so
an email, a phone number or a card in one is not what the patterns look for, and escapes glued to
digits make values that are not there ("version%202.36.23.12" holds no IP address). Each run of
URL characters that holds an escape, or a query with a "+", is read decoded instead of as written;
what is found there maps back to the characters it was read from, so the value is redacted as
written ("jane%40example.com" becomes the email's token).

A URL inside a URL's query is encoded twice ("?next=%2Fu%3Femail%3Djane%2540example.com": the
inner "%40" became "%2540"), and a redirect chain's thrice; a run whose decoding still holds
escapes that came from "%25" is decoded again, up to ``_LEVELS`` times, and what is found maps
back through every level.

A text without "%" and without a "+" after a "?" costs one or two ``in`` tests; one with them
costs a decode and a scan of those runs, not of the whole text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Final

from otel_flywheel.privacy._decoding import Decoded, decoded
from otel_flywheel.privacy._shapes import Match

__all__ = ["URL_TRIGGERS", "read_url_encoded"]

URL_TRIGGERS: Final = ("%", "?")  # a text holding neither has nothing to decode
_ESCAPE: Final = re.compile(r"%[0-9A-Fa-f]{2}")
_ESCAPES: Final = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
# What a URL is written with: RFC 3987's characters, which are RFC 3986's unreserved, reserved and
# "%" ones plus any non-ASCII character but a space (an IRI: "/users/josé%40example.com").
_URL_CLASS: Final = r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]|[^\x00-\x7f\s])"
_URL_RUN: Final = re.compile(_URL_CLASS + "*")
_ASCII_URL_CHARACTERS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"
)
# A query written with HTML's form encoding: "?" then URL characters with a "+" among them.
_FORM_QUERY: Final = re.compile(r"\?" + _URL_CLASS + r"*?\+" + _URL_CLASS + "*")
_LONGEST_RUN: Final = 4096  # how far back a run is followed from its first escape
_LEVELS: Final = 3  # a URL in a URL in a URL: a redirect chain's deepest


def read_url_encoded(
    text: str, find: Callable[[str], list[Match]]
) -> tuple[list[tuple[int, int]], list[Match]]:
    """The runs of ``text`` that hold URL-encoded characters (sorted, apart), and what ``find``
    reads in them decoded, as matches in ``text`` (each covering the encoded characters its value
    was read from). What was found in those runs as written is to be replaced by these."""
    runs = _runs(text)
    found: list[Match] = []
    for start, end in runs:
        levels = [_decoded(text[start:end])]
        while len(levels) < _LEVELS and _encoded_again(levels[-1]):
            levels.append(_decoded(levels[-1].text))
        for m in find(levels[-1].text):
            m_start, m_end = m.start, m.end
            for level in reversed(levels):
                m_start, m_end = level.written(m_start), level.written(m_end)
            found.append(Match(start + m_start, start + m_end, m.kind))
    return runs, found


def _encoded_again(reading: Decoded) -> bool:
    """Whether ``reading`` still holds an escape written as one by its own decoding ("%2540"
    read as "%40"): an encoded URL's own escapes."""
    return "%" in reading.text and any(
        reading.text.startswith("%", at) and _ESCAPE.match(reading.text, at) is not None
        for at in reading.at
    )


def _runs(text: str) -> list[tuple[int, int]]:
    starts: list[tuple[int, int]] = []
    if "%" in text:
        covered = 0
        for escape in _ESCAPE.finditer(text):
            if escape.start() < covered:
                continue  # inside the run just found
            start = escape.start()
            floor = max(covered, start - _LONGEST_RUN)
            while start > floor and _is_url_character(text[start - 1]):
                start -= 1
            covered = _URL_RUN.match(text, escape.start()).end()  # type: ignore[union-attr]
            starts.append((start, covered))
    if "?" in text and "+" in text:
        starts += [m.span() for m in _FORM_QUERY.finditer(text)]
    runs: list[tuple[int, int]] = []
    for start, end in sorted(starts):
        if runs and start <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(end, runs[-1][1]))
        else:
            runs.append((start, end))
    return runs


def _is_url_character(char: str) -> bool:
    return char in _ASCII_URL_CHARACTERS or not (char.isascii() or char.isspace())


def _decoded(run: str) -> Decoded:
    """``run`` with its escapes decoded, and a query's "+" as a space.

    Escapes are read as UTF-8 ("%C3%A9" is one "é") and a control character as "?"; an escape of
    a byte that starts no character is left as written: it is more likely a "%" in a password or
    an id ("*ZiN%B8t") than a broken encoding."""
    query = run.find("?")
    if query >= 0 and "+" in run:  # application/x-www-form-urlencoded: "+" is a space there
        run = run[:query] + _FORM_SPACE.sub(" ", run[query:])
    return decoded(run, _readings(run)) or Decoded(run, [], [])


# A query's "+" that stands for a space: not one that starts a value before a digit, which is an
# international number's ("?to=+14155550132&body=hi", as SMS APIs take it).
_FORM_SPACE: Final = re.compile(r"(?<!=)\+|\+(?![1-9])")


def _readings(run: str) -> Iterator[tuple[int, int, str]]:
    """Each character ``run``'s escapes stand for, with where its escapes start and end."""
    for escapes in _ESCAPES.finditer(run):
        written = escapes.start()
        for char, width in _characters(bytes.fromhex(escapes.group().replace("%", ""))):
            if char is not None:  # not an escape of a character: "%B8" in a password stays
                yield written, written + 3 * width, char
            written += 3 * width


def _characters(data: bytes) -> Iterator[tuple[str | None, int]]:
    """Each character of ``data`` (UTF-8) and how many bytes it took; None for a byte that starts
    no character."""
    index = 0
    while index < len(data):
        lead = data[index]
        width = 1 if lead < 0x80 else 2 if lead >> 5 == 0b110 else 3 if lead >> 4 == 0b1110 else 4
        try:
            char = data[index : index + width].decode("utf-8")
        except UnicodeDecodeError:
            yield None, 1
            index += 1
            continue
        yield ("?" if char < " " or "\x7f" <= char <= "\x9f" else char), width  # controls
        index += width
