"""JSON inside text is read by orjson where it gives json's answer, and redacted the same.

orjson and json differ at the edges: integers beyond 64 bits (orjson reads a float), NaN and
Infinity and lone surrogates (only json reads them), nesting depth. Each edge gets json's answer,
and on generated documents the redactor's output and findings with orjson are those of the
standard library alone.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_flywheel.privacy import BuiltinDetector, RedactionAudit, Redactor
from otel_flywheel.privacy import _json as json_module

KEY = b"k" * 32
EMAIL = "jane.doe@example.com"
NEGATIVE_NUMBER = -9223372036854775833  # below -2**63: orjson cannot hold it as an integer


def redact(text: str) -> tuple[object, dict[str, int]]:
    audit = RedactionAudit()
    output = Redactor(key=KEY, detectors=[BuiltinDetector()]).redact_text(text, audit)
    return output, dict(audit.counts)


def test_an_integer_beyond_64_bits_stays_exact_when_the_document_is_rebuilt() -> None:
    big = 123456789012345678901234567890
    text = json.dumps({"id": big, "note": f"write to {EMAIL} " + "x" * 400})
    output, counts = redact(text)
    value = json.loads(str(output))
    assert value["id"] == big
    assert type(value["id"]) is int
    assert EMAIL not in str(output)
    assert counts == {"EMAIL": 1}


def test_a_card_shaped_integer_below_signed_64_bits_stays_an_exact_integer() -> None:
    # 19 digits, as a card may have, and beyond what orjson holds as a negative integer.
    text = json.dumps({"n": NEGATIVE_NUMBER, "note": f"mail {EMAIL} " + "y" * 400})
    output, counts = redact(text)
    assert counts == {"EMAIL": 1}
    value = json.loads(str(output))["n"]
    assert value == NEGATIVE_NUMBER
    assert type(value) is int


@pytest.mark.parametrize(
    "special",
    [float("nan"), float("inf"), -float("inf")],
    ids=["nan", "infinity", "minus-infinity"],
)
def test_what_only_json_reads_is_read_and_written_back_by_json(special: float) -> None:
    text = json.dumps({"x": special, "note": f"mail {EMAIL} " + "y" * 400})
    output, counts = redact(text)
    assert counts == {"EMAIL": 1}
    x = json.loads(str(output))["x"]
    assert (math.isnan(x) and math.isnan(special)) or x == special


def test_a_lone_surrogate_in_a_document_is_read_by_json() -> None:
    text = json.dumps({"s": "\ud800", "note": f"mail {EMAIL} " + "y" * 400}, ensure_ascii=False)
    output, counts = redact(text)
    assert counts == {"EMAIL": 1}
    assert json.loads(str(output))["s"] == "\ud800"


def test_a_document_nested_deeper_than_the_walk_goes_is_scanned_as_text() -> None:
    text = "[" * 1010 + json.dumps(EMAIL) + "]" * 1010
    output, counts = redact(text)
    assert EMAIL not in str(output)
    assert counts == {"EMAIL": 1}


def test_a_rebuilt_document_is_compact_valid_json() -> None:
    # A long page that changed: rebuilt (encoding the page twice to substitute it costs more).
    text = json.dumps({"page": "Contact " + EMAIL + " " + "lorem " * 2000, "n": [1, 2.5, None]})
    output, _ = redact(text)
    assert json.loads(str(output))["n"] == [1, 2.5, None]
    assert '", "' not in str(output)  # orjson writes it: no spaces after separators


def test_a_short_document_keeps_its_formatting_when_a_value_changes() -> None:
    text = '{\n  "to": "' + EMAIL + '",\n  "body": "see you at 5"\n}'
    output, counts = redact(text)
    assert counts == {"EMAIL": 1}
    assert str(output).startswith('{\n  "to": "<EMAIL:')
    assert str(output).endswith('",\n  "body": "see you at 5"\n}')


LEAVES = st.one_of(
    st.integers(min_value=-(10**25), max_value=10**25),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.sampled_from([EMAIL, "4111 1111 1111 1111", "+44 20 7946 0958", "203.0.113.7", "ok"]),
    st.text(max_size=30),
    st.integers(min_value=10**12, max_value=10**19),
)
DOCUMENTS = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=8), children, max_size=5),
    ),
    max_leaves=25,
).filter(lambda value: isinstance(value, dict | list))


@settings(max_examples=400, deadline=None)
@given(DOCUMENTS, st.booleans())
def test_generated_documents_are_redacted_as_with_json_alone(
    document: object, ascii_only: bool
) -> None:
    text = json.dumps(document, ensure_ascii=ascii_only)
    with_orjson = redact(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(json_module, "loads", _json_only_loads)
        with_json = redact(text)
    assert with_orjson[1] == with_json[1]  # the same values found
    if with_orjson[0] == text or with_json[0] == text:
        assert with_orjson[0] == with_json[0]
    else:  # rebuilt: the same document, whatever the separators
        assert _same(json.loads(str(with_orjson[0])), json.loads(str(with_json[0])))


_ORIGINAL_LOADS = json_module.loads


def _json_only_loads(text: str, *, exact_integers: bool = False) -> tuple[object, bool]:
    return _ORIGINAL_LOADS(text, exact_integers=True)


def _same(a: object, b: object) -> bool:
    """Equal, NaN equal to NaN, and integers equal only to integers."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)  # type: ignore[attr-defined]
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    return a == b
