"""The optional Presidio detector: a clear error without the extra, Presidio's patterns with it."""

from __future__ import annotations

import json
import re
import socket
import sys
from typing import Any

import pytest

from otel_flywheel.errors import ConfigError
from otel_flywheel.privacy import Detector, RedactionAudit, Redactor, build_redactor
from otel_flywheel.privacy._presidio import PRESIDIO_KINDS, PresidioDetector

KEY = b"k" * 32


def test_without_presidio_installed_raises_config_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "presidio_analyzer", None)  # import fails as if absent
    monkeypatch.setitem(sys.modules, "presidio_analyzer.predefined_recognizers", None)

    with pytest.raises(ConfigError, match=re.escape("pip install 'otel-flywheel[presidio]'")):
        PresidioDetector()
    with pytest.raises(ConfigError, match=r"privacy\.presidio"):
        build_redactor({"presidio": True}, key=KEY)


@pytest.mark.parametrize("threshold", [0.0, -0.1, 1.5])
def test_a_score_threshold_outside_0_1_is_a_config_error(threshold: float) -> None:
    with pytest.raises(ConfigError, match="score_threshold"):
        PresidioDetector(score_threshold=threshold)


# --- with presidio-analyzer installed ---------------------------------------------------------


@pytest.fixture(scope="module")
def detector() -> PresidioDetector:
    # presidio-analyzer comes with the dev extra: a missing one is a broken install, not a skip.
    return PresidioDetector()


def found(detector: Detector, text: str) -> list[tuple[str, str]]:
    return [(text[m.start : m.end], m.kind) for m in detector.find(text)]


def test_presidio_types_we_also_detect_are_reported_under_our_kinds(
    detector: PresidioDetector,
) -> None:
    text = (
        "mail jane.doe@example.com, call +44 20 7946 0958, card 4111 1111 1111 1111,"
        " iban GB82 WEST 1234 5698 7654 32, ssn 536-22-1234, host 203.0.113.9"
    )

    assert found(detector, text) == [
        ("jane.doe@example.com", "EMAIL"),
        ("+44 20 7946 0958", "PHONE"),
        ("4111 1111 1111 1111", "CARD"),
        ("GB82 WEST 1234 5698 7654 32", "IBAN"),
        ("536-22-1234", "SSN"),
        ("203.0.113.9", "IP_ADDRESS"),
    ]
    assert set(PRESIDIO_KINDS.values()) <= detector.kinds


def test_other_presidio_types_keep_their_presidio_names(detector: PresidioDetector) -> None:
    text = "NHS number 943 476 5919, wallet 1BoatSLRHtKNngkdXEeobR76b53LETtpyT"

    assert found(detector, text) == [
        ("943 476 5919", "UK_NHS"),
        ("1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "CRYPTO"),
    ]
    assert {"UK_NHS", "CRYPTO", "US_PASSPORT"} <= detector.kinds


def test_validators_discard_matches_that_fail_their_checksum(detector: PresidioDetector) -> None:
    assert found(detector, "card 4111 1111 1111 1112, iban GB82 WEST 1234 5698 7654 33") == []


def test_weak_patterns_need_a_context_word_before_them(detector: PresidioDetector) -> None:
    assert found(detector, "order 912803456 shipped") == []
    assert found(detector, "my passport number is 912803456") == [("912803456", "US_PASSPORT")]
    assert found(detector, "passports: 912803456") == [("912803456", "US_PASSPORT")]


def test_technical_values_are_left_alone(detector: PresidioDetector) -> None:
    text = (
        "request 550e8400-e29b-41d4-a716-446655440000 at 2025-03-14T10:22:31Z"
        " GET https://api.example.com/v1/orders trace 4bf92f3577b34da6a3ce929d0e0e4736"
    )

    assert found(detector, text) == []


def test_score_threshold_and_entities_narrow_what_is_found(detector: PresidioDetector) -> None:
    text = "office +44 20 7946 0958, mail jane.doe@example.com"

    assert found(PresidioDetector(score_threshold=0.5), text) == [
        ("jane.doe@example.com", "EMAIL")  # a phone number without "call", "phone"... scores 0.4
    ]
    only_phones = PresidioDetector(entities=["PHONE_NUMBER"])
    assert found(only_phones, text) == [("+44 20 7946 0958", "PHONE")]
    assert only_phones.kinds == frozenset({"PHONE"})
    with pytest.raises(ConfigError, match="NOT_AN_ENTITY"):
        PresidioDetector(entities=["NOT_AN_ENTITY"])


def test_email_validation_never_fetches_the_public_suffix_list(
    detector: PresidioDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []

    def no_network(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)

    fresh = PresidioDetector()

    assert found(fresh, "write to someone@example.co.uk") == [("someone@example.co.uk", "EMAIL")]
    assert found(fresh, "not a mailbox: someone@host.invalidtld") == []
    assert calls == []


def test_redactor_with_presidio_pseudonymizes_inside_json(detector: PresidioDetector) -> None:
    redactor = Redactor(key=KEY, detectors=[detector])
    arguments = json.dumps({"order": 912803456, "note": "passport 912803456, nhs 943 476 5919"})
    audit = RedactionAudit()

    result = redactor.redact_text(arguments, audit)

    assert isinstance(result, str)
    redacted = json.loads(result)
    assert redacted["order"] == 912803456
    assert re.fullmatch(
        r"passport <US_PASSPORT:[0-9a-f]{8}>, nhs <UK_NHS:[0-9a-f]{8}>", redacted["note"]
    )
    assert audit.counts == {"US_PASSPORT": 1, "UK_NHS": 1}
