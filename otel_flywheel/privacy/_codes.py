"""Card security codes, PINs and one-time codes under their label: "CVV: 123", "cvc=4567",
'"pin": "4921"', "OTP: 482 913".

A card's security code (CVV, CVC, CVN) is sensitive authentication data: PCI DSS forbids keeping
it after authorization, and a trace is kept. A PIN or a one-time code lets whoever reads it act
as the user. All of them are a few digits, as order quantities, ports and error codes are, so
they are read only where a label names them: the key of a JSON field or attribute ("cvv",
"card_cvc", "securityCode", "pin", "otp", "verification_code"), or the label in text, followed
by a colon or an equals sign (or Markdown's bold, a key-value table's "|", an XML element's
">"). A card code's own words name nothing else, so a space alone may follow them ("exp 12/28
cvv 123"). Told in words ("the PIN is 4921") is ``_told``'s.
"""

from __future__ import annotations

import re
from typing import Final

from otel_flywheel.privacy._secrets import KIND_PASSWORD
from otel_flywheel.privacy._shapes import Alternative, Span

__all__ = ["CODE_ALTERNATIVES", "is_card_code", "is_code", "is_code_value", "names_code"]

_CODE_LENGTHS: Final = range(4, 11)
_CARD_CODE_LENGTHS: Final = range(3, 5)
_SECURITY_CODE_LENGTHS: Final = range(3, 11)  # a card's, or a one-time code sent by a bank

_CARD_WORDS: Final = r"cvv2?|cvc2?|cvn|cav2|card[ _.\-]?(?:security|verification)[ _.\-]?code"
_SECURITY_WORDS: Final = r"security[ _.\-]?code"
_OTHER_WORDS: Final = (
    r"pin|t?otp(?:[ _.\-]?code)?|passcode"
    r"|(?:one[ _.\-]?time|verification|confirmation|mfa|2fa|two[ _.\-]?fa(?:ctor)?|sms|login"
    r"|auth)[ _.\-]?(?:code|pin)"
)
_NAMES: Final = (
    r"(?i:(?P<card>" + _CARD_WORDS + ")|(?P<security>" + _SECURITY_WORDS + ")|" + _OTHER_WORDS + ")"
)
# A key naming one: the words end the key, after a non-letter or as a camelCase word, maybe with
# "number" or "no". Not "pincode" (India's postal code), "pinned", "otp_enabled", "cvv_check" (a
# check's result), "status_code".
_CODE_KEY: Final = re.compile(
    r"(?s:.*?)(?:(?<![A-Za-z])|(?<=[a-z])(?=[A-Z]))" + _NAMES + r"(?:[_.\- ]?(?i:number|no))?"
)
# The label's end in text: quotes and Markdown's bold around it, then ":", "=", "#", "|" or ">",
# then the value. After a card code's words, spaces alone will do.
_SEPARATOR: Final = r"[\"'*]{0,2}[ \t]*[:=#|>][*]{0,2}[ \t]*[\"']?"
_CARD_SEPARATOR: Final = "(?:" + _SEPARATOR + r"|[ \t]+)"
# Read back from the value: a label after a non-letter or as a camelCase word ("securityCode").
_LABEL: Final = re.compile(
    r"(?:(?<![A-Za-z0-9])|(?<=[a-z])(?=[A-Z]))"
    r"(?:(?i:(?P<card_word>cvv2?|cvc2?|cvn|cav2))" + _CARD_SEPARATOR
    + "|" + _NAMES + _SEPARATOR + r")\Z"
)  # fmt: skip
# Digits in groups ("482 913", "7731-0042"), or one run of digits or letters and digits.
_VALUE: Final = (
    r"(?P<{name}>[0-9]{{2,4}}(?:[ \-][0-9]{{2,4}}){{1,2}}|[0-9A-Za-z]{{3,10}})"
    r"(?![0-9A-Za-z]|[.,][0-9])"
)


def names_code(key: str) -> bool:
    """Whether a JSON field or attribute named ``key`` holds a card's security code, a PIN or a
    one-time code."""
    return _CODE_KEY.fullmatch(key) is not None


def is_code_value(key: str, value: object) -> bool:
    """Whether ``value``, under a key that ``names_code``, is such a code (``_is_named_code``)."""
    if type(value) is int:
        value = str(value) if value >= 0 else ""
    elif type(value) is not str:
        return False
    named = _CODE_KEY.fullmatch(key)
    return named is not None and _is_named_code(named, value.strip())


def is_code(value: str) -> bool:
    """A PIN or a one-time code: 4 to 10 digits, in up to three groups ("482 913"), or 6 to 10
    letters and digits with two digits or more ("A7X9K2")."""
    digits = value.replace(" ", "").replace("-", "")
    if digits.isdigit():
        return len(digits) in _CODE_LENGTHS and len(value.split()) <= 3
    return (
        value.isalnum()
        and len(value) in range(6, 11)
        and sum(c.isdigit() for c in value) >= 2
        and any(c.isalpha() for c in value)
    )


def is_card_code(value: str) -> bool:
    """A card's security code: 3 or 4 digits."""
    return value.isdigit() and len(value) in _CARD_CODE_LENGTHS


def _is_named_code(named: re.Match[str], value: str) -> bool:
    """3 or 4 digits after a card's words; 3 to 10 after "security code" (a card's, or one a
    bank sends); a PIN's or a one-time code's shape (``is_code``) after the others."""
    if named.group("card") is not None or named.groupdict().get("card_word") is not None:
        return is_card_code(value)
    if named.group("security") is not None:
        return value.isdigit() and len(value) in _SECURITY_CODE_LENGTHS
    return is_code(value)


def _labelled_code(text: str, start: int, end: int, floor: int) -> Span | None:
    named = _LABEL.search(text, max(floor, start - 48), start)
    return (start, end) if named is not None and _is_named_code(named, text[start:end]) else None


_AFTER_LABEL: Final = r"[\"'*]{0,2}[ \t]*[:=#|>][\"'* \t]{0,4}[0-9A-Za-z]"

CODE_ALTERNATIVES: Final = (
    # A card code's words, then a separator or spaces: "CVV: 123", "cvc2=4567", "cvv 123".
    Alternative(
        "card_code",
        KIND_PASSWORD,
        "[Cc]",
        r"(?i:cvv2?|cvc2?|cvn|cav2)" + _CARD_SEPARATOR + _VALUE.format(name="card_code_v"),
        value_groups=("card_code_v",),
        validate=_labelled_code,
        keywords=("cvv", "cvc", "cvn", "cav2"),
        after_keyword=r"2?[\"'* \t:=#|>]{1,8}[0-9]",
    ),
    # The other labels end in "code" ("security code:", "verification code:", "card security
    # code:"), or are "PIN", "OTP", "passcode", then a separator: the label is read back from the
    # value (``_LABEL``), so "error code: 404", "status_code=200" and "zip code: 94103" stay.
    Alternative(
        "labelled_code",
        KIND_PASSWORD,
        "[CcPpOoTt]",
        r"(?i:code|pin|otp|totp|passcode)" + _SEPARATOR + _VALUE.format(name="labelled_code_v"),
        value_groups=("labelled_code_v",),
        validate=_labelled_code,
        keywords=("code", "pin", "otp", "totp", "passcode"),
        after_keyword=_AFTER_LABEL,
    ),
)
