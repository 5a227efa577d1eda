"""What a value under a named field holds: the kind its key says, checked against its shape.

A JSON field, a span attribute or a table's column (``_tables``) named "password", "phone" or
"ssn" says what its values are, which the text of a value alone often cannot: ``4155550132``
is an order number in prose and a customer's number under ``"phone"``. Every place that reads
values by their names asks here, so a field and a column are read alike.
"""

from __future__ import annotations

import re
from typing import Final

from otel_flywheel.privacy._codes import is_code_value, names_code
from otel_flywheel.privacy._password_forms import names_password_word
from otel_flywheel.privacy._phones import (
    KIND_PHONE,
    is_contact_phone,
    is_phone_value,
    names_contact,
    names_phone,
)
from otel_flywheel.privacy._pii import (
    KIND_IBAN,
    KIND_SSN,
    is_iban_value,
    is_ssn_value,
    names_iban,
    names_ssn,
)
from otel_flywheel.privacy._secrets import (
    KIND_API_KEY,
    KIND_PASSWORD,
    is_credential_header_value,
    is_placeholder,
    is_working_directory,
    names_credential_header,
    names_pass,
    names_password,
    names_secret,
    shaped_like_password,
)

__all__ = ["COLUMN_EDGES", "KIND_WORDS_PATTERN", "column_key", "kind_under", "names_a_kind"]

# Words in every key ``names_a_kind`` answers for, ASCII, as an alternation for a compiled pass
# that finds where a table names its columns (the prefilter sees other letters as "?":
# "t?l?phone" still holds "phone"): a superset, since ``names_a_kind`` decides.
_KIND_WORDS: Final = (
    "phone", "mobile", "cell", "tel", "fax", "msisdn", "whats", "sms", "caller", "handy",
    "m?vil", "movil", "contact", "reach", "ssn", "social", "pass", "pwd", "kennwort", "contrase",
    "senha", "wachtwoord", "salasana", "heslo", "secret", "token", "key", "authorization",
    "cookie", "iban", "pin", "otp", "code", "cvv", "cvc", "cvn", "cav2",
)  # fmt: skip
KIND_WORDS_PATTERN: Final = "|".join(word.replace("?", "[?]") for word in _KIND_WORDS)

# What stands around a column's name in a table's header: spaces, quotes, Markdown's bold and
# code, a trailing "." or "#" ("Mobile No.", "Phone #"), a label's ":".
COLUMN_EDGES: Final = " \t\"'*`.#:"
# A column's name longer than this is text, not a name: asking the key rules about a sentence
# costs tens of microseconds.
_LONGEST_NAME: Final = 48
_SPACES: Final = re.compile(r"[ \t]+")


def kind_under(key: str, value: object) -> str | None:
    """The kind of value a JSON field or attribute named ``key`` holds, whatever ``value``
    looks like, or None: a password under a key naming one ("password", "DB_PASSWORD",
    "pwd"), unless a placeholder (``***``, ``${DB_PASSWORD}``) or the shell's PWD; an API key
    or another secret under a key naming one ("api_key", "client_secret"), and under an
    HTTP credential header's ("authorization", "cookie") where the value holds credentials;
    a password under "pass" or a key ending in it ("db_pass") where shaped like one; a phone
    number under a key naming one ("phone", "mobile_number"), written with digits and
    separators only, or as an integer (under "contact", written as a phone number and
    not as an IP address or an SSN); and a US SSN under a key naming one ("ssn",
    "social_security_number"), nine digits grouped 3-2-4 or not, or an integer; and an IBAN
    under a key naming one ("iban", "customer_iban"), in any case; and a card's security code,
    a PIN or a one-time code under a key naming one ("cvv", "card_cvc", "pin", "otp",
    "verification_code"), shaped like one, as a string or an integer."""
    if type(value) is str:
        if not value:
            return None
        if names_password(key):
            if is_placeholder(value) or is_working_directory(key, value):
                return None
            return KIND_PASSWORD
        if names_secret(key):
            return None if is_placeholder(value) else KIND_API_KEY
        if names_credential_header(key):  # not "authorization": "approved"
            return KIND_API_KEY if is_credential_header_value(key, value) else None
        if names_pass(key) or names_password_word(key):  # not "first_pass": "done"
            return KIND_PASSWORD if shaped_like_password(value) else None
        if names_iban(key) and is_iban_value(value):
            return KIND_IBAN  # in lower case too: {"iban": "de89370400440532013000"}
    elif type(value) is not int:
        return None
    if names_phone(key) and is_phone_value(value):
        return KIND_PHONE
    if names_contact(key) and is_contact_phone(value):
        return KIND_PHONE
    if is_code_value(key, value):  # its key read once: it names a code, or not
        return KIND_PASSWORD
    return KIND_SSN if names_ssn(key) and is_ssn_value(value) else None


def column_key(name: str) -> str | None:
    """A table column's name (its edges stripped, ``COLUMN_EDGES``) as the key ``kind_under``
    reads its cells by, its words joined as a key's are ("API Key" -> "API_Key"); None where it
    names no kind."""
    if not 0 < len(name) <= _LONGEST_NAME:
        return None
    key = _SPACES.sub("_", name)
    return key if names_a_kind(key) else None


def names_a_kind(key: str) -> bool:
    """Whether ``kind_under`` may answer for ``key``: such keys are asked about every time."""
    return (
        names_password(key)
        or names_pass(key)
        or names_password_word(key)
        or names_secret(key)
        or names_credential_header(key)
        or names_phone(key)
        or names_contact(key)
        or names_ssn(key)
        or names_iban(key)
        or names_code(key)
    )
