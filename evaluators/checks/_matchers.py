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
``{"$literal": v}``         equals ``v`` taken as plain data: for objects that hold ``$`` keys
                            themselves (a MongoDB filter such as ``{"$gt": 5}``)
==========================  ===================================================================

An object whose keys start with ``$`` is a matcher: it must have exactly one key, one of the five
above; anything else is an error, never silently a plain value. An actual argument the expected
call does not name is unexpected.

When an argument does not match, :func:`mismatch_kind` says how: ``invalid_type_or_value`` when
its JSON type is not one the expectation allows (a string where a number is expected),
``wrong_value`` when the type is right and the value is not (another order id, another amount).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from otel_flywheel.errors import ConfigError

__all__ = [
    "OPERATORS",
    "MismatchKind",
    "is_optional",
    "map_matcher_values",
    "matches",
    "mismatch_kind",
    "validate_matcher",
]

OPERATORS: Final = ("$any_of", "$optional", "$regex", "$any", "$literal")
MismatchKind = Literal["wrong_value", "invalid_type_or_value"]


def _operator(expected: Any) -> str | None:
    if isinstance(expected, Mapping) and len(expected) == 1:
        (key,) = expected
        if isinstance(key, str) and key.startswith("$"):
            return key
    return None


def validate_matcher(expected: Any, path: str = "arguments") -> None:
    """Raise ``ConfigError`` naming ``path`` for an unknown or malformed matcher.

    The message names the operator and the JSON path, never the value: references may hold
    personal data.
    """
    if isinstance(expected, Mapping):
        dollar = [key for key in expected if isinstance(key, str) and key.startswith("$")]
        if dollar and len(expected) > 1:
            raise ConfigError(
                f"{path}: a matcher object has exactly one key, this one has {sorted(expected)}; "
                'wrap plain data holding "$" keys in {"$literal": ...}'
            )
    operator = _operator(expected)
    if operator is None:
        if isinstance(expected, Mapping):
            for key, value in expected.items():
                validate_matcher(value, f"{path}.{key}")
        elif isinstance(expected, list):
            for index, value in enumerate(expected):
                validate_matcher(value, f"{path}[{index}]")
        return
    value = expected[operator]
    where = f"{path}.{operator}"
    if operator not in OPERATORS:
        raise ConfigError(
            f'{path}: unknown matcher "{operator}"; use one of {", ".join(OPERATORS)} '
            '(or {"$literal": ...} for plain data with "$" keys)'
        )
    if operator == "$any_of":
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{where}: takes a non-empty list of allowed values")
        for index, alternative in enumerate(value):
            validate_matcher(alternative, f"{where}[{index}]")
    elif operator == "$regex":
        if not isinstance(value, str):
            raise ConfigError(f"{where}: takes a regular expression string")
        try:
            re.compile(value)
        except re.error as exc:
            raise ConfigError(f"{where}: not a valid regular expression ({exc})") from None
    elif operator == "$optional":
        if _operator(value) == "$optional":
            raise ConfigError(f"{where}: an optional value cannot itself be optional")
        validate_matcher(value, where)
    elif operator == "$any" and value is not True:
        raise ConfigError(f'{where}: write {{"$any": true}}')


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
    if operator == "$literal":
        return _equal(expected["$literal"], actual)
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
    return _equal_scalar(expected, actual)


def mismatch_kind(expected: Any, actual: Any) -> MismatchKind:
    """How ``actual`` fails ``expected``: a type the expectation does not allow, or a wrong value."""
    return "wrong_value" if _type_allowed(expected, actual) else "invalid_type_or_value"


def map_matcher_values(expected: Any, transform: Callable[[Any, bool], Any]) -> Any:
    """``expected`` with every plain value replaced by ``transform(value, is_regex)``.

    The matcher structure stays. Every plain leaf, every object key and every ``$literal`` value
    goes through ``transform`` (which must therefore accept any JSON value), so that a caller can
    treat them exactly as the trace's arguments were treated (redaction). ``$regex`` patterns go
    through with ``is_regex=True``.
    """
    operator = _operator(expected)
    if operator == "$any":
        return expected
    if operator == "$regex":
        return {"$regex": transform(expected["$regex"], True)}
    if operator == "$literal":
        return {"$literal": transform(expected["$literal"], False)}
    if operator == "$optional":
        return {"$optional": map_matcher_values(expected["$optional"], transform)}
    if operator == "$any_of":
        return {"$any_of": [map_matcher_values(a, transform) for a in expected["$any_of"]]}
    if isinstance(expected, Mapping):
        return {
            transform(key, False): map_matcher_values(value, transform)
            for key, value in expected.items()
        }
    if isinstance(expected, list):
        return [map_matcher_values(item, transform) for item in expected]
    return transform(expected, False)


def _equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Mapping):
        return (
            isinstance(actual, Mapping)
            and set(actual) == set(expected)
            and all(_equal(value, actual[key]) for key, value in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_equal(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return _equal_scalar(expected, actual)


def _equal_scalar(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    return bool(expected == actual)


def _type_allowed(expected: Any, actual: Any) -> bool:
    operator = _operator(expected)
    if operator == "$any":
        return True
    if operator == "$regex":
        return isinstance(actual, str)
    if operator == "$optional":
        return _type_allowed(expected["$optional"], actual)
    if operator == "$any_of":
        return any(_type_allowed(alternative, actual) for alternative in expected["$any_of"])
    if operator == "$literal":
        return _json_type(expected["$literal"]) == _json_type(actual)
    return _json_type(expected) == _json_type(actual)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__
