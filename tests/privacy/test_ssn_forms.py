"""A US Social Security number is found however its digits are grouped, where words or a key
name it.

``123-45-6789`` was always found: the dashed shape says what it is. Written ``123456789``,
``123 45 6789`` or ``123.45.6789`` the digits are an id's as often as not, so they are an SSN
only after the words that name one ("SSN", "social security number", "my social is", "soc. sec.
#") or under a key that does
(``{"ssn": "123456789"}``, ``user.ssn``). The SSA's never-issued ranges stay out in every form.
"""

from __future__ import annotations

import json
import random

import pytest
from key_fields import assert_redacted_as_written, redact, tool_span_both_ways

from otel_flywheel.privacy import BuiltinDetector


@pytest.mark.parametrize(
    "template",
    ["SSN {}", "SSN: {}", "ssn={}", "SSN#{}", "SSN no. {}", "ssn is {}", "Social Security Number: {}",
     "social security no {}", "customer_ssn={}", '"ssn": "{}"', "SSN ({})", "Social-Security # {}",
     "my social is {}", "Social: {}", "social {}", "SOCIAL #{}", "soc sec # {}", "Soc. Sec. No. {}",
     "soc-sec: {}", "social security number is {}", "her social security {}",
     "**SSN:** {}", "**SSN**: {}", "| SSN | {} |", "<ssn>{}</ssn>", "<SSN>{}</SSN>",
     "| Social Security Number | {} |", "| **SSN** | {} |"],
)  # fmt: skip
@pytest.mark.parametrize("digits", ["123456789", "123 45 6789", "123.45.6789", "123 - 45 - 6789"])
def test_an_ssn_after_the_words_naming_it_is_found_however_grouped(
    template: str, digits: str
) -> None:
    assert_redacted_as_written(template.format(digits), digits, "SSN")


@pytest.mark.parametrize(
    "text",
    [
        "SSN 000123456", "SSN 666123456", "SSN 912345678", "SSN 123006789", "SSN 123450000",
        "SSN 1234567890", "SSN 12345678", "SSN 123 456 789", "SSN 123.45-6789",
        "assn 123456789", "ssn_count=123456789", "SSNs: 123456789 were checked",
        "order 123456789", "SSN last four: 6789", "SSN ***-**-6789",
        "social media 123456789", "social 123 456 789", "social_count=123456789",
        "social 12345678", "Society 123456789", "socket 123456789", "asocial 123456789",
        "social: 912345678",
        "<ssn_last4>6789</ssn_last4>", "| SSN | ***-**-6789 |", "**SSN:** 12345678",
    ],
)  # fmt: skip
def test_other_digits_near_the_words_are_left_alone(text: str) -> None:
    assert BuiltinDetector().find(text) == []


@pytest.mark.parametrize(
    "key",
    ["ssn", "SSN", "customer_ssn", "customerSsn", "social_security_number", "socialSecurityNo"],
)
@pytest.mark.parametrize("value", ["123456789", "123-45-6789", "123 45 6789", 123456789, 12345678])
def test_a_field_or_attribute_naming_an_ssn_is_redacted_whole(key: str, value: str | int) -> None:
    output, counts = redact(json.dumps({"name": "case 7", key: value}))
    assert counts == {"SSN": 1}
    redacted = json.loads(output)
    assert redacted["name"] == "case 7"
    assert redacted[key].startswith("<SSN:")
    exported, trace = tool_span_both_ways("lookup_customer", {key: value})
    assert exported.attributes is not None
    assert str(exported.attributes[key]).startswith("<SSN:")
    assert str(value) not in trace.to_json()


@pytest.mark.parametrize(
    "document",
    [
        {"ssn_verified": True, "ssn_last4": "6789", "assn": "123456789"},
        {"ssn": "N/A", "social_security_number": "***-**-6789"},
        {"ssn": "000123456", "SSN": 912345678, "customer_ssn": "12345"},
    ],
)
def test_other_values_and_keys_are_left_alone(document: object) -> None:
    text = json.dumps(document)
    assert redact(text) == (text, {})


def test_generated_ssns_in_generated_sentences_are_all_found() -> None:
    rng = random.Random(1208)
    words = ("SSN", "ssn:", "SSN#", "Social Security Number", "social security no.", "ssn =",
             "social is", "soc. sec. #")  # fmt: skip
    for _ in range(300):
        area = rng.choice([n for n in range(1, 900) if n != 666])
        digits = f"{area:03d}{rng.randrange(1, 100):02d}{rng.randrange(1, 10000):04d}"
        sep = rng.choice(("", " ", ".", "-", " - "))
        written = f"{digits[:3]}{sep}{digits[3:5]}{sep}{digits[5:]}"
        line = f"Verified {rng.choice(words)} {written} for claim {rng.randrange(10**6)}."
        output, counts = redact(line)
        assert written not in output, line
        assert counts == {"SSN": 1}, line
