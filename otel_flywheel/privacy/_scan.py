"""The built-in detector's scan: the matcher skips in C, Python runs only at candidates.

Three sources propose candidates, taken in text order:

- **Digit-led branches** (cards, SSNs, IBANs, dotted quads, national phone numbers) are one
  regex led by the class ``[0-9]``: the matcher tests each character against it in C and enters
  the branches only at a digit. Most digits sit inside a number, where nothing starts, and the
  first operation rejects those; shared checks then reject most number starts (see
  ``_group_regex``) before any branch runs.
- **Branches led by a rare character** ("@", ":", "+", and letters rare in text: the "J" of
  ``eyJ``, "x" of ``xoxb-``, "A" of ``AKIA``, "g" of ``ghp_``) are one regex per character,
  whose literal first character the matcher finds without testing a class. One regex for all
  anchors would make every stop test every other group's lookbehind first.
- **Keyword branches** (led by a common letter: "Bearer", "password", "sk-") would stop the scan
  at a fifth of all characters. They are matched where their keyword occurs, found with
  ``find`` on a lower-cased copy.

An accepted candidate moves the scan past it (values never overlap); a rejected one lets the
later branches of its group try the same place (a card that fails Luhn can still be a national
phone number). Every branch carries a left-boundary check, so no search restarts inside a token
it walked past: the scan is linear. Each operation the matcher runs at a stop costs hundreds of
instructions, so the order of the checks is measured, not guessed (docs/benchmarks.md).

With Hyperscan installed (``_prefilter``), the places where each group or keyword can match are
found first, for all of them in one compiled pass (each branch says where it can start:
``Alternative.starts``), and the same regexes run only there, in the same order
(``find_prefiltered``): the same matches as ``find_with``, at a fraction of the stops.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from otel_flywheel.privacy._prefilter import Prefilter, WordFinder, all_offsets, char_offsets
from otel_flywheel.privacy._shapes import NOT_A_DATE, Alternative, Match, Start

__all__ = ["Scanner"]

_SHORTEST_KEYWORD_VALUE: Final = 6  # "pwd=ab": nothing shorter holds a keyword-led secret

_Candidate = tuple[int, int, re.Match[str], Alternative]  # start, branch order, match, branch
_DIGITS: Final = "[0-9]"
# Below this length the combined regex scans (one call); above, one regex per group (each group's
# stops cost only its own checks).
_SHORT_TEXT: Final = 4096
# What every digit-led value but an IBAN has after its first digit: six more digits or separators
# (a card, an SSN, a phone number, "1.2.3.4"). One cheap operation (a repeated character class)
# rejects most number starts: a quantity, a price, a year.
_NEARBY: Final = 6
_NEARBY_CLASS: Final = r"[0-9 .\-/()]"
_DIGITS_NEARBY: Final = f"(?={_NEARBY_CLASS}{{{_NEARBY}}})" + NOT_A_DATE
# The same for other anchors: a colon starts an IPv6 address or "://", never ": ".
_AFTER_ANCHOR: Final = {"[:]": r"(?=[0-9A-Fa-f:/])"}
# Where the digit-led branches but an IBAN's can match, for the prefilter: the first digit of a
# number (not after a digit, a letter or "_") with six more digits or separators after it.
_DIGIT_STARTS: Final = (Start(r"[^0-9A-Za-z_][0-9][0-9 .\-/()]{6}", 1),)
# Places no digit-led branch can match: an ISO date (refused by _DIGITS_NEARBY; an IBAN follows
# letters), the commonest digit group of all in agent text.
_DIGIT_RULED_OUT: Final = (
    Start(r"[^A-Za-z][0-9]{4}[\-./][0-9]{2}[\-./][0-9]{2}[^0-9\-./]", 1, rules_out=True),
)


def _nearby(start: Start) -> Start:
    """``start`` followed by what ``_DIGITS_NEARBY`` asks of the characters after the anchor,
    where it is shorter than that: a price ("1653.64") is not a candidate."""
    width = start.width
    if width is None:
        return start  # counts its digits itself
    missing = _NEARBY - (width - start.anchor_at - 1)
    if missing <= 0:
        return start
    return Start(start.pattern + _NEARBY_CLASS + f"{{{missing}}}", start.anchor_at)


def _class_body(anchor: str) -> str:
    if not (anchor.startswith("[") and anchor.endswith("]")):
        raise ValueError(f"anchor {anchor!r} must be a character class such as '[0-9]'")
    return anchor[1:-1]


def _group_regex(anchor: str, alternatives: Sequence[Alternative]) -> re.Pattern[str]:
    """One anchor's branches as one regex that starts with the anchor character (a literal for
    the rare anchors, the class ``[0-9]`` for digits), so the matcher skips to the next one in C.

    Most digits sit inside a number, where nothing starts: the first operation rejects those (a
    digit after a digit). A number's first digit cannot start a value after a letter or "_" (hex
    ids, SKUs; only an IBAN's check digits follow letters), after a digit and "." or ":"
    (decimals, times), without six more digits or separators (``_DIGITS_NEARBY``), nor as a date:
    shared checks reject those before the branches run their own, which these only anticipate.
    Every operation the matcher runs at a stop costs hundreds of instructions: this order is
    measured (docs/benchmarks.md).
    """
    if anchor != _DIGITS:
        return re.compile(anchor + _group_body(anchor, alternatives))
    return re.compile(r"[0-9](?<![0-9][0-9])" + _group_body(anchor, alternatives))


def _group_body(anchor: str, alternatives: Sequence[Alternative]) -> str:
    """A group's checks and branches, after its anchor character."""
    if anchor != _DIGITS:
        return _AFTER_ANCHOR.get(anchor, "") + _branches(alternatives)
    after_letters = [a for a in alternatives if a.follows_letters]
    others = [a for a in alternatives if not a.follows_letters]
    parts = []
    if others:
        parts.append(r"(?<![A-Za-z_].)(?<![0-9][.:].)" + _DIGITS_NEARBY + _branches(others))
    if after_letters:
        parts.append(_branches(after_letters))
    return r"(?<=[0-9])(?:" + "|".join(parts) + ")"


def _combined_regex(groups: Sequence[_Group]) -> re.Pattern[str]:
    """All groups in one regex, for short texts: one search call instead of one per group. Its
    first character class holds every anchor; a digit inside a number fails the first operation,
    the groups' own checks follow."""
    anchors = "".join(_class_body(group.anchor) for group in groups)
    digits = [g for g in groups if g.anchor == _DIGITS]
    others = [g for g in groups if g.anchor != _DIGITS]
    body = [_group_body(g.anchor, g.alternatives) for g in digits]
    if others:
        body.append(
            r"(?<![0-9])(?:"
            + "|".join(f"(?<={g.anchor})" + _group_body(g.anchor, g.alternatives) for g in others)
            + ")"
        )
    return re.compile(f"[{anchors}](?<![0-9][0-9])(?:{'|'.join(body)})")


def _branches(alternatives: Sequence[Alternative]) -> str:
    return "(?:" + "|".join(f"(?:{a.pattern})(?P<{a.name}>)" for a in alternatives) + ")"


class _Group:
    """The branches that share an anchor character: their regex, and their regexes from a branch
    on (to try the later branches where an earlier one was rejected)."""

    __slots__ = ("_index", "_tails", "alternatives", "anchor", "branches", "regex")

    def __init__(self, anchor: str, alternatives: Sequence[Alternative]) -> None:
        _class_body(anchor)
        self.anchor = anchor
        self.alternatives = tuple(alternatives)
        self.regex = _group_regex(anchor, alternatives)
        self.branches = {a.name: a for a in alternatives}
        self._index = {a.name: i for i, a in enumerate(alternatives)}
        self._tails: dict[str, re.Pattern[str] | None] = {}  # compiled on first use

    def accept(self, text: str, m: re.Match[str], floor: int) -> tuple[Match, int] | None:
        name: str = m.lastgroup  # type: ignore[assignment]  # every branch ends in a named group
        while True:
            accepted = _accept(text, m, self.branches[name], floor)
            if accepted is not None:
                return accepted
            # A rejected candidate may still start another shape here (a card that fails Luhn
            # can be a national phone number): the later branches of the group try.
            tail = self._tail(name)
            retry = tail.match(text, m.start()) if tail is not None else None
            if retry is None:
                return None
            m, name = retry, retry.lastgroup  # type: ignore[assignment]

    def starts(self) -> tuple[Start, ...]:
        """Patterns that match wherever ``regex`` can (see ``_prefilter``)."""
        found: list[Start] = []
        for alternative in self.alternatives:
            if alternative.starts:
                more = alternative.starts
            elif self.anchor == _DIGITS and not alternative.follows_letters:
                more = _DIGIT_STARTS
            else:
                more = (Start(self.anchor),)
            if self.anchor == _DIGITS and not alternative.follows_letters:
                more = tuple(_nearby(start) for start in more)
            found.extend(start for start in more if start not in found)
        if self.anchor == _DIGITS:
            found.extend(_DIGIT_RULED_OUT)
        refused = self.alternatives[0].refuses
        found.extend(s for s in refused if all(s in a.refuses for a in self.alternatives[1:]))
        return tuple(found)

    def _tail(self, name: str) -> re.Pattern[str] | None:
        if name not in self._tails:
            rest = self.alternatives[self._index[name] + 1 :]
            self._tails[name] = _group_regex(self.anchor, rest) if rest else None
        return self._tails[name]


class Scanner:
    """The compiled branches of a built-in detector, and the scan over a string."""

    def __init__(
        self,
        alternatives: Sequence[Alternative],
        *,
        reported: Sequence[Start] = (),
        prefilter: bool = True,
    ) -> None:
        # Group by anchor, keeping each group's branches in their order (which branch wins at a
        # place); groups cannot compete, since their anchors differ.
        grouped: dict[str, list[Alternative]] = {}
        for alternative in alternatives:
            if not alternative.keywords:
                grouped.setdefault(alternative.anchor, []).append(alternative)
        self._groups = tuple(_Group(anchor, alts) for anchor, alts in grouped.items())
        self._combined = _combined_regex(self._groups) if self._groups else None
        self._group_of = {name: group for group in self._groups for name in group.branches}
        # keyword -> one regex per branch it leads, in branch order.
        by_keyword: dict[str, list[tuple[int, re.Pattern[str], Alternative]]] = {}
        for order, alternative in enumerate(alternatives):
            for keyword in alternative.keywords:
                regex = re.compile(alternative.pattern)
                by_keyword.setdefault(keyword, []).append((order, regex, alternative))
        self._keywords = tuple(by_keyword.items())
        self._branches_of = dict(by_keyword)
        self._keyword_branches = [
            [(r, a) for _, r, a in branches] for _, branches in self._keywords
        ]
        # The prefilter finds each keyword (in its case rule) and each group's starts at once;
        # keywords first, since at one place a keyword-led branch is tried first.
        # Keywords written with non-ASCII letters ("пароль", "密码") it sees as "?"s ("??????",
        # "??", "has?o"): those only mark a text that may hold one, which ``WordFinder`` then
        # searches in its own characters. English text's lone curly quote or dash marks none.
        keyword_starts = [
            (
                Start(
                    re.escape(keyword) + _after_keyword([a for _, _, a in branches]),
                    caseless=keyword == keyword.lower(),
                )
                if keyword.isascii()
                else Start(_as_prefilter_sees(keyword), caseless=True, marks=True),
            )
            for keyword, branches in self._keywords
        ]
        self._ascii_keywords = tuple(k for k in self._keywords if k[0].isascii())
        self._word_keyword = [i for i, (k, _) in enumerate(self._keywords) if not k.isascii()]
        self._words = WordFinder([self._keywords[i][0] for i in self._word_keyword])
        # Places the caller reads itself (``Start.reports``), found in the same pass: as the
        # last group, which has no branches; without Hyperscan, by ``re`` (``_reported_ends``).
        self._reported = tuple(reported)
        self._reported_regex = (
            re.compile("|".join(f"(?{'i' if s.caseless else ''}:{s.pattern})" for s in reported))
            if reported
            else None
        )
        self._prefilter = (
            Prefilter.load(
                [
                    *keyword_starts,
                    *(group.starts() for group in self._groups),
                    *([self._reported] if self._reported else []),
                ]
            )
            if prefilter and self._groups
            else None
        )

    def find(self, text: str) -> list[Match]:
        """The values in ``text``, in order, never overlapping.

        Candidates come from the regexes (one per group for a long text, the combined one for a
        short text, where one search call costs less than a search per group) and from the
        keyword candidates; the earliest is validated next. An accepted value moves every source
        past it; a rejected one moves only its own source, one character on."""
        return self.find_reporting(text)[0]

    def find_reporting(self, text: str) -> tuple[list[Match], list[int]]:
        """``find``, and where the ``reported`` patterns' matches end in ``text``, ascending
        (with Hyperscan, every end; with ``re`` alone, those of matches that do not overlap)."""
        if self._prefilter is not None:  # faster from the shortest texts on (benchmarks.md)
            return self.find_prefiltered(text)
        if len(text) < _SHORT_TEXT:
            regexes = [self._combined] if self._combined is not None else []
        else:
            regexes = self.group_regexes()
        return self.find_with(text, regexes), self._reported_ends(text)

    def find_prefiltered(self, text: str) -> tuple[list[Match], list[int]]:
        """``find_reporting`` where the prefilter says a keyword or a group's regex may match, in
        text order: the same matches as ``find_with`` and the groups' regexes, since nothing
        matches anywhere else and the places are visited in the order that scan picks them (a
        keyword before a group at one place, groups in their order)."""
        assert self._prefilter is not None, "no prefilter: Hyperscan is not installed"
        count, keywords = self._prefilter.groups, len(self._keywords)
        groups, keyword_branches = self._groups, self._keyword_branches
        found: list[Match] = []
        position = 0
        codes, marked, reported = self._prefilter.places(text)
        if marked:
            word_keyword = self._word_keyword
            words = [at * count + word_keyword[w] for at, w in self._words.positions(text)]
            if words:
                codes = sorted(set(codes).union(words))
        for code in codes:
            at, index = divmod(code, count)
            if at < position:
                continue  # inside the last value
            floor = found[-1].end if found else 0
            accepted = None
            if index < keywords:
                for regex, alternative in keyword_branches[index]:
                    m = regex.match(text, at)
                    if m is not None:
                        accepted = _accept(text, m, alternative, floor)
                        if accepted is not None:
                            break
            else:
                group = groups[index - keywords]
                m = group.regex.match(text, at)
                if m is not None:
                    accepted = group.accept(text, m, floor)
            if accepted is not None:
                found.append(accepted[0])
                position = accepted[1]
        return found, reported

    def group_regexes(self) -> list[re.Pattern[str]]:
        """The groups' regexes, searched by ``re`` alone."""
        return [group.regex for group in self._groups]

    def find_with(self, text: str, regexes: Sequence[re.Pattern[str]]) -> list[Match]:
        """The scan of ``find`` with ``re`` alone, with the regexes given."""
        heads = [regex.search(text) for regex in regexes]
        keyworded = self._keyword_candidates(text)
        next_keyword = 0
        found: list[Match] = []
        position = 0
        while True:
            best, best_start = -1, len(text) + 1
            for index, head in enumerate(heads):
                if head is not None and head.start() < best_start:
                    best, best_start = index, head.start()
            while next_keyword < len(keyworded) and keyworded[next_keyword][0] < position:
                next_keyword += 1
            floor = found[-1].end if found else 0
            if next_keyword < len(keyworded) and keyworded[next_keyword][0] <= best_start:
                _, _, m, alternative = keyworded[next_keyword]
                next_keyword += 1
                accepted = _accept(text, m, alternative, floor)
            elif best >= 0:
                m = heads[best]  # type: ignore[assignment]
                accepted = self._group_of[m.lastgroup].accept(text, m, floor)  # type: ignore[index]
                if accepted is None:
                    heads[best] = regexes[best].search(text, m.start() + 1)
            else:
                return found
            if accepted is not None:
                found.append(accepted[0])
                position = accepted[1]
                for index, head in enumerate(heads):
                    if head is not None and head.start() < position:
                        heads[index] = regexes[index].search(text, position)

    def _reported_ends(self, text: str) -> list[int]:
        """Where the ``reported`` patterns match in ``text``, for a scan without Hyperscan: in
        the text it scans, after a newline (``_prefilter``)."""
        if self._reported_regex is None:
            return []
        return [m.end() - 1 for m in self._reported_regex.finditer("\n" + text)]

    def _keyword_candidates(self, text: str) -> list[_Candidate]:
        if not self._keywords or len(text) < _SHORTEST_KEYWORD_VALUE:
            return []
        candidates: list[_Candidate] = []
        positions = _keyword_positions(text, self._ascii_keywords)
        if self._word_keyword and not text.isascii():
            positions += [(self._words.words[w], at) for at, w in self._words.positions(text)]
        for keyword, at in positions:
            for order, regex, alternative in self._branches_of[keyword]:
                m = regex.match(text, at)
                if m is not None:
                    candidates.append((at, order, m, alternative))
        candidates.sort(key=lambda c: (c[0], c[1]))
        return candidates


def _as_prefilter_sees(word: str) -> str:
    """``word`` as the prefilter's pattern for it: each non-ASCII letter a "?"."""
    return re.escape(word.encode("ascii", "replace").decode("ascii"))


def _after_keyword(alternatives: Sequence[Alternative]) -> str:
    """What follows a keyword wherever one of the branches it leads can match, for the
    prefilter: "" (the keyword alone) unless every branch says (``Alternative.after_keyword``)."""
    follows = sorted({alternative.after_keyword for alternative in alternatives})
    if "" in follows:
        return ""
    # Grouped even when one: an "|" of its own must not split the keyword from what follows.
    return "(?:" + "|".join(follows) + ")"


def _keyword_positions(text: str, keywords: Sequence[tuple[str, object]]) -> list[tuple[str, int]]:
    """Where each keyword occurs in ``text``: a lower-case keyword in any case ("Bearer" for
    "bearer"), one with capitals as written ("-----BEGIN").

    Case-folding costs more than the search: ``str.lower()`` of a string with any non-ASCII
    character looks every character up in Unicode's tables. Such a string is lowered as UTF-8
    bytes instead (ASCII letters only, all a keyword has), and the few hits are mapped back to
    string positions."""
    if text.isascii():
        lowered: str | bytes = text.lower()
        found = [
            (keyword, at)
            for keyword, _ in keywords
            for at in all_offsets(lowered if keyword == keyword.lower() else text, keyword)
        ]
        return found
    data = text.encode("utf-8", "surrogatepass")
    lowered_bytes = data.lower()
    hits = sorted(
        (at, keyword)
        for keyword, _ in keywords
        for at in all_offsets(
            lowered_bytes if keyword == keyword.lower() else data, keyword.encode("ascii")
        )
    )
    return [(keyword, at) for at, (_, keyword) in zip(char_offsets(data, hits), hits, strict=True)]


def _accept(
    text: str, m: re.Match[str], alternative: Alternative, floor: int
) -> tuple[Match, int] | None:
    """The match a candidate stands for, and where scanning resumes; None if it is rejected."""
    start, end = m.start() - alternative.lead, m.end()
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
    kind = alternative.kind if alternative.kind_of is None else alternative.kind_of(text[start:end])
    return Match(start, end, kind), max(resume, m.start() + 1)
