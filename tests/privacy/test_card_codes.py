"""A card's security code, a PIN and a one-time code are found where a label names them.

A payment tool's arguments carry the card's CVC beside its number (``{"number": ..., "cvc":
"123"}``), a support chat carries "CVV: 123" and "PIN: 4921", a login flow's span carries the
code a user typed. The number was always redacted; these few digits went out as written. They
are found under a key that names them, after their label in text (with a colon, an equals sign,
Markdown or XML around it, or a space after a card code's own words), and told in words ("the
CVV is 123"). Digits that only sit near such words (error codes, zip codes, GPIO pins, a check's
result) stay.
"""

from __future__ import annotations

import json
import re

import pytest
from key_fields import assert_redacted_as_written, redact, tool_span_both_ways

from otel_flywheel.privacy import BuiltinDetector


@pytest.mark.parametrize(
    "template",
    ["CVV: {}", "cvv={}", "CVC {}", "cvc2: {}", "CVV2 {}", "exp 12/28 cvv {}", "CVN# {}",
     "security code: {}", "Card Security Code: {}", "card verification code = {}",
     "**CVV:** {}", "| CVC | {} |", "<cvv>{}</cvv>", "cardCvv: {}", "card_cvc={}",
     "the CVV is {}", "my cvv is {}", 'cvc: "{}"', "securityCode: '{}'"],
)  # fmt: skip
@pytest.mark.parametrize("digits", ["123", "4567"])
def test_a_card_code_after_its_label_is_found(template: str, digits: str) -> None:
    assert_redacted_as_written(template.format(digits), digits, "PASSWORD")


@pytest.mark.parametrize(
    ("text", "code"),
    [("PIN: 4921", "4921"), ("pin=492113", "492113"), ("card_pin: 4921", "4921"),
     ("OTP: 482913", "482913"), ("otp=482 913", "482 913"), ("TOTP: 482913", "482913"),
     ("passcode: 7731-0042", "7731-0042"), ("one-time code: 482913", "482913"),
     ("verification code: 482913", "482913"), ("Verification_Code=A7X9K2", "A7X9K2"),
     ("2FA code: 482913", "482913"), ("SMS code: 4829", "4829"), ("login code = 482913", "482913"),
     ("**PIN:** 4921", "4921"), ("| OTP | 482913 |", "482913"), ("<pin>4921</pin>", "4921"),
     ("mfaCode: 482913", "482913"), ("security code: 48291377", "48291377")],
)  # fmt: skip
def test_a_pin_or_a_one_time_code_after_its_label_is_found(text: str, code: str) -> None:
    assert_redacted_as_written(text, code, "PASSWORD")


@pytest.mark.parametrize(
    "text",
    ["CVV check passed", "cvv_result: M", "cvv: required", "CVV: 12", "CVV: 12345",
     "cvv: 123.45", "cvv: 1234abc", "CVVs: 123 were checked",
     "error code: 404", "status_code=200", "zip code: 94103", "exit code: 1", "code: 1234",
     "barcode: 4006381333931", "xcode: 1234", "country code: 44", "promo code: SAVE20",
     "GPIO pin: 17", "pin: 12", "spin: 4921", "opinion: 1234", "PIN 4921 items",
     "pinned: 12345678", "OTP: sent", "otp_enabled: 1234", "the code is 4921",
     "security code: 12", "card security code 123", "| Card | 4 items |", "<pin/>1234"],
)  # fmt: skip
def test_other_digits_near_the_words_are_left_alone(text: str) -> None:
    assert BuiltinDetector().find(text) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [("cvv", "123"), ("cvc", 123), ("cvv2", "4567"), ("card_cvc", "123"), ("cardCvv", 4567),
     ("securityCode", "123"), ("card_security_code", "123"), ("card_verification_code", "123"),
     ("pin", "4921"), ("card_pin", 4921), ("pinNumber", "492113"), ("otp", "482913"),
     ("otp_code", "482 913"), ("totp", "482913"), ("passcode", "77310042"),
     ("verification_code", "A7X9K2"), ("one_time_code", "482913"), ("mfaCode", "482913"),
     ("two_fa_code", "482913"), ("sms_code", 4829), ("security_code", "48291377")],
)  # fmt: skip
def test_a_field_or_attribute_naming_a_code_is_redacted_whole(key: str, value: str | int) -> None:
    output, counts = redact(json.dumps({"name": "case 7", key: value}))
    assert counts == {"PASSWORD": 1}, key
    redacted = json.loads(output)
    assert redacted["name"] == "case 7"
    assert redacted[key] == "<PASSWORD>"
    exported, trace = tool_span_both_ways("charge_card", {key: value})
    assert exported.attributes is not None
    assert exported.attributes[key] == "<PASSWORD>"
    assert f'"{value}"' not in trace.to_json()


@pytest.mark.parametrize(
    "document",
    [
        {"cvc_check": "pass", "cvv_result": "M", "address_line1_check": "pass"},
        {"cvv": "required", "cvc": None, "pin": True, "otp": "sent", "cvv2": ""},
        {"cvc": "12", "cvv": 12345, "pin": 12, "otp": "48", "security_code": "ab"},
        {"pincode": "560001", "pin_code": 560001, "pinned": 1234, "pin_count": 4},
        {"otp_enabled": True, "otp_length": 6, "code": "4921", "status_code": 200},
        {"error_code": "4040", "zip_code": "94103", "country_code": "44"},
    ],
)
def test_other_values_and_keys_are_left_alone(document: object) -> None:
    text = json.dumps(document)
    assert redact(text) == (text, {})


def test_a_payment_tool_s_card_never_leaves_with_its_code() -> None:
    arguments = {
        "amount": 4999,
        "currency": "usd",
        "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "314"},
        "billing": {"name": "Case 7", "postal_code": "94103"},
    }
    exported, trace = tool_span_both_ways(
        "create_payment", {"input.value": json.dumps(arguments), "tool.name": "create_payment"}
    )
    assert exported.attributes is not None
    redacted = json.loads(str(exported.attributes["input.value"]))
    assert redacted["card"]["cvc"] == "<PASSWORD>"
    assert redacted["card"]["number"].startswith("<CARD:")
    assert redacted["card"]["exp_month"] == 12
    assert redacted["billing"]["postal_code"] == "94103"
    assert redacted["amount"] == 4999
    for written in (exported.to_json(), trace.to_json()):
        # Standing alone: span ids and timestamps hold the digits "314" one run in ten.
        assert re.search(r"(?<![0-9A-Za-z])314(?![0-9A-Za-z])", written) is None
        assert "4242424242424242" not in written
