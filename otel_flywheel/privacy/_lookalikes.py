"""Characters that stand in for ASCII ones inside numbers and addresses, read as those before a scan.

Typography puts no-break and thin spaces between digit groups (French and German text, web
pages: "+44 20 7946 0958" written with U+00A0 or U+202F), chat models write phone numbers with
non-breaking hyphens (U+2011), and CJK text writes full-width digits (U+FF10 to U+FF19) and a
full-width "@" (U+FF20, which an address copied from CJK text or obfuscated on purpose has), and
with it full-width letters (Japanese input methods type whole addresses so). The
scanner's patterns are ASCII, so each of these is read as its ASCII counterpart: one character for
one, so that a match's offsets hold in the text as written, and the value is redacted as written.

Digits of other scripts are read as ASCII digits too: Arabic and Persian keyboards type phone
numbers as "٠٥٠١٢٣٤٥٦٧" and "۰۹۱۲۱۲۳۴۵۶۷", Hindi and Bengali forms as "०९८७६५४३२१०". Each of those
scripts' ten digits is looked for only in a text short enough to look through at no cost, or in
one that holds a letter every sentence of that script has: each look is a pass over a text
that is not Latin-1, which a single curly quote makes of most decoded JSON.

Left as they are: the em dash (prose punctuation: "call us—415-555-0132" keeps its number, which a
"-" before the digits would not), and the soft hyphen.
"""

from __future__ import annotations

import string
from typing import Final

__all__ = ["with_ascii_lookalikes"]

_SPACE: Final = (
    "\u00a0"  # no-break space
    "\u2002\u2003\u2004\u2005\u2006"  # en, em, three-, four- and six-per-em spaces
    "\u2007"  # figure space: as wide as a digit, made for numbers
    "\u2008\u2009\u200a"  # punctuation, thin and hair spaces
    "\u200b\u2060\ufeff"  # zero-width space, word joiner, zero-width no-break space
    "\u202f"  # narrow no-break space: French thousands, and chat models' numbers
    "\u205f\u3000"  # medium mathematical space, ideographic space
)
_HYPHEN: Final = (
    "\u2010\u2011"  # hyphen, non-breaking hyphen
    "\u2012"  # figure dash: as wide as a digit, made for phone numbers
    "\u2013"  # en dash: between digit groups, and in ranges, read as "10-20" already is
    "\u2212\ufe63\uff0d"  # minus sign, small and full-width hyphen-minus
)
_FULL_WIDTH: Final = {
    **{chr(0xFF10 + digit): str(digit) for digit in range(10)},
    "\uff0b": "+",
    "\uff08": "(",
    "\uff09": ")",
    "\uff0e": ".",
    "\uff0f": "/",
    "\uff20": "@",  # full-width commercial at, in an address copied from CJK text
    "\ufe6b": "@",  # small commercial at
}
# Japanese input methods type whole addresses in full width; its letters are read as ASCII
# where a full-width "@" says one may be there.
_FULL_WIDTH_LETTERS: Final = tuple(
    (chr(0xFEE0 + ord(ascii)), ascii) for ascii in (*string.ascii_letters, "_")
)
_LOOKALIKES: Final = (
    *((char, " ") for char in _SPACE),
    *((char, "-") for char in _HYPHEN),
    *_FULL_WIDTH.items(),
)


def _digits_from(*zeros: int) -> tuple[tuple[str, str], ...]:
    return tuple((chr(zero + digit), str(digit)) for zero in zeros for digit in range(10))


# A script's letter in every sentence of it (alef; the vowel sign "aa" of Devanagari and of
# Bengali), and its digits read as ASCII ones.
_NATIVE_DIGITS: Final = (
    ("\u0627", _digits_from(0x0660, 0x06F0)),  # Arabic-Indic; Extended (Persian, Urdu)
    ("\u093e", _digits_from(0x0966)),  # Devanagari
    ("\u09be", _digits_from(0x09E6)),  # Bengali
)
_SHORT: Final = 256  # a text this short is looked through for every script's digits


def with_ascii_lookalikes(text: str) -> str:
    """``text`` with each look-alike of a space, a hyphen or a digit replaced by the ASCII
    character (same length, same offsets)."""
    if text.isascii():
        return text
    if "\uff20" in text:  # a full-width "@": maybe an address typed in full width
        for char, ascii in _FULL_WIDTH_LETTERS:
            if char in text:
                text = text.replace(char, ascii)
    for char, ascii in _LOOKALIKES:
        # ``in`` returns at once for a character wider than the text's storage (most of these
        # in Latin text), and otherwise searches in C; ``replace`` runs only where one occurs.
        if char in text:
            text = text.replace(char, ascii)
    short = len(text) <= _SHORT
    for letter, digits in _NATIVE_DIGITS:
        if short or letter in text:
            for char, ascii in digits:
                if char in text:
                    text = text.replace(char, ascii)
    return text
