"""Reading phone numbers with ``phonenumbers``: shared helpers, and the international check.

Every check is a pure function of the candidate string, cached: an agent's text repeats the same
numbers, and phonenumbers costs ~50 us per parse. See ``_phones`` for what is redacted and why.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

import phonenumbers
from phonenumbers import NumberParseException, ValidationResult

__all__ = [
    "CACHE_SIZE",
    "DECIMAL",
    "EXTENSION",
    "digit_groups",
    "digits",
    "international_length",
    "number_part",
    "parse",
    "valid_country_code",
]

CACHE_SIZE: Final = 4096

# A phone extension ("x066", "Ext. 12", "ext: 12", "extension 12", RFC 3966's ";ext=12") belongs
# to the number: phonenumbers parses it, and redacting it with the number is simpler than cutting
# it off. A dash may join it ("-ext.-3616"): otherwise the dash and letters after the last digit
# make the number part of a token, and it was left whole.
_EXTENSION_MARK: Final = (
    r"(?:[ \-]?(?:[xX]|[eE][xX][tT](?:[eE][nN][sS][iI][oO][nN]|\.)?:?)[ \-]?|;ext=)"
)
EXTENSION: Final = rf"(?:{_EXTENSION_MARK}[0-9]{{1,6}})?"

_TRAILING_EXTENSION = re.compile(rf"{_EXTENSION_MARK}[0-9]{{1,6}}$")

# Trailing groups are only dropped at whitespace: a cut at "." or "-" would split a token
# ("1782512252.000" is a decimal, not a phone number followed by ".000"). An extension goes
# whole: phonenumbers reads the letters of a dangling "ext." as a vanity number's digits.
_LAST_GROUP = re.compile(rf"(?:\s+\(?[0-9]+\)?|{_EXTENSION_MARK}[0-9]{{1,6}})$")

_DIGIT_RUN = re.compile(r"[0-9]+")

# How many digits a national number written after a country code has, whatever the metadata
# says of that country today: 7 to the 14 that E.164's 15 leave after a one-digit code.
_NATIONAL_DIGITS: Final = (7, 14)

# How many digits an E.164 number without separators has when its length is taken on trust.
_LONG_E164: Final = (11, 15)

# 27754.46, 1782512252.000, 0.5; not "0800.4443", a toll-free number written with a dot
DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)\.[0-9]+")

# Joiners between digit groups, when they hold a parenthesis: "+49 (0) 30", "+1 (415) 555-0132".
_PAREN_JOINERS: Final = frozenset({"(", ")", " (", ") ", ")-", ")."})


def number_part(candidate: str) -> str:
    """The candidate without its extension."""
    return _TRAILING_EXTENSION.sub("", candidate)


def digits(text: str) -> str:
    return "".join(_DIGIT_RUN.findall(text))


def digit_groups(text: str) -> list[int]:
    return [len(group) for group in _DIGIT_RUN.findall(text)]


def parse(candidate: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    count = len(digits(number_part(candidate)))
    if not 7 <= count <= 15:  # E.164 allows at most 15; nothing real is shorter than 7
        return None
    try:
        return phonenumbers.parse(candidate, region)
    except NumberParseException:
        return None  # an unknown country code, too short, not a number


def _written_like_a_phone(number: str, country_code: int, *, glued: bool = False) -> bool:
    """E.164 ("+14155550132"), or the country code and digit groups joined the way phone numbers
    are written: single spaces, dashes, dots or slashes, parentheses around a group, one joiner
    style after the country code's own ("+1 415-555-0132"; Brazil's "+55 11 91234-5678" has
    spaces then dashes). Rejects what else puts digits after a "+": diff stats ("+1234 -5678"),
    ISO 6709 coordinates ("+40.7128-074.0060"), signed decimals ("+6003.17 (3317%)").

    ``glued``: the country code may also run into the area code ("+44115 496 0177",
    "+3157-4415988"), followed by a space or a dash, then one joiner style throughout."""
    groups = _DIGIT_RUN.findall(number)
    joiners = _DIGIT_RUN.split(number)[1:-1]
    if len(groups) > 1:
        code = str(country_code)
        if groups[0] != code:
            if not (glued and groups[0].startswith(code) and joiners[0] in (" ", "-")):
                return False  # "+6003.17 (3317": a number, not a country code and a phone number
        else:
            joiners = joiners[1:]  # the country code's own joiner may differ: "+1 415-555-0132"
    styles = set()
    for joiner in joiners:
        if joiner in _PAREN_JOINERS:
            continue
        if len(joiner) != 1 or joiner not in " -./":
            return False
        styles.add(joiner)
    return len(styles) <= 1 or styles in ({" ", "-"}, {" ", "/"})


def _shorter(candidate: str) -> list[str]:
    """The candidate, then with trailing digit groups dropped at whitespace, at most 3 times."""
    parts = [candidate]
    for _ in range(3):
        shorter = _LAST_GROUP.sub("", parts[-1])
        if shorter == parts[-1]:
            break
        parts.append(shorter)
    return parts


@lru_cache(maxsize=CACHE_SIZE)
def international_length(candidate: str) -> int:
    """How much of ``candidate`` ("+" and digit groups) is a phone number: the longest leading
    part that phonenumbers deems valid, or possible and written like a phone number; 0 if none.
    Only whole trailing groups are dropped ("... 0958 12 items")."""
    if DECIMAL.fullmatch(candidate, 1):
        return 0  # "+14285714.286" is a signed decimal
    parts = _shorter(candidate)
    for part in parts:
        number = parse(part, None)
        if number is None:
            continue
        # The cheap test first: a possible length written as phone numbers are. Validity (the
        # number's range is assigned today) matches every pattern of the region's metadata.
        if (
            phonenumbers.is_possible_number_with_reason(number) == ValidationResult.IS_POSSIBLE
            and _written_like_a_phone(number_part(part), number.country_code or 0, glued=True)
        ) or phonenumbers.is_valid_number(number):
            return len(part)
    # Fail closed on the length: a country code, then digit groups written as phone numbers are,
    # is a phone number even where today's metadata has no such length there, or calls it local:
    # a plan changed (Nigeria's "+234 1 234 5678", Mexico's 8-digit "+52 33 123 4567"), or the
    # writer left the area code out ("+1 555 0100"). Tried after the metadata's readings, so a
    # trailing group that is not part of the number still goes.
    for part in parts:
        number = parse(part, None)
        if number is None:
            continue
        written = number_part(part)
        if _grouped_after_country_code(written, number) or _long_e164(written):
            return len(part)
    return 0


def _long_e164(written: str) -> bool:
    """E.164 without separators, 11 to 15 digits after the "+" of a country code that exists
    ("+3892948219935"): longer than counts and signed numbers run ("+12500000 rows" keeps its
    plan's lengths), and as long as international numbers are."""
    return written[1:].isdigit() and _LONG_E164[0] <= len(written) - 1 <= _LONG_E164[1]


def valid_country_code(candidate: str) -> int | None:
    """The country code of ``candidate`` ("+" and digit groups) where it is a number in a range
    assigned today; None otherwise."""
    number = parse(candidate, None)
    if number is None or not phonenumbers.is_valid_number(number):
        return None
    return number.country_code


def _grouped_after_country_code(written: str, number: phonenumbers.PhoneNumber) -> bool:
    country_code = number.country_code or 0
    groups = _DIGIT_RUN.findall(written)
    national = sum(map(len, groups)) - len(str(country_code))
    return (
        len(groups) > 1
        and _NATIONAL_DIGITS[0] <= national <= _NATIONAL_DIGITS[1]
        and _written_like_a_phone(written, country_code)
    )
