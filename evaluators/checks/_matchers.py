"""The matcher syntax for expected argument values (reference tool calls, golden examples).

==========================  ===================================================================
expected value              matches an actual argument that ...
==========================  ===================================================================
``"A-1001"``, ``3``, ...    is equal (``1 == 1.0``; a bool never equals a number); objects and
                            lists compare element by element, so matchers may nest inside them
``{"$any_of": [v1, v2]}``   matches any of the alternatives (each may itself be a matcher)
``{"$optional": v}``        is absent, or matches ``v``
``{"$regex": "A-\\d+"}``    is a string the regular expression matches in full (``re.fullmatch``)
``{"$any": true}``          is present, with any value
==========================  ===================================================================

An object is a matcher when its only key starts with ``$``; any other object is a plain value. An
actual argument the expected call does not name is unexpected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from otel_flywheel.errors import ConfigError

__all__ = ["is_optional", "matches", "validate_matcher"]

_OPERATORS = frozenset({"$any_of", "$optional", "$regex", "$any"})


def _operator(expected: Any) -> str | None:
    if isinstance(expected, Mapping) and len(expected) == 1:
        (key,) = expected
        if isinstance(key, str) and key.startswith("$"):
            return key
    return None


def validate_matcher(expected: Any) -> None:
    """Raise ConfigError for an unknown ``$`` operator or a malformed one (bad regex, non-list)."""
    operator = _operator(expected)
    if operator is None:
        if isinstance(expected, Mapping):
            for value in expected.values():
                validate_matcher(value)
        elif isinstance(expected, list):
            for value in expected:
                validate_matcher(value)
        return
    if operator not in _OPERATORS:
        raise ConfigError(f"unknown matcher {operator!r}: use one of {sorted(_OPERATORS)}")
    value = expected[operator]
    if operator == "$any_of":
        if not isinstance(value, list) or not value:
            raise ConfigError('"$any_of" takes a non-empty list of allowed values')
        for alternative in value:
            validate_matcher(alternative)
    elif operator == "$regex":
        if not isinstance(value, str):
            raise ConfigError('"$regex" takes a regular expression string')
        try:
            re.compile(value)
        except re.error as exc:
            raise ConfigError(f'invalid "$regex" {value!r}: {exc}') from exc
    elif operator == "$optional":
        validate_matcher(value)


def is_optional(expected: Any) -> bool:
    return _operator(expected) == "$optional"


def matches(expected: Any, actual: Any) -> bool:
    """Whether a present ``actual`` value satisfies ``expected``."""
    operator = _operator(expected)
    if operator == "$any":
        return True
    if operator == "$optional":
        return matches(expected["$optional"], actual)
    if operator == "$any_of":
        return any(matches(alternative, actual) for alternative in expected["$any_of"])
    if operator == "$regex":
        return isinstance(actual, str) and re.fullmatch(expected["$regex"], actual) is not None
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping) or set(actual) - set(expected):
            return False
        return all(
            matches(value, actual[key]) if key in actual else is_optional(value)
            for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    return bool(expected == actual)
