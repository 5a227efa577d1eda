"""What a built-in detector branch is: a candidate shape for the scan, and the check behind it.

Every built-in kind is one or more ``Alternative``s: a regex that proposes candidates and a
``Validator`` that confirms each one in Python. The scanner (``_scan``) compiles all of them into
one alternation; the modules that define kinds (``_secrets``, ``_pii``, ``_cards``, ``_phones``,
``_network``) only describe shapes and checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Alternative", "Span", "Validator"]

Span = tuple[int, int]

Validator = Callable[[str, int, int, int], Span | None]
"""``(text, start, end, floor)`` of a candidate value -> the span to redact, or None to reject it.
``floor`` is where the previous finding in ``text`` ends (0 if none): what lies before it is taken,
so a value starting right after it is not a continuation of what precedes it."""


@dataclass(frozen=True, slots=True)
class Alternative:
    r"""One named branch of the built-in detector's alternation.

    ``pattern`` must begin with a literal character or a character class, with any left-boundary
    lookbehind placed *after* that first character (``s(?<![\w-].)k-``). CPython's matcher skips
    a branch whose first op is a literal or a class with a single comparison, but enters every
    branch that starts with anything else (a group, a lookbehind) at every position: with twenty
    branches that is the difference between ~2 and ~20 MB/s. For the same reason the branch's name
    is an empty group at its end (``m.lastgroup`` is the last group closed), not a group around it.

    When the pattern has groups listed in ``value_groups``, the first that took part in the match
    is the sensitive value (the token after ``Bearer``, the password in a URL); otherwise the whole
    match is. ``validate`` confirms or adjusts a candidate in Python, where checks are cheaper and
    clearer than in the regex. ``word_start`` says the pattern starts with an ASCII letter, digit
    or "_" that must not follow another: the detector tests that once, as an ASCII ``\b``, for all
    such branches (most positions are inside words, and one failed test there beats twenty).
    """

    name: str
    kind: str
    pattern: str
    value_groups: tuple[str, ...] = ()
    validate: Validator | None = None
    word_start: bool = True
