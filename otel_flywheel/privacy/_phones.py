"""Phone numbers: international "+" numbers, and national formats of a set of regions.

libphonenumber (``phonenumbers``) decides, but it only knows the number ranges assigned today, so
the checks fail closed where its metadata cannot say:

- **International** ("+44 20 7946 0958", "+1-912-490-4047x96", "0044 20 7946 0958"): a number
  that phonenumbers deems valid, or one whose country code exists, whose length that country's
  plan allows (``IS_POSSIBLE``) and that is written like a phone number (see
  ``_written_like_a_phone``). Ranges get assigned after our metadata was built, and a made-up
  number in a test fixture is still shaped like somebody's.
- **National** ("(415) 555-0132", "030 901820", "05 45 23 28 60"): written without a country
  code, so the region is a guess. As Presidio's ``PhoneRecognizer`` does, a candidate is tried
  in each of a set of regions (``DEFAULT_PHONE_REGIONS``, configurable) at libphonenumber's
  ``VALID`` leniency, with the grouping check of its ``STRICT_GROUPING``: the number must start
  with the region's trunk prefix ("030 ...", "1-415-...") or be grouped as the country writes it
  ("(415) 555-2671", Brazil's "92 3464-6869"). North American numbers also fail closed: three,
  three and four digits with a "(", "-" or "." between them ("(018) 238-5454", "298.925.9791")
  are redacted whether or not the area code exists.
- **Where the words say so**: digits in a field whose key names a phone number
  (``names_phone``: ``{"phone": "4155550132"}``, replaced whole by the redactor), and digits,
  bare or in groups, right after words that name one ("phone: 4155550132", "call me at 612 345
  678": ``CONTEXT_PHONE_ALTERNATIVE``, tried after every other digit-led branch).

Both checks are pure functions of the candidate string, cached (``lru_cache``): an agent's text
repeats the same numbers, and phonenumbers costs ~50 us per parse and region.

What is left alone: digit runs without a separator (an id far more often than a phone number),
unless they start with a trunk "0" and are valid, or the words say so (above); dates, decimals,
dotted quads; numbers too short (< 7 digits) or too long for E.164 (> 15); "0123456789" and other
runs of one or consecutive digits; "+" numbers with a country code nobody has.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

import phonenumbers

from otel_flywheel.errors import ConfigError
from otel_flywheel.privacy._cards import card_inside
from otel_flywheel.privacy._lookalikes import with_ascii_lookalikes
from otel_flywheel.privacy._phone_national import (
    is_placeholder_number,
    national_is_phone,
    untrunked_lookahead,
)
from otel_flywheel.privacy._phone_reading import (
    DECIMAL,
    EXTENSION,
    digits,
    international_length,
    number_part,
    valid_country_code,
)
from otel_flywheel.privacy._shapes import NOT_A_DATE, Alternative, Span, Start, Validator, after

__all__ = [
    "CLICK_TO_CHAT_ALTERNATIVE",
    "CONTEXT_PHONE_ALTERNATIVE",
    "DEFAULT_PHONE_REGIONS",
    "INTERNATIONAL_PHONE_ALTERNATIVE",
    "KIND_PHONE",
    "checked_phone_regions",
    "forget_phone_readings",
    "is_contact_phone",
    "is_phone_value",
    "keep_compiled_metadata",
    "names_contact",
    "names_phone",
    "national_phone_alternatives",
]

KIND_PHONE: Final = "PHONE"

_DIGIT_RUN: Final = re.compile(r"[0-9]+")
_CALLING_CODE: Final = re.compile(r"\(([1-9][0-9]{0,2})\)[ .\-/]?")

# A key that names a phone number ("phone", "phone_number", "customerPhone", "mobile_no", "tel",
# "fax", "msisdn", "whatsapp", "sms_number", "callerId"), or names one in the languages whose
# CRMs and forms agents read ("telefono", "Telefon", "téléphone", "celular", "móvil", "Handy"):
# the word ends the key, after a non-letter or as a camelCase word, optionally followed by
# "number", "num", "no" or "nr". Not "smartphone", "hotel", "phone_verified".
_PHONE_KEY: Final = re.compile(
    r"(?s:.*?)(?:(?<![A-Za-z])|(?<=[a-z])(?=[A-Z]))"
    r"(?i:phone|mobile|cell(?:phone|ular|ulare)?|tel(?:ephone|efon[oe]?)?|t[eé]l[eé]phone|fax"
    r"|msisdn|whats[_\-]?app|sms|caller[_.\-]?id|celular|m[oó]vil|handy|telem[oó]vel)"
    r"(?:[_.\- ]?(?i:number|num|no|nr|nummer|n[uú]mero))?"
)
# A key for how to reach someone ("contact", "contact_info", "reachAt"), which may hold an email
# or a phone number: a phone number there is written like one (a "+", or separators), since bare
# digits under "contact" are as often a contact record's id.
_CONTACT_KEY: Final = re.compile(
    r"(?s:.*?)(?:(?<![A-Za-z])|(?<=[a-z])(?=[A-Z]))"
    r"(?i:contact|reach)(?:[_.\- ]?(?i:info|details|at|me|method))?"
)
# What a contact field's digits are when they are not a phone number: an id (bare digits), a
# date, or a value another detector reads (an IPv4 address, an SSN; a card has 13 digits or more,
# which the scan is left to tell from a phone number).
_NOT_A_CONTACT_PHONE: Final = re.compile(
    r"\s*(?:[0-9]+|[0-9]{4}([\-./])[0-9]{1,2}\1[0-9]{1,2}|[0-9]{1,2}([\-./])[0-9]{1,2}\2[0-9]{4}"
    r"|[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9]{3}-[0-9]{2}-[0-9]{4})\s*"
)
_CONTACT_PHONE_DIGITS: Final = range(7, 13)
# What such a field holds when it holds a number: digits and the separators numbers are written
# with, "+" or "00" in front, an extension after.
_PHONE_VALUE: Final = re.compile(r"\s*(?:\+|00)?[0-9(][0-9 .\-/()]*[0-9]" + EXTENSION + r"\s*")

# Presidio's PhoneRecognizer default regions (US, GB, DE, FR, IL, IN, CA, BR), plus the other
# large markets whose formats our test corpus covers (ES, IT, NL, JP). Order matters only for cost:
# the first region that accepts a candidate ends the search.
DEFAULT_PHONE_REGIONS: Final = (
    "US",
    "GB",
    "DE",
    "FR",
    "ES",
    "IT",
    "NL",
    "BR",
    "IN",
    "JP",
    "IL",
    "CA",
)


def keep_compiled_metadata() -> None:
    """Make phonenumbers keep every metadata pattern it compiles (its ``enable_pattern_cache``).

    Read in a dozen regions, its patterns outnumber ``re``'s own 512-entry cache, and each
    ``parse`` then recompiles the ones that fell out: 3 ms per candidate instead of 0.1 ms. The
    kept set is bounded by the metadata of the regions in use. Process-wide, as phonenumbers
    designed it; versions without it just keep recompiling."""
    enable = getattr(phonenumbers, "enable_pattern_cache", None)
    if enable is not None:
        enable()


def forget_phone_readings() -> None:
    """Empty the per-candidate caches of both checks (to measure what unseen numbers cost)."""
    international_length.cache_clear()
    national_is_phone.cache_clear()


def checked_phone_regions(regions: Iterable[str]) -> tuple[str, ...]:
    """``regions`` upper-cased and deduplicated, each checked against phonenumbers' regions."""
    checked: list[str] = []
    for region in regions:
        code = str(region).strip().upper()
        if code not in phonenumbers.SUPPORTED_REGIONS:
            hint = " (the United Kingdom is 'GB')" if code == "UK" else ""
            raise ConfigError(
                f"phone region {region!r} is not a region phonenumbers knows{hint}; use ISO 3166 "
                "alpha-2 codes such as 'US', 'GB' or 'DE'"
            )
        if code not in checked:
            checked.append(code)
    return tuple(checked)


def names_phone(key: str) -> bool:
    """Whether a JSON field or attribute named ``key`` holds a phone number."""
    return _PHONE_KEY.fullmatch(key) is not None


def names_contact(key: str) -> bool:
    """Whether a JSON field or attribute named ``key`` says how to reach someone ("contact")."""
    return _CONTACT_KEY.fullmatch(key) is not None


def is_contact_phone(value: str | int) -> bool:
    """Whether a field naming a contact holds a phone number: written as one ("+48 22 383 47
    01", "22 383 47 01"), of 7 to 12 digits; not bare digits (an id), a date, an IPv4 address or
    an SSN. Longer numbers are left to the scan, which reads a "+" number and a card."""
    if type(value) is not str:
        return False
    value = with_ascii_lookalikes(value)
    if _NOT_A_CONTACT_PHONE.fullmatch(value) is not None or _PHONE_VALUE.fullmatch(value) is None:
        return False
    return len(digits(number_part(value.strip()))) in _CONTACT_PHONE_DIGITS


def is_phone_value(value: str | int) -> bool:
    """Whether a field named like a phone number holds one: written with digits and separators
    only, or an integer, of 7 to 15 digits (E.164's most). A bare "4155550132" in text is an id
    more often than not; under "phone" it is the customer's number."""
    if type(value) is int:
        return 10**6 <= value < 10**15
    if type(value) is not str:
        return False
    value = with_ascii_lookalikes(value)
    if _PHONE_VALUE.fullmatch(value) is None:
        return False
    return 7 <= len(digits(number_part(value.strip()))) <= 15


# --- validators -----------------------------------------------------------------------------------


def _a_path_s_middle(text: str, start: int, end: int) -> bool:
    """Whether a candidate runs on into a path ("/orders") or a file's extension (".json")
    without being a path's segment of its own: ``GET /customers/+14155550132/orders`` and
    ``.../Calls/+14155550132.json`` hold one, redacted there."""
    return _INTO_A_PATH.match(text, end) is not None and (start == 0 or text[start - 1] != "/")


_INTO_A_PATH: Final = re.compile(r"[/.][A-Za-z]")


def _phone_intl(text: str, start: int, end: int, floor: int) -> Span | None:
    """The number at ``start``, without trailing groups that belong to the next thing (the
    first four of a card: "+44 20 7946 0958 4111 1111 1111 1111")."""
    if _a_path_s_middle(text, start, end):
        return None
    if text[start + 1] == " ":
        return _phone_intl_spaced(text, start, end)
    candidate = text[start:end]
    for _ in range(4):
        length = international_length(candidate)
        if not length:
            return None
        end = start + length
        card = card_inside(text, start, end)
        if card is None:
            return start, end
        candidate = text[start:card].rstrip()
    return None


def _phone_intl_spaced(text: str, start: int, end: int) -> Span | None:
    """ "+ 44 20 7946 0958": some write a space after the "+", and so is arithmetic written ("x +
    14285714.286", "a + 4420 7946 0958"). Only a number phonenumbers deems valid, its country
    code a group of its own and two groups or more after it, is read as a phone number here."""
    unspaced = "+" + text[start + 2 : end]
    found = _phone_intl(unspaced, 0, len(unspaced), 0)
    if found is None:
        return None
    number = unspaced[: found[1]]
    code = valid_country_code(number)
    groups = _DIGIT_RUN.findall(number_part(number))
    if code is None or len(groups) < 3 or groups[0] != str(code):
        return None
    return start, start + 1 + found[1]


def _at_most_15_digits(text: str, start: int, end: int) -> int:
    """Where a national candidate ends once cut to the 15 digits E.164 allows: after the last
    whole group that keeps it under, and before a space (a cut at "." or "-" would split a
    token). ``start`` when there is no such place."""
    count, cut = 0, start
    for run in _DIGIT_RUN.finditer(text, start, end):
        count += run.end() - run.start()
        if count > 15:
            break
        if run.end() == end or text[run.end()] in " (":
            cut = run.end()
    return cut


# What a national candidate is when the text says it is not a phone number: an amount (digits
# grouped in thousands by dots, cents after them, a currency beside them: "Umsatz: 354.347.962
# €", "354 347 962,50", which Italy's plan reads as mobiles), or a Brazilian postal code ("CEP
# 01310-100", valid in Italy with its trunk 0). An amount never starts with a "0". Grouped by
# spaces alone, "385 905 930" stays a phone number: Italy writes its mobiles and Spain its
# 800 numbers so, and phone numbers fail closed.
_THOUSANDS: Final = re.compile(r"(?!0)[0-9]{1,3}(?:\.[0-9]{3}){2,}")
_POSTAL_CODE_BR: Final = re.compile(r"0[0-9]{4}-[0-9]{3}")
_CENTS_AFTER: Final = re.compile(r",[0-9]{1,2}(?![0-9])")
_CURRENCIES: Final = (
    r"(?:[€$£¥₹₩₪]|R\$|(?:EUR|USD|GBP|JPY|INR|BRL|CHF|ILS|CAD|(?i:euros?|dollars?|d[oó]lares"
    r"|reais|rupees|yen|pounds))(?![A-Za-z]))"
)
_CURRENCY_AFTER: Final = re.compile(r"[ \u00a0]?" + _CURRENCIES)
_CURRENCY_BEFORE: Final = re.compile(_CURRENCIES + r"[ \u00a0]?\Z")


# A number the words before it name as something else: "Your order number is 385 905 930".
_NAMED_OTHERWISE: Final = re.compile(
    r"(?<![A-Za-z])(?i:order|invoice|ticket|tracking|confirmation|reference|booking|case"
    r"|transaction|shipment|parcel)(?:[ _\-]?(?i:number|no|nr|id|#))?\.?(?: (?i:is|was))?"
    r"[ \t:#=]{1,3}\Z"
)


def _written_as_something_else(text: str, start: int, end: int) -> bool:
    """Whether a national candidate is an amount, a postal code or what the words before it name
    (an order's number), whatever a plan makes of its digits."""
    candidate = text[start:end]
    return bool(
        _THOUSANDS.fullmatch(candidate)
        or _POSTAL_CODE_BR.fullmatch(candidate)
        or _CENTS_AFTER.match(text, end)
        or _CURRENCY_AFTER.match(text, end)
        or _CURRENCY_BEFORE.search(text, max(0, start - 5), start)
        or _NAMED_OTHERWISE.search(text, max(0, start - 40), start)
    )


def _phone_national(regions: tuple[str, ...]) -> Validator:
    def validate(text: str, start: int, end: int, floor: int) -> Span | None:
        if len(digits(number_part(text[start:end]))) > 15:
            end = _at_most_15_digits(text, start, end)
            if end == start:
                return None
        if not national_is_phone(text[start:end], regions):
            return None  # most candidates, answered from a cache: the text around is read after
        if _written_as_something_else(text, start, end) or _a_path_s_middle(text, start, end):
            return None
        card = card_inside(text, start, end)
        if card is not None:  # "030 901820 4111 1111 1111 1111": the last four start a card
            return validate(text, start, start + len(text[start:card].rstrip()), floor)
        return start, end

    return validate


def _phone_national_or_calling_code(regions: tuple[str, ...]) -> Validator:
    """A number with an area code in parentheses: national in one of ``regions``, or else a
    country's calling code in parentheses without its "+" ("(351) 916 647 378")."""
    national = _phone_national(regions)

    def validate(text: str, start: int, end: int, floor: int) -> Span | None:
        found = national(text, start, end, floor)
        return found if found is not None else _calling_code_in_parentheses(text, start, end)

    return validate


def _calling_code_in_parentheses(text: str, start: int, end: int) -> Span | None:
    """ "(351) 916 647 378", "(44) 20 7946 0958": a calling code, then a number phonenumbers
    deems valid there (assigned today). Validity, not a length, since parentheses also hold a
    year before a page range ("(2019) 123-145") and another plan's area code."""
    opening = _CALLING_CODE.match(text, start, end)
    if opening is None:
        return None
    code = opening.group(1)
    international = f"+{code} {text[opening.end() : end]}"
    length = international_length(international)
    if length <= len(code) + 2 or valid_country_code(international[:length]) != int(code):
        return None
    return start, opening.end() + length - len(code) - 2


def _phone_dialled_abroad(regions: tuple[str, ...]) -> Validator:
    """ "0044 20 7946 0958", "001-335-504-9258": the international number after the "00" (most
    of the world) or "011" (North America) that dials out, checked like a "+" number. A valid
    national number wins where both readings fit (Reading's "0118 496 0990")."""

    def validate(text: str, start: int, end: int, floor: int) -> Span | None:
        candidate = text[start:end]
        if candidate.isdigit() or national_is_phone(candidate, regions):
            # A bare "00..." run is a zero-padded id; a valid national number is left to the
            # national branch, tried next at the same place.
            return None
        rest = candidate[3:] if candidate.startswith("011") else candidate[2:]
        international = "+" + rest.lstrip(" .-/")
        offset = start + len(candidate) - len(international) + 1  # where "+" would be, plus one
        for _ in range(4):
            length = international_length(international)
            if not length:
                return None
            end = offset + length - 1
            card = card_inside(text, start, end)
            if card is None:
                return start, end
            international = international[: card - offset + 1].rstrip()
        return None

    return validate


# --- candidate shapes -----------------------------------------------------------------------------

# "+" and 7-15 digits with the usual separators: "+1 (415) 555-2671", "+44 20 7946 0958",
# "+49 (0) 30 123456", "+33.1.23.45.67.89". One space may follow the "+" ("+ 44 20 7946 0958"),
# as it does in arithmetic ("x + 14285714.286"): the validator asks more of such a number.
INTERNATIONAL_PHONE_ALTERNATIVE: Final = Alternative(
    "phone",
    KIND_PHONE,
    "[+]",
    r"(?<![A-Za-z0-9+_].)(?: (?=[1-9]))?\(?[1-9](?:[ .\-/()]{0,3}[0-9]){6,14}"
    + EXTENSION
    + r"(?![A-Za-z0-9_]|-[A-Za-z0-9]|[./][0-9])",
    validate=_phone_intl,
    starts=(
        Start(r"\+[1-9]"),
        Start(r"\+\([1-9]"),
        # Spaced, the country code is a group of its own (``_phone_intl_spaced``): "+ 44 20".
        *(Start(r"\+ [1-9]" + "[0-9]" * n + r"[ .\-/(]") for n in range(3)),
    ),
)


def _click_to_chat(text: str, start: int, end: int, floor: int) -> Span | None:
    """A WhatsApp link's digits are an international number without its "+" (wa.me/14155550132):
    all of them must read as one."""
    digit_count = end - start
    return (start, end) if international_length("+" + text[start:end]) == digit_count + 1 else None


# WhatsApp's click-to-chat links (``https://wa.me/<number>``): a support agent's replies carry
# the customer's number there. Its other form (``api.whatsapp.com/send?phone=``) is a "phone" key.
CLICK_TO_CHAT_ALTERNATIVE: Final = Alternative(
    "phone_click_to_chat",
    KIND_PHONE,
    "[w]",
    r"(?i:wa\.me)/(?P<phone_click_to_chat_v>[1-9][0-9]{6,14})(?![0-9])",
    value_groups=("phone_click_to_chat_v",),
    validate=_click_to_chat,
    keywords=("wa.me/",),
)

# A national candidate does not start right after a word, a "+", "_", "-" or "/", nor inside a
# time or decimal ("12:30 ...", "1.5 ..."), nor after a digit and a space (the middle of a number
# list); "Tel:030 901820" and "Tel.030 901820" are candidates. These lookbehinds span the anchor.
# Not inside a word, a sum, a path or a decimal; a dash before the number only after a Hebrew
# letter, which glues a preposition to it ("ב-050-8650263": "at 050-...").
_LEFT = r"(?<![A-Za-z0-9+_/].)(?<!(?<![\u05d0-\u05ea])-.)(?<![0-9][.:].)(?<![0-9] .)"
_NOT_AFTER = r"[^A-Za-z0-9+_\-/]"  # the first of these, for the prefilter
_AFTER_A_PREFIX = r"\?-"  # a Hebrew letter and its dash, as the prefilter sees them
# Digit groups joined by spaces, dots, dashes or slashes, or an area code in parentheses; at least
# seven digits. Repeated per group, with possessive digit runs, so a candidate that fails backs off
# whole groups only; the 15 digits E.164 allows are counted in the validator.
_SEVEN_DIGITS = r"(?=(?:[ .\-/()]{0,3}[0-9]){6})"
# A national number has 8 digits or more (``national_is_phone``): "404 9869", a status code and a
# byte count, is not one, and the regex says so before Python is asked.
_EIGHT_DIGITS = r"(?=(?:[ .\-/()]{0,3}[0-9]){7})"
_SEPARATOR = r"(?:[ .\-/]{1,2}|[ ]?\([0-9]{1,6}\)[ .\-/]?)"
_GROUPS = r"[0-9]*+(?:" + _SEPARATOR + r"[0-9]++)*"
# After a number: not a word's or a token's continuation; "/" and a letter only where the number
# is a path's segment (checked by the branches that read one: ``_a_path_s_middle``).
_TAIL = EXTENSION + r"(?![A-Za-z0-9_]|[.\-:][A-Za-z0-9]|/[0-9])"
_AREA_CODE_CLOSED = r"(?:(?<=\(.)[0-9]{0,5}\)[ .\-/]?[0-9])?"


# Words that say the digits after them are a phone number: "phone: 4155550132", "Tel. 4155550132",
# "my number is 4155550132", "call me at 612 345 678", "called from 4155550132", "callback
# 4155550132", '"mobile": "4155550132"' in text. Read in the text before digits no other branch
# took, which are otherwise an id (``_phone_in_context``). A bare "call", "contact" or "number" is
# not among them: "tool call 1234567", "contact 12345678" and "order number 12345678" are ids.
# The gap between the words and the number: separators, quotes, and markup around a label
# (Markdown's "**Phone:** ", a key-value table's " | ", an XML element's ">"), with CJK text's
# full-width colon and space.
_CONTEXT_GAP_CLASS: Final = r"[ \t\n.:=#\"'(\-*|>：　]"
# "is" between the word and the number, in the languages of the words: "my phone is",
# "mi teléfono es", "mein Handy ist", "il mio cellulare è".
_COPULA: Final = r"(?: (?:is|was|es|ist|est|era|e|é|è)(?: (?:el|le|il))?)?"
_COPULA_AS_SCANNED: Final = r"(?: (?:is|was|es|ist|est|era|e|\?)(?: (?:el|le|il))?)?"  # "é": "?"
_CONTEXT_GAP: Final = _CONTEXT_GAP_CLASS + "{1,6}"
_ASCII_GAP: Final = r"[ \t\n.:=#\"'(\-*|>]{1,6}"  # the compiled scan's: ASCII patterns only
_CONTEXT_WORDS: Final = (
    r"(?:(?:phone|mobile|mob|cell|tel|telephone|telefon|telefono|tlf|fax|whatsapp|sms|callback"
    r"|msisdn|telefone|celular|cellulare|handy|movil)"
    r"(?:[ _.\-]?(?:number|num|no|nr))?" + _COPULA + r"|contact[ _.\-]?(?:number|num|no|nr|phone)"
    r"|caller(?:[ _.\-]?id)?"
    r"|(?:call|text|reach|ring|sms|whatsapp)(?:ed|ing)? (?:me|us)(?: (?:at|on|from))?"
    r"|(?:called|calling|texted|dialed|dialled|sms) (?:from|at|on|to)|dial(?:led|ed)?"
    r"|ph|my (?:phone |contact |mobile |cell )?number(?: is)?)"
)
# The same words written with letters the compiled scan does not read (it sees each non-ASCII
# character as "?"): accented ("tél.", "teléfono", "téléphone", "telemóvel"), Cyrillic ("тел.",
# "телефон", "моб."), Chinese, Japanese and Korean ("电话", "手机", "電話番号", "携帯", "전화",
# "휴대폰", "전화번호"). Python reads them; the prefilter stops at non-ASCII letters before
# digits (``_NON_ASCII_WORD_START``), which ASCII text never has.
_CONTEXT_WORDS_NON_ASCII: Final = (
    r"(?:(?:t[eé]l[eé](?:phone|fono)|t[eé]l|telem[oó]vel|m[oó]vil)"
    + _COPULA
    + r"|телефон|тел|моб(?:ильный|\.)?|сотовый"
    r"|电话|電話|手机|手機|携帯|联系电话|聯絡電話|电话号码|電話番号|携帯番号"
    r"|전화|휴대폰|전화번호|핸드폰"
    r"|τηλ[εέ]φωνο|τηλ|κινητ[οό]"
    r"|(?:फ़ोन|फोन|मोबाइल)(?: नंबर)?)"
)
_PHONE_CONTEXT: Final = re.compile(
    r"(?i:(?<![A-Za-z])(?:"
    + _CONTEXT_WORDS
    + "|"
    + _CONTEXT_WORDS_NON_ASCII
    + "))"
    + _CONTEXT_GAP
    + r"\Z"
)
_CONTEXT_WIDTH: Final = 32
# The regex's own guard, before Python is asked: the number follows the two letters that end one
# of those words and one to four of those separators ("phone: ", '"mobile": "'), which status
# codes, IPs on a new line, prices, ids after a digit or a symbol, and "batch 74963" never do.
# Fixed-width lookbehinds, one per gap length: the last letter alone first (one class, which most
# places fail), then the two letters, as classes grouped by the last one.
_WORD_ENDINGS: Final = (
    *("ne", "le", "ll", "el", "ax", "pp", "er", "um", "no", "nr", "me", "at", "on", "is"),
    *("ck", "id", "al", "ed", "ms", "to", "ph", "lf", "ob", "us", "om", "ct", "dn"),
    # telefone, celulAR, cellulaRE, hanDY; the copulas: wAS, ES, iST, erA, " e", " é", " è";
    # and the article after them: EL, LE, IL.
    *("ar", "re", "dy", "as", "es", "st", "ra", " e", " é", " è", "el", "le", "il"),
    # The words above in other scripts: tÉL, móvIL, телефОН, тЕЛ, мОБ, мобильнЫЙ, сотовЫЙ, 电话,
    # 電話, 手机, 手機, 携帯, 号码, 番号, 전화, 휴대폰, 핸드폰, 번호.
    *("él", "il", "он", "ел", "об", "ый", "电话", "電話", "手机", "手機", "携帯", "号码", "番号"),
    *("전화", "대폰", "드폰", "번호"),
    # τηλέφωΝΟ, τΗΛ, κινηΤΌ, फ़ोन, मोबाइल, नंबर.
    *("νο", "ηλ", "τό", "το", "ोन", "इल", "बर"),
)  # phoNE, mobiLE, ceLL, tEL, fAX, whatsaPP, numbER, nUM, NO, NR, ME, AT, ON, IS, callbaCK, ID,
#    diAL, dialED, smS, TO, PH, tLF, mOB, US, frOM, contaCT, msisDN


def _either_case(letters: Iterable[str]) -> str:
    return "[" + "".join(sorted(c + c.upper() for c in set(letters))) + "]"


def _after_a_word(endings: tuple[str, ...]) -> str:
    firsts: dict[str, set[str]] = {}
    for ending in endings:
        firsts.setdefault(ending[1], set()).add(ending[0])
    last = _either_case(firsts)
    pairs = "(?:" + "|".join(_either_case(f) + _either_case(e) for e, f in firsts.items()) + ")"
    gap = _CONTEXT_GAP_CLASS
    return (
        "(?:"
        + "|".join(f"(?<={last}{gap}{{{n}}}.)(?<={pairs}{gap}{{{n}}}.)" for n in range(1, 7))
        + ")"
    )


_AFTER_A_WORD: Final = _after_a_word(_WORD_ENDINGS)
# Where the words of other scripts can end, as the compiled scan sees them: two non-ASCII
# letters ("??": Cyrillic, CJK and Hangul words have two or more), or the accented Latin words
# ("t?l", "t?l?fono", "m?vil"), then the separators and a digit (a full-width colon or space is
# one more "?"). Literals of two characters or more: a lone "?" in the pattern set slows the
# compiled scan over all text by a sixth.
_NON_ASCII_WORD_START: Final = Start(
    r"(?:\?\?|t\?l(?:\?(?:phone|fono))?|m\?vil|telem\?vel)\.?"
    + _COPULA_AS_SCANNED
    + r"(?:"
    + _ASCII_GAP
    + r")?[0-9]",
    anchor_at=-1,
    caseless=True,
)


def _phone_in_context(text: str, start: int, end: int, floor: int) -> Span | None:
    """7 to 15 digits, bare or in groups ("612 345 678", "8 (912) 345-67-89"), right after words
    that name a phone number, which no other branch read as a value."""
    found = digits(number_part(text[start:end]))
    if not 7 <= len(found) <= 15 or is_placeholder_number(found):
        return None
    if DECIMAL.fullmatch(text, start, end):
        return None  # "phone: 415555.0132" is a number, not how anyone writes a phone number
    if _PHONE_CONTEXT.search(text, max(floor, start - _CONTEXT_WIDTH), start) is None:
        return None
    if start > floor and text[start - 1] == "(" and ")" in text[start:end]:
        return start - 1, end  # "(495) 123-45-67": the area code's parentheses go with it
    return start, end


# Digits after words that name a phone number: tried after every other digit-led branch, so a
# card, a national number or an id shape keeps the place it had, and a number written in a region
# the detector does not read ("8 (912) 345-67-89") is still found where the words say what it is.
CONTEXT_PHONE_ALTERNATIVE: Final = Alternative(
    "phone_in_context",
    KIND_PHONE,
    "[0-9]",
    # After the anchor digit (the group's), like every digit-led branch.
    # An area code may close its parenthesis here ("phone: (495) 123-45-67"): opened before the
    # anchor digit, among the words' separators.
    _AFTER_A_WORD + _SEVEN_DIGITS + _LEFT + _AREA_CODE_CLOSED + _GROUPS + _TAIL,
    validate=_phone_in_context,
    # Only where such words come right before the first digit: a literal-led pattern that ends
    # at that digit, so the compiled scan needs no start-of-match tracking.
    starts=(
        Start(
            "[^a-z]" + _CONTEXT_WORDS.replace(_COPULA, _COPULA_AS_SCANNED) + _ASCII_GAP + "[0-9]",
            anchor_at=-1,
            caseless=True,
        ),
        _NON_ASCII_WORD_START,
    ),
)


def _written_in_some_region(regions: tuple[str, ...]) -> str:
    """For a candidate without the trunk "0": that some region writes its digit groups (or may
    strip its start while parsing), checked at its first digit. Log lines hold a status code and
    a byte count ("404 76435") each; without this check every one reaches Python."""
    lookahead = untrunked_lookahead(regions) if regions else None
    return "" if lookahead is None else f"(?<=(?={lookahead})[0-9])"


_NATIONAL_START: Final = r"[0-9](?:[ .\-/()]{0,3}[0-9]){7}"


def national_phone_alternatives(regions: tuple[str, ...]) -> tuple[Alternative, ...]:
    """The branches for phone numbers written without a country code: in the national format of
    one of ``regions``, or dialled from abroad ("0044 ...", "011 44 ...")."""
    return (
        # Tried before the national branch, which gets the same place when it rejects. Up to 15
        # digits after the prefix, as E.164 allows.
        Alternative(
            "phone_abroad",
            KIND_PHONE,
            "[0-9]",
            r"(?<=0)" + _LEFT + r"(?:0|11)[ .\-/]?[1-9]" + _SEVEN_DIGITS + _GROUPS + _TAIL,
            validate=_phone_dialled_abroad(regions),
            starts=after(_NOT_AFTER, "00[1-9]", "00[ .\\-/][1-9]", "011[1-9]", "011[ .\\-/][1-9]"),
        ),
        # The parenthesis closes after the area code: "(030) 901820", "(415)555-0132"; an opening
        # one around a number ("(076-53-6603)") is punctuation, and the digits start the value.
        # Anchored at the digit after "(": a "(" anchor would stop the scan at every call in code.
        Alternative(
            "phone_national_paren",
            KIND_PHONE,
            "[0-9]",
            r"(?<=(?<![A-Za-z0-9+_\-/])\((?<![0-9][.:]\()(?<![0-9] \()[0-9])"
            r"[0-9]{0,5}\)(?:[ .\-/]{0,3}[0-9]){2,13}" + _TAIL,
            validate=_phone_national_or_calling_code(regions),
            lead=1,
            starts=after(_NOT_AFTER, *(rf"\([0-9]{{{n}}}\)" for n in range(1, 7)), anchor_at=1),
        ),
        # A national number has a separator, or starts with the trunk "0": a bare run of digits
        # is an id ("order 4155550132"), and so is one followed by a parenthesis ("batch 74963
        # (512 items)"): its groups are what a region must write.
        Alternative(
            "phone_national",
            KIND_PHONE,
            "[0-9]",
            _EIGHT_DIGITS
            + _LEFT
            + r"(?:(?<=0)|(?=[0-9]*+"
            + _SEPARATOR
            + r"[0-9])"
            + _written_in_some_region(regions)
            + ")"
            + NOT_A_DATE
            + _GROUPS
            + _TAIL,
            validate=_phone_national(regions),
            # Eight digits, as _EIGHT_DIGITS asks (a price, "1653.64", is not a candidate). The
            # finer checks stay in the regex: each pattern here slows the compiled scan.
            starts=(
                *after(_NOT_AFTER, _NATIONAL_START),
                Start(_AFTER_A_PREFIX + _NATIONAL_START, 2),
            ),
        ),
        # Russia's and Kazakhstan's national writing, trunk "8" and dashed pairs at the end:
        # "8 (912) 345-67-89", "8 912 345-67-89". No other number is written so, in any region,
        # so the shape is enough (fail closed) where the regions read none of it.
        Alternative(
            "phone_trunk_8",
            KIND_PHONE,
            "[0-9]",
            r"(?<=8)" + _LEFT + r" (?:\([0-9]{3}\) ?|[0-9]{3} )[0-9]{3}-[0-9]{2}-[0-9]{2}" + _TAIL,
            starts=after(_NOT_AFTER, r"8 \([0-9]{3}\)", r"8 [0-9]{3} [0-9]{3}-"),
        ),
    )
