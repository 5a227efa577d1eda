"""What libphonenumber's metadata says a national number can look like, as data the scan can use.

A region's formats are a pattern of digit groups ("(\\d{3})(\\d{5})") laid out by a template
("\\1 \\2"), chosen by leading digits ("0[13-57-9][0159]|8(?:03|...)"). From them this module
lists the digit-group lengths a format writes (``layout_shapes``) and the first digits a pattern
lets a number start with (``digit_prefixes``), so that the scanner's regex can drop, in C, the
candidates no region of a set could read as a phone number ("404 76435": a status code and a
byte count), instead of asking phonenumbers about each in Python. Both answer a superset (or
None where they cannot tell), so nothing a region accepts is ever dropped.
"""

from __future__ import annotations

import re
from typing import Any, Final

from otel_flywheel.privacy._shapes import REGEX_CONSTANTS as re_constants
from otel_flywheel.privacy._shapes import REGEX_PARSER as re_parser

__all__ = ["digit_prefixes", "layout_shapes", "spaced"]

_MAX_SHAPES: Final = 4096
_MAX_PREFIXES: Final = 4096
_DIGITS: Final = frozenset("0123456789")
# Possessive repeats are new in Python 3.11.
_REPEATS: Final = tuple(
    getattr(re_constants, name)
    for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
    if hasattr(re_constants, name)
)
# What may stand between two digits of a national candidate (``_phones._GROUPS``): one or two of
# " .-/", or a parenthesis with a space or separator beside it.
SEPARATOR: Final = r"[ .\-/()]{0,3}"


def layout_shapes(pattern: str, layout: str) -> set[tuple[int, ...]] | None:
    """The digit-group lengths a format writes: its pattern's groups (each of a bounded set of
    lengths) placed by ``layout`` ("\\\\1 \\\\2-\\\\3"), groups with nothing between them merged.
    None when that cannot be listed (an unbounded group, digits written by the layout)."""
    widths: dict[int, range] = {}
    for op, value in re_parser.parse(pattern):
        if op is re_constants.SUBPATTERN:
            low, high = value[-1].getwidth()
            if high > 15:
                return None
            widths[value[0]] = range(low, high + 1)
    shapes: set[tuple[int, ...]] = {()}
    glued = False  # the next group continues the last one (nothing between them)
    for token in re.split(r"(\\[0-9])", layout):
        if not token:
            continue
        if token.startswith("\\"):
            width = widths.get(int(token[1]))
            if width is None:
                return None
            shapes = {
                (*s[:-1], s[-1] + w) if glued and s else (*s, w) for s in shapes for w in width
            }
            glued = True
            if len(shapes) > _MAX_SHAPES:
                return None
        elif any(c.isdigit() for c in token):
            return None
        else:
            glued = False
    return shapes


def digit_prefixes(pattern: str, length: int) -> set[str] | None:
    """Strings of digits such that every string of digits that ``pattern`` matches at its start
    begins with one of them: of ``length`` digits, or shorter where a match may be shorter.
    None when the pattern holds something this does not follow."""
    try:
        found = _sequence(list(re_parser.parse(pattern)), {""}, length)
    except _Unknown:
        return None
    return found


class _Unknown(Exception):
    """A construct the prefix walk does not follow."""


def _sequence(items: list[Any], partial: set[str], length: int) -> set[str]:
    for op, value in items:
        if all(len(p) >= length for p in partial):
            break
        partial = _item(op, value, partial, length)
        if len(partial) > _MAX_PREFIXES:
            raise _Unknown
    return partial


def _extend(partial: set[str], options: set[str], length: int) -> set[str]:
    return {p if len(p) >= length else (p + o)[:length] for p in partial for o in options}


def _item(op: Any, value: Any, partial: set[str], length: int) -> set[str]:
    if op is re_constants.LITERAL:
        return _extend(partial, {chr(value)} & _DIGITS or _fail(), length)
    if op is re_constants.ANY or (
        op is re_constants.CATEGORY and value is re_constants.CATEGORY_DIGIT
    ):
        return _extend(partial, set(_DIGITS), length)
    if op is re_constants.IN:
        return _extend(partial, _char_set(value) or _fail(), length)
    if op is re_constants.AT:
        return partial  # "$": zero width
    if op is re_constants.SUBPATTERN:
        return _sequence(list(value[-1]), partial, length)
    if op is re_constants.BRANCH:
        return set().union(*(_sequence(list(alt), partial, length) for alt in value[1]))
    if op in _REPEATS:
        low, high, body = value
        result: set[str] = set()
        current = partial
        for count in range(min(high, length) + 1):
            if count >= low:
                result |= current
            if all(len(p) >= length for p in current):
                result |= current
                break
            current = _sequence(list(body), current, length)
        else:
            if high > length:
                result |= current
        return result
    raise _Unknown


def _char_set(items: list[Any]) -> set[str]:
    chars: set[str] = set()
    for op, value in items:
        if op is re_constants.NEGATE:
            raise _Unknown
        if op is re_constants.LITERAL:
            chars.add(chr(value))
        elif op is re_constants.RANGE:
            chars.update(chr(c) for c in range(value[0], value[1] + 1))
        elif op is re_constants.CATEGORY and value is re_constants.CATEGORY_DIGIT:
            chars.update(_DIGITS)
        else:
            raise _Unknown
    return chars & _DIGITS


def _fail() -> set[str]:
    raise _Unknown  # a non-digit: the walk cannot say which digits follow


def spaced(digits: str) -> str:
    """A regex for ``digits`` as a candidate writes them: separators allowed between them."""
    return SEPARATOR.join(digits)
