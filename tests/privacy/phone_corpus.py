"""Phone numbers in the two classes a redactor that trusts libphonenumber alone leaks.

- ``national_numbers``: written without a country code, the way people in each region write them:
  phonenumbers' NATIONAL format of valid numbers (fixed line, mobile, toll free) with the
  separators people swap in (dashes, dots, slashes, parentheses), Faker's own national spellings,
  and North American numbers whose area code does not exist (Faker invents them).
- ``unassigned_numbers``: international "+" numbers for every country code, of a length the
  country's plan allows, in ranges phonenumbers does not deem valid (not assigned today), spelled
  with spaces, dots, dashes, parentheses, extensions, or dialled with "00"/"011".

Deterministic for a seed: the leak test, the detector tests and the false-positive checks see the
same numbers on every run.
"""

from __future__ import annotations

import random
import re

import phonenumbers
from faker import Faker

__all__ = [
    "FAKER_LOCALES",
    "REGIONS",
    "national_numbers",
    "unassigned_numbers",
    "unlisted_length_numbers",
]

REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "BR", "IN", "JP", "IL", "CA")
FAKER_LOCALES = {
    "en_US": "US",
    "en_GB": "GB",
    "de_DE": "DE",
    "fr_FR": "FR",
    "es_ES": "ES",
    "it_IT": "IT",
    "nl_NL": "NL",
    "pt_BR": "BR",
    "en_IN": "IN",
    "ja_JP": "JP",
    "he_IL": "IL",
    "en_CA": "CA",
}
_TYPES = (
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
)
_FORMAT = phonenumbers.PhoneNumberFormat


def _valid_like(
    example: phonenumbers.PhoneNumber, rng: random.Random
) -> phonenumbers.PhoneNumber | None:
    """A valid number of the example's type, with random subscriber digits."""
    national = phonenumbers.national_significant_number(example)  # Italy's leading 0 included
    for _ in range(100):
        digits = national[:-4] + "".join(rng.choice("0123456789") for _ in range(4))
        number = phonenumbers.parse(f"+{example.country_code}{digits}", None)
        if phonenumbers.is_valid_number(number):
            return number
    return None


def _respelled(national: str, rng: random.Random) -> str:
    """The same digit groups with the separators people also use."""
    return rng.choice(
        [
            national,
            national.replace(" ", "-"),
            national.replace(" ", "."),
            re.sub(r"^(0[0-9]+) ", r"(\1) ", national),  # "(030) 901820", "(0121) 234 4179"
            re.sub(r"^(0[0-9]+) ", r"\1/", national),  # "030/901820"
        ]
    )


def _written_nationally(text: str) -> bool:
    """Separators or a leading "0": a bare digit run is an id, and left alone by design."""
    return text[0] in "0(" or any(c in " .-/" for c in text)


def national_numbers(seed: int = 41, per_region: int = 24) -> list[tuple[str, str]]:
    """``(region, number as written)``: about ``per_region`` per region, several formats each."""
    rng = random.Random(seed)
    numbers: list[tuple[str, str]] = []
    for region in REGIONS:
        made: list[str] = []
        examples = [e for t in _TYPES if (e := phonenumbers.example_number_for_type(region, t))]
        while len(made) < per_region // 2:
            number = _valid_like(rng.choice(examples), rng)
            if number is not None:
                made.append(_respelled(phonenumbers.format_number(number, _FORMAT.NATIONAL), rng))
        if region in ("US", "CA"):
            made += [_nanp(rng) for _ in range(per_region // 4)]
        numbers += [(region, text) for text in made]
    numbers += _faker_national(seed, per_region // 2)
    return list(dict.fromkeys(numbers))


def _nanp(rng: random.Random) -> str:
    """North American spellings, area code and exchange made up as Faker makes them up: any
    digits with parentheses or dashes; dotted or spaced, the area code starting with 2-9."""
    area, exchange, line = (
        f"{rng.randrange(1000):03d}",
        f"{rng.randrange(1000):03d}",
        f"{rng.randrange(10000):04d}",
    )
    planned_area, planned_exchange = f"{rng.randrange(200, 1000)}", exchange
    return rng.choice(
        [
            f"{planned_area}.{planned_exchange}.{line}",
            f"{planned_area}.{planned_exchange}.{line}x{rng.randrange(1, 999)}",
            f"1.{planned_area}.{planned_exchange}.{line}",
            f"{planned_area} {planned_exchange} {line}",
            f"{planned_area} {planned_exchange}-{line}",
            f"({planned_area}) {planned_exchange} {line}",
            f"({area}) {exchange}-{line}",
            f"({area}){exchange}-{line}",
            f"{area}-{exchange}-{line}",
            f"1-{area}-{exchange}-{line}",
            f"({area}) {exchange}-{line} x{rng.randrange(1, 9999)}",
            f"{area}-{exchange}-{line}x{rng.randrange(1, 999)}",
        ]
    )


def _faker_national(seed: int, per_locale: int) -> list[tuple[str, str]]:
    """Faker's own national spellings that are valid numbers (Faker invents many that are not)."""
    faker = Faker(list(FAKER_LOCALES))
    faker.seed_instance(seed)
    out: list[tuple[str, str]] = []
    for locale, region in FAKER_LOCALES.items():
        kept = 0
        for _ in range(400):
            raw = faker[locale].phone_number()
            if raw.startswith("+") or not _written_nationally(raw):
                continue
            try:
                number = phonenumbers.parse(raw, region)
            except phonenumbers.NumberParseException:
                continue
            own_country = number.country_code == phonenumbers.country_code_for_region(region)
            if own_country and phonenumbers.is_valid_number(number):  # not "(0049) ..." abroad
                out.append((region, raw))
                kept += 1
                if kept == per_locale:
                    break
    return out


def _unassigned(country_code: int, rng: random.Random) -> str | None:
    """Digits of a possible but not valid national number for ``country_code``, or None."""
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None or metadata.general_desc is None:
        return None
    lengths = [
        n for n in metadata.general_desc.possible_length if 5 <= n <= 15 - len(str(country_code))
    ]
    for _ in range(200):
        if not lengths:
            return None
        length = rng.choice(lengths)
        digits = str(rng.randrange(1, 10)) + "".join(
            rng.choice("0123456789") for _ in range(length - 1)
        )
        number = phonenumbers.parse(f"+{country_code}{digits}", None)
        possible = phonenumbers.is_possible_number_with_reason(number)
        if possible == phonenumbers.ValidationResult.IS_POSSIBLE and not (
            phonenumbers.is_valid_number(number)
        ):
            return digits
    return None


def _grouped(digits: str, rng: random.Random) -> list[str]:
    """Groups of 2-4 digits, as a person would break an unfamiliar number."""
    groups: list[str] = []
    rest = digits
    while rest:
        size = len(rest) if len(rest) <= 4 else rng.choice((2, 3, 3, 4))
        groups.append(rest[:size])
        rest = rest[size:]
    return groups


def _in_groups(cc: str, groups: list[str]) -> list[str]:
    """A number after its country code ``cc`` in the groups people write: spaced, dashed,
    dotted, the first group apart and the rest dashed, and (three groups or more) the first in
    parentheses."""
    spellings = [
        f"{cc} {' '.join(groups)}",
        f"{cc}-{'-'.join(groups)}",
        f"{cc}.{'.'.join(groups)}",
        f"{cc} {groups[0]} {'-'.join(groups[1:])}",
    ]
    if len(groups) > 2:
        spellings.append(f"{cc} ({groups[0]}) {' '.join(groups[1:])}")
    return spellings


def unassigned_numbers(seed: int = 43) -> list[tuple[int, str]]:
    """``(country code, number as written)``: one or two spellings for every country code."""
    rng = random.Random(seed)
    numbers: list[tuple[int, str]] = []
    for country_code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        for _ in range(2):
            digits = _unassigned(country_code, rng)
            if digits is None:
                continue
            groups = _grouped(digits, rng)
            cc = f"+{country_code}"
            spelled = rng.choice(
                [
                    *_in_groups(cc, groups),
                    f"{cc}{digits}",
                    f"{cc} {' '.join(groups)} x{rng.randrange(1, 9999)}",
                    f"{cc} {' '.join(groups)} ext. {rng.randrange(1, 999)}",
                    f"{cc}{digits};ext={rng.randrange(1, 99)}",
                    f"00{country_code} {' '.join(groups)}",
                ]
            )
            numbers.append((country_code, spelled))
    return numbers


def unlisted_length_numbers(seed: int = 47) -> list[tuple[int, str]]:
    """``(country code, number as written)``: for every country code, a national number of a
    length its metadata does not list as possible today (a plan that changed, a local number
    without its area code), 7 to 14 digits, written in groups after the country code."""
    rng = random.Random(seed)
    numbers: list[tuple[int, str]] = []
    for country_code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        region = phonenumbers.region_code_for_country_code(country_code)
        metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
            country_code, region
        )
        if metadata is None or metadata.general_desc is None:
            continue
        listed = set(metadata.general_desc.possible_length)
        lengths = [n for n in range(7, 16 - len(str(country_code))) if n not in listed]
        if not lengths:
            continue
        length = rng.choice(lengths)
        digits = str(rng.randrange(2, 10)) + "".join(
            rng.choice("0123456789") for _ in range(length - 1)
        )
        groups = _grouped(digits, rng)
        cc = f"+{country_code}"
        spelled = rng.choice(
            _in_groups(cc, groups) + ([] if len(groups) > 2 else [f"{cc} {digits}"])
        )
        if _metadata_reads(spelled) or any(
            _metadata_reads(spelled.rsplit(" ", cut)[0]) for cut in range(1, spelled.count(" "))
        ):
            # Phonenumbers reads it another way (a prefix stripped), or reads the number without
            # its last groups: then those are taken for what follows it ("+44 20 7946 0958 12
            # items"), a choice of their own, tested apart.
            continue
        numbers.append((country_code, spelled))
    return numbers


def _metadata_reads(spelled: str) -> bool:
    try:
        number = phonenumbers.parse(spelled, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(number) or phonenumbers.is_valid_number(number)
