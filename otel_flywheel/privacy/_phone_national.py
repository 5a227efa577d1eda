"""Phone numbers written without a country code: which of a set of regions reads them as a number.

As Presidio's ``PhoneRecognizer`` does, a candidate is tried in each region at libphonenumber's
``VALID`` leniency; the grouping check of its ``STRICT_GROUPING`` keeps digit groups that only
happen to parse as a number out (see ``_grouped_as_in``). Cheap checks come first: a region's
plan (possible lengths, the pattern every valid number matches) rules most regions out before
phonenumbers parses anything. See ``_phones`` for what is redacted and why.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import phonenumbers
from phonenumbers import PhoneNumberFormat

from otel_flywheel.privacy._phone_reading import (
    CACHE_SIZE,
    DECIMAL,
    digit_groups,
    digits,
    number_part,
    parse,
)

__all__ = ["national_is_phone"]

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


def _one_run(number: str) -> bool:
    """ "0000000", "0123456789", "9876543210": placeholders and counters, nobody's number."""
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(number)}
    return len(steps) == 1 and steps <= {0, 1, 9}


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a region's numbering plan says about a candidate before phonenumbers is asked: the
    checks are necessary for ``is_valid_number`` and cost a set lookup and one regex, where
    ``parse`` and ``is_valid_number`` cost ~50 us (more once their many patterns fall out of
    ``re``'s cache)."""

    country_code: int
    trunk: str  # the national prefix, "0" where the plan has none (Italy keeps the 0 anyway)
    dials_out: re.Pattern[str]  # the international prefix: "00", "011"
    lengths: frozenset[int]  # possible national significant number lengths
    general: re.Pattern[str]  # every valid national significant number matches it

    def may_accept(self, digits: str) -> bool:
        if self.dials_out.match(digits):
            return False  # phonenumbers reads it as dialled abroad: another country's number
        stripped = digits[len(self.trunk) :] if digits.startswith(self.trunk) else digits
        return any(
            len(nsn) in self.lengths and self.general.fullmatch(nsn) is not None
            for nsn in {digits, stripped}
        )


@lru_cache(maxsize=64)
def _plan(region: str) -> _Plan:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    assert metadata is not None
    assert metadata.general_desc is not None
    return _Plan(
        country_code=metadata.country_code or 0,
        trunk=metadata.national_prefix or "0",
        dials_out=re.compile(metadata.international_prefix or "(?!)"),
        lengths=frozenset(metadata.general_desc.possible_length or ()),
        general=re.compile(metadata.general_desc.national_number_pattern or "(?!)"),
    )


def _grouped_as_in(
    region: str, number: phonenumbers.PhoneNumber, bare: str, groups: list[int]
) -> bool:
    """Whether a valid number is written the way ``region`` writes its numbers.

    Many digit groups parse as *some* valid number (Germany's numbers vary in length), so the
    writing must say "phone number": a trunk "0" in front (how every such country dials a
    national number; the area code is split off where the writer sees it: "0151 23456789",
    "0710-480309"), or the country's own grouping ("(415) 555-0132", Brazil's "92 3464-6869";
    not "666-12-3456", an SSN's shape), after any other trunk prefix ("1-415-555-0132")."""
    national = digit_groups(
        number_part(phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))
    )
    if sum(national) != sum(groups):
        trunk = _plan(region).trunk
        return bare.startswith(trunk) and groups[0] == len(trunk) and groups[1:] == national
    if bare.startswith("0"):
        return True
    return groups == national


@lru_cache(maxsize=CACHE_SIZE)
def national_is_phone(candidate: str, regions: tuple[str, ...]) -> bool:
    """Whether ``candidate``, written without a country code, is a phone number of one of
    ``regions`` (see the module docstring)."""
    # A bare run of digits is an id far more often than a phone number; written numbers have
    # separators or the trunk prefix. Dates, decimals and dotted quads are never phone numbers.
    if not (candidate[0] in "0(" or any(c in " .-/" for c in candidate)):
        return False
    bare = candidate.lstrip("(")
    if _DATE_LIKE.fullmatch(bare) or DECIMAL.fullmatch(bare):
        return False
    written = number_part(candidate)
    found = digits(written)
    groups = digit_groups(written)
    # Nationally written numbers have 8 digits or more with the trunk prefix ("030 901820"); a
    # last group of one digit is a check digit ("ISBN 0-101-96167-1"), not a subscriber number.
    if not 8 <= len(found) <= 15 or groups[-1] < 2 or _one_run(found):
        return False
    tried: set[int] = set()
    for region in regions:
        plan = _plan(region)
        if plan.country_code in tried or not plan.may_accept(found):
            continue  # Canada after the US: one numbering plan, one answer
        tried.add(plan.country_code)
        number = parse(candidate, region)
        if (
            number is not None
            and number.country_code == plan.country_code  # not "0044 ..." read as dialled abroad
            and phonenumbers.is_valid_number(number)
            and _grouped_as_in(region, number, bare, groups)
        ):
            return True
    return not _NANP_REGIONS.isdisjoint(regions) and _NANP.fullmatch(written) is not None
