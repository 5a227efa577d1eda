"""IP addresses: dotted quads and IPv6, confirmed by ``ipaddress``, minus what only looks like one.

Loopback and unspecified addresses (127.0.0.1, ::1, 0.0.0.0) identify nobody and are left alone;
so are dotted quads that are versions ("version 1.2.3.4", "Chrome/120.0.0.0", Gecko's
"rv:1.9.5.20"), section numbers and four single digits ("1.1.1.1" is a public resolver, "2.7.2.2"
a section), five-part numbers (an OID), MAC addresses and code ("a[1::2]", "std::vector").
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from otel_flywheel.privacy._shapes import ACCESS_LOG_TIMES, Alternative, Span, after

__all__ = ["IP_ALTERNATIVES", "KIND_IP"]

KIND_IP: Final = "IP_ADDRESS"

# Text right before a dotted quad that makes it a version: "version 1.2.3.4", "pkg==1.2.3.4",
# "pkg@1.2.3.4", "Chrome/120.0.0.0" and Gecko's "rv:1.9.5.20" (user agents are full of these).
# The keyword must be a whole word ("server 10.0.0.1" and "dev 10.0.0.1" are addresses); what may
# sit between it and the number covers `__version__ = "3.5.0.1"` and `version="1.0.0.0"`. "§" is
# a section number ("RFC 5891 §4.2.3.1").
#
# Written backwards and matched on the reversed text before the address: one anchored attempt
# instead of a search that tries the pattern at each of the 16 characters (logs hold an address
# per line). Its lookahead is the lookbehind of the pattern read forwards, and its "\n?" that
# pattern's "$", which also matches before a final newline:
#   (?:(?<![A-Za-z])(?i:version|ver|v|release|build|rev|rv)_*[\s:="'(]*|==|@|[A-Za-z]/|§\s?)$
_VERSION_CONTEXT_REVERSED = re.compile(
    r"""\n?(?:[\s:="'(]*_*(?i:noisrev|rev|v|esaeler|dliub|ver|vr)(?![A-Za-z])|==|@|/[A-Za-z]|\s?§)"""
)
_VERSION_CONTEXT_WIDTH: Final = 16


def is_version_context(before: str) -> bool:
    """Whether ``before``, the text right before a dotted quad, makes it a version number."""
    return _VERSION_CONTEXT_REVERSED.match(before[::-1]) is not None


# Where "user@" before a dotted quad is a login, not a package's "@" ("pkg@1.2.3.4"): after a
# remote-login command on the same line ("ssh root@10.20.30.40", "scp f ubuntu@203.0.113.7:"),
# or as a URL's userinfo ("http://admin@192.168.1.1/"; not "?q=pkg@1.2.3.4" further on).
_REMOTE_LOGIN: Final = re.compile(
    r"(?<![\w\-])(?:ssh|scp|sftp|rsync|mosh|telnet|ssh-copy-id|sshpass)(?![\w\-])"
)
_URL_USERINFO: Final = re.compile(r"://[^\s/?#@]*\Z")
_LOGIN_LINE_WIDTH: Final = 160


def _user_at_host(text: str, start: int) -> bool:
    if start == 0 or text[start - 1] != "@":
        return False
    line_start = max(text.rfind("\n", 0, start) + 1, start - _LOGIN_LINE_WIDTH)
    return (
        _URL_USERINFO.search(text, line_start, start - 1) is not None
        or _REMOTE_LOGIN.search(text, line_start, start) is not None
    )


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"  # 0-255, no leading zero
_DOTTED_QUAD: Final = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def _ipv4(text: str, start: int, end: int, floor: int) -> Span | None:
    # What ipaddress.IPv4Address checks, in one regex call (logs hold an address per line).
    if _DOTTED_QUAD.fullmatch(text, start, end) is None:
        return None  # 999.999.999.999, leading zeros
    if text.startswith("127.", start) or text[start:end] == "0.0.0.0":
        return None  # loopback (127.0.0.0/8), unspecified
    if is_version_context(
        text[max(0, start - _VERSION_CONTEXT_WIDTH) : start]
    ) and not _user_at_host(text, start):
        return None
    if end - start == 7:
        # Four single digits: a section or version number (2.7.2.2, 1.0.0.0) or a public
        # resolver (1.1.1.1, 8.8.8.8, 9.9.9.9); none identifies a person.
        return None
    return start, end


def _ipv6(text: str, start: int, end: int, floor: int) -> Span | None:
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


_HEX = frozenset("0123456789abcdefABCDEF")
_HEX_DIGIT = "[0-9A-Fa-f]"


def _ipv6_after_first_group(text: str, start: int, end: int, floor: int) -> Span | None:
    """The branch is anchored at the first colon: the address starts at the hex group before it."""
    first = start
    while first > 0 and start - first < 4 and text[first - 1] in _HEX:
        first -= 1
    return _ipv6(text, first, end, floor)


# One to four hex digits, not after a word, a colon, a dot or "_", then the anchor colon.
_FIRST_GROUP = (
    "(?:" + "|".join(rf"(?<=(?<![A-Za-z0-9:._])[0-9A-Fa-f]{{{n}}}:)" for n in (1, 2, 3, 4)) + ")"
)
# What makes colons an IPv6 address and not a time or a MAC address: a "::", or eight groups.
_IPV6_SHAPE = r"(?=:|[0-9A-Fa-f:]*::|(?:[0-9A-Fa-f]{1,4}:){6}[0-9A-Fa-f]|(?:[0-9A-Fa-f]{1,4}:){5}[0-9]{1,3}\.)"
_IPV6_END = r"(?:(?:\.[0-9]{1,3}){3})?(?![A-Za-z0-9_]|:[0-9A-Fa-f]|\.[0-9])"

IP_ALTERNATIVES: Final[tuple[Alternative, ...]] = (
    # A dotted quad that is not part of a longer dotted number (OIDs, 10.0.0.1.5), an identifier
    # or a pre-release version ("4.0.0.1-beta").
    Alternative(
        "ipv4",
        KIND_IP,
        "[0-9]",
        r"(?<![A-Za-z0-9._].)[0-9]{0,2}+(?:\.[0-9]{1,3}+){3}(?![A-Za-z0-9_]|\.[0-9]|-[A-Za-z])",
        validate=_ipv4,
        starts=after(
            "[^A-Za-z0-9._]",
            *(rf"[0-9]{{{a}}}\.[0-9]{{{b}}}\.[0-9]" for a in (1, 2, 3) for b in (1, 2, 3)),
        ),
    ),
    # Hex groups and colons (one "::" allowed), optionally ending in a dotted quad; ipaddress
    # decides. Anchored at the first colon (a hex-led anchor would enter the scan at every "a" to
    # "f"), which the regex only takes when a "::" or eight groups follow: times ("10:15:30") and
    # MAC addresses never reach Python. The lookbehinds keep "std::vector" and "a[1::2]" halves
    # from starting a candidate. A second branch takes addresses that start with "::".
    Alternative(
        "ipv6",
        KIND_IP,
        "[:]",
        r"(?=[0-9A-Fa-f:])"
        + _FIRST_GROUP
        + _IPV6_SHAPE
        + r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){1,6}"
        + _IPV6_END,
        # An address has a "::" or more than two colons after its first group; a time ("19:38:37")
        # has two.
        starts=tuple(
            start
            for n in (1, 2, 3, 4)
            for start in after(
                "[^A-Za-z0-9:._]",
                f"{_HEX_DIGIT}{{{n}}}::",
                *(
                    f"{_HEX_DIGIT}{{{n}}}:{_HEX_DIGIT}{{{i}}}:{_HEX_DIGIT * j}:"
                    for i in (1, 2, 3, 4)
                    for j in (0, 1, 2, 3, 4)
                ),
                anchor_at=n,
            )
        ),
        validate=_ipv6_after_first_group,
        refuses=ACCESS_LOG_TIMES,
    ),
    Alternative(
        "ipv6_compressed",
        KIND_IP,
        "[:]",
        r"(?<![A-Za-z0-9:._].):(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?" + _IPV6_END,
        validate=_ipv6,
        starts=after("[^A-Za-z0-9:._]", "::"),
        refuses=ACCESS_LOG_TIMES,
    ),
)
