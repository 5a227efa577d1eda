"""Bare digits are a phone number where a key or the words before them say so.

A bare run of digits in text is an id far more often than a phone number, so "order 4155550132"
is left alone. The same digits as a CRM record's ``"phone"`` field, a tool argument
``phone_number`` or a ``user.phone`` attribute are the customer's number: the key says so. Keys
are read at their end ("customerPhone", "mobile_no", "tel"); the value must be digits and phone
separators (or an integer) of 7 to 15 digits, so "N/A", "true" and counts stay. In text, the
words right before the digits do the same ("phone: 4155550132", "call me at 4155550132").
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from key_fields import redact, redactor, tool_span_both_ways

from otel_flywheel.privacy import BuiltinDetector, RedactionAudit
from otel_flywheel.privacy._detectors import KIND_PHONE

NUMBER = "4155550132"


def test_bare_digits_in_text_stay_an_id() -> None:
    assert redact(f"order {NUMBER} shipped") == (f"order {NUMBER} shipped", {})


@pytest.mark.parametrize(
    "key",
    ["phone", "Phone", "PHONE", "phone_number", "phoneNumber", "PhoneNumber", "phone-no",
     "customer_phone", "customerPhone", "contact.phone", "mobile", "mobile_no", "mobileNumber",
     "cell", "cellphone", "cell_phone", "telephone", "tel", "Tel", "fax", "fax_nr", "msisdn",
     "Phone Number", "whatsapp", "WhatsApp", "whatsapp_number", "sms_number", "callerId",
     "caller_id", "telefono", "Telefon", "telefone", "téléphone", "celular", "movil", "móvil",
     "Handy", "Handynummer", "telefon_nummer", "telefono_numero", "telemóvel", "cellulare", "numero_cellulare", "kunde_telefon"],
)  # fmt: skip
def test_a_json_field_naming_a_phone_number_is_redacted(key: str) -> None:
    document = {"name": "Jane", key: NUMBER, "order": 1042}
    output, counts = redact(json.dumps(document))
    assert NUMBER not in output
    assert counts == {"PHONE": 1}
    redacted = json.loads(output)
    assert redacted[key].startswith("<PHONE:")
    assert (redacted["name"], redacted["order"]) == ("Jane", 1042)


@pytest.mark.parametrize(
    "value",
    [NUMBER, "415 555 0132", "415.555.0132", "+14155550132", "0044 7700 900123",
     "(415)5550132", "4155550132 ext. 12", " 4155550132 ", "5550132", "861380013800012"],
)  # fmt: skip
def test_phone_shaped_values_under_a_phone_key_are_redacted_whole(value: str) -> None:
    output, counts = redact(json.dumps({"phone": value}))
    assert json.loads(output)["phone"].startswith("<PHONE:")
    assert counts == {"PHONE": 1}


def test_a_phone_number_written_as_an_integer_becomes_its_token() -> None:
    output, counts = redact(json.dumps({"customer": {"phone": int(NUMBER), "visits": 12}}))
    assert NUMBER not in output
    assert counts == {"PHONE": 1}
    customer = json.loads(output)["customer"]
    assert customer["phone"].startswith("<PHONE:")
    assert customer["visits"] == 12


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("phone", "N/A"),
        ("phone", ""),
        ("phone", "unknown"),
        ("phone", "call after 5pm"),
        ("phone", "123456"),  # six digits: too short for a number
        ("phone", "1234567890123456"),  # sixteen: longer than E.164 allows
        ("phone", "v1.2.3"),
        ("phone_verified", NUMBER),
        ("phone_count", "3"),
        ("smartphone", NUMBER),
        ("iphone_model", "15"),
        ("hotel", NUMBER),
        ("motel_no", NUMBER),
        ("cells", NUMBER),
        ("order_number", NUMBER),
        ("sms_enabled", NUMBER),
        ("sms_count", NUMBER),
        ("telefonica_id", NUMBER),
        ("contact", NUMBER),  # bare digits under "contact": as often a record's id
        ("contact", "2024-01-05"),
        ("contact", "05.01.2024"),
        ("contact", "N/A"),
        ("contact_id", "22 383 47 01"),
        ("contacts", "22 383 47 01"),
        ("outreach", "22 383 47 01"),
        ("reachable", "22 383 47 01"),
    ],
)
def test_other_values_and_other_keys_are_left_alone(key: str, value: str) -> None:
    text = json.dumps({key: value})
    assert redact(text) == (text, {})


# A list of strings under the key is read item by item (test_http_headers.py), as an attribute's
# array is: {"phone": ["4155550132"]} holds a phone number.
# Numbers written the way their countries write them, in no default region: under a key that says
# how to reach someone, a number written as a phone number is one.
@pytest.mark.parametrize(
    "key", ["contact", "Contact", "contact_info", "contactDetails", "customer.contact", "reach_at"]
)
@pytest.mark.parametrize(
    "value",
    ["22 383 47 01", "487 78 932", "+48 22 383 47 01", "(11) 91234-5678", "8 730 024 58 92",
     "0532 123 45 67", "+4155550132"],
)  # fmt: skip
def test_a_number_written_as_a_phone_under_a_contact_key_is_redacted(key: str, value: str) -> None:
    output, counts = redact(json.dumps({key: value, "name": "Jane"}))
    redacted = json.loads(output)
    assert redacted[key].startswith("<PHONE:")
    assert redacted["name"] == "Jane"
    assert counts == {"PHONE": 1}


@pytest.mark.parametrize(
    ("value", "kind"),
    [("10.20.30.40", "IP_ADDRESS"), ("123-45-6789", "SSN"), ("3782 822463 10005", "CARD"),
     ("4111 1111 1111 1111", "CARD"), ("jane@example.com", "EMAIL"), ("+86 138 0013 8000", "PHONE")],
)  # fmt: skip
def test_other_values_under_a_contact_key_keep_their_own_kind(value: str, kind: str) -> None:
    output, counts = redact(json.dumps({"contact": value}))
    assert counts == {kind: 1}
    assert json.loads(output)["contact"].startswith(f"<{kind}")


@pytest.mark.parametrize("value", [12, True, 4155550132.0, -4155550132, None, [12, NUMBER]])
def test_non_numbers_under_a_phone_key_are_left_to_the_scan(value: object) -> None:
    text = json.dumps({"phone": value})
    assert redact(text) == (text, {})


@pytest.mark.parametrize(
    "document",
    [
        {"customers": [{"name": "A", "phone": NUMBER}, {"name": "B", "phone": "4155550199"}]},
        {"phone": NUMBER, "page": "lorem ipsum " * 500},  # a large document: rebuilt
        {"phone": NUMBER, "notes": "reference " + NUMBER},  # the same digits elsewhere
    ],
    ids=["in a list", "in a large document", "beside the same digits"],
)
def test_phone_fields_are_redacted_wherever_they_sit_and_only_there(
    document: dict[str, Any],
) -> None:
    output, counts = redact(json.dumps(document))
    redacted = json.loads(output)
    assert counts["PHONE"] >= 1
    if "customers" in redacted:
        assert all(c["phone"].startswith("<PHONE:") for c in redacted["customers"])
    else:
        assert redacted["phone"].startswith("<PHONE:")
    if "notes" in redacted:
        assert redacted["notes"] == "reference " + NUMBER  # a bare id in text, as before


def test_attributes_naming_a_phone_number_are_redacted_and_others_kept() -> None:
    audit = RedactionAudit()
    redacted = redactor().redact_attributes(
        {
            "user.phone": NUMBER,
            "customer.phone_number": int(NUMBER),
            "phone.count": "3",
            "app.mobile": "true",
            "order.id": NUMBER,
        },
        audit,
    )
    assert redacted["user.phone"].startswith("<PHONE:")
    assert redacted["customer.phone_number"] == redacted["user.phone"]  # one number, one token
    assert (redacted["phone.count"], redacted["app.mobile"], redacted["order.id"]) == (
        "3",
        "true",
        NUMBER,
    )
    assert dict(audit.counts) == {"PHONE": 2}


def test_the_phone_mode_applies() -> None:
    masked = redactor(modes={"PHONE": "mask"})
    assert redact(json.dumps({"phone": NUMBER}), masked)[0] == json.dumps({"phone": "<PHONE>"})
    dropped = redactor(modes={"PHONE": "drop"})
    assert dropped.redact_attributes(
        {"user.phone": NUMBER, "user.tier": "gold"}, RedactionAudit()
    ) == {"user.tier": "gold"}


def test_an_allow_listed_phone_key_is_kept() -> None:
    r = redactor(allow_keys=["support.phone"])
    assert r.redact_attributes({"support.phone": "8005550199"}, RedactionAudit()) == {
        "support.phone": "8005550199"
    }


def test_a_lookup_tool_with_a_phone_argument_never_reaches_the_exporter_or_the_flywheel() -> None:
    arguments = json.dumps({"phone_number": NUMBER, "limit": 5})
    result = json.dumps([{"id": "C-77", "name": "Jane", "phone": int(NUMBER)}])
    exported, trace = tool_span_both_ways(
        "find_customer",
        {"input.value": arguments, "output.value": result, "customer.phone": NUMBER},
    )

    assert NUMBER not in exported.to_json()
    assert exported.attributes is not None
    assert exported.attributes["flywheel.redaction.count"] == 3
    assert NUMBER not in trace.to_json()
    tool = trace.steps[0].tool
    assert tool is not None
    assert tool.arguments["limit"] == 5
    assert tool.arguments["phone_number"].startswith("<PHONE:")


# --- in text: the words before the digits --------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [f"phone: {NUMBER}", f"Phone number: {NUMBER}.", f"PHONE NO. {NUMBER}", f"my number is {NUMBER}",
     f"My phone number is {NUMBER}", f"call me at {NUMBER} tomorrow", f"Text me on {NUMBER}",
     f"reach me at {NUMBER}", f"Tel. {NUMBER}", f"tel:{NUMBER}", f"mobile={NUMBER}&lang=en",
     f'"mobile": "{NUMBER}"', f"cell # {NUMBER}", f"fax: {NUMBER}", f"WhatsApp {NUMBER}",
     f"phone-number: {NUMBER}", "Phone: 5550132", f"the phone {NUMBER} rang",
     f"phone:\n{NUMBER}", f'"phone": "{NUMBER}"',
     # how a call is reported, and the words of support tickets and other languages
     f"Customer called from {NUMBER} yesterday", f"called me on {NUMBER}", f"calling from {NUMBER}",
     f"call us at {NUMBER}", f"texted me from {NUMBER}", f"callback {NUMBER}",
     f"Callback number: {NUMBER}", f"caller {NUMBER}", f"Caller ID: {NUMBER}",
     f"contact number {NUMBER}", f"my contact number is {NUMBER}", f"contact_phone={NUMBER}",
     f"SMS to {NUMBER}", f"sms {NUMBER}", f"dial {NUMBER}", f"dialled {NUMBER}", f"ph: {NUMBER}",
     f"Telefon: {NUMBER}", f"telefono {NUMBER}", f"tlf. {NUMBER}", f"mob: {NUMBER}",
     f"msisdn={NUMBER}", f"MSISDN: {NUMBER}",
     # "is" between: "my phone is", and the languages of the words
     f"my phone is {NUMBER}", f"My cell is {NUMBER}", f"his mobile was {NUMBER}",
     f"Mi teléfono es {NUMBER}", f"Telefone: {NUMBER}", f"Celular: {NUMBER}",
     f"mein Handy ist {NUMBER}", f"Il mio cellulare è {NUMBER}", f"movil: {NUMBER}",
     f"Mi teléfono es el {NUMBER}", f"WhatsApp me on {NUMBER}",
     # labels in markup: a model's Markdown, a key-value table, an XML or SOAP element
     f"**Phone:** {NUMBER}", f"- **Phone**: {NUMBER}", f"**Mobile** {NUMBER}", f"*Tel:* {NUMBER}",
     f"| phone | {NUMBER} |", f"|Mobile|{NUMBER}|", f"| Phone Number | {NUMBER} |",
     f"<phone>{NUMBER}</phone>", f"<PhoneNumber>{NUMBER}</PhoneNumber>",
     f"<ns:mobile>{NUMBER}</ns:mobile>", f'<customer phone="{NUMBER}"/>',
     f"| **Phone** | {NUMBER} |", f"| *Mobile:* | {NUMBER} |",
     # columns aligned by spaces, as command-line tools print their fields
     f"phone:     {NUMBER}"],
)  # fmt: skip
def test_bare_digits_after_words_naming_a_phone_are_a_phone_number(text: str) -> None:
    output, counts = redact(text)
    assert NUMBER not in output
    assert "5550132" not in output
    assert counts == {"PHONE": 1}


@pytest.mark.parametrize(
    "text",
    [f"order {NUMBER} shipped", f"smartphone {NUMBER}", f"invoice {NUMBER} (phone)",
     f"hotel {NUMBER}", f"Intel {NUMBER}", f"telemetry {NUMBER}", f"phone_id={NUMBER}",
     "phone 1234567890", "phone: 0000000", "phone: 123456", f"phone: {NUMBER}12345678",
     f"phone: {NUMBER}.5", f"phone: v{NUMBER}", f"phone: {NUMBER}abc",
     f"phone: call order {NUMBER}", "phone: 1 2 3 4 5 6 7",
     "Phone: 2026-11-21", "phone: 415555.0132",
     # a bare "call", "contact" or "number", and words that end like the phone words
     f"tool call {NUMBER}", f"contact {NUMBER}", f"contact id: {NUMBER}", f"order number {NUMBER}",
     f"returned {NUMBER} rows", f"processed {NUMBER}", f"telephoto {NUMBER}", f"dialog {NUMBER}",
     f"phd {NUMBER}", f"graph {NUMBER}", f"recall {NUMBER}", f"caller_ref_{NUMBER}",
     "phone (see 1234567)", "phone: (123) 45", "phone: (12345678 items)",
     f"| order | {NUMBER} |", f"<order_id>{NUMBER}</order_id>", f"**Order:** {NUMBER}",
     f"| tool call | {NUMBER} |", f"<phone_id>{NUMBER}</phone_id>", f"**Total:** {NUMBER}",
     f"<phone>\n<id>{NUMBER}</id>", f"phone | status | {NUMBER}", f"| **Order** | {NUMBER} |",
     # "is" and then something else
     "the phone is 2 years old", f"my phone is broken, order {NUMBER}", "phone is 12345",
     f"the phone is in box {NUMBER}", f"Handy is a tool, ticket {NUMBER}"],
)  # fmt: skip
def test_other_digits_and_other_words_are_left_alone(text: str) -> None:
    assert redact(text) == (text, {})


@pytest.mark.parametrize(
    ("text", "number"),
    [("call me at 612 345 678", "612 345 678"), ("tel: 8 (912) 345 67 89.", "8 (912) 345 67 89"),
     ('"mobile": "612 345 678"', "612 345 678"), ("My number is 555-0132", "555-0132"),
     ("fax 612.345.678", "612.345.678"), ("WhatsApp: 91 23 45 678", "91 23 45 678"),
     # an area code in parentheses, opened among the words' separators, goes with the number
     ("phone: (495) 123-45-67", "(495) 123-45-67"), ("tel (812)3456789", "(812)3456789"),
     ("Customer called from (0013) 728733 today", "(0013) 728733"),
     ("mob. (8412) 34-56-78", "(8412) 34-56-78")],
)  # fmt: skip
def test_numbers_in_groups_no_region_reads_are_found_after_a_phone_word(
    text: str, number: str
) -> None:
    # Spain writes mobiles 3-3-3 as often as libphonenumber's 3-2-2-2; Russia is not a default
    # region (its dashed "8 (912) 345-67-89" is read without words: test_phones.py); seven
    # digits are a local number. Without the words, each is left alone.
    output, counts = redact(text)
    assert number not in output
    assert counts == {"PHONE": 1}
    assert redact(f"ref {number}") == (f"ref {number}", {})


# The words in other scripts, which the compiled scan sees as "?": numbers in groups no default
# region reads, after them, with a full-width colon or space where CJK text has one.
@pytest.mark.parametrize(
    ("text", "number"),
    [("Тел.: 8 912 345 67 89", "8 912 345 67 89"), ("телефон 89123456789", "89123456789"),
     ("Телефон: 912 345 67 89", "912 345 67 89"), ("моб. 89123456789", "89123456789"),
     ("сотовый 8-912-345-67-89", "8-912-345-67-89"),
     ("联系电话：13800138000", "13800138000"), ("手机 138 0013 8000", "138 0013 8000"),
     ("手機：0912 345 678", "0912 345 678"), ("电话\u3000138-0013-8000", "138-0013-8000"),
     ("携帯 080 1234 5678", "080 1234 5678"), ("전화 010 1234 5678", "010 1234 5678"),
     ("휴대폰: 01012345678", "01012345678"), ("tél. 22 383 47 01", "22 383 47 01"),
     ("teléfono: 512 345 678", "512 345 678"), ("Téléphone 487 78 932", "487 78 932"),
     ("telemóvel 512 345 678", "512 345 678"), ("móvil 512 345 678", "512 345 678"),
     # Greek and Hindi numbers carry no trunk prefix: only the word says what they are
     ("τηλέφωνο: 6912345678", "6912345678"), ("Τηλ.: 210 1234567", "210 1234567"),
     ("ΤΗΛΕΦΩΝΟ 6912345678", "6912345678"), ("κινητό 691 234 5678", "691 234 5678"),
     ("फ़ोन: 9812045673", "9812045673"), ("फोन नंबर 98120 45673", "98120 45673"),
     ("मोबाइल: 9812045673", "9812045673")],
)  # fmt: skip
def test_numbers_are_found_after_phone_words_in_other_scripts(text: str, number: str) -> None:
    output, counts = redact(text)
    assert number not in output
    assert counts == {"PHONE": 1}


@pytest.mark.parametrize(
    "text",
    ["订单号 12345678", "共有 12345678 个", "价格：1234567 元", "Заказ № 12345678",
     "телеграм 12345678", "版本 20240115", "телефон 1234567890", "手机 12345", "номер 12345678",
     "电话 2026-11-21", "Телевизор 12345678", "탈퇴 12345678",
     "το 12345678", "κωδικός 69123456", "संख्या 9812045673"],
)  # fmt: skip
def test_other_digits_after_other_scripts_are_left_alone(text: str) -> None:
    assert redact(text) == (text, {})


def test_a_card_or_a_national_number_keeps_its_reading_after_a_phone_word() -> None:
    output, counts = redact("phone: 4111 1111 1111 1111, phone: 030 901820")
    assert counts == {"CARD": 1, "PHONE": 1}
    assert output.startswith("phone: <CARD:")


def test_without_phone_regions_only_plus_numbers_are_read() -> None:
    detector = BuiltinDetector(phone_regions=())
    assert detector.find(f"phone: {NUMBER}") == []
    assert [m.kind for m in BuiltinDetector().find(f"phone: {NUMBER}")] == [KIND_PHONE]
