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
from collections.abc import Iterable
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
from otel_flywheel.privacy._phone_shapes import SEPARATOR, digit_prefixes, layout_shapes

__all__ = ["is_placeholder_number", "national_is_phone", "untrunked_lookahead"]

_MONTH, _DAY = r"(?:0?[1-9]|1[0-2])", r"(?:0?[1-9]|[12][0-9]|3[01])"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])"  # leading zeros too: "016.016.016.016"
_DATE_LIKE = re.compile(
    rf"[0-9]{{4}}(?P<a>[./\- ]){_MONTH}(?P=a){_DAY}"  # 2024-01-15, 2024.1.5, 2024 01 15
    rf"|{_DAY}(?P<b>[./\- ]){_MONTH}(?P=b)(?:[0-9]{{2}}|[0-9]{{4}})"  # 15.01.2024, 15/1/24
    rf"|{_MONTH}(?P<c>[./\- ]){_DAY}(?P=c)(?:[0-9]{{2}}|[0-9]{{4}})"  # 01/15/2024
    rf"|{_OCTET}(?:\.{_OCTET}){{3}}"  # a dotted quad (Spain's "612.34.56.78" is none)
)
# North American numbering, whether or not the area code is in service (Faker makes them up, and
# so do people): 3-3-4 digits, the area code in parentheses or dashed like the rest, optionally
# after the trunk "1"; or dotted or spaced throughout, where the area code must start with 2-9 as
# every one in the plan does (three numbers in a row, "128 256 1024", are not a phone number).
_AREA_CODE = r"[2-9][0-9]{2}"
_NANP: Final = re.compile(
    r"(?:1[ \-]?)?(?:\([0-9]{3}\)[ ]?|[0-9]{3}-)[0-9]{3}-[0-9]{4}"  # (415) 555-0132, 1-415-555-0132
    rf"|(?:1\.)?{_AREA_CODE}\.[0-9]{{3}}\.[0-9]{{4}}"  # 415.555.0132
    rf"|(?:1 )?{_AREA_CODE} [0-9]{{3}}[ \-][0-9]{{4}}"  # 415 555 0132, 415 555-0132
    rf"|\({_AREA_CODE}\) [0-9]{{3}} [0-9]{{4}}"  # (415) 555 0132
)
_NANP_REGIONS: Final = frozenset({"US", "CA"})
# Brazil's numbers fail closed the same way: the two-digit area code (DDD, no zero in it), alone
# or in parentheses, then 8 digits (9 for a mobile) split by a dash before the last four, whether
# or not the range is assigned ("86 6232-8601"); the dash there is how Brazil writes them. Not a
# count and a range of years ("top 25 2019-2020").
_BRAZIL: Final = re.compile(
    r"(?:\([1-9]{2}\)[ ]?|[1-9]{2} )(?!(?:19|20)[0-9]{2}-(?:19|20)[0-9]{2}$)[0-9]{4,5}-[0-9]{4}"
)
_BRAZIL_SHAPES: Final = ((2, 4, 4), (2, 5, 4))


def is_placeholder_number(number: str) -> bool:
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
    # The national formats that write no national prefix: (leading digits, pattern, format).
    untrunked: tuple[tuple[re.Pattern[str] | None, re.Pattern[str], str], ...]

    def may_accept(self, digits: str) -> bool:
        if self.dials_out.match(digits):
            return False  # phonenumbers reads it as dialled abroad: another country's number
        stripped = digits[len(self.trunk) :] if digits.startswith(self.trunk) else digits
        return any(
            len(nsn) in self.lengths and self.general.fullmatch(nsn) is not None
            for nsn in {digits, stripped}
        )

    def may_group_without_trunk(self, digits: str, groups: list[int]) -> bool:
        """Whether a number written without the national prefix, in ``groups`` of digits, can pass
        ``_grouped_as_in``: only if phonenumbers would format it with one of ``untrunked`` (it
        picks the first format whose leading digits and pattern fit), and that format writes
        the same groups. Otherwise its national format has the prefix (one digit more than
        written: rejected), other groups, or no groups at all. Saves the parse of a status code
        and a byte count ("304 80052") in every region. Answers True where parsing would change
        the digits first, or where they start with the prefix."""
        if (
            digits.startswith("0")
            or digits.startswith(self.trunk)
            or self.stripped_by_parse.match(digits)
        ):
            return True
        return self.writes_without_trunk(digits, groups)

    def writes_without_trunk(self, digits: str, groups: list[int]) -> bool:
        """Whether one of ``untrunked`` writes national number ``digits`` in ``groups``."""
        for leading, pattern, layout in self.untrunked:
            if leading is None or leading.match(digits):
                m = pattern.fullmatch(digits)
                if m is not None and digit_groups(m.expand(layout)) == groups:
                    return True
        return False


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
                f.format or "",
            )
            for f in metadata.number_format
            # Written without a prefix, or with one the plan says is optional: India writes its
            # mobiles "98123 45678" as often as "098123 45678".
            if not _adds_digits(f.national_prefix_formatting_rule)
            or f.national_prefix_optional_when_formatting
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
    formatted = number_part(phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))
    national = digit_groups(formatted)
    if sum(national) != sum(groups):
        plan = _plan(region)
        if bare.startswith(plan.trunk):
            return groups[0] == len(plan.trunk) and groups[1:] == national
        # Formatted with the prefix, written without it: a format where the plan says the prefix
        # is optional, written exactly so, separators included: "98123 45678" is India's mobile,
        # "86554-57000" an order number.
        return (
            formatted.startswith(plan.trunk)
            and formatted[len(plan.trunk) :] == number_part(bare)
            and plan.writes_without_trunk(phonenumbers.national_significant_number(number), groups)
        )
    if bare.startswith("0"):
        return True
    return groups == national


@dataclass(frozen=True, slots=True)
class _Untrunked:
    """Which regions of a set can write a number without its national prefix in given digit
    groups (see ``_Plan.may_group_without_trunk``), from their formats: one dict lookup and one
    regex leave only those regions to ask about a candidate such as "404 76435", where asking
    all twelve costs ~40 us per candidate."""

    by_shape: dict[tuple[int, ...], tuple[str, ...]]
    unlisted: tuple[str, ...]  # regions with a format whose groups cannot be listed: always asked
    prefixed: re.Pattern[str]  # a start that parsing may strip, in any region: all are asked

    def regions_for(
        self, found: str, groups: list[int], regions: tuple[str, ...]
    ) -> tuple[str, ...]:
        if self.prefixed.match(found):
            return regions
        return self.by_shape.get(tuple(groups), ()) + self.unlisted


@lru_cache(maxsize=16)
def _untrunked(regions: tuple[str, ...]) -> _Untrunked:
    by_shape: dict[tuple[int, ...], list[str]] = {}
    unlisted = []
    prefixes = ["0"]
    for region in regions:
        plan = _plan(region)
        prefixes.extend([re.escape(plan.trunk), plan.stripped_by_parse.pattern])
        shapes: set[tuple[int, ...]] = set()
        for _, pattern, layout in plan.untrunked:
            written = layout_shapes(pattern.pattern, layout)
            if written is None:
                unlisted.append(region)
                break
            shapes.update(written)
        else:
            for shape in shapes:
                by_shape.setdefault(shape, []).append(region)
    return _Untrunked(
        {shape: tuple(found_in) for shape, found_in in by_shape.items()},
        tuple(unlisted),
        re.compile("|".join(f"(?:{p})" for p in prefixes)),
    )


@dataclass(frozen=True, slots=True)
class _Writing:
    """How the regions of a set may write a number without a national prefix: the first digits
    that parsing may strip (then every region is asked), and per digit-group shape, the leading
    digits of the formats that write it ("" where any will do)."""

    stripped: frozenset[str]
    leads_by_shape: dict[tuple[int, ...], frozenset[str]]


@lru_cache(maxsize=16)
def _writing(regions: tuple[str, ...]) -> _Writing | None:
    """None where the metadata says more than the prefix walk can follow."""
    if _untrunked(regions).unlisted:
        return None
    stripped: set[str] = set()
    leads_by_shape: dict[tuple[int, ...], set[str]] = {}
    for region in regions:
        plan = _plan(region)
        for prefix in (plan.trunk, plan.stripped_by_parse.pattern):
            found = digit_prefixes(prefix, _PREFIX_DIGITS)
            if found is None:
                return None
            stripped |= found
        for leading, pattern, layout in plan.untrunked:
            leads = {""} if leading is None else digit_prefixes(leading.pattern, _PREFIX_DIGITS)
            shapes = layout_shapes(pattern.pattern, layout)
            if leads is None or shapes is None:
                return None
            for shape in shapes:
                leads_by_shape.setdefault(shape, set()).update(leads)
    if not _NANP_REGIONS.isdisjoint(regions):  # the fallbacks of national_is_phone
        for shape in ((3, 3, 4), (1, 3, 3, 4)):
            leads_by_shape.setdefault(shape, set()).add("")
    if "BR" in regions:
        for shape in _BRAZIL_SHAPES:
            leads_by_shape.setdefault(shape, set()).add("")
    return _Writing(
        frozenset(stripped), {shape: frozenset(leads) for shape, leads in leads_by_shape.items()}
    )


def untrunked_lookahead(regions: tuple[str, ...]) -> str | None:
    """A regex, tried at a national candidate's first digit (not "0", several groups), that
    fails only where ``national_is_phone`` answers False in every region of ``regions``: the
    digits start with none of the prefixes parsing may strip, no region writes their groups
    (or their first groups: a candidate cut to E.164's 15 digits, or before a card, keeps its
    first groups) after its leading digits, and they are not North American 3-3-4 nor Brazilian
    2-4-4 or 2-5-4 (their fallbacks). None where
    the metadata says more than the regex can (then every candidate goes to Python)."""
    writing = _writing(regions)
    if writing is None:
        return None
    # ``re`` tries an alternation's branches one by one, and a status code and a byte count fail
    # every one: so the shapes are a trie of group widths (one check rejects every shape that
    # starts with another width), each shape is checked before its leading digits, and the
    # leading digits are a trie too. The same answers in a fraction of the steps.
    checks = [
        (shape, _groups(shape) + ("" if "" in leads else _any_of(leads)))
        for shape, leads in sorted(writing.leads_by_shape.items())
    ]
    return f"(?:{_any_of(writing.stripped)}|{_by_width(checks, 0)})"


def _by_width(checks: list[tuple[tuple[int, ...], str]], depth: int) -> str:
    """``checks`` (shapes that agree on their first ``depth`` widths) as one regex: those that
    end there, then one branch per next width, entered only where the text has that width."""
    ending = [check for shape, check in checks if len(shape) == depth]
    longer = [(shape, check) for shape, check in checks if len(shape) > depth]
    if len(longer) <= 1:
        return "|".join(ending + [check for _, check in longer])
    widths = sorted({shape[depth] for shape, _ in longer})
    branches = ending + [
        f"(?={_groups(longer_shape[: depth + 1])})(?:"
        + _by_width([(s, c) for s, c in longer if s[depth] == width], depth + 1)
        + ")"
        for width in widths
        for longer_shape in [next(s for s, _ in longer if s[depth] == width)]
    ]
    return "|".join(branches)


def _groups(shape: tuple[int, ...]) -> str:
    """Text that starts with digit groups of ``shape``'s widths (lookahead: consumes nothing)."""
    return "(?=" + _GROUP_GAP.join(f"[0-9]{{{n}}}" for n in shape) + r"(?![0-9]))"


def _any_of(prefixes: Iterable[str]) -> str:
    """A regex for text that starts with one of ``prefixes`` (digits, written with separators
    between them), as a trie: it fails at the first digit no prefix has."""
    rests: dict[str, list[str]] = {}
    for prefix in prefixes:
        if not prefix:
            return ""  # the empty prefix: any text
        rests.setdefault(prefix[0], []).append(prefix[1:])
    branches = []
    for digit, after in sorted(rests.items()):
        rest = _any_of(after)
        branches.append(digit + (SEPARATOR + rest if rest else ""))
    return "(?:" + "|".join(branches) + ")"


_PREFIX_DIGITS: Final = 3
_GROUP_GAP: Final = r"[ .\-/()]{1,3}"


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
    if not 8 <= len(found) <= 15 or groups[-1] < 2 or is_placeholder_number(found):
        return False
    untrunked = not bare.startswith("0") and len(groups) > 1
    # Written without the prefix: only the regions whose formats write these groups are asked.
    asked = _untrunked(regions).regions_for(found, groups, regions) if untrunked else regions
    tried: set[int] = set()
    for region in asked:
        plan = _plan(region)
        if plan.country_code in tried or not plan.may_accept(found):
            continue  # Canada after the US: one numbering plan, one answer
        if untrunked and not plan.may_group_without_trunk(found, groups):
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
    if not _NANP_REGIONS.isdisjoint(regions) and _NANP.fullmatch(written) is not None:
        return True
    return "BR" in regions and _BRAZIL.fullmatch(written) is not None
