"""What a built-in detector branch is: a candidate shape for the scan, and the check behind it.

Every built-in kind is one or more ``Alternative``s: a regex that proposes candidates and a
``Validator`` that confirms each one in Python. The scanner (``_scan``) compiles all of them into
one pass; the modules that define kinds (``_secrets``, ``_pii``, ``_cards``, ``_phones``,
``_network``) only describe shapes and checks.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

__all__ = [
    "ACCESS_LOG_TIMES",
    "NOT_A_DATE",
    "REGEX_CONSTANTS",
    "REGEX_PARSER",
    "Alternative",
    "Match",
    "Span",
    "Start",
    "Validator",
    "after",
]

# The parser of ``re`` (widths of patterns, their structure), renamed in Python 3.11.
_NEW_NAMES = sys.version_info >= (3, 11)
REGEX_PARSER: Any = importlib.import_module("re._parser" if _NEW_NAMES else "sre_parse")
REGEX_CONSTANTS: Any = importlib.import_module("re._constants" if _NEW_NAMES else "sre_constants")

Span = tuple[int, int]

Validator = Callable[[str, int, int, int], Span | None]
"""``(text, start, end, floor)`` of a candidate value -> the span to redact, or None to reject it.
``floor`` is where the previous finding in ``text`` ends (0 if none): what lies before it is taken,
so a value starting right after it is not a continuation of what precedes it."""


class Match(NamedTuple):
    """``text[start:end]`` is a sensitive value of ``kind``. A named tuple: the scan makes one
    or two per value found, and a tuple is made in a third of a frozen dataclass's time."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True, slots=True)
class Start:
    """A pattern (Hyperscan's dialect: no lookaround) whose every match holds a candidate's
    anchor ``anchor_at`` characters from its start: ``Start(r"[^0-9A-Za-z_][0-9]", 1)`` is "a
    digit, not after a word character".

    Hyperscan reports where a match ends, and at most one start per end (the leftmost). So a
    pattern has a fixed width, or else no two of its matches may end at the same place (a
    pattern that counts the digits it takes: "eight digits with separators"), or else it ends at
    the anchor: ``anchor_at`` negative counts from the end (-1: the last character), and the
    width may vary ("phone", separators, a digit: the words before a number). The scanned text
    is preceded by a newline: a left-boundary class that admits one ("[^A-Za-z0-9_]") also
    matches at the start of the text. ``caseless``: ASCII letters in any case ("bearer").

    ``rules_out``: the opposite, a place where the group's regex can *not* match (an ISO date:
    every digit-led branch refuses one), dropped from what the other patterns found. It must be
    a sufficient condition for every branch of the group failing there.

    ``marks``: not a place either: a match says the text may hold what the compiled scan cannot
    see (a word with non-ASCII letters, each a "?" to it), which the scanner then finds itself
    (``WordFinder``). Reported at most once per text.

    ``reports``: not a place of the scan's own: where each match ends is handed to the scan's
    caller, which reads the text there itself (a table's header: ``_tables``)."""

    pattern: str
    anchor_at: int = 0
    caseless: bool = False
    rules_out: bool = False
    marks: bool = False
    reports: bool = False

    @property
    def width(self) -> int | None:
        """The fixed width, or None for a pattern whose matches vary in length."""
        low, high = REGEX_PARSER.parse(self.pattern).getwidth()
        return low if low == high else None


def after(boundary: str, *bodies: str, anchor_at: int = 0) -> tuple[Start, ...]:
    """Starts for ``bodies`` (patterns, the anchor ``anchor_at`` characters in) where they
    follow a character of ``boundary`` (a class: the branch's left-boundary lookbehind, which
    must admit a newline) or begin the text."""
    if not re.fullmatch(boundary, "\n"):
        raise ValueError(f"boundary {boundary!r} must admit a newline (the text's start)")
    return tuple(Start(boundary + body, anchor_at + 1) for body in bodies)


# Dates are the commonest digit groups in agent text, and no value is shaped like one: digit-led
# branches refuse them in the regex, before Python sees them. Written as a lookahead after the
# anchor digit, so the year or day has one digit fewer. A year has two or four digits: with
# three, the groups are a number's ("06-1/237 8991" is a Budapest phone number).
NOT_A_DATE: Final = (
    r"(?![0-9]{3}[-./][0-9]{1,2}[-./][0-9]{1,2}(?![0-9]|[-./][0-9]))"  # 2024-01-15
    r"(?![0-9]?[-./][0-9]{1,2}[-./](?:[0-9]{4}|[0-9]{2})(?![0-9]|[-./][0-9]))"  # 15.01.2024, 1/15/24
)

# The first colon of an access log's date and time ("[31/Jul/2026:07:52:57 +0000]"): four groups
# of digits, so not an IPv6 address (no "::", not eight groups), a digit after the colon, so not
# "://", and a digit before it, so not a leading "::". One in every line of such a log.
ACCESS_LOG_TIMES: Final = tuple(
    Start(
        rf"[^A-Za-z0-9:._][0-9]{{{n}}}:[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}[^0-9A-Fa-f:.]",
        n + 1,
        rules_out=True,
    )
    for n in (1, 2, 3, 4)
)


@dataclass(frozen=True, slots=True)
class Alternative:
    r"""One named branch of the built-in detector.

    ``anchor`` is a character class (or one escaped character): the characters the branch is
    entered on. ``pattern`` is what follows that character. The scanner compiles every branch as
    ``[all anchors](?:(?<=anchor)pattern(?P<name>)|...)``: because the pattern starts with a
    character class, CPython's matcher gets a *charset prefix* and skips, in C, every character
    that cannot start a match; Python code runs only at candidates. Anchors are therefore rare
    characters: a digit, "@", ":", "+", "(", or a letter that is rare in text ("J" of "eyJ", "x"
    of "xoxb-"), never a common one. A left-boundary check is a lookbehind that spans the anchor
    (``(?<![A-Za-z0-9_].)``: "the anchor does not follow a word character").

    ``lead`` is how many characters of the value come before the anchor ("ey" before the "J" of a
    JWT, checked by a lookbehind): the scanner moves the candidate's start back by that much. A
    validator can also move the start (an email's local part, an IPv6 address's first group).

    ``keywords``: a branch led by a common letter ("Bearer", "password", "sk-") is not anchored.
    It is matched, anchor included in ``pattern``, wherever one of these words occurs in the text,
    found with ``str.find`` (C speed, and rarely found). A lower-case keyword is looked for in the
    text lower-cased ("bearer" finds "Bearer"); one with capitals, as written ("-----BEGIN").

    When the pattern has groups listed in ``value_groups``, the first that took part in the match
    is the sensitive value (the token after ``Bearer``, the password in a URL); otherwise the whole
    match is. ``validate`` confirms or adjusts a candidate in Python, where checks are cheaper and
    clearer than in the regex.
    """

    name: str
    kind: str
    anchor: str
    pattern: str
    value_groups: tuple[str, ...] = ()
    validate: Validator | None = None
    lead: int = 0
    keywords: tuple[str, ...] = ()
    # A digit-anchored branch whose anchor may follow a letter (an IBAN's check digits); the
    # others never start after a letter, "_", or a digit and "." or ":" (see _scan).
    follows_letters: bool = False
    # Where this branch can match, for a compiled prefilter (``_prefilter``): patterns whose
    # matches include every place the branch's regex matches. Empty: the anchor alone. Branches
    # led by a digit (but an IBAN's) share the scanner's own (``_scan``).
    starts: tuple[Start, ...] = ()
    # The kind of a value found, where its shape says more than ``kind`` (a bearer token that
    # is a JWT, a key named by its key that is an OpenAI key): say what it is.
    kind_of: Callable[[str], str] | None = None
    # For a keyword-led branch, what follows each of its keywords wherever it can match (the
    # prefilter's dialect): the prefilter then stops at "token:", not at every "token".
    after_keyword: str = ""
    # Places where this branch cannot match (``Start``s with ``rules_out``): the prefilter drops
    # a place only where every branch of the group refuses it (``_scan``).
    refuses: tuple[Start, ...] = ()
