"""Phone numbers: international "+" numbers, and national formats of a set of regions.

libphonenumber (``phonenumbers``) decides, but it only knows the number ranges assigned today, so
the checks fail closed where its metadata cannot say:

- **International** ("+44 20 7946 0958", "+1-912-490-4047x96", "0044 20 7946 0958"): a number
  that phonenumbers deems valid, or one whose country code exists, whose length that country's
  plan allows (``IS_POSSIBLE``) and that is written like a phone number (see
  ``_written_like_a_phone``). Ranges get assigned after our metadata was built, and a made-up
  number in a test fixture is still shaped like somebody's.
- **National** ("(415) 555-0132", "030 901820", "05 45 23 28 60"): written without a country
  code, so the region is a guess. As Presidio's ``PhoneRecognizer`` does, a candidate is tried
  in each of a set of regions (``DEFAULT_PHONE_REGIONS``, configurable) at libphonenumber's
  ``VALID`` leniency, with the grouping check of its ``STRICT_GROUPING``: the number must start
  with the region's trunk prefix ("030 ...", "1-415-...") or be grouped as the country writes it
  ("(415) 555-2671", Brazil's "92 3464-6869"). North American numbers also fail closed: three,
  three and four digits with a "(", "-" or "." between them ("(018) 238-5454", "298.925.9791")
  are redacted whether or not the area code exists.

Both checks are pure functions of the candidate string, cached (``lru_cache``): an agent's text
repeats the same numbers, and phonenumbers costs ~50 us per parse and region.

What is left alone: digit runs without a separator (an id far more often than a phone number),
unless they start with a trunk "0" and are valid; dates, decimals, dotted quads; numbers too short
(< 7 digits) or too long for E.164 (> 15); "0123456789" and other runs of one or consecutive
digits; "+" numbers with a country code nobody has.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Final

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from otel_flywheel.errors import ConfigError
from otel_flywheel.privacy._cards import card_inside
from otel_flywheel.privacy._shapes import Alternative, Span, Validator

__all__ = [
    "DEFAULT_PHONE_REGIONS",
    "INTERNATIONAL_PHONE_ALTERNATIVE",
    "KIND_PHONE",
    "checked_phone_regions",
    "national_phone_alternatives",
]

KIND_PHONE: Final = "PHONE"

# Presidio's PhoneRecognizer default regions (US, GB, DE, FR, IL, IN, CA, BR), plus the other
# large markets whose formats our test corpus covers (ES, IT, NL, JP). Order matters only for cost:
# the first region that accepts a candidate ends the search.
DEFAULT_PHONE_REGIONS: Final = (
    "US",
    "GB",
    "DE",
    "FR",
    "ES",
    "IT",
    "NL",
    "BR",
    "IN",
    "JP",
    "IL",
    "CA",
)

_CACHE_SIZE: Final = 4096
# A phone extension ("x066", "ext. 12", RFC 3966's ";ext=12") belongs to the number: phonenumbers
# parses it, and redacting it with the number is simpler than cutting it off.
_EXTENSION: Final = r"(?:(?:[ ]?(?:x|ext\.?)[ ]?|;ext=)[0-9]{1,6})?"
_TRAILING_EXTENSION = re.compile(r"(?:[ ]?(?:x|ext\.?)[ ]?|;ext=)[0-9]{1,6}$")
# Trailing groups are only dropped at whitespace: a cut at "." or "-" would split a token
# ("1782512252.000" is a decimal, not a phone number followed by ".000"). An extension goes
# whole: phonenumbers reads the letters of a dangling "ext." as a vanity number's digits.
_LAST_GROUP = re.compile(r"(?:\s+\(?[0-9]+\)?|(?:[ ]?(?:x|ext\.?)[ ]?|;ext=)[0-9]{1,6})$")
_DIGIT_RUN = re.compile(r"[0-9]+")
# 27754.46, 1782512252.000, 0.5; not "0800.4443", a toll-free number written with a dot
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)\.[0-9]+")
_MONTH, _DAY = r"(?:0?[1-9]|1[0-2])", r"(?:0?[1-9]|[12][0-9]|3[01])"
_DATE_LIKE = re.compile(
    rf"[0-9]{{4}}(?P<a>[./\- ]){_MONTH}(?P=a){_DAY}"  # 2024-01-15, 2024.1.5, 2024 01 15
    rf"|{_DAY}(?P<b>[./\- ]){_MONTH}(?P=b)(?:[0-9]{{2}}|[0-9]{{4}})"  # 15.01.2024, 15/1/24
    rf"|{_MONTH}(?P<c>[./\- ]){_DAY}(?P=c)(?:[0-9]{{2}}|[0-9]{{4}})"  # 01/15/2024
    r"|[0-9]{1,3}(?:\.[0-9]{1,3}){3}"  # a dotted quad
)
# North American numbering: 3-3-4 digits, the area code in parentheses or dashed like the rest,
# optionally after the trunk "1". Dotted 3-3-4 is also how ids are batched, so it needs a valid
# number.
_NANP: Final = re.compile(r"(?:1[ \-]?)?(?:\([0-9]{3}\)[ ]?|[0-9]{3}-)[0-9]{3}-[0-9]{4}")
_NANP_REGIONS: Final = frozenset({"US", "CA"})
# Joiners between digit groups, when they hold a parenthesis: "+49 (0) 30", "+1 (415) 555-0132".
_PAREN_JOINERS: Final = frozenset({"(", ")", " (", ") ", ")-", ")."})


def checked_phone_regions(regions: Iterable[str]) -> tuple[str, ...]:
    """``regions`` upper-cased and deduplicated, each checked against phonenumbers' regions."""
    checked: list[str] = []
    for region in regions:
        code = str(region).strip().upper()
        if code not in phonenumbers.SUPPORTED_REGIONS:
            hint = " (the United Kingdom is 'GB')" if code == "UK" else ""
            raise ConfigError(
                f"phone region {region!r} is not a region phonenumbers knows{hint}; use ISO 3166 "
                "alpha-2 codes such as 'US', 'GB' or 'DE'"
            )
        if code not in checked:
            checked.append(code)
    return tuple(checked)


# --- shared checks --------------------------------------------------------------------------------


def _number_part(candidate: str) -> str:
    """The candidate without its extension."""
    return _TRAILING_EXTENSION.sub("", candidate)


def _digits(text: str) -> str:
    return "".join(_DIGIT_RUN.findall(text))


def _digit_groups(text: str) -> list[int]:
    return [len(group) for group in _DIGIT_RUN.findall(text)]


def _one_run(digits: str) -> bool:
    """ "0000000", "0123456789", "9876543210": placeholders and counters, nobody's number."""
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(digits)}
    return len(steps) == 1 and steps <= {0, 1, 9}


def _parse(candidate: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    digits = len(_digits(_number_part(candidate)))
    if not 7 <= digits <= 15:  # E.164 allows at most 15; nothing real is shorter than 7
        return None
    try:
        return phonenumbers.parse(candidate, region)
    except NumberParseException:
        return None  # an unknown country code, too short, not a number


def _written_like_a_phone(number: str, country_code: int) -> bool:
    """E.164 ("+14155550132"), or the country code and digit groups joined the way phone numbers
    are written: single spaces, dashes, dots or slashes, parentheses around a group, one joiner
    style after the country code's own ("+1 415-555-0132"; Brazil's "+55 11 91234-5678" has
    spaces then dashes). Rejects what else puts digits after a "+": diff stats ("+1234 -5678"),
    ISO 6709 coordinates ("+40.7128-074.0060"), signed decimals ("+6003.17 (3317%)")."""
    groups = _DIGIT_RUN.findall(number)
    joiners = _DIGIT_RUN.split(number)[1:-1]
    if len(groups) > 1:
        if groups[0] != str(country_code):
            return False  # "+6003.17 (3317": a number, not a country code and a phone number
        joiners = joiners[1:]  # the country code's own joiner may differ: "+1 415-555-0132"
    styles = set()
    for joiner in joiners:
        if joiner in _PAREN_JOINERS:
            continue
        if len(joiner) != 1 or joiner not in " -./":
            return False
        styles.add(joiner)
    return len(styles) <= 1 or styles in ({" ", "-"}, {" ", "/"})


# --- international ---------------------------------------------------------------------------------


def _shorter(candidate: str) -> list[str]:
    """The candidate, then with trailing digit groups dropped at whitespace, at most 3 times."""
    parts = [candidate]
    for _ in range(3):
        shorter = _LAST_GROUP.sub("", parts[-1])
        if shorter == parts[-1]:
            break
        parts.append(shorter)
    return parts


@lru_cache(maxsize=_CACHE_SIZE)
def international_length(candidate: str) -> int:
    """How much of ``candidate`` ("+" and digit groups) is a phone number: the longest leading
    part that phonenumbers deems valid, or possible and written like a phone number; 0 if none.
    Only whole trailing groups are dropped ("... 0958 12 items")."""
    if _DECIMAL.fullmatch(candidate, 1):
        return 0  # "+14285714.286" is a signed decimal
    for part in _shorter(candidate):
        number = _parse(part, None)
        if number is None:
            continue
        if phonenumbers.is_valid_number(number) or (
            phonenumbers.is_possible_number_with_reason(number) == ValidationResult.IS_POSSIBLE
            and _written_like_a_phone(_number_part(part), number.country_code or 0)
        ):
            return len(part)
    return 0


def _phone_intl(text: str, start: int, end: int, floor: int) -> Span | None:
    """The number at ``start``, without trailing groups that belong to the next thing (the
    first four of a card: "+44 20 7946 0958 4111 1111 1111 1111")."""
    candidate = text[start:end]
    for _ in range(4):
        length = international_length(candidate)
        if not length:
            return None
        end = start + length
        card = card_inside(text, start, end)
        if card is None:
            return start, end
        candidate = text[start:card].rstrip()
    return None


# --- national -------------------------------------------------------------------------------------


def _trunk(region: str) -> str:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return (metadata.national_prefix if metadata is not None else None) or "0"


def _grouped_as_in(
    region: str, number: phonenumbers.PhoneNumber, bare: str, groups: list[int]
) -> bool:
    """Whether a valid number is written the way ``region`` writes its numbers.

    Many digit groups parse as *some* valid number (Germany's numbers vary in length), so the
    writing must say "phone number": a trunk "0" in front (how every such country dials a
    national number; the area code is split off where the writer sees it: "0151 23456789",
    "0710-480309"), or the country's own grouping ("(415) 555-0132", Brazil's "92 3464-6869";
    not "666-12-3456", an SSN's shape), after any other trunk prefix ("1-415-555-0132")."""
    national = _digit_groups(
        _number_part(phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))
    )
    if sum(national) != sum(groups):
        trunk = _trunk(region)
        return bare.startswith(trunk) and groups[0] == len(trunk) and groups[1:] == national
    if bare.startswith("0"):
        return True
    return groups == national


@lru_cache(maxsize=_CACHE_SIZE)
def national_is_phone(candidate: str, regions: tuple[str, ...]) -> bool:
    """Whether ``candidate``, written without a country code, is a phone number of one of
    ``regions`` (see the module docstring)."""
    # A bare run of digits is an id far more often than a phone number; written numbers have
    # separators or the trunk prefix. Dates, decimals and dotted quads are never phone numbers.
    if not (candidate[0] in "0(" or any(c in " .-/" for c in candidate)):
        return False
    bare = candidate.lstrip("(")
    if _DATE_LIKE.fullmatch(bare) or _DECIMAL.fullmatch(bare):
        return False
    number_part = _number_part(candidate)
    digits = _digits(number_part)
    groups = _digit_groups(number_part)
    # Nationally written numbers have 8 digits or more with the trunk prefix ("030 901820"); a
    # last group of one digit is a check digit ("ISBN 0-101-96167-1"), not a subscriber number.
    if not 8 <= len(digits) <= 15 or groups[-1] < 2 or _one_run(digits):
        return False
    tried: set[int] = set()
    for region in regions:
        country_code = phonenumbers.country_code_for_region(region)
        if country_code in tried:
            continue  # Canada after the US: one numbering plan, one answer
        tried.add(country_code)
        number = _parse(candidate, region)
        if (
            number is not None
            and number.country_code == country_code  # not "0044 ..." read as dialled abroad
            and phonenumbers.is_valid_number(number)
            and _grouped_as_in(region, number, bare, groups)
        ):
            return True
    return not _NANP_REGIONS.isdisjoint(regions) and _NANP.fullmatch(number_part) is not None


def _phone_national(regions: tuple[str, ...]) -> Validator:
    def validate(text: str, start: int, end: int, floor: int) -> Span | None:
        if not national_is_phone(text[start:end], regions):
            return None
        card = card_inside(text, start, end)
        if card is not None:  # "030 901820 4111 1111 1111 1111": the last four start a card
            return validate(text, start, start + len(text[start:card].rstrip()), floor)
        return start, end

    return validate


def _phone_dialled_abroad(regions: tuple[str, ...]) -> Validator:
    """ "0044 20 7946 0958", "001-335-504-9258": the international number after the "00" (most
    of the world) or "011" (North America) that dials out, checked like a "+" number. A valid
    national number wins where both readings fit (Reading's "0118 496 0990")."""

    def validate(text: str, start: int, end: int, floor: int) -> Span | None:
        candidate = text[start:end]
        if candidate.isdigit() or national_is_phone(candidate, regions):
            # A bare "00..." run is a zero-padded id; a valid national number is left to the
            # national branch, tried next at the same place.
            return None
        rest = candidate[3:] if candidate.startswith("011") else candidate[2:]
        international = "+" + rest.lstrip(" .-/")
        offset = start + len(candidate) - len(international) + 1  # where "+" would be, plus one
        for _ in range(4):
            length = international_length(international)
            if not length:
                return None
            end = offset + length - 1
            card = card_inside(text, start, end)
            if card is None:
                return start, end
            international = international[: card - offset + 1].rstrip()
        return None

    return validate


# --- candidate shapes -----------------------------------------------------------------------------

# "+" and 7-15 digits with the usual separators: "+1 (415) 555-2671", "+44 20 7946 0958",
# "+49 (0) 30 123456", "+33.1.23.45.67.89". No space after the "+": "x + 14285714.286" is
# arithmetic.
INTERNATIONAL_PHONE_ALTERNATIVE: Final = Alternative(
    "phone",
    KIND_PHONE,
    r"\+(?<![A-Za-z0-9+_].)\(?[1-9](?:[ .\-/()]{0,3}[0-9]){6,14}"
    + _EXTENSION
    + r"(?![A-Za-z0-9_]|[.\-/][0-9])",
    validate=_phone_intl,
    word_start=False,
)


def national_phone_alternatives(regions: tuple[str, ...]) -> tuple[Alternative, ...]:
    """The branches for phone numbers written without a country code: in the national format of
    one of ``regions``, or dialled from abroad ("0044 ...", "011 44 ...").

    A candidate does not start right after a word, a "+", "_", "-" or "/", nor inside a time or
    decimal ("12:30 ...", "1.5 ..."), nor after a digit and a space (the middle of a number list);
    "Tel:030 901820" and "Tel.030 901820" are candidates."""
    left = r"(?<![A-Za-z0-9+_\-/].)(?<![0-9][.:].)(?<![0-9] .)"
    tail = _EXTENSION + r"(?![A-Za-z0-9_]|[.\-/:][0-9])"
    rest = r"(?:[ .\-/()]{0,3}[0-9]){6,14}" + tail
    validate = _phone_national(regions)
    return (
        # Before the national branches, which are tried at the same place when it rejects. Up to
        # 15 digits after the prefix, as E.164 allows.
        Alternative(
            "phone_abroad",
            KIND_PHONE,
            r"0" + left + r"(?:0|11)[ .\-/]?[1-9](?:[ .\-/()]{0,3}[0-9]){6,14}" + tail,
            validate=_phone_dialled_abroad(regions),
        ),
        # Two branches, digit-led and "("-led, so each starts with a cheap first character. The
        # parenthesis closes after the area code: "(030) 901820", "(415)555-0132"; an opening
        # one around a number ("(076-53-6603)") is punctuation, and the digits start the value.
        Alternative("phone_national", KIND_PHONE, r"[0-9]" + left + rest, validate=validate),
        Alternative(
            "phone_national_paren",
            KIND_PHONE,
            r"\(" + left + r"[0-9]{1,6}\)(?:[ .\-/]{0,3}[0-9]){2,13}" + tail,
            validate=validate,
            word_start=False,
        ),
    )
