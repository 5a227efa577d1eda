"""PII shapes for the built-in detector, and the checks that confirm them.

Each shape is one or more branches of the detector's scan (see ``_scan``): email, phone,
payment card, IBAN, US SSN, IPv4/IPv6. The regex only proposes candidates; a validator confirms
each one with the check that makes it precise: Luhn and issuer ranges for cards (``_cards``),
ISO 13616 length and mod-97 for IBANs, ``phonenumbers`` for phone numbers (``_phones``),
``ipaddress`` for IPs (``_network``), the SSA's never-issued ranges for SSNs. Regexes alone
over-match technical text (trace ids, epoch millis, versions), and false positives are what make
teams turn redaction off.

Deliberate limits: email local parts in ASCII and the Latin alphabets only, domains in ASCII (an
internationalized domain is written in Punycode on the wire; classes of every script would make
"連絡先はbob@example.comです" swallow the Japanese around it); ASCII digits, after full-width ones
are read as such (``_lookalikes``).
"""

from __future__ import annotations

import re
import string
from typing import Final

from otel_flywheel.privacy._cards import CARD_ALTERNATIVE, KIND_CARD
from otel_flywheel.privacy._network import IP_ALTERNATIVES, KIND_IP
from otel_flywheel.privacy._phones import (
    CLICK_TO_CHAT_ALTERNATIVE,
    CONTEXT_PHONE_ALTERNATIVE,
    DEFAULT_PHONE_REGIONS,
    INTERNATIONAL_PHONE_ALTERNATIVE,
    KIND_PHONE,
    checked_phone_regions,
    forget_phone_readings,
    keep_compiled_metadata,
    national_phone_alternatives,
)
from otel_flywheel.privacy._shapes import Alternative, Span, Start, after

__all__ = [
    "CONTEXT_PHONE_ALTERNATIVE",
    "DEFAULT_PHONE_REGIONS",
    "KIND_CARD",
    "KIND_EMAIL",
    "KIND_IBAN",
    "KIND_IP",
    "KIND_PHONE",
    "KIND_SSN",
    "PII_ALTERNATIVES",
    "PII_KINDS",
    "checked_phone_regions",
    "forget_phone_readings",
    "is_iban_value",
    "is_ssn_value",
    "keep_compiled_metadata",
    "names_iban",
    "names_ssn",
    "national_phone_alternatives",
]

KIND_EMAIL: Final = "EMAIL"
KIND_IBAN: Final = "IBAN"
KIND_SSN: Final = "SSN"

PII_KINDS: Final = frozenset({KIND_EMAIL, KIND_PHONE, KIND_CARD, KIND_IBAN, KIND_SSN, KIND_IP})

# --- email, SSN ----------------------------------------------------------------------------------

# Things shaped like "name@host.ext" that are file names or git remotes, not mailboxes:
# "icon@2x.png", "git@github.com:org/repo.git".
_FILE_EXTENSIONS = frozenset(
    ("png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "css", "js", "mjs", "cjs", "ts", "tsx",
     "jsx", "json", "yaml", "yml", "toml", "txt", "html", "htm", "xml", "lock", "log", "pdf",
     "gz", "tgz", "whl")
)  # fmt: skip


_USERINFO = re.compile(r"://[^\s/@]*:$")
# Letters of the Latin alphabets with diacritics (Latin-1 Supplement, Latin Extended-A), of Greek
# and of Cyrillic too: "josé@example.com", "müller.jörg@example.de" and "иван@пример.рф" are how
# such names are written (RFC 6531), and an ASCII-only walk left "josé" whole and "müller.jö"
# behind. Scripts written without spaces stay outside, so "連絡先はbob@example.comです" keeps the
# Japanese around the address.
_LOCAL_LETTERS: Final = frozenset(
    c
    for c in map(chr, [*range(0xC0, 0x180), *range(0x370, 0x400), *range(0x400, 0x500)])
    if c.isalpha()
)
_GREEK_CYRILLIC: Final = "\u0370-\u03ff\u0400-\u04ff"
# The same letters in a domain's labels, and those of Chinese, Japanese and Korean:
# internationalized names such as "bücher.de", "пример.рф" and "例え.jp" are written as such, not
# as their "xn--" form, in text.
_DOMAIN_LETTERS: Final = (
    "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u017f"
    + _GREEK_CYRILLIC
    + "\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af"
)
# Top-level domains: ASCII, Greek or Cyrillic letters ("рф", "ελ"), and the internationalized
# country and generic ones of scripts written without spaces, listed: their letters would run on
# into the sentence after them ("info@example.中国的邮箱").
_IDN_TLDS: Final = (
    "中国", "中國", "香港", "台湾", "台灣", "新加坡", "澳門", "公司", "网络", "網絡", "在线", "网址",
    "网店", "商城", "商店", "集团", "广告", "游戏", "移动", "手机", "みんな", "コム", "ストア",
    "닷컴", "닷넷", "한국", "삼성", "ไทย", "भारत", "مصر", "السعودية", "امارات", "ایران", "قطر",
    "الاردن", "المغرب", "عمان",
)  # fmt: skip
_TLD: Final = (
    f"(?:[A-Za-z]{{2,24}}(?![A-Za-z0-9_\\-])"
    f"|[{_GREEK_CYRILLIC}]{{2,24}}(?![A-Za-z0-9_\\-{_GREEK_CYRILLIC}])"
    f"|(?:{'|'.join(_IDN_TLDS)})(?![A-Za-z0-9_\\-]))"
)
_ASCII_LOCAL_PART = frozenset(string.ascii_letters + string.digits + "._%+-")
_LOCAL_PART = _ASCII_LOCAL_PART | _LOCAL_LETTERS


def _email(text: str, start: int, end: int, floor: int) -> Span | None:
    """``text[start:end]`` is "@domain"; walk back over the local part (at most 64 characters)."""
    local = _local_part_start(text, start, 0)
    if local is None:
        return None  # "@scope/package", "@property", a bare "@example.com", or a blob
    if local > 0 and text[local - 1] == ":" and _USERINFO.search(text, max(0, local - 300), local):
        return None  # the "user:password@host" of a URL, not a mailbox
    if (
        text.startswith("git@", local)
        or text[start:end].rpartition(".")[2].lower() in _FILE_EXTENSIONS
    ):
        return None
    return local, end


def _email_spelled_out(text: str, start: int, end: int, floor: int) -> Span | None:
    """``text[start:end]`` is "[at] domain [dot] tld" (or "(at)", "{at}", "<at>"); walk back
    over a space or two and the local part, as ``_email`` does over an "@"."""
    name_end = start
    while name_end > floor and start - name_end < 2 and text[name_end - 1] in " \t":
        name_end -= 1
    local = _local_part_start(text, name_end, floor)
    if local is None or not any(c.isalnum() for c in text[local:name_end]):
        return None  # "[at] example [dot] com" with no name before it
    return local, end


def _local_part_start(text: str, at: int, floor: int) -> int | None:
    """Where the local part of an address that ends at ``at`` starts (at most 64 characters,
    not after ``floor``, leading dots dropped), or None: no local part, or a run longer than any
    local part (a blob, not an address)."""
    local = at
    while (
        local > floor
        and at - local < 65
        and (text[local - 1] in _LOCAL_PART or _apostrophe_in_name(text, local - 1, floor))
    ):
        local -= 1
    if local > 0 and text[local - 1] in _LOCAL_PART:
        return None
    while local < at and text[local] == ".":
        local += 1
    return None if local == at else local


def _apostrophe_in_name(text: str, at: int, floor: int) -> bool:
    """An apostrophe between two letters of a local part: "o'brien@example.ie" (RFC 5322 allows
    it, and Irish and French names have it). A quote before the address ("'jane@...") is not."""
    return (
        text[at] == "'"
        and at - 1 >= floor
        and text[at - 1].isalpha()
        and text[at + 1 : at + 2].isalpha()
    )


def _ssn(text: str, start: int, end: int, floor: int) -> Span | None:
    return None if text.startswith(("000", "666"), start) else (start, end)


# An SSN as its digits: the area (never 000, 666 or 9xx), the group (never 00) and the serial
# (never 0000), joined by one separator used twice or none.
_SSN_DIGITS: Final = re.compile(
    r"(?!000|666)[0-8][0-9]{2}(?P<sep>[ .]|[ ]?-[ ]?|)(?!00)[0-9]{2}(?P=sep)(?!0000)[0-9]{4}"
)
# A key that names an SSN: "ssn", "customer_ssn", "SSN", "social_security_number", "socialSecurityNo".
# After a word that names an SSN: its number words, a separator or "is" (or Markdown's bold, a
# key-value table's "|", an XML element's ">"), then the nine digits however grouped (the group
# names are the value's, shared by the branches that use it).
_SSN_TOLD: Final = (
    r"(?i:[ \-]?(?:number|num|no\.?|nr|#))?[\"'*]{0,2}[ \t]*(?:[:=#(>|]|(?i:is))?[*]{0,2}[ \t]*[\"']?"
    r"(?P<ssn_in_context_v>(?!000|666)[0-8][0-9]{2}(?P<ssn_sep>[ .]|[ ]?-[ ]?|)(?!00)[0-9]{2}"
    r"(?P=ssn_sep)(?!0000)[0-9]{4})(?![0-9]|[ .\-][0-9])"
)
_SSN_KEY: Final = re.compile(
    r"(?s:.*?)(?:(?<![A-Za-z])|(?<=[a-z])(?=[A-Z]))"
    r"(?i:ssn|social[_.\- ]?security(?:[_.\- ]?(?:number|num|no|nr))?)"
)


def names_ssn(key: str) -> bool:
    """Whether a JSON field or attribute named ``key`` holds a US Social Security number."""
    return _SSN_KEY.fullmatch(key) is not None


def is_ssn_value(value: str | int) -> bool:
    """Whether a field named like an SSN holds one: nine digits, grouped 3-2-4 or not, or an
    integer (a leading zero is lost there, so 8 digits are one too)."""
    if type(value) is int:
        return 10**7 <= value < 10**9 and _SSN_DIGITS.fullmatch(f"{value:09d}") is not None
    return type(value) is str and _SSN_DIGITS.fullmatch(value.strip()) is not None


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


def _iban(text: str, start: int, end: int, floor: int) -> Span | None:
    raw = text[start:end]
    length = _IBAN_LENGTHS.get(raw[:2])
    if length is None:
        return None
    separator = " " if " " in raw else "-" if "-" in raw else ""
    if separator and raw.find(separator) == length:
        # Written whole, then the regex ran on into a short token ("... 613589 X-API-Key:").
        end, separator = start + length, ""
        raw = raw[:length]
    if separator:
        # Printed form: groups of four, spaced (or dashed, by some banks' exports). The regex may
        # have run on into a following word ("... 00 BIC"), so cut after `length` characters, but
        # only where a group ends.
        groups = raw.split(separator)
        taken, kept = 0, 0
        while kept < len(groups) and taken < length:
            taken += len(groups[kept])
            kept += 1
        if (
            taken != length
            or any(len(g) != 4 for g in groups[: kept - 1])
            or len(groups[kept - 1]) > 4
        ):
            return None  # groups of four, the last one shorter or whole
        end = start + len(separator.join(groups[:kept]))
        compact = "".join(groups[:kept])
    elif len(raw) == length:
        compact = raw
    else:
        return None
    rearranged = compact[4:] + compact[:4]
    number = int("".join(str(int(c, 36)) for c in rearranged))
    return (start, end) if number % 97 == 1 else None


# A key that names an IBAN: "iban", "customer_iban", "ibanNumber", "iban_no".
_IBAN_KEY: Final = re.compile(
    r"(?s:.*?)(?:(?<![A-Za-z])|(?<=[a-z])(?=[A-Z]))(?i:iban)(?:[_.\- ]?(?i:number|num|no|nr))?"
)


def names_iban(key: str) -> bool:
    """Whether a JSON field or attribute named ``key`` holds an IBAN."""
    return _IBAN_KEY.fullmatch(key) is not None


def is_iban_value(value: str) -> bool:
    """Whether ``value`` is an IBAN, whole, in any case, written compact or in groups."""
    value = value.strip()
    return _iban_any_case(value, 0, len(value), 0) == (0, len(value))


def _iban_any_case(text: str, start: int, end: int, floor: int) -> Span | None:
    """An IBAN after the word "IBAN", in any case ("iban=de89370400440532013000", as forms and
    query strings lower it): checked as its upper-case form is."""
    found = _iban(text[start:end].upper(), 0, end - start, 0)
    return (start, start + found[1]) if found is not None else None


# --- PII candidate shapes ----------------------------------------------------------------------

PII_ALTERNATIVES: Final[tuple[Alternative, ...]] = (
    # Pragmatic RFC 5322: dot-atom local part, hostname labels, a 2+ letter TLD. Not the full
    # grammar (quoted local parts, IP literals), which matches far more non-addresses than it finds.
    # The branch is anchored at the "@", the rarest character of an address; the validator walks
    # back over the local part.
    Alternative(
        "email",
        KIND_EMAIL,
        "[@]",
        rf"(?:[A-Za-z0-9{_DOMAIN_LETTERS}](?:[A-Za-z0-9{_DOMAIN_LETTERS}\-]{{0,61}}"
        rf"[A-Za-z0-9{_DOMAIN_LETTERS}])?\.)+" + _TLD,
        validate=_email,
        # A local-part character before the "@": "@context", "@dataclass" never reach Python.
        # The prefilter reads every non-ASCII character as "?" (``_prefilter``).
        starts=(Start(f"[{re.escape(''.join(sorted(_ASCII_LOCAL_PART)))}?]@[A-Za-z0-9?]", 1),),
    ),
    # An address spelled out against scrapers, as contact pages and signatures write it:
    # "jane [at] example [dot] com", "jane(at)example.com", "jane {at} example (dot) co (dot) uk".
    # Bracketed words only: a bare "at" and "dot" are prose ("meet at example dot com").
    Alternative(
        "email_spelled_out",
        KIND_EMAIL,
        "[[({<]",
        r"(?i:[\[({<]at[\])}>])[ \t]{0,2}"
        r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
        r"(?:[ \t]{0,2}(?i:[\[({<](?:dot|\.)[\])}>])[ \t]{0,2}|\.))+[A-Za-z]{2,24}"
        r"(?![A-Za-z0-9_\-])",
        validate=_email_spelled_out,
        keywords=("[at]", "(at)", "{at}", "<at>"),
    ),
    # Country code, check digits, 11-30 more characters, optionally printed in groups of four;
    # the validator fixes the length per country and checks mod-97. Anchored at the first check
    # digit: an upper-case letter would enter the scan at every capital.
    Alternative(
        "iban",
        KIND_IBAN,
        "[0-9]",
        r"(?<=[A-Z].)(?<=(?<![A-Za-z0-9])[A-Z]{2}[0-9])[0-9](?:[ \-]?[A-Z0-9]){11,30}(?![A-Za-z0-9])",
        validate=_iban,
        lead=2,
        follows_letters=True,
        starts=after("[^A-Za-z0-9]", "[A-Z]{2}[0-9]{2}", anchor_at=2),
    ),
    # The same after the word that names it, in lower or mixed case too: the branch above is
    # anchored at upper-case letters, which a lowered form or query string no longer has. One or
    # two words may come between, in any language ("IBAN is", "IBAN ist", "IBAN lautet", "IBAN
    # est", "IBAN è"): the checksum says what the value is.
    Alternative(
        "iban_in_context",
        KIND_IBAN,
        "[Ii]",
        r"(?<![A-Za-z0-9])(?i:iban)(?:[_.\-]?(?i:number|no))?(?:[ \t]+[^\W\d_]{1,8}){0,2}"
        r"[\"']?[ \t]*[:=#]?[ \t]*[\"']?"
        r"(?P<iban_in_context_v>[A-Za-z]{2}[0-9]{2}(?:[ \-]?[A-Za-z0-9]){11,30})(?![A-Za-z0-9])",
        value_groups=("iban_in_context_v",),
        validate=_iban_any_case,
        keywords=("iban",),
    ),
    # AAA-GG-SSSS without the never-issued areas 000, 666, 9xx, group 00 or serial 0000. Only the
    # dashed form here: nine bare digits are far more often an id than an SSN, and are one only
    # after the words that name it (``ssn_in_context``).
    Alternative(
        "ssn",
        KIND_SSN,
        "[0-9]",
        r"(?<=[0-8])(?<![A-Za-z0-9\-].)[0-9]{2}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}(?![A-Za-z0-9]|-[0-9])",
        validate=_ssn,
        starts=after("[^A-Za-z0-9\\-]", "[0-8][0-9]{2}-[0-9]{2}-[0-9]{4}"),
    ),
    # An SSN after the words that name it, however its digits are grouped: "SSN 123456789",
    # "SSN: 123 45 6789", "social security no. 123.45.6789". The dashed form needs no words.
    Alternative(
        "ssn_in_context",
        KIND_SSN,
        "[Ss]",
        r"(?<![A-Za-z0-9])(?i:ssn)" + _SSN_TOLD,
        value_groups=("ssn_in_context_v",),
        keywords=("ssn",),
    ),
    # The same after how people say it: "social security number 123 45 6789", "my social is
    # 123 45 6789", "soc. sec. #123456789". The prefilter stops at "soc" only where one of these
    # follows ("social media", "socket" and "society" never reach Python).
    Alternative(
        "ssn_said",
        KIND_SSN,
        "[Ss]",
        r"(?<![A-Za-z0-9])(?i:soc(?:ial|\.)?[ \-.]?sec(?:urity|\.)?|social)" + _SSN_TOLD,
        value_groups=("ssn_in_context_v",),
        keywords=("soc",),
        after_keyword=r"(?:ial|\.)?[ \-.]?sec|ial[ \t]*(?:is[ \t]|n[ou]|[#:=]|[0-8])",
    ),
    CARD_ALTERNATIVE,
    *IP_ALTERNATIVES,
    INTERNATIONAL_PHONE_ALTERNATIVE,
    CLICK_TO_CHAT_ALTERNATIVE,
)
