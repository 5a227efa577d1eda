"""Payment cards: 12-19 digits, printed unbroken or in groups, in an issuer range and passing Luhn.

The regex branch (``CARD_ALTERNATIVE``) proposes a run of digits or a chain of digit groups; the
validator finds the card among them. Most of the work is saying what is *not* a card: an epoch
millisecond (issuer range), a longer reference number (never cut into a card), the middle of a
UUID (a dash joins it to a hex group), a date or a decimal (a group that runs on into another
token). ``card_inside`` lets the phone validators hand a card's first group back to the card.
"""

from __future__ import annotations

import re
import string
from typing import Final

from otel_flywheel.privacy._shapes import Alternative, Span, after

__all__ = ["CARD_ALTERNATIVE", "CARD_LENGTHS", "KIND_CARD", "card_inside"]

KIND_CARD: Final = "CARD"
# How many digits a card number has: 12 (Maestro) to 19.
CARD_LENGTHS: Final = range(12, 20)

_DIGITS = frozenset(string.digits)
_HEX_DIGITS = frozenset(string.hexdigits)
_WORD = frozenset(string.ascii_letters + string.digits + "_")
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
# 12-digit cards are Maestro only; anything else that short is an id (AWS account ids are 12).
_MAESTRO_PREFIXES = ("50", "56", "57", "58", "6304", "6390", "6759", "6761", "6762", "6763", "0604")


def _luhn(digits: str) -> bool:
    total = sum(ord(c) - 48 for c in digits[-1::-2])
    total += sum(_DOUBLED[ord(c) - 48] for c in digits[-2::-2])
    return total % 10 == 0


def _issued(digits: str) -> bool:
    """In a card network's range for its length, not a round number, and passing Luhn.

    The ranges (ISO/IEC 7812 IINs, by network): Visa 4 (13-19 digits); Mastercard 51-55 and
    2221-2720 (16); Maestro 50, 56-59, 6 (12-19); Amex, Diners and JCB 3 (14-19; test-data
    generators use all of 3000-3999); legacy JCB 1800 and 2131 (15); Mir 2200-2204 (16-19);
    Discover, UnionPay, RuPay 6 (16-19); legacy Maestro 0604. Anything else is an id: epoch
    millis and nanos (1...), compact timestamps (2024... is no network's), 13-digit durations
    (3...), and round numbers ("...00000": nobody's account number ends in five zeros)."""
    length, head = len(digits), int(digits[:4])
    if digits.endswith("00000"):
        return False
    if length == 12:
        ok = digits.startswith(_MAESTRO_PREFIXES)
    elif digits[0] in "456":
        ok = True
    elif digits[0] == "3":
        ok = length >= 14  # Amex 15, Diners 14-19, JCB 15-19 (generators use all of 3000-3999)
    elif digits[0] == "2":
        ok = (
            (length == 16 and 2221 <= head <= 2720)
            or (length >= 16 and 2200 <= head <= 2204)
            or (length == 15 and head == 2131)
        )
    else:
        ok = (head == 1800 and length == 15) or head == 604
    return ok and _luhn(digits)


# How cards are printed: in fours with a shorter last group (12-19 digits: Visa, Mastercard,
# Discover, JCB, UnionPay, Maestro), or 4-6-5 (Amex) and 4-6-4 (Diners).
_CARD_GROUPINGS = frozenset(
    {(4, 4, 4), (4, 6, 5), (4, 6, 4)}
    | {(4, 4, 4, last) for last in range(1, 5)}
    | {(4, 4, 4, 4, last) for last in range(1, 4)}
)


_RUN = re.compile(r"[0-9]+")
# A label right before the digits that says they are a product or book code: GS1 barcodes (EAN-13,
# GTIN, UPC) and ISBNs have 12-13 digits and pass Luhn one time in ten, like a 13-digit Visa.
_PRODUCT_CODE = re.compile(r"(?i:\b(?:ean|gtin|upc|isbn)(?:-?1[34])?)[\s:=#\"'-]*$")
_JOINERS = frozenset("-/.:,")
# A chain of digit groups joined by one separator, starting with a four. A group that runs on into
# another token (a word, or a date, decimal, time or dashed id: "12/28", "1111-12") is not in it.
_CHAINS = {
    " ": re.compile(r"[0-9]{4}(?: [0-9]+(?![A-Za-z0-9_]|[\-/.:,][0-9])){1,5}"),
    "-": re.compile(r"[0-9]{4}(?:-[0-9]+(?![A-Za-z0-9_]|[/.:,][0-9])){1,5}"),
    ".": re.compile(r"[0-9]{4}(?:\.[0-9]+(?![A-Za-z0-9_]|[\-/:,][0-9])){1,5}"),
}


def _card(text: str, start: int, end: int, floor: int) -> Span | None:
    """The card starting at ``start``, a digit that starts a run: an unbroken run of 12-19 digits,
    or a group of four and more groups after it, each joined by the same space, dash or dot.

    An unbroken run is a card whatever tokens stand around it ("qty 2 4111111111111111 12/28 123"),
    unless a dash joins it to more digits (a part of a dashed id). A run longer than 19 digits is
    never cut into a card: redacting part of a longer number would mangle it and hide nothing. Nor
    is a run or a dashed chain that a dash joins to a hex group (see ``_in_hex_id``): the middle
    groups of a UUID pass Luhn one time in ten.

    A grouped card is the leading part of the chain of groups that starts here. A group that runs on
    into another token is not part of the chain: the "12" of "12/28", the "1111" of "1111-12". The
    whole chain is tried first, then shorter leading windows, longest first: a card is often
    followed by its CVC, an expiry or a PIN ("4111 1111 1111 1111 123"), and Luhn and the issuer
    range decide. A window is not tried when what follows only completes a number printed in fours
    ("2345 6789 0123 4567 89" is one 18-digit number), and a 4-4-4 window followed by more groups
    is the head of a longer number, not a 12-digit Maestro card. Nor does a card start right after
    a four of the same chain: that is the middle of a longer number ("1234 5678 9012 3456 7890" at
    "5678") or code ("DE89 3704 0044 ..."), unless the four belongs to an earlier finding (the phone
    number in "+44 20 7946 0958 4111 1111 1111 1111") or ends another token ("12/2028 4111 ...").
    """
    if _PRODUCT_CODE.search(text, max(0, start - 12), start):
        return None  # "EAN 4006381333931": a barcode that passes Luhn is still a barcode
    run_end = _RUN.match(text, start)
    run = run_end.end() - start if run_end is not None else 0
    if run >= 12:
        if run > 19 or (
            text.startswith("-", start + run) and text[start + run + 1 : start + run + 2] in _DIGITS
        ):
            return None
        if start > 1 and text[start - 1] == "-" and text[start - 2] in _DIGITS:
            return None
        if _in_hex_id(text, start, start + run):
            return None
        return (start, start + run) if _issued(text[start : start + run]) else None
    separator = text[start + 4 : start + 5]
    chain = _CHAINS[separator].match(text, start) if run == 4 and separator in _CHAINS else None
    if chain is None or _ends_a_token(text, start, separator):
        return None  # "2028 ..." of "12/2028 ...": not the start of a number
    if _after_a_four(text, start, separator, floor):
        return None
    if separator == "-" and _in_hex_id(text, start, chain.end()):
        return None  # "5731-4609-9375" of "3f2a9c1e-5731-4609-9375-0a1b2c3d4e5f"
    lengths = tuple(map(len, chain.group().split(separator)))
    for count in range(min(len(lengths), 5), 2, -1):  # longest first
        window = lengths[:count]
        if window not in _CARD_GROUPINGS:
            continue
        if (
            count < len(lengths)
            and window[1] == 4
            and (count == 3 or (count == len(lengths) - 1 and lengths[-1] <= 2))
        ):
            continue  # 4-4-4 before more groups, 4-4-4-4 before "89": parts of a longer number
        window_end = start + sum(window) + count - 1
        if _issued(text[start:window_end].replace(separator, "")):
            return start, window_end
    return None


def _after_a_four(text: str, start: int, separator: str, floor: int) -> bool:
    """``separator`` and a group of four characters ending in a digit ("5678", "DE89") come right
    before ``start``, not taken by an earlier finding and not the tail of another token."""
    if start < 5 or text[start - 1] != separator or text[start - 2] not in _DIGITS:
        return False
    i = start - 2
    while i > 0 and text[i - 1] in _WORD:
        i -= 1
    return start - 1 - i == 4 and floor <= i and not _ends_a_token(text, i, separator)


def _in_hex_id(text: str, start: int, end: int) -> bool:
    """A dash joins ``text[start:end]`` to a hex group: four or more hex digits, letters and digits
    mixed ("9aec56a8", "0a1b2c3d4e5f"). The digits are then part of a UUID, a trace id or another
    hex id, not a card. A word ("card-4111-...") or a number is not a hex group, nor a short label
    ("A1-4111-...")."""
    if start > 1 and text[start - 1] == "-":
        i = start - 1
        while i > 0 and text[i - 1] in _WORD:
            i -= 1
        if _is_hex_group(text[i : start - 1]):
            return True
    if text.startswith("-", end):
        i = end + 1
        while i < len(text) and text[i] in _WORD:
            i += 1
        return _is_hex_group(text[end + 1 : i])
    return False


def _is_hex_group(group: str) -> bool:
    return (
        len(group) >= 4
        and _HEX_DIGITS.issuperset(group)
        and not _DIGITS.issuperset(group)
        and not _DIGITS.isdisjoint(group)
    )


def _ends_a_token(text: str, start: int, separator: str) -> bool:
    """The digits at ``start`` end a date, time, decimal or dashed number ("12/2028", "45-6789")."""
    joiner = text[start - 1 : start]
    return joiner in _JOINERS and joiner != separator and text[start - 2 : start - 1] in _DIGITS


def card_inside(text: str, start: int, end: int) -> int | None:
    """Where a card starts at a group inside ``text[start:end]`` and runs on past ``end``: a phone
    number's trailing group that is really the first four of a card ("+49 30 901820 4111 1111 ...")."""
    if not (text.startswith(" ", end) and text[end + 1 : end + 2] in _DIGITS):
        return None
    for i in range(start + 1, end):
        if text[i - 1] == " " and text[i] in _DIGITS:
            span = _card(text, i, end, i - 1)
            if span is not None and span[1] > end:
                return i
    return None


# 12-19 digits in one run, or a group of four and more groups joined by spaces, dashes or dots
# (12 digits or more in all; "4111.1111.1111.1111" as some forms print it), not inside an
# alphanumeric id or a decimal. The validator finds the card among the groups and checks the
# issuer range and Luhn.
CARD_ALTERNATIVE: Final = Alternative(
    "card",
    KIND_CARD,
    "[0-9]",
    r"(?<![A-Za-z0-9+_.].)[0-9]{3}"
    r"(?:[0-9]{8,15}+(?![A-Za-z0-9_]|\.[0-9])"
    r"|[ .\-][0-9]{4}(?:[ .\-][0-9]{4}(?![0-9]|[ .\-][0-9]{5})|[0-9]{2}[ .\-][0-9]{4,5}(?![0-9])))",
    validate=_card,
    starts=after("[^A-Za-z0-9+_.]", "[0-9]{12}", r"[0-9]{4}[ .\-][0-9]{4}"),
)
