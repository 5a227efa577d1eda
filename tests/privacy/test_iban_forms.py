"""IBANs as forms and query strings lower them: after the word "IBAN", and under a key naming one."""

from __future__ import annotations

import json

import pytest
from faker import Faker
from masking import masked, masking_redactor

from otel_flywheel.privacy import RedactionAudit, Redactor

KEY = b"iban-forms-test-key-0123456789ab"
COMPACT = "DE89370400440532013000"


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return masking_redactor(KEY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("iban de89370400440532013000", "iban <IBAN>"),
        ("GET /pay?iban=de89370400440532013000&amount=10", "GET /pay?iban=<IBAN>&amount=10"),
        ("IBAN: gb82 west 1234 5698 7654 32", "IBAN: <IBAN>"),
        ("iban_number: De89-3704-0044-0532-0130-00.", "iban_number: <IBAN>."),
        ("my iban is fr1420041010050500013m02606", "my iban is <IBAN>"),
        ('"iban": "nl91abna0417164300"', '"iban": "<IBAN>"'),
        ("IBAN DE89370400440532013000", "IBAN <IBAN>"),  # upper case: the general branch
        # a word or two between, in the customer's language
        ("Meine IBAN ist de89 3704 0044 0532 0130 00", "Meine IBAN ist <IBAN>"),
        ("Meine IBAN lautet fr1420041010050500013m02606", "Meine IBAN lautet <IBAN>"),
        ("Mon IBAN est fr1420041010050500013m02606", "Mon IBAN est <IBAN>"),
        ("Mi IBAN es es9121000418450200051332", "Mi IBAN es <IBAN>"),
        ("Il mio IBAN è it60x0542811101000000123456", "Il mio IBAN è <IBAN>"),
        ("IBAN is now de89370400440532013000", "IBAN is now <IBAN>"),
        ("iban for refunds: nl91abna0417164300", "iban for refunds: <IBAN>"),
    ],
)
def test_an_iban_after_its_name_is_found_in_any_case(
    redactor: Redactor, text: str, expected: str
) -> None:
    assert masked(redactor, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "iban de89370400440532013001",  # checksum fails
        "iban: see attached",
        "libiban de89370400440532013000",  # not the word
        "iban xx89370400440532013000",  # no such country
        "de89370400440532013000",  # lower case without the word: an id
        "iban is not de89370400440532013001 but close",  # three words, and the checksum fails
        "the IBAN format is de plus twenty digits",
    ],
)
def test_near_misses_stay(redactor: Redactor, text: str) -> None:
    assert masked(redactor, text) == text


def test_an_iban_under_a_key_naming_one_is_replaced_whole_in_any_case(
    redactor: Redactor,
) -> None:
    document = {
        "iban": COMPACT.lower(),
        "customerIban": "gb82 west 1234 5698 7654 32",
        "iban_no": "fr14-2004-1010-0505-0001-3m02-606",
        "iban_status": "verified",
        "iban_check": "de89370400440532013001",
        "reference": COMPACT.lower(),  # not under a key that names it: an id
    }
    assert json.loads(masked(redactor, json.dumps(document))) == {
        **document,
        "iban": "<IBAN>",
        "customerIban": "<IBAN>",
        "iban_no": "<IBAN>",
    }
    attributes = redactor.redact_attributes(
        {"payment.iban": COMPACT.lower(), "ibank": "x"}, RedactionAudit()
    )
    assert attributes == {"payment.iban": "<IBAN>", "ibank": "x"}


def test_faker_ibans_of_many_countries_are_found_lowered_after_the_word(
    redactor: Redactor,
) -> None:
    locales = ["de_DE", "en_GB", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "pt_PT", "fi_FI"]
    fake = Faker(locales)
    fake.seed_instance(16)
    for index in range(200):
        iban = fake[locales[index % len(locales)]].iban().lower()
        assert masked(redactor, f"iban={iban}") == "iban=<IBAN>", iban
