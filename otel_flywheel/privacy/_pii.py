"""PII shapes for the built-in detector, and the checks that confirm them.

Each shape is one branch of the detector's single regex (see ``_detectors``): email, phone, payment
card, IBAN, US SSN, IPv4/IPv6. The regex only proposes candidates; a validator here confirms each
one with the check that makes it precise: Luhn and issuer ranges for cards, ISO 13616 length and
mod-97 for IBANs, ``phonenumbers`` for phone numbers, ``ipaddress`` for IPs, the SSA's never-issued
ranges for SSNs. Regexes alone over-match technical text (trace ids, epoch millis, versions), and
false positives are what make teams turn redaction off.

Deliberate limits: ASCII email addresses only (non-ASCII local parts are rare, and ASCII classes
keep "連絡先はbob@example.comです" from swallowing the Japanese around it); ASCII digits only; national
phone formats only with a default region; loopback and unspecified IPs (127.0.0.1, ::1, 0.0.0.0)
identify nobody and are left alone; a dotted quad after "version", "v", "rv:", "==", "@" or
"Product/" is a version, not an address, and ``10.0.0.1.5`` (five parts, an OID or a version) is
neither. Cards: see ``_card``.
"""

from __future__ import annotations

import ipaddress
import re
import string
from typing import Final

import phonenumbers

from otel_flywheel.privacy._secrets import Alternative, Validator

__all__ = [
    "KIND_CARD",
    "KIND_EMAIL",
    "KIND_IBAN",
    "KIND_IP",
    "KIND_PHONE",
    "KIND_SSN",
    "PII_ALTERNATIVES",
    "PII_KINDS",
    "national_phones",
]

KIND_EMAIL: Final = "EMAIL"
KIND_PHONE: Final = "PHONE"
KIND_CARD: Final = "CARD"
KIND_IBAN: Final = "IBAN"
KIND_SSN: Final = "SSN"
KIND_IP: Final = "IP_ADDRESS"

PII_KINDS: Final = frozenset({KIND_EMAIL, KIND_PHONE, KIND_CARD, KIND_IBAN, KIND_SSN, KIND_IP})

_Span = tuple[int, int]

# --- email, SSN ----------------------------------------------------------------------------------

# Things shaped like "name@host.ext" that are file names or git remotes, not mailboxes:
# "icon@2x.png", "git@github.com:org/repo.git".
_FILE_EXTENSIONS = frozenset(
    ("png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "css", "js", "mjs", "cjs", "ts", "tsx",
     "jsx", "json", "yaml", "yml", "toml", "txt", "html", "htm", "xml", "lock", "log", "pdf",
     "gz", "tgz", "whl")
)  # fmt: skip


_USERINFO = re.compile(r"://[^\s/@]*:$")
_LOCAL_PART = frozenset(string.ascii_letters + string.digits + "._%+-")


def _email(text: str, start: int, end: int, floor: int) -> _Span | None:
    """``text[start:end]`` is "@domain"; walk back over the local part (at most 64 characters)."""
    local = start
    while local > 0 and start - local < 65 and text[local - 1] in _LOCAL_PART:
        local -= 1
    if local > 0 and text[local - 1] in _LOCAL_PART:
        return None  # a run longer than any local part: a blob, not an address
    while local < start and text[local] == ".":
        local += 1
    if local == start:
        return None  # "@scope/package", "@property", a bare "@example.com"
    if local > 0 and text[local - 1] == ":" and _USERINFO.search(text, max(0, local - 300), local):
        return None  # the "user:password@host" of a URL, not a mailbox
    if (
        text.startswith("git@", local)
        or text[start:end].rpartition(".")[2].lower() in _FILE_EXTENSIONS
    ):
        return None
    return local, end


def _ssn(text: str, start: int, end: int, floor: int) -> _Span | None:
    return None if text.startswith(("000", "666"), start) else (start, end)


# --- payment cards -------------------------------------------------------------------------------

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
    """An issuer range, and Luhn. Major industry identifiers 2-6 are the card networks; 1800 (15
    digits) is the legacy JCB range and 0604 a legacy Maestro range. Dropping 1, 7, 8, 9 and 0 also
    drops epoch millis/micros/nanos (all start with 1) and most order numbers."""
    if len(digits) == 12:
        ok = digits.startswith(_MAESTRO_PREFIXES)
    elif digits[0] in "23456":
        ok = True
    else:
        ok = (digits.startswith("1800") and len(digits) == 15) or digits.startswith("0604")
    return ok and _luhn(digits)


# How cards are printed: in fours with a shorter last group (12-19 digits: Visa, Mastercard,
# Discover, JCB, UnionPay, Maestro), or 4-6-5 (Amex) and 4-6-4 (Diners).
_CARD_GROUPINGS = frozenset(
    {(4, 4, 4), (4, 6, 5), (4, 6, 4)}
    | {(4, 4, 4, last) for last in range(1, 5)}
    | {(4, 4, 4, 4, last) for last in range(1, 4)}
)


_RUN = re.compile(r"[0-9]+")
_JOINERS = frozenset("-/.:,")
# A chain of digit groups joined by one separator, starting with a four. A group that runs on into
# another token (a word, or a date, decimal, time or dashed id: "12/28", "1111-12") is not in it.
_CHAINS = {
    " ": re.compile(r"[0-9]{4}(?: [0-9]+(?![A-Za-z0-9_]|[\-/.:,][0-9])){1,5}"),
    "-": re.compile(r"[0-9]{4}(?:-[0-9]+(?![A-Za-z0-9_]|[/.:,][0-9])){1,5}"),
}


def _card(text: str, start: int, end: int, floor: int) -> _Span | None:
    """The card starting at ``start``, a digit that starts a run: an unbroken run of 12-19 digits,
    or a group of four and more groups after it, each joined by the same space or dash.

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


def _card_inside(text: str, start: int, end: int) -> int | None:
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


# ISO 13616 registry: IBAN length per country (the check digits are only half the test; a length
# mismatch rejects most look-alikes for free).
_IBAN_LENGTHS: Final = {
    **dict.fromkeys(["NO"], 15),
    **dict.fromkeys(["BE"], 16),
    **dict.fromkeys(["DK", "FI", "FO", "GL", "NL", "SD", "FK"], 18),
    **dict.fromkeys(["MK", "SI"], 19),
    **dict.fromkeys(["AT", "BA", "EE", "KZ", "LT", "LU", "XK", "MN"], 20),
    **dict.fromkeys(["CH", "HR", "LI", "LV"], 21),
    **dict.fromkeys(["BG", "BH", "CR", "DE", "GB", "GE", "IE", "ME", "RS", "VA"], 22),
    **dict.fromkeys(["AE", "GI", "IL", "IQ", "TL", "OM", "SO"], 23),
    **dict.fromkeys(["AD", "CZ", "ES", "MD", "PK", "RO", "SA", "SE", "SK", "TN", "VG"], 24),
    **dict.fromkeys(["PT", "ST", "LY"], 25),
    **dict.fromkeys(["IS", "TR"], 26),
    **dict.fromkeys(["FR", "GR", "IT", "MC", "MR", "SM", "BI", "DJ"], 27),
    **dict.fromkeys(["AL", "AZ", "BY", "CY", "DO", "GT", "HU", "LB", "PL", "SV", "HN", "NI"], 28),
    **dict.fromkeys(["BR", "EG", "PS", "QA", "UA"], 29),
    **dict.fromkeys(["JO", "KW", "MU", "YE"], 30),
    **dict.fromkeys(["MT", "SC"], 31),
    **dict.fromkeys(["LC"], 32),
    **dict.fromkeys(["RU"], 33),
}


def _iban(text: str, start: int, end: int, floor: int) -> _Span | None:
    raw = text[start:end]
    length = _IBAN_LENGTHS.get(raw[:2])
    if length is None:
        return None
    if " " in raw:
        # Printed form: groups of four. The regex may have run on into a following word ("... 00
        # BIC"), so cut after `length` characters, but only where a group ends.
        groups = raw.split(" ")
        taken, kept = 0, 0
        while kept < len(groups) and taken < length:
            taken += len(groups[kept])
            kept += 1
        if taken != length or any(len(g) != 4 for g in groups[: kept - 1]):
            return None
        end = start + len(" ".join(groups[:kept]))
        compact = "".join(groups[:kept])
    elif len(raw) == length:
        compact = raw
    else:
        return None
    rearranged = compact[4:] + compact[:4]
    number = int("".join(str(int(c, 36)) for c in rearranged))
    return (start, end) if number % 97 == 1 else None


# Text right before a dotted quad that makes it a version: "version 1.2.3.4", "pkg==1.2.3.4",
# "pkg@1.2.3.4", "Chrome/120.0.0.0" and Gecko's "rv:1.9.5.20" (user agents are full of these).
# The keyword must be a whole word ("server 10.0.0.1" and "dev 10.0.0.1" are addresses); what may
# sit between it and the number covers `__version__ = "3.5.0.1"` and `version="1.0.0.0"`. "§" is
# a section number ("RFC 5891 §4.2.3.1").
_VERSION_CONTEXT = re.compile(
    r"(?:(?<![A-Za-z])(?i:version|ver|v|release|build|rev|rv)_*[\s:=\"'(]*|==|@|[A-Za-z]/|§\s?)$"
)


def _ipv4(text: str, start: int, end: int, floor: int) -> _Span | None:
    try:
        address = ipaddress.IPv4Address(text[start:end])
    except ValueError:
        return None  # 999.999.999.999, leading zeros
    if address.is_loopback or address.is_unspecified:
        return None
    if _VERSION_CONTEXT.search(text[max(0, start - 16) : start]):
        return None
    if end - start == 7:
        # Four single digits: a section or version number (2.7.2.2, 1.0.0.0) or a public
        # resolver (1.1.1.1, 8.8.8.8, 9.9.9.9); none identifies a person.
        return None
    return start, end


def _ipv6(text: str, start: int, end: int, floor: int) -> _Span | None:
    value = text[start:end]
    groups = [g for g in value.split(":") if g]
    if "::" in value:
        # Compressed forms with tiny groups are code: Python slices (a[1::2]), C++/Rust paths.
        if len(groups) < 3 and not any(len(g) == 4 for g in groups):
            return None
    elif all(len(g) <= 2 for g in groups):
        return None  # byte strings: MAC addresses, WWNs, key fingerprints
    if not any(c.isdigit() for c in value):
        return None
    try:
        address = ipaddress.IPv6Address(value)
    except ValueError:
        return None  # times (10:15:30) and other colon-separated numbers
    if address.is_loopback or address.is_unspecified:
        return None
    return start, end


# Trailing groups are only dropped at whitespace: a cut at "." or "-" would split a token
# ("1782512252.000" is a decimal, not a phone number followed by ".000").
_LAST_GROUP = re.compile(r"\s+\(?[0-9]+\)?$")
_DIGIT_RUN = re.compile(r"[0-9]+")
_JOINERS = frozenset("-/.:,")
_DECIMAL = re.compile(r"[0-9]+\.[0-9]+")  # 27754.46, 1782512252.000
_DATE_LIKE = re.compile(r"[0-9]{1,4}[./\-][0-9]{1,2}[./\-][0-9]{1,4}|[0-9]{1,3}(?:\.[0-9]{1,3}){3}")


def _parse_phone(candidate: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    # The number's digits, not its extension's: "x204", "ext. 12" and ";ext=12" all start at an "x".
    digits = sum(c.isdigit() for c in candidate.partition("x")[0])
    if not 7 <= digits <= 15:  # E.164 allows at most 15; nothing real is shorter than 7
        return None
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _phone_intl(text: str, start: int, end: int, floor: int) -> _Span | None:
    """Validate, dropping trailing digit groups that belong to the next thing ("... 0958 12 items",
    the first four of a card)."""
    candidate = text[start:end]
    if _DECIMAL.fullmatch(candidate, 1):
        return None  # "+14285714.286" is a signed decimal
    for _ in range(4):
        if _parse_phone(candidate, None) is not None:
            card = _card_inside(text, start, start + len(candidate))
            if card is None:
                return start, start + len(candidate)
            candidate = text[start:card].rstrip()
            continue
        shorter = _LAST_GROUP.sub("", candidate)
        if shorter == candidate:
            return None
        candidate = shorter
    return None


def _digit_groups(text: str) -> list[int]:
    return [len(g) for g in _DIGIT_RUN.findall(text)]


def _phone_national(region: str) -> Validator:
    trunk = phonenumbers.PhoneMetadata.metadata_for_region(region).national_prefix or "0"  # type: ignore[union-attr]

    def validate(text: str, start: int, end: int, floor: int) -> _Span | None:
        candidate = text[start:end]
        # A bare run of digits is an id far more often than a phone number; written numbers have
        # separators or the trunk prefix. Dates, decimals and dotted quads are never phone numbers.
        if not (candidate[0] in "0(" or any(c in " .-/" for c in candidate)):
            return None
        if _DATE_LIKE.fullmatch(candidate) or _DECIMAL.fullmatch(candidate):
            return None
        number = _parse_phone(candidate, region)
        if number is None:
            return None
        # Many digit groups parse as *some* valid number in countries with variable-length
        # numbers (Germany). A number written nationally either starts with the trunk prefix
        # ("030 ...", "0151 ...") or is grouped the way the country writes it ("(415) 555-2671",
        # Brazil's "92 3464-6869"); card-like "6547 0994 5221" is neither.
        bare = candidate.lstrip("(")
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        if not (bare.startswith(trunk) or _digit_groups(candidate) == _digit_groups(national)):
            return None
        card = _card_inside(text, start, end)
        if card is not None:  # "030 901820 4111 1111 1111 1111": the last four start a card
            return validate(text, start, start + len(text[start:card].rstrip()), floor)
        return start, end

    return validate


# --- PII candidate shapes ----------------------------------------------------------------------

# A phone extension ("x066", "ext. 12", RFC 3966's ";ext=12") belongs to the number: phonenumbers
# parses it, and redacting it with the number is simpler than cutting it off.
_EXTENSION = r"(?:(?:[ ]?(?:x|ext\.?)[ ]?|;ext=)[0-9]{1,6})?"

PII_ALTERNATIVES: Final[tuple[Alternative, ...]] = (
    # Pragmatic RFC 5322: dot-atom local part, hostname labels, a 2+ letter TLD. Not the full
    # grammar (quoted local parts, IP literals), which matches far more non-addresses than it finds.
    # The branch starts at the "@", the rarest character of an address, so it costs one comparison
    # per position; the validator walks back over the local part.
    Alternative(
        "email",
        KIND_EMAIL,
        r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9_\-])",
        validate=_email,
        word_start=False,
    ),
    # Country code, check digits, 11-30 more characters, optionally printed in groups of four;
    # the validator fixes the length per country and checks mod-97.
    Alternative(
        "iban",
        KIND_IBAN,
        r"[A-Z](?<![A-Za-z0-9].)[A-Z][0-9]{2}(?:[ ]?[A-Z0-9]){11,30}(?![A-Za-z0-9])",
        validate=_iban,
    ),
    # AAA-GG-SSSS without the never-issued areas 000, 666, 9xx, group 00 or serial 0000. Only the
    # dashed form: nine bare digits are far more often an id than an SSN.
    Alternative(
        "ssn",
        KIND_SSN,
        r"[0-8](?<![A-Za-z0-9\-].)[0-9]{2}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}(?![A-Za-z0-9]|-[0-9])",
        validate=_ssn,
    ),
    # 12-19 digits in one run, or a group of four and more groups joined by spaces or dashes (12
    # digits or more in all), not inside an alphanumeric id or a decimal. The validator finds the
    # card among the groups and checks the issuer range and Luhn.
    Alternative(
        "card",
        KIND_CARD,
        r"[0-9](?<![A-Za-z0-9+_.].)[0-9]{3}"
        r"(?:[0-9]{8,15}(?![A-Za-z0-9_]|\.[0-9])"
        r"|[ \-][0-9]{4}(?:[ \-][0-9]{4}(?![0-9]|[ \-][0-9]{5})|[0-9]{2}[ \-][0-9]{4,5}(?![0-9])))",
        validate=_card,
    ),
    # A dotted quad that is not part of a longer dotted number (OIDs, 10.0.0.1.5), an identifier
    # or a pre-release version ("4.0.0.1-beta").
    Alternative(
        "ipv4",
        KIND_IP,
        r"[0-9](?<![A-Za-z0-9._].)[0-9]{0,2}(?:\.[0-9]{1,3}){3}(?![A-Za-z0-9_]|\.[0-9]|-[A-Za-z])",
        validate=_ipv4,
    ),
    # Hex groups and colons (one "::" allowed), optionally ending in a dotted quad; ipaddress
    # decides. The lookbehinds keep "std::vector" and "a[1::2]" halves from starting a candidate.
    # Two branches because a literal first character is what makes a branch cheap: one for
    # addresses that start with a group, one for those that start with "::".
    Alternative(
        "ipv6",
        KIND_IP,
        r"[0-9A-Fa-f](?<![A-Za-z0-9:._].)[0-9A-Fa-f]{0,3}(?::[0-9A-Fa-f]{0,4}){2,7}"
        r"(?:(?:\.[0-9]{1,3}){3})?(?![A-Za-z0-9_]|:[0-9A-Fa-f]|\.[0-9])",
        validate=_ipv6,
    ),
    Alternative(
        "ipv6_compressed",
        KIND_IP,
        r":(?<![A-Za-z0-9:._].):(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?"
        r"(?:(?:\.[0-9]{1,3}){3})?(?![A-Za-z0-9_]|:[0-9A-Fa-f]|\.[0-9])",
        validate=_ipv6,
        word_start=False,
    ),
    # "+" and 7-15 digits with the usual separators: "+1 (415) 555-2671", "+44 20 7946 0958",
    # "+49 (0) 30 123456", "+33.1.23.45.67.89". phonenumbers decides. No space after the "+":
    # "x + 14285714.286" is arithmetic.
    Alternative(
        "phone",
        KIND_PHONE,
        r"\+(?<![A-Za-z0-9+_].)\(?[1-9](?:[ .\-/()]{0,3}[0-9]){6,14}"
        + _EXTENSION
        + r"(?![A-Za-z0-9_]|[.\-/][0-9])",
        validate=_phone_intl,
        word_start=False,
    ),
)


def national_phones(region: str) -> tuple[Alternative, ...]:
    """The branches for phone numbers written in ``region``'s national format."""
    # Two branches, digit-led and "("-led, so each starts with a cheap first character.
    rest = r"(?:[ .\-/()]{0,3}[0-9]){6,14}" + _EXTENSION + r"(?![A-Za-z0-9_]|[.\-/:][0-9])"
    validate = _phone_national(region)
    return (
        Alternative(
            "phone_national",
            KIND_PHONE,
            r"[0-9](?<![A-Za-z0-9+_.\-/:].)(?<![0-9] .)" + rest,
            validate=validate,
        ),
        Alternative(
            "phone_national_paren",
            KIND_PHONE,
            r"\((?<![A-Za-z0-9+_.\-/:].)(?<![0-9] .)" + rest,
            validate=validate,
            word_start=False,
        ),
    )
