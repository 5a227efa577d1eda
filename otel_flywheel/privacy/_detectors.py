"""Detectors: find the spans of PII and secrets in a string.

``BuiltinDetector`` runs every built-in kind in one regex pass: a single compiled alternation with
one named branch per candidate shape (``m.lastgroup`` says which). Each branch starts with a literal
or a character class so CPython's matcher can skip it with one comparison, and carries a
left-boundary check so the scan never restarts inside a token it has walked past (linear time on
megabytes of base64). Candidates are then confirmed in Python by the check that makes them precise
(Luhn, mod-97, ``phonenumbers``...). The shapes and their checks live in ``_pii`` and ``_secrets``;
this module assembles them, runs the scan, and adds the user-configured detectors and the merging
of several detectors' matches.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Protocol, runtime_checkable

from otel_flywheel.errors import ConfigError
from otel_flywheel.privacy._pii import (
    DEFAULT_PHONE_REGIONS,
    KIND_CARD,
    KIND_EMAIL,
    KIND_IBAN,
    KIND_IP,
    KIND_PHONE,
    KIND_SSN,
    PII_ALTERNATIVES,
    PII_KINDS,
    checked_phone_regions,
    national_phone_alternatives,
)
from otel_flywheel.privacy._secrets import (
    KIND_ANTHROPIC_KEY,
    KIND_AWS_KEY_ID,
    KIND_BEARER_TOKEN,
    KIND_GITHUB_TOKEN,
    KIND_GITLAB_TOKEN,
    KIND_JWT,
    KIND_OPENAI_KEY,
    KIND_PASSWORD,
    KIND_PRIVATE_KEY,
    KIND_SLACK_TOKEN,
    SECRET_ALTERNATIVES,
    SECRET_KINDS,
)
from otel_flywheel.privacy._shapes import Alternative

__all__ = [
    "BUILTIN_KINDS",
    "DEFAULT_PHONE_REGIONS",
    "KIND_ANTHROPIC_KEY",
    "KIND_AWS_KEY_ID",
    "KIND_BEARER_TOKEN",
    "KIND_CARD",
    "KIND_EMAIL",
    "KIND_GITHUB_TOKEN",
    "KIND_GITLAB_TOKEN",
    "KIND_IBAN",
    "KIND_IP",
    "KIND_JWT",
    "KIND_OPENAI_KEY",
    "KIND_PASSWORD",
    "KIND_PHONE",
    "KIND_PRIVATE_KEY",
    "KIND_SLACK_TOKEN",
    "KIND_SSN",
    "SECRET_KINDS",
    "BuiltinDetector",
    "Detector",
    "Match",
    "RegexDetector",
    "TermDetector",
    "find_all",
]

BUILTIN_KINDS: Final = PII_KINDS | SECRET_KINDS


@dataclass(frozen=True, slots=True)
class Match:
    """``text[start:end]`` is a sensitive value of ``kind``."""

    start: int
    end: int
    kind: str


@runtime_checkable
class Detector(Protocol):
    """Finds sensitive values. Must not raise on any ``str`` (lone surrogates included)."""

    kinds: frozenset[str]

    def find(self, text: str) -> list[Match]: ...


# --- the built-in detector -----------------------------------------------------------------------


# An ASCII word boundary in front of a branch that starts with an ASCII word character means "not
# right after [A-Za-z0-9_]". Unlike a lookbehind, \b is tested inline, without entering a subpattern.
_WORD_START = r"(?a:\b)"


def _alternation(alternatives: Sequence[Alternative]) -> re.Pattern[str]:
    """One regex for the alternatives, in order: the ones that may start anywhere, then one shared
    word-start test in front of all the others; each branch ends in its empty name group."""
    anywhere = [f"(?:{a.pattern})(?P<{a.name}>)" for a in alternatives if not a.word_start]
    word_led = [f"(?:{a.pattern})(?P<{a.name}>)" for a in alternatives if a.word_start]
    if word_led:
        anywhere.append(_WORD_START + "(?:" + "|".join(word_led) + ")")
    return re.compile("|".join(anywhere) or "(?!)")


class _Compiled:
    """The alternation for a set of kinds, plus its tails for retrying after a rejection."""

    def __init__(self, alternatives: Sequence[Alternative]) -> None:
        # Anywhere-branches first so the tuple order is the regex's order (see _alternation).
        self.alternatives = (
            *(a for a in alternatives if not a.word_start),
            *(a for a in alternatives if a.word_start),
        )
        self.index = {a.name: i for i, a in enumerate(self.alternatives)}
        self.regex = _alternation(self.alternatives)
        self._tails: dict[int, re.Pattern[str]] = {}  # compiled on first use; races are harmless

    def tail(self, start: int) -> re.Pattern[str] | None:
        """The alternatives from ``start`` on, as one regex (None past the end)."""
        if start >= len(self.alternatives):
            return None
        pattern = self._tails.get(start)
        if pattern is None:
            pattern = self._tails[start] = _alternation(self.alternatives[start:])
        return pattern


@lru_cache(maxsize=16)
def _compile(kinds: frozenset[str], regions: tuple[str, ...]) -> _Compiled:
    # Order matters when two branches could start at the same position: secrets before PII,
    # specific shapes before general ones. Branches that start with different characters (most of
    # them) cannot compete, so moving the "anywhere" ones to the front changes nothing.
    candidates = [*SECRET_ALTERNATIVES, *PII_ALTERNATIVES]
    if regions:
        candidates.extend(national_phone_alternatives(regions))
    return _Compiled([a for a in candidates if a.kind in kinds])


# Every built-in shape needs one of these; text with none of them (most prose) skips the regex.
# Measured on 1 KB chunks: digit-free prose 25 -> 63 MB/s, text with digits within noise (~12).
_NEEDED_CHARS = re.compile(r"[0-9@_]")
_NEEDED_WORDS = (
    "-----BEGIN", "sk-", "gl", "xox", "xapp", "eyJ",
    "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA",
)  # fmt: skip
_NEEDED_WORDS_ANY_CASE = ("bearer", "basic", "pass", "pwd")


def _might_match(text: str) -> bool:
    if _NEEDED_CHARS.search(text) is not None or any(w in text for w in _NEEDED_WORDS):
        return True
    lowered = text.lower()
    return any(w in lowered for w in _NEEDED_WORDS_ANY_CASE)


class BuiltinDetector:
    """Every built-in PII and secret kind (or the ``kinds`` given) in one regex pass.

    ``phone_regions`` (ISO 3166 alpha-2 codes) are where phone numbers written without a country
    code are read as national numbers; the default is ``DEFAULT_PHONE_REGIONS``, and ``()`` finds
    international numbers only. ``default_phone_region`` is the older single-region option: that
    region is tried first, before ``phone_regions``. Thread-safe and reusable.
    """

    def __init__(
        self,
        *,
        kinds: Iterable[str] | None = None,
        phone_regions: Iterable[str] | None = None,
        default_phone_region: str | None = None,
    ) -> None:
        selected = BUILTIN_KINDS if kinds is None else frozenset(kinds)
        unknown = selected - BUILTIN_KINDS
        if unknown:
            raise ConfigError(
                f"unknown built-in detector kinds {sorted(unknown)}; "
                f"choose from {sorted(BUILTIN_KINDS)}"
            )
        regions = DEFAULT_PHONE_REGIONS if phone_regions is None else tuple(phone_regions)
        if default_phone_region is not None:
            regions = (default_phone_region, *regions)
        self.kinds: frozenset[str] = selected
        self.phone_regions: tuple[str, ...] = checked_phone_regions(regions)
        self._compiled = _compile(selected, self.phone_regions)

    def __repr__(self) -> str:
        return f"BuiltinDetector(kinds={sorted(self.kinds)}, phone_regions={self.phone_regions!r})"

    def find(self, text: str) -> list[Match]:
        if not text or not _might_match(text):
            return []
        compiled = self._compiled
        search = compiled.regex.search
        found: list[Match] = []
        position, length = 0, len(text)
        while position < length:
            m = search(text, position)
            if m is None:
                break
            index = compiled.index[m.lastgroup]  # type: ignore[index]  # every branch is named
            floor = found[-1].end if found else 0
            accepted = _accept(text, m, compiled.alternatives[index], floor)
            # A rejected candidate may still start another shape here (a card that fails Luhn
            # can be a national phone number): try the later alternatives at the same position.
            while accepted is None:
                tail = compiled.tail(index + 1)
                retry = tail.match(text, m.start()) if tail is not None else None
                if retry is None:
                    break
                m, index = retry, compiled.index[retry.lastgroup]  # type: ignore[index]
                accepted = _accept(text, m, compiled.alternatives[index], floor)
            if accepted is None:
                position = m.start() + 1
                continue
            match, position = accepted
            found.append(match)
        return found


def _accept(
    text: str, m: re.Match[str], alternative: Alternative, floor: int
) -> tuple[Match, int] | None:
    """The match a candidate stands for, and where scanning resumes; None if it is rejected."""
    start, end = m.span()
    for group in alternative.value_groups:
        if m.start(group) >= 0:
            start, end = m.span(group)
            break
    resume = m.end()  # after the whole candidate: a URL password's "@", a bearer's keyword
    if alternative.validate is not None:
        span = alternative.validate(text, start, end, floor)
        if span is None:
            return None
        if span[1] != end:
            # Cut short (an IBAN followed by a BIC): scan the rest again. Run on (a card's groups
            # after the few the regex needs to see): resume after it.
            resume = span[1]
        start, end = span
    if start < floor or start >= end:
        return None  # an email's local part reaching back into the previous match
    kind = alternative.kind
    if kind == KIND_BEARER_TOKEN and _JWT_SHAPE.fullmatch(text, start, end):
        kind = KIND_JWT  # say what it is: the JWT shape is the more specific finding
    return Match(start, end, kind), max(resume, m.start() + 1)


_JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")


# --- user-configured detectors -------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def _checked_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"detector name {name!r} is invalid: it becomes the redaction token (<NAME:...>), so use "
            "letters, digits, '_', '.' or '-', e.g. 'CUSTOMER_NAME'"
        )
    return name


class RegexDetector:
    """A user-configured pattern reported as kind ``name``.

    If the pattern has a group named ``value``, only that group is replaced
    (``r"ACC-(?P<value>\\d{8})"`` keeps the "ACC-" prefix readable); otherwise the whole match is.
    """

    def __init__(self, name: str, pattern: str, *, flags: int = 0) -> None:
        self.name = _checked_name(name)
        try:
            self._regex = re.compile(pattern, flags)
        except (re.error, TypeError, ValueError) as exc:
            raise ConfigError(
                f"redaction pattern {name!r}: {pattern!r} is not a valid regular expression "
                f"({exc}); fix it using Python `re` syntax"
            ) from exc
        self._has_value = "value" in self._regex.groupindex
        self.kinds: frozenset[str] = frozenset({name})

    def __repr__(self) -> str:
        return f"RegexDetector({self.name!r}, {self._regex.pattern!r})"

    def find(self, text: str) -> list[Match]:
        found: list[Match] = []
        for m in self._regex.finditer(text):
            start, end = m.span("value") if self._has_value else m.span()
            if start < end:  # (-1, -1) when the value group did not take part; skip empty matches
                found.append(Match(start, end, self.name))
        return found


class TermDetector:
    """Literal terms (customer names, account numbers): case-insensitive, whole words, longest
    term first, whitespace inside a term matching any run of whitespace.

    The terms compile into one regex shaped as a trie ("acme(?: corp)?|globex"), not a flat
    alternation: Python's backtracking engine tries a flat alternation's branches one by one at
    every word start, which is thousands of attempts per word for thousands of terms. The trie is
    the same language (and, being greedy, still prefers the longest term) at a cost set by the
    terms' length, not their number.
    """

    def __init__(self, name: str, terms: Iterable[str]) -> None:
        self.name = _checked_name(name)
        words = {" ".join(str(t).split()).lower() for t in terms} - {""}
        self.kinds: frozenset[str] = frozenset({name})
        self.term_count = len(words)
        self._regex: re.Pattern[str] | None = None
        if words:
            try:
                body = _trie_pattern(words)
                self._regex = re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)
            except RecursionError:  # absurdly deep nesting (terms "a", "aa", "aaa", ...)
                body = "|".join(_atoms(w) for w in sorted(words, key=len, reverse=True))
                self._regex = re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)

    def __repr__(self) -> str:
        return f"TermDetector({self.name!r}, <{self.term_count} terms>)"

    def find(self, text: str) -> list[Match]:
        if self._regex is None:
            return []
        return [Match(m.start(), m.end(), self.name) for m in self._regex.finditer(text)]


_END = ""  # trie key marking the end of a term (no character is the empty string)
_Trie = dict[str, "_Trie"]


def _atoms(word: str) -> str:
    return "".join(r"\s+" if ch == " " else re.escape(ch) for ch in word)


def _trie_pattern(words: Iterable[str]) -> str:
    root: _Trie = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[_END] = {}
    return _node_pattern(root)


def _node_pattern(node: _Trie) -> str:
    branches = []
    for ch in sorted(k for k in node if k != _END):
        # Follow single-child chains without recursing: recursion happens only at branch points.
        prefix, child = [ch], node[ch]
        while len(child) == 1 and _END not in child:
            ((next_ch, grandchild),) = child.items()
            prefix.append(next_ch)
            child = grandchild
        branches.append(_atoms("".join(prefix)) + _node_pattern(child))
    if not branches:
        return ""
    if _END in node:  # a term ends here; greedy "?" still tries the longer terms first
        return f"(?:{'|'.join(branches)})?"
    return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"


# --- merging -------------------------------------------------------------------------------------


def find_all(text: str, detectors: Sequence[Detector]) -> list[Match]:
    """Every detector's matches, sorted by start, merged where they overlap.

    Overlapping matches are redacted as their *union*: when two detectors disagree about where a
    sensitive value ends, neither may leave part of it behind (a user regex covering half a card
    must not let the other half out). The merged match keeps the kind of the match that ranks
    first: secrets before PII (the password in "https://u:p4ss@example.com" stays a PASSWORD even
    where an email-shaped pattern claims more), then the earlier start, then the longer match.
    """
    candidates: list[Match] = []
    for detector in detectors:
        candidates.extend(m for m in detector.find(text) if 0 <= m.start < m.end <= len(text))
    if len(candidates) <= 1:
        return candidates
    candidates.sort(key=lambda m: (m.kind not in SECRET_KINDS, m.start, m.start - m.end))
    starts: list[int] = []
    kept: list[
        Match
    ] = []  # sorted by start, never overlapping; ranks earlier than later candidates
    for m in candidates:
        i = bisect_left(starts, m.start)
        low = i - 1 if i > 0 and kept[i - 1].end > m.start else i
        high = i
        while high < len(kept) and kept[high].start < m.end:
            high += 1
        if low == high:
            starts.insert(i, m.start)
            kept.insert(i, m)
            continue
        overlapped = kept[low:high]
        winner = min(
            overlapped, key=lambda k: (k.kind not in SECRET_KINDS, k.start, k.start - k.end)
        )
        merged = Match(
            min(m.start, overlapped[0].start), max(m.end, overlapped[-1].end), winner.kind
        )
        kept[low:high] = [merged]
        starts[low:high] = [merged.start]
    return kept
