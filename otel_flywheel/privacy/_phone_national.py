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
    # What phonenumbers may strip from the front while parsing: the national prefix (and carrier
    # codes), or the country code itself.
    stripped_by_parse: re.Pattern[str]
    # The national formats that write no national prefix: (leading digits, pattern).
    untrunked: tuple[tuple[re.Pattern[str] | None, re.Pattern[str]], ...]

    def may_accept(self, digits: str) -> bool:
        if self.dials_out.match(digits):
            return False  # phonenumbers reads it as dialled abroad: another country's number
        stripped = digits[len(self.trunk) :] if digits.startswith(self.trunk) else digits
        return any(
            len(nsn) in self.lengths and self.general.fullmatch(nsn) is not None
            for nsn in {digits, stripped}
        )

    def may_group_without_trunk(self, digits: str) -> bool:
        """Whether a number written without the national prefix, in several groups, can pass
        ``_grouped_as_in``: only if phonenumbers would format it with one of ``untrunked``
        (it picks the first format whose leading digits and pattern fit). Otherwise its national
        format has the prefix (one digit more than written: rejected) or no groups at all. Saves
        the parse of a status code and a byte count ("304 80052") in every region that writes
        the prefix. Answers True where parsing would change the digits first."""
        if digits.startswith("0") or self.stripped_by_parse.match(digits):
            return True
        return any(
            (leading is None or leading.match(digits)) and pattern.fullmatch(digits)
            for leading, pattern in self.untrunked
        )


@lru_cache(maxsize=64)
def _plan(region: str) -> _Plan:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    assert metadata is not None
    assert metadata.general_desc is not None
    country_code = metadata.country_code or 0
    stripped = [str(country_code)]
    if metadata.national_prefix_for_parsing:
        stripped.append(metadata.national_prefix_for_parsing)
    elif metadata.national_prefix:
        stripped.append(re.escape(metadata.national_prefix))
    return _Plan(
        country_code=country_code,
        trunk=metadata.national_prefix or "0",
        dials_out=re.compile(metadata.international_prefix or "(?!)"),
        lengths=frozenset(metadata.general_desc.possible_length or ()),
        general=re.compile(metadata.general_desc.national_number_pattern or "(?!)"),
        stripped_by_parse=re.compile("|".join(f"(?:{p})" for p in stripped)),
        untrunked=tuple(
            (
                re.compile(f.leading_digits_pattern[-1]) if f.leading_digits_pattern else None,
                re.compile(f.pattern or "(?!)"),
            )
            for f in metadata.number_format
            if not _adds_digits(f.national_prefix_formatting_rule)
        ),
    )


def _adds_digits(rule: str | None) -> bool:
    """Whether a national formatting rule ("0\\1", "(\\1)", "0 \\1") writes a national prefix."""
    return rule is not None and any(c.isdigit() for c in re.sub(r"\\[0-9]|\$[0-9]", "", rule))


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
    untrunked = not bare.startswith("0") and len(groups) > 1
    tried: set[int] = set()
    for region in regions:
        plan = _plan(region)
        if plan.country_code in tried or not plan.may_accept(found):
            continue  # Canada after the US: one numbering plan, one answer
        if untrunked and not plan.may_group_without_trunk(found):
            continue
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
