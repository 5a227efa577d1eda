"""Credentials told in words: what a person types to a support agent, not what a config holds.

"my password is hunter2!", "the PIN is 4921", "your one-time code is 482 913", "the API key is
8c1f2e3d...". A chat has no ``=`` or ``:`` between the name and the value, so ``kv_password``
and ``kv_secret`` (``_secrets``) never see these; here the name is followed by "is" or "was"
(and an optional "now" or ":"), then the value, quoted or as one word.

The same words also start sentences about credentials that hold none: "the password is
incorrect", "your code is ready", "the token is expired", "the API key is invalid". So each
name asks of its value what a credential of its sort looks like:

- **a password or passphrase**: anything quoted; otherwise one word of four characters or more
  that is not a word saying how the password *is* (``_SAYS_HOW``: "required", "incorrect",
  "too", "here", and words ending in "-ed", "-ing", "-able", ...). "hunter2", "Tr0ub4dor&3" and
  "sunshine" are passwords; "expired" is not;
- **a PIN, a passcode or a one-time code** (after "one-time", "verification", "security",
  "login", "2FA", "SMS", "access" ... "code"): 4 to 10 digits, in up to three groups, or a
  mixed code of letters and digits ("A7X9K2"); a bare "code", a zip code and an error code are
  not credentials;
- **a card's security code** (after "CVV", "CVC", "CVN"): 3 or 4 digits;
- **an API key, a token or a secret**: a value that looks generated (``key_shaped``), of 8
  characters or more after "API key", "secret key", "access key", 16 after a bare "token" or
  "secret" (which name more things).
"""

from __future__ import annotations

import re
from typing import Final

from otel_flywheel.privacy._codes import is_card_code, is_code
from otel_flywheel.privacy._secrets import (
    KIND_API_KEY,
    KIND_PASSWORD,
    is_placeholder,
    is_reference,
    key_shaped,
    named_key_kind,
)
from otel_flywheel.privacy._shapes import Alternative, Span

__all__ = ["TOLD_ALTERNATIVES"]

# "is" or "was", then "now" and a colon if any, before the value (the prefilter's dialect too).
_TOLD: Final = r"[ \t]+(?i:is|was)(?![A-Za-z])(?:[ \t]+(?i:now)(?![A-Za-z]))?[ \t]*:?[ \t]*"
_VALUE: Final = (
    r"(?:\"(?P<{name}_q>[^\"\r\n]{{1,128}})\"|'(?P<{name}_s>[^'\r\n]{{1,128}})'"
    r"|`(?P<{name}_b>[^`\r\n]{{1,128}})`"
    r"|(?P<{name}_d>[0-9]{{2,4}}(?:[ \-][0-9]{{2,4}}){{1,2}})(?![0-9A-Za-z])"
    r"|(?P<{name}_v>[^\s\"'`<>]{{1,128}}))"
)
_AFTER_KEYWORD: Final = r"[ \t]+(?:is|was)[ \t:]"


def _groups(name: str) -> tuple[str, ...]:
    return tuple(f"{name}_{suffix}" for suffix in ("q", "s", "b", "d", "v"))


# The name before the value, read back from it: which sort of credential was told.
_NAMED: Final = re.compile(
    r"(?<![A-Za-z0-9_\-])(?:"
    r"(?P<code>(?i:one[- ]?time|verification|security|login|log[- ]in|sign[- ]?in|2fa|mfa|otp"
    r"|auth|authentication|sms|confirmation|access|unlock)[ \t]+(?i:code))"
    r"|(?P<pin>(?i:pin|otp|passcode))"
    r"|(?P<card>(?i:cvv2?|cvc2?|cvn))"
    r"|(?P<password>(?i:password|passphrase|passwd))"
    r"|(?P<key>(?i:api|secret|access|private|license|licence)[ \t\-_]?(?i:key))"
    r"|(?P<token>(?i:token|secret)))" + _TOLD + r"[\"'`]?\Z"
)

# Words that say how a password is, not what it is: "the password is incorrect", "is too
# short", "is here", "is case-sensitive". Lower case; with ``_SAYS_HOW_ENDINGS``.
_SAYS_HOW: Final = frozenset(
    (
        "about", "above", "after", "also", "always", "another", "before", "below", "blank",
        "case", "correct", "different", "empty", "enough", "from", "fine", "good", "here",
        "into", "just", "known", "long", "mandatory", "mine", "missing", "more", "much", "never",
        "null", "okay", "only", "optional", "over", "same", "secure", "short", "simple", "some",
        "still", "strong", "that", "their", "there", "these", "this", "those", "through", "under",
        "unknown", "valid", "invalid", "incorrect", "very", "weak", "what", "when", "where",
        "which", "with", "within", "without", "wrong", "your", "yours", "none", "true", "false",
        "right", "safe", "unsafe", "insecure", "ready", "sent", "gone", "lost", "stale",
        "temporary", "random", "hidden", "visible", "active", "inactive", "available",
        "unavailable", "new", "old", "set", "reset", "too", "not", "now", "then", "than",
        # what a form or a help page says instead of the password: "the password is: please ..."
        "please", "contact", "check", "enter", "click", "type", "confidential", "private",
        "personal", "unique", "secret", "admin", "attached", "elsewhere",
    )
)  # fmt: skip
_SAYS_HOW_ENDINGS: Final = (
    "ed", "ing", "able", "ible", "ive", "ous", "ful", "less", "ly", "ent", "ant", "ary", "ory",
)  # fmt: skip
_TRAILING: Final = ".,!?;:)]}"
_OPENING: Final = {")": "(", "]": "[", "}": "{"}


def _value(text: str, start: int, end: int) -> tuple[int, int, bool]:
    """The value's span, a sentence's punctuation dropped, and whether it was quoted."""
    quoted = start > 0 and text[start - 1] in "\"'`" and text[end : end + 1] == text[start - 1]
    if not quoted:
        while end > start and text[end - 1] in _TRAILING:
            closing = text[end - 1]
            if closing in ")]}" and _OPENING[closing] in text[start : end - 1]:
                break  # "${DB_PASSWORD}", "f(x)": the bracket is the value's own
            end -= 1
    return start, end, quoted


def _named(text: str, start: int) -> str | None:
    named = _NAMED.search(text, max(0, start - 64), start)
    return named.lastgroup if named is not None else None


def _is_password(value: str, quoted: bool) -> bool:
    if is_placeholder(value):
        return False
    if quoted:
        return True
    if len(value) < 4:
        return False
    parts = value.lower().split("-")  # "case-sensitive", "well-known"
    return not (
        all(part.isalpha() for part in parts)
        and any(part in _SAYS_HOW or part.endswith(_SAYS_HOW_ENDINGS) for part in parts)
    )


def _told_password(text: str, start: int, end: int, floor: int) -> Span | None:
    """A password, PIN or one-time code told in words (see the module's docstring)."""
    start, end, quoted = _value(text, start, end)
    value = text[start:end]
    named = _named(text, start)
    if named == "password":
        return (start, end) if _is_password(value, quoted) else None
    if named in ("pin", "code"):
        return (start, end) if is_code(value) else None
    if named == "card":
        return (start, end) if is_card_code(value) else None
    return None


def _told_key(text: str, start: int, end: int, floor: int) -> Span | None:
    """An API key, token or secret told in words (see the module's docstring)."""
    start, end, _ = _value(text, start, end)
    value = text[start:end]
    named = _named(text, start)
    if named == "key":
        shortest = 8
    elif named == "token":
        shortest = 16
    else:
        return None
    if is_reference(value):
        return None
    return (start, end) if key_shaped(value, shortest) else None


TOLD_ALTERNATIVES: Final = (
    Alternative(
        "told_password",
        KIND_PASSWORD,
        "[PpOoCc]",
        r"(?i:password|passcode|passphrase|passwd|pin|otp|code|cvv2?|cvc2?|cvn)"
        + _TOLD
        + _VALUE.format(name="told_password"),
        value_groups=_groups("told_password"),
        validate=_told_password,
        keywords=(
            *("password", "passcode", "passphrase", "passwd", "pin", "otp", "code"),
            *("cvv", "cvc", "cvn"),
        ),
        after_keyword=_AFTER_KEYWORD,
    ),
    Alternative(
        "told_key",
        KIND_API_KEY,
        "[KkTtSs]",
        r"(?i:key|token|secret)" + _TOLD + _VALUE.format(name="told_key"),
        value_groups=_groups("told_key"),
        validate=_told_key,
        kind_of=named_key_kind,
        keywords=("key", "token", "secret"),
        after_keyword=_AFTER_KEYWORD,
    ),
)
