"""Credentials told in words ("my password is hunter2"): found; sentences about credentials kept."""

from __future__ import annotations

import json

import pytest
from redacting import builtin_redactor, redacted

from otel_flywheel.privacy import Redactor

KEY = b"told-secrets-test-key-0123456789"


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return builtin_redactor(KEY)


PASSWORDS = [
    ("my password is {v}!", "hunter2"),
    ("My password is: {v}", "Tr0ub4dor&3"),
    ("The password is {v}.", "sunshine"),
    ("the password is '{v}'", "correct horse battery staple"),
    ('my password is "{v}" (without the quotes)', "p@ss w0rd"),
    ("password was {v}, I changed it since", "Winter2024"),
    ("my new password is now {v}", "Kx9#mQ2v"),
    ("PASSWORD IS {v}", "HUNTER22"),
    ("the passphrase is `{v}`", "blue-canoe-quietly"),
    ("my password is {v}\nthanks", "qwerty123"),
    ("the wifi password is {v}", "guest-2024"),
    ("the wifi password is {v}!", "guest-2024"),  # the sentence's "!" is not the password's
]

CODES = [
    ("my PIN is {v}", "4921"),
    ("the pin is {v}.", "839201"),
    ("your one-time code is {v}", "482913"),
    ("Your verification code is: {v}", "482 913"),
    ("the security code was {v}", "7731-0042"),
    ("2FA code is {v}", "559102"),
    ("my login code is {v}", "A7X9K2"),
    ("the passcode is {v}", "739201"),
    ("OTP is {v}", "019283"),
    ("the SMS code is {v}", "66 41 08"),
    ("access code is {v}", "20481999"),
]

KEYS = [
    ("the token is {v}", "8c1f2e3d4b5a69788f7e6d5c4b3a2910"),
    ("my API key is {v}", "a8F2kQ9xZ3mN7pL1"),
    ("the api key was {v}.", "4f9a2c7e1b8d3f6a"),
    ("Secret key is: {v}", "wJalrXUtnFEMI-K7MDENG-bPxRfiCY"),
    ("the secret is {v}", "c29tZS1zZWNyZXQtdmFsdWU9PQ12"),
    ("access key is {v}", "Zx81Kq02Lm93Np47"),
    ("the license key is {v}", "XK7Q-99PL-2MWN-8RTZ"),
]


@pytest.mark.parametrize(("template", "value"), PASSWORDS + CODES)
def test_a_password_pin_or_one_time_code_told_in_words_is_redacted(
    redactor: Redactor, template: str, value: str
) -> None:
    text, counts = redacted(redactor, template.format(v=value))
    assert value not in text
    assert counts == {"PASSWORD": 1}
    assert text == template.format(v="<PASSWORD>")  # the sentence around it is kept


@pytest.mark.parametrize(("template", "value"), KEYS)
def test_a_key_or_token_told_in_words_is_redacted(
    redactor: Redactor, template: str, value: str
) -> None:
    text, counts = redacted(redactor, template.format(v=value))
    assert value not in text
    assert sum(counts.values()) == 1


@pytest.mark.parametrize(
    "text",
    [
        # How a password is, not what it is.
        "Password is required",
        "the password is incorrect",
        "your password is too short",
        "my password is not working",
        "the password is case-sensitive",
        "password was reset yesterday",
        "the password is expired, please change it",
        "Your password is weak.",
        "the password is stored hashed",
        "the password is here: see the vault",
        "the password is different from the PIN",
        "the password is the same as before",
        "the password is valid for 90 days",
        "my password is being changed",
        "the password is missing",
        "the password is 'required'",
        "the password is ********",
        "password is <PASSWORD>",
        "the password is ${DB_PASSWORD}",
        "The password is: please contact your administrator",
        "the password is confidential",
        "the password is unique to each user",
        # Codes that are not credentials.
        "the code is below",
        "this code is ugly",
        "the error code is 404",
        "the zip code is 94103",
        "the status code was 503",
        "the country code is 44",
        "the PIN is 3",
        "GPIO pin is 17",
        "the spin is 4921 rpm",
        "the verification code is ready",
        "the one-time code is expired",
        # Keys and tokens that are not credentials.
        "the token is expired",
        "the token is null",
        "the api key is invalid",
        "the key is user_id",
        "the primary key is order_id",
        "the key is 12345678",
        "the secret is patience",
        "the secret is to keep going",
        "the token is process.env.TOKEN",
        "your API key is YOUR_API_KEY",
        "the next page token is abc123",
        "the island is beautiful",
        "password isn't working",
    ],
)
def test_sentences_about_credentials_are_kept(redactor: Redactor, text: str) -> None:
    assert redacted(redactor, text) == (text, {})


def test_a_password_told_inside_a_chat_request_json_is_redacted(redactor: Redactor) -> None:
    request = json.dumps(
        {
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You are the bank's support agent."},
                {
                    "role": "user",
                    "content": "I can't log in. My password is Sp4rrow!2024 and my PIN is 4921.",
                },
            ],
        }
    )
    text, counts = redacted(redactor, request)
    assert "Sp4rrow!2024" not in text
    assert "4921" not in text
    assert counts == {"PASSWORD": 2}
    assert json.loads(text)["messages"][1]["content"] == (
        "I can't log in. My password is <PASSWORD> and my PIN is <PASSWORD>."
    )


def test_a_key_told_in_words_keeps_its_vendor_kind(redactor: Redactor) -> None:
    key = "sk-proj-" + "a1B2" * 12
    text, counts = redacted(redactor, f"the API key is {key}")
    assert key not in text
    assert counts == {"OPENAI_KEY": 1}
