"""Phone numbers: national formats of the default regions, and "+" numbers in unassigned ranges.

A redactor that trusts libphonenumber alone leaks two classes: numbers written without a country
code (nobody sets a region), and international numbers in ranges libphonenumber does not deem
valid today. Both must be redacted by default, with nothing benign redacted along with them.
"""

from __future__ import annotations

import json
import random
import re

import phonenumbers
import pytest
from benign_corpus import benign_values
from phone_corpus import national_numbers, unassigned_numbers, unlisted_length_numbers

from otel_flywheel.errors import ConfigError
from otel_flywheel.privacy import (
    DEFAULT_PHONE_REGIONS,
    BuiltinDetector,
    RedactionAudit,
    build_redactor,
    find_all,
)

BUILTIN = BuiltinDetector()
TEMPLATES = (
    "call {} today",
    "Customer phone: {}.",
    "({})",
    "tel. {}, fax {}",
    '{{"phone": "{}"}}',
    "- mobile {}\n- home",
)


def found(text: str, detector: BuiltinDetector = BUILTIN) -> list[tuple[str, str]]:
    return [(m.kind, text[m.start : m.end]) for m in find_all(text, [detector])]


def assert_found_in_every_template(number: str) -> None:
    for index in range(len(TEMPLATES)):
        text, expected = placed(number, index)
        assert found(text) == expected, text


def placed(number: str, index: int) -> tuple[str, list[tuple[str, str]]]:
    template = TEMPLATES[index % len(TEMPLATES)]
    text = template.format(*[number] * template.count("{}"))
    return text, [("PHONE", number)] * template.count("{}")


def test_the_default_regions_are_presidios_and_the_large_markets() -> None:
    assert {"US", "GB", "DE", "FR", "IL", "IN", "CA", "BR"} <= set(DEFAULT_PHONE_REGIONS)
    assert {"ES", "IT", "NL", "JP"} <= set(DEFAULT_PHONE_REGIONS)
    assert BUILTIN.phone_regions == DEFAULT_PHONE_REGIONS


def test_national_formats_of_every_default_region_are_found_with_their_exact_span() -> None:
    numbers = national_numbers()
    misses = []
    for index, (region, number) in enumerate(numbers):
        text, expected = placed(number, index)
        if found(text) != expected:
            misses.append((region, text, found(text)))
    assert {region for region, _ in numbers} == set(DEFAULT_PHONE_REGIONS)
    assert len(numbers) >= 250
    assert misses == [], f"{len(misses)} of {len(numbers)} missed, first: {misses[:5]}"


def test_numbers_written_without_a_prefix_the_plan_calls_optional_are_found() -> None:
    # India formats "098123 45678" but writes mobiles and city numbers without the "0" as often
    # (libphonenumber: national_prefix_optional_when_formatting); exactly as formatted, spaces
    # included, since "86554-57000" is an order number's shape.
    rng = random.Random(53)
    written: set[str] = set()
    for start in ("6", "7", "8", "9", "11", "22", "33", "40", "44", "80", "120", "1412"):
        while sum(number.replace(" ", "").startswith(start) for number in written) < 3:
            digits = start + "".join(rng.choice("0123456789") for _ in range(10 - len(start)))
            number = phonenumbers.parse(digits, "IN")
            national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
            if phonenumbers.is_valid_number(number) and national.startswith("0"):
                written.add(national[1:])
    for number in sorted(written):
        for text in (f"Customer {number} called", f"reach: {number}", f'{{"to": "{number}"}}'):
            assert found(text) == [("PHONE", number)], text
    for text in ("confirmation 86554-57000", "ref 98123.45678", "SSN 900-12-3456"):
        assert found(text) == [], text


@pytest.mark.parametrize(
    "number",
    [
        "(415) 555-0132",
        "415-555-0132",
        "415.555.0132",
        "1-415-555-0132",
        "(415)555-0132 x204",
        "020 7946 0958",
        "(020) 7946 0958",
        "07700 900123",
        "030 901820",
        "(030) 901820",
        "030/901820",
        "0151 23456789",
        "01 42 68 53 00",
        "01.42.68.53.00",
        "06 12 34 56 78",
        "912 34 56 78",
        "06 1234 5678",
        "020 123 4567",
        "06-12345678",
        "(11) 91234-5678",
        "022 2345 6789",
        "03-1234-5678",
        "090-1234-5678",
        "03-123-4567",
        "050-123-4567",
    ],
)
def test_national_formats_people_write_are_found(number: str) -> None:
    assert found(f"call {number} today") == [("PHONE", number)]


def test_each_region_reads_its_own_national_numbers_and_no_others() -> None:
    french = "01 42 68 53 00"
    american = "(415) 555-0132"
    assert found(french, BuiltinDetector(phone_regions=["FR"])) == [("PHONE", french)]
    assert found(french, BuiltinDetector(phone_regions=["US"])) == []
    assert found(american, BuiltinDetector(phone_regions=["us"])) == [("PHONE", american)]
    assert found(american, BuiltinDetector(phone_regions=["FR"])) == []
    for number in (french, american):
        assert found(number, BuiltinDetector(phone_regions=())) == []  # international only
        assert found(f"+33 1 42 68 53 00 {number}", BuiltinDetector(phone_regions=())) == [
            ("PHONE", "+33 1 42 68 53 00")
        ]


def test_the_older_single_region_option_is_tried_first_and_keeps_the_defaults() -> None:
    detector = BuiltinDetector(default_phone_region="AU")
    assert detector.phone_regions == ("AU", *DEFAULT_PHONE_REGIONS)
    assert found("call (02) 9374 4000 now", detector) == [("PHONE", "(02) 9374 4000")]


def test_international_numbers_in_unassigned_ranges_are_redacted_fail_closed() -> None:
    numbers = unassigned_numbers()
    misses = []
    for index, (country_code, number) in enumerate(numbers):
        parsed = phonenumbers.parse(number.replace("00", "+", 1) if number[0] == "0" else number)
        assert not phonenumbers.is_valid_number(parsed), number  # the class under test
        text, expected = placed(number, index)
        if found(text) != expected:
            misses.append((country_code, text, found(text)))
    assert len({code for code, _ in numbers}) >= 200  # every country code phonenumbers knows
    assert misses == [], f"{len(misses)} of {len(numbers)} missed, first: {misses[:5]}"


def test_international_numbers_of_lengths_the_metadata_does_not_list_are_redacted() -> None:
    """Fail closed on the length too: a numbering plan changes (Nigeria's 8-digit Lagos numbers
    are not possible in today's metadata), and people leave the area code out. A country code
    and digit groups are redacted whatever length the metadata lists for that country."""
    numbers = unlisted_length_numbers()
    misses = []
    for index, (country_code, number) in enumerate(numbers):
        assert not phonenumbers.is_possible_number(phonenumbers.parse(number)), number
        text, expected = placed(number, index)
        if found(text) != expected:
            misses.append((country_code, text, found(text)))
    assert len(numbers) >= 120  # most country codes leave some length from 7 to 14 unlisted
    assert misses == [], f"{len(misses)} of {len(numbers)} missed, first: {misses[:5]}"


@pytest.mark.parametrize(
    "number",
    [
        "+1 (123) 456-7890",  # no NANP area code starts with 1: a placeholder, still phone-shaped
        "+1 555 0100",  # seven digits: a local number without its area code, still a number
        "+234 1 234 5678",  # Lagos before Nigeria's plan changed: a length no longer listed
        "+52 33 123 4567",  # Mexico's 8 digits before its 10-digit plan
        "+44 20 7946 09581",  # one digit too many: a typo still carries the number
        "+1-294-641-1771x5162",  # Faker's made-up area codes
        "+1 200 555 0132",
        "+44 20 0000 0000",
        "+44 (0)20 0000 0000",
        "+33.9.99.99.99.99",
        "+49 30 0000000",
        "001-335-504-9258",  # dialled from abroad ("00", most of the world)
        "011 44 20 0000 0000",  # dialled from North America
        "(018) 238-5454",
        "018-238-5454",
    ],
)
def test_phone_shaped_numbers_libphonenumber_deems_invalid_are_redacted(number: str) -> None:
    assert found(f"call {number} today") == [("PHONE", number)]


def test_brazilian_numbers_fail_closed_in_brazils_own_writing() -> None:
    # Area code (no zero in it), then 8 or 9 digits with a dash before the last four: assigned or
    # not, as Faker's pt_BR numbers mostly are not.
    br = BuiltinDetector(phone_regions=["BR"])
    for number in (
        "86 6232-8601",
        "(86) 6232-8601",
        "(86)6232-8601",
        "27 0119-8036",
        "11 91234-5678",
    ):
        assert found(f"ligue {number} hoje", br) == [("PHONE", number)], number
    for text in ("top 25 2019-2020", "vol. 12 1999-2000", "ref 10 2345-6789", "id 86 6232 8601"):
        assert found(text, br) == [], text


@pytest.mark.parametrize(
    "number",
    [
        "+44115 496 0177",  # the country code run into the area code, then a space
        "+441632 960 972",
        "+3157-4415988",  # or a dash
        "+4930 901820",
        "+4930-901820",
        "+33142 68 53 00",
        "+9198765 43210",
    ],
)
def test_a_country_code_run_into_the_area_code_is_still_read(number: str) -> None:
    assert found(f"call {number} today") == [("PHONE", number)]


def test_e164_numbers_of_unlisted_lengths_are_redacted_without_separators() -> None:
    """Written as E.164, without groups, 11 to 15 digits after the "+" are a phone number of a
    country code that exists, whatever length its plan lists ("+389" and ten digits)."""
    rng = random.Random(16)
    misses = []
    for country_code, number in unlisted_length_numbers():
        digits = re.sub(r"[^0-9]", "", number)
        if not 11 <= len(digits) <= 15:
            continue
        e164 = "+" + digits
        for index in (rng.randrange(len(TEMPLATES)),):
            text, expected = placed(e164, index)
            if found(text) != expected:
                misses.append((country_code, text))
    assert misses == [], misses[:5]


@pytest.mark.parametrize(
    "text", ["delta +12500000 rows", "x +1500000000 bytes", "id +99912345678901", "+1234 -5678"]
)
def test_unseparated_plus_numbers_shorter_than_e164s_or_without_a_country_keep_the_plan(
    text: str,
) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "+999 1234 5678",  # no country has the code 999
        "+1234 -5678",  # a diff stat
        "12 files changed, +8213 -6560",
        "delta +1500 2000",  # a number runs into no country code unless its length is possible
        "years +2024 2025",
        "+40.7128-074.0060/",  # ISO 6709 coordinates
        "+48.8566+002.3522/",
        "score +6003.17 (3317%)",
        "x + 14285714.286",
        "0123456789 and 9876543210",  # digit runs, not numbers
        "666-12-3456",  # an SSN's shape (never issued)
        "ISBN 0-101-96167-1",
        "case 004680583870",  # zero-padded id
        "batch 334/201, step 6426",
        "2024 01 15 and 15 01 2024",
        "20260722140213",
    ],
)
def test_numbers_that_only_look_like_phone_numbers_are_left_alone(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize("region", ["GB", "US", "FR", "DE", "BR", "JP", "PL", "ZA", "AU", "IN"])
@pytest.mark.parametrize("kind", [phonenumbers.PhoneNumberType.MOBILE, "FIXED_LINE"])
def test_a_space_after_the_plus_still_reads_as_an_international_number(
    region: str, kind: object
) -> None:
    number_type = getattr(phonenumbers.PhoneNumberType, kind) if isinstance(kind, str) else kind
    example = phonenumbers.example_number_for_type(region, number_type)
    written = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    spaced = written.replace("+", "+ ", 1)  # "+ 44 7400 123456"
    assert_found_in_every_template(spaced)


@pytest.mark.parametrize(
    "text",
    [
        "x + 14285714.286",
        "y = a + 4420 7946 0958",  # a sum of groups: the country code is not a group of its own
        "total + 1200 3400 5600",
        "n + 14155550132",  # one group: arithmetic on a number
        "offset + 44 20",  # too short
        "+ 999 1234 5678 9",  # no such country
        "count + 33 12 13",
    ],
)
def test_arithmetic_after_a_spaced_plus_is_left_alone(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    "number",
    [
        "06-1/237 8991",  # Budapest, trunk "06", area "1", then the number: not a date
        "06-9/217 4218",
        "06-46/597 971",
        "(14)/506-1231",  # an area code in parentheses, then a slash
        "(94)/032-6991",
        "06-1/237-8991",
    ],
)
def test_numbers_of_other_regions_with_slashes_are_found_after_words_naming_a_phone(
    number: str,
) -> None:
    for words in ("phone: {}", "Call me at {} tomorrow", '{{"notes": "callback {} after 5pm"}}'):
        text = words.format(number)
        assert found(text) == [("PHONE", number)], text


@pytest.mark.parametrize(
    "number",
    [
        "(351) 916 647 378",  # Portugal's calling code in parentheses, without its "+"
        "(351) 918096792",
        "(351) 211 393 095",
        "(44) 20 7946 0958",
        "(49) 30 901820",
        "(33) 6 12 34 56 78",
    ],
)
def test_a_calling_code_in_parentheses_before_a_valid_number_is_read(number: str) -> None:
    assert_found_in_every_template(number)


@pytest.mark.parametrize(
    "number",
    [
        "8 (912) 345-67-89",
        "8 (863) 528-64-57",
        "8 (058) 715-02-11",
        "8 912 345-67-89",
        "8 (495)123-45-67",
    ],
)
def test_russian_national_writing_is_read_in_every_region_set(number: str) -> None:
    # Trunk "8", then dashed pairs at the end: no other number is written so.
    assert_found_in_every_template(number)


@pytest.mark.parametrize(
    "text", ["18 (912) 345-67-89", "x8 (912) 345-67-89", "8 (912) 345-67-8", "step 8 (123) items"]
)
def test_near_russian_shapes_are_left(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "number"),
    [("התקשר אליי ב-050-865-0263", "050-865-0263"), ("אפשר להשיג אותי ב-054-1234567", "054-1234567"),
     ("שלח הודעה ל-03-6123456 בבוקר", "03-6123456"), ("התקשר אליי ב-00972 50 241 3671", "00972 50 241 3671")],
)  # fmt: skip
def test_a_number_after_a_hebrew_preposition_and_its_dash_is_read(text: str, number: str) -> None:
    # Hebrew glues "at" (ב), "to" (ל) to the number with a dash: not a range, not an id's part.
    assert [value for kind, value in found(text)] == [number]


@pytest.mark.parametrize(
    "text",
    ["Umsatz: 354.347.962 €", "Total : 354 347 962,50 €", "population 385.905.930",
     "price $ 354 347 962", "EUR 354 347 962", "354 347 962 euros", "R$ 354 347 962",
     "CEP 01310-100, São Paulo", '{"cep": "04538-133"}', "Your order number is 06968-789, thanks",
     "Your order number is 385 905 930, it ships tomorrow.", "Invoice #: 0612 345 678",
     "tracking no. 0612 34 56 78"],
)  # fmt: skip
def test_amounts_and_postal_codes_that_a_plan_would_read_are_left_alone(text: str) -> None:
    # Italy's plan reads "354 347 962" as a mobile and "01310100" as a landline: a currency,
    # cents, a thousands grouping by dots or a Brazilian postal code's shape say otherwise.
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "number"),
    [("Chiama il 354 347 962", "354 347 962"), ("tel 030.123.456", "030.123.456"),
     ("call 800 120 535 today", "800 120 535"),
     ("phones: 0612345678,0612345679", "0612345678")],
)  # fmt: skip
def test_the_same_digits_without_an_amounts_marks_are_still_read(text: str, number: str) -> None:
    assert ("PHONE", number) in found(text)


@pytest.mark.parametrize(
    ("text", "number"),
    [("GET /api/v2/customers/+14155550132/orders", "+14155550132"),
     ("see /contacts/+33612345678/edit", "+33612345678"),
     ("https://api.twilio.com/2010-04-01/Accounts/AC123/Calls/+14155550132.json", "+14155550132"),
     ("https://api.example.com/sms?to=+14155550132&body=hi", "+14155550132"),
     ("https://api.example.com/sms?To=+447911123456&From=x", "+447911123456"),
     ("llámame al 612.34.56.78", "612.34.56.78"), ('{"contact": "612.80.51.27"}', "612.80.51.27")],
)  # fmt: skip
def test_numbers_in_a_path_a_query_s_plus_and_spain_s_dots_are_read(text: str, number: str) -> None:
    # A path's segment (then more path or an extension), a query's value starting with "+" (not a
    # form-encoded space before digits), and a dotted 3-2-2-2 no dotted quad could be.
    assert ("PHONE", number) in found(text)


@pytest.mark.parametrize(
    "text",
    ["v+14155550132/abc", "x +14155550132.txt", "016.016.016.016", "ver 3.11.7.1",
     "https://x/search?q=a+b+c&page=2", "https://x/?expr=+5"],
)  # fmt: skip
def test_a_number_inside_a_token_or_a_dotted_quad_is_still_left(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize("text", ["ID-050-865-0263", "x-0501234567", "range 10-050-865-0263"])
def test_a_dash_after_a_latin_letter_or_a_digit_still_keeps_the_number_apart(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    "text",
    ["Smith (2019) 123-145", "(1) 2345 6789", "see (12) 34 56 78 90", "ratio (3) 1234 5678"],
)
def test_parentheses_before_numbers_that_no_calling_code_makes_valid_are_left(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    "date", ["15.01.2024", "1/15/24", "15-01-2024", "01/02/2024", "2024-01-15", "3.4.24"]
)
def test_dates_after_words_naming_a_phone_are_still_not_phone_numbers(date: str) -> None:
    # The date check reads a year of two or four digits; three-digit groups are a number's.
    assert found(f"phone: {date} (updated)") == []


def test_north_american_3_3_4_fails_closed_when_its_area_code_is_shaped_like_the_plans() -> None:
    # Faker and people make area codes up; dotted or spaced, the area code must start with 2-9 as
    # every one in the plan does, or three numbers in a row would be a phone number.
    us = BuiltinDetector(phone_regions=["US"])
    assert found("id 334.201.6426", us) == [("PHONE", "334.201.6426")]  # Alabama, in service
    for made_up in (
        "462.329.7288",
        "462 329 7288",
        "462 329-7288",
        "(462) 329 7288",
        "886.159.8190",
    ):
        assert found(f"id {made_up}", us) == [("PHONE", made_up)]
    assert found("id 1.462.329.7288", us) == [("PHONE", "1.462.329.7288")]
    assert found("id 018-238-5454", us) == [("PHONE", "018-238-5454")]  # dashed: any digits
    for not_the_plan in ("018.238.5454", "128 256 1024", "198.036.4942", "462 329.7288"):
        assert found(f"sizes {not_the_plan}", us) == [], not_the_plan


def test_benign_technical_values_stay_untouched_with_every_default_region() -> None:
    corpus = benign_values()
    for regions in (None, *((region,) for region in DEFAULT_PHONE_REGIONS)):
        detector = BuiltinDetector(phone_regions=regions)
        altered = [(family, value) for family, value in corpus if detector.find(value)]
        assert altered == [], (regions, altered[:5])


def test_phone_regions_come_from_the_privacy_settings(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    key = b"phone-regions-test-key-0123456789"
    french = "appelez le 01 42 68 53 00"

    only_us = build_redactor({"phone_regions": ["US"]}, key=key)
    defaults = build_redactor({}, key=key)
    none = build_redactor({"phone_regions": []}, key=key)
    assert only_us is not None
    assert defaults is not None
    assert none is not None

    assert only_us.redact_text(french, RedactionAudit()) == french
    assert none.redact_text(french, RedactionAudit()) == french
    audit = RedactionAudit()
    assert "01 42" not in str(defaults.redact_text(french, audit))
    assert audit.kinds == ("PHONE",)


@pytest.mark.parametrize(("region", "hint"), [("UK", "'GB'"), ("XX", "ISO 3166")])
def test_an_unknown_phone_region_is_a_config_error_naming_the_fix(region: str, hint: str) -> None:
    with pytest.raises(ConfigError, match=hint):
        BuiltinDetector(phone_regions=[region])
    with pytest.raises(ConfigError, match=hint):
        build_redactor({"phone_regions": ["US", region]}, key=b"k" * 32)


def test_a_phone_number_inside_json_is_redacted_and_the_json_stays_valid() -> None:
    redactor = build_redactor({}, key=b"k" * 32)
    assert redactor is not None
    document = json.dumps({"contacts": ["(415) 555-0132", "+44 20 0000 0000"], "n": 2})

    redacted = str(redactor.redact_text(document, RedactionAudit()))

    assert "555-0132" not in redacted
    assert "0000 0000" not in redacted
    assert json.loads(redacted)["n"] == 2


def test_regions_that_write_the_trunk_prefix_are_skipped_only_where_they_could_not_accept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The shortcuts that skip parsing a candidate written without its national prefix in a
    region that always writes it, or whose formats never write its digit groups, must not change
    a single answer: every national number of the
    corpus, every benign value, and digit groups shaped like log fields ("304 80052")."""
    from otel_flywheel.privacy import _phone_national as national

    candidates = {
        *(number for _, number in national_numbers()),
        *(value for _, value in benign_values()),
        *(
            f"{status} {size}"
            for status in (200, 304, 404, 500)
            for size in range(10_000, 99_999, 7919)
        ),
        *(f"{a} {b} {c}" for a in (12, 304, 5551) for b in (234, 4567) for c in (56, 7890, 12345)),
        *(
            f"{a}{sep}{b}"
            for a in ("20", "312", "404", "5551", "91234", "123456")
            for b in ("4567", "76435", "123456", "9876543", "34 5678", "345 6789")
            for sep in (" ", "-", ".", "/", ") ")
        ),
    }
    candidates = {c for c in candidates if c[:1].isdigit() or c[:1] == "("}
    regions = DEFAULT_PHONE_REGIONS

    national.national_is_phone.cache_clear()
    fast = {c: national.national_is_phone(c, regions) for c in candidates}
    national.national_is_phone.cache_clear()
    monkeypatch.setattr(
        national._Plan, "may_group_without_trunk", lambda self, digits, groups: True
    )
    monkeypatch.setattr(national._Untrunked, "regions_for", lambda self, found, groups, r: r)
    slow = {c: national.national_is_phone(c, regions) for c in candidates}
    national.national_is_phone.cache_clear()

    assert fast == slow
    assert sum(fast.values()) > 100  # the corpus's national numbers are in there


@pytest.mark.parametrize(
    "regions", [DEFAULT_PHONE_REGIONS, ("US",), ("GB", "DE"), ("BR", "IN", "JP"), ("IT", "IL")]
)
def test_the_regex_drops_only_candidates_no_region_reads_as_a_phone_number(
    regions: tuple[str, ...],
) -> None:
    """The scan's lookahead (from the regions' formats) fails only where national_is_phone says
    no in every region: every number it would accept passes it, status codes and byte counts
    do not."""
    from otel_flywheel.privacy import _phone_national as national

    lookahead = national.untrunked_lookahead(regions)
    assert lookahead is not None
    written = re.compile(lookahead)
    rng = random.Random(16)
    candidates = {number for _, number in national_numbers()}
    for _ in range(4000):  # digit groups of every shape, with every separator
        groups = [str(rng.randrange(10 ** (n - 1), 10**n)) for n in rng.choices(range(1, 7), k=3)]
        separator = rng.choice([" ", "-", ".", "/", "  ", " - "])
        candidates.add(separator.join(groups[: rng.randint(2, 3)]))
    accepted = 0
    for candidate in candidates:
        if not candidate[:1].isdigit() or candidate.startswith("0"):
            continue  # the lookahead is tried at a first digit that is not the trunk 0
        if national.national_is_phone(candidate, regions):
            accepted += 1
            assert written.match(candidate), candidate
    if "US" in regions:
        assert accepted > 20  # written without a trunk 0: 415-555-0132, 1-415-555-0132
    for status, size in (("404", "76435"), ("200", "18320"), ("304", "77518"), ("500", "123456")):
        text = f"{status} {size}\n"
        assert not national.national_is_phone(text.strip(), regions)
        if regions == DEFAULT_PHONE_REGIONS:
            assert not written.match(text), text


def test_format_shapes_and_leading_digits_are_read_from_the_metadata() -> None:
    from otel_flywheel.privacy._phone_shapes import digit_prefixes, layout_shapes

    assert layout_shapes(r"(\d{3})(\d{3,4})", r"\1 \2") == {(3, 3), (3, 4)}
    assert layout_shapes(r"(\d{2})(\d{4})", r"\1\2") == {(6,)}  # nothing between: one group
    assert layout_shapes(r"(\d+)", r"\1") is None  # unbounded: cannot be listed
    assert layout_shapes(r"(\d{3})", r"0\1") is None  # the layout writes a digit
    assert digit_prefixes(r"0[26]|5", 3) == {"02", "06", "5"}
    assert digit_prefixes(r"1(?:2[0-24]|3)", 3) == {"120", "121", "122", "124", "13"}
    assert digit_prefixes(r"[2-9]\d{2}", 2) == {f"{a}{b}" for a in "23456789" for b in "0123456789"}
    assert digit_prefixes(r"[^0]", 1) is None  # a negated class: not followed


# --- click-to-chat links ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("reach us on https://wa.me/14155550132?text=Hi", "14155550132"),
        ("wa.me/447946095800", "447946095800"),
        ("[WhatsApp](https://wa.me/5511912345678)", "5511912345678"),
        ("https://WA.ME/4915123456789.", "4915123456789"),
        ("chat: wa.me/919812345678, or call", "919812345678"),
    ],
)
def test_the_number_in_a_whatsapp_link_is_a_phone_number(text: str, number: str) -> None:
    assert found(text) == [("PHONE", number)]


@pytest.mark.parametrize(
    "text",
    ["wa.me/123", "https://wa.me/message/ABCDEF123", "wa.me/00000000", "wa.me/99912345678",
     "https://notwa.me.example/14155550132x"],
)  # fmt: skip
def test_whatsapp_links_without_a_number_are_left_alone(text: str) -> None:
    assert found(text) == []
