"""The Redactor and the span adapters: modes, stable pseudonyms, JSON kept valid, every surface."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, Status, StatusCode

from otel_flywheel.conventions import normalize_trace, span_view_from_readable
from otel_flywheel.privacy import (
    DROP,
    BuiltinDetector,
    RedactingSpanExporter,
    RedactionAudit,
    Redactor,
    RegexDetector,
    TermDetector,
    redact_span_view,
)

KEY = b"k" * 32
EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
TOKEN = re.compile(r"<[A-Z_]+(:[0-9a-f]{8})?>")


def redactor(key: bytes = KEY, **options: object) -> Redactor:
    return Redactor(key=key, detectors=[BuiltinDetector()], **options)  # type: ignore[arg-type]


def test_pseudonyms_are_stable_for_a_key_and_differ_across_keys() -> None:
    audit = RedactionAudit()
    first = redactor().redact_text(f"mail {EMAIL}", audit)
    again = redactor().redact_text(f"write to {EMAIL} today", audit)
    other_key = redactor(key=b"z" * 32).redact_text(f"mail {EMAIL}", audit)

    token = str(first).removeprefix("mail ")
    assert re.fullmatch(r"<EMAIL:[0-9a-f]{8}>", token)
    assert token in str(again)
    assert token not in str(other_key)
    assert EMAIL not in f"{first}{again}{other_key}"
    assert audit.counts["EMAIL"] == 3


def test_a_pseudonym_is_the_keyed_hmac_of_its_kind_and_value_however_many_came_before() -> None:
    # The tokens a team joins on must not change with the redactor's memory of earlier ones:
    # the first value's token is the same after thousands of others pushed it out.
    shared = redactor()
    first = shared.redact_text(f"mail {EMAIL}", RedactionAudit())
    for i in range(5_000):
        shared.redact_text(f"mail user{i}@example.com", RedactionAudit())
    again = shared.redact_text(f"mail {EMAIL}", RedactionAudit())

    digest = hmac.new(KEY, f"EMAIL\0{EMAIL}".encode(), hashlib.sha256).hexdigest()
    assert first == again == f"mail <EMAIL:{digest[:8]}>"


def test_mask_mode_and_secrets_masked_by_default() -> None:
    text = f"card {CARD}, key sk-proj-{'a' * 48}"
    audit = RedactionAudit()

    result = redactor(modes={"CARD": "mask"}).redact_text(text, audit)

    assert result == "card <CARD>, key <OPENAI_KEY>"
    assert audit.kinds == ("CARD", "OPENAI_KEY")


def test_drop_mode_drops_the_whole_attribute() -> None:
    audit = RedactionAudit()
    attributes = {"input.value": f"contact {EMAIL}", "other": "fine"}

    redacted = redactor(modes={"EMAIL": "drop"}).redact_attributes(attributes, audit)

    assert redacted == {"other": "fine"}
    assert audit.counts["EMAIL"] == 1


def test_json_values_stay_valid_json_with_only_leaves_replaced() -> None:
    arguments = json.dumps({"email": EMAIL, "amount": 12.5, "nested": [{"card": CARD}]})
    audit = RedactionAudit()

    result = redactor().redact_text(arguments, audit)

    parsed = json.loads(str(result))
    assert parsed["amount"] == 12.5
    assert TOKEN.fullmatch(parsed["email"])
    assert TOKEN.fullmatch(parsed["nested"][0]["card"])
    assert EMAIL not in str(result)


def test_untouched_json_keeps_its_exact_bytes() -> None:
    text = '{"order_id":  "A-1001",\n "qty": 2}'
    assert redactor().redact_text(text, RedactionAudit()) == text


def test_card_number_as_an_integer_is_redacted() -> None:
    audit = RedactionAudit()
    redacted = redactor().redact_attributes(
        {"payment.card": 4111111111111111, "order.qty": 3}, audit
    )
    assert TOKEN.fullmatch(redacted["payment.card"])
    assert redacted["order.qty"] == 3


def test_a_twelve_digit_maestro_card_as_an_integer_is_redacted_and_an_account_id_is_not() -> None:
    attributes = {"payment.value": 675965022774, "aws.account_id": 123456789012, "n": 675965022775}
    redacted = redactor().redact_attributes(attributes, RedactionAudit())
    assert TOKEN.fullmatch(redacted["payment.value"])
    assert redacted["aws.account_id"] == 123456789012  # no card's issuer
    assert redacted["n"] == 675965022775  # Luhn fails
    document = json.dumps({"card": 675965022774, "account": 123456789012})
    assert (
        json.loads(str(redactor().redact_text(document, RedactionAudit())))["account"]
        == 123456789012
    )


def test_string_arrays_are_redacted_element_wise() -> None:
    redacted = redactor().redact_attributes({"recipients": (EMAIL, "nobody")}, RedactionAudit())
    assert redacted["recipients"][1] == "nobody"
    assert TOKEN.fullmatch(redacted["recipients"][0])


def test_allow_listed_keys_are_never_touched() -> None:
    value = "jane.doe@example.com-model"
    redacted = redactor().redact_attributes(
        {"llm.model_name": value, "llm.token_count.prompt": 4111111111111111}, RedactionAudit()
    )
    assert redacted == {"llm.model_name": value, "llm.token_count.prompt": 4111111111111111}


def test_user_id_is_always_pseudonymized_and_joinable() -> None:
    r = redactor()
    one = r.redact_attributes({"user.id": "customer-42"}, RedactionAudit())
    two = r.redact_attributes({"user.id": "customer-42"}, RedactionAudit())
    assert one == two
    assert re.fullmatch(r"<USER:[0-9a-f]{8}>", one["user.id"])


def test_custom_regex_and_terms_are_detectors_like_the_builtins() -> None:
    custom = Redactor(
        key=KEY,
        detectors=[
            BuiltinDetector(),
            RegexDetector("ACCOUNT", r"ACC-(?P<value>\d{8})"),
            TermDetector("CUSTOMER", ["Globex Corporation"]),
        ],
    )
    result = custom.redact_text("ACC-12345678 belongs to globex corporation", RedactionAudit())
    assert "12345678" not in str(result)
    assert "globex" not in str(result).lower()
    assert str(result).startswith("ACC-<ACCOUNT:")


def test_every_span_surface_is_redacted_and_audited() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "agent", "deployment.owner": EMAIL})
    )
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(exporter, redactor())))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("first") as first:
        pass
    with tracer.start_as_current_span(
        "tool",
        attributes={"input.value": json.dumps({"to": EMAIL}), "openinference.span.kind": "TOOL"},
        links=[Link(first.get_span_context(), {"note": f"card {CARD}"})],
    ) as span:
        span.add_event("exception", {"exception.message": f"declined {CARD} for {EMAIL}"})
        span.set_status(Status(StatusCode.ERROR, f"could not charge {CARD}"))
    provider.shutdown()

    spans = exporter.get_finished_spans()
    everything = json.dumps([json.loads(s.to_json()) for s in spans])
    assert EMAIL not in everything
    assert CARD not in everything
    tool = next(s for s in spans if s.name == "tool")
    assert tool.attributes is not None
    assert tool.attributes["flywheel.redaction.count"] == 5
    assert tool.attributes["flywheel.redaction.types"] == ("CARD", "EMAIL")
    assert tool.status.description is not None
    assert "<CARD" in tool.status.description
    assert tool.resource.attributes["deployment.owner"].startswith("<EMAIL")
    json.loads(str(tool.attributes["input.value"]))  # still valid JSON


def test_span_views_for_the_pipeline_are_redacted_too() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span(
        "agent", attributes={"openinference.span.kind": "AGENT", "input.value": f"I am {EMAIL}"}
    ):
        pass
    provider.shutdown()

    view = redact_span_view(span_view_from_readable(exporter.get_finished_spans()[0]), redactor())
    trace = normalize_trace([view])

    assert trace.goal is not None
    assert EMAIL not in trace.to_json()
    assert trace.goal.startswith("I am <EMAIL:")


@pytest.mark.parametrize(
    "event_name",
    ["sms sent to +1 415 555 0132", f"mailed {EMAIL}", f"charged card {CARD}", "retry 3 of 5"],
)
def test_event_names_are_redacted_on_both_paths_and_clean_ones_kept(event_name: str) -> None:
    exporter = InMemorySpanExporter()
    pipeline_copy = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(exporter, redactor())))
    provider.add_span_processor(SimpleSpanProcessor(pipeline_copy))
    with provider.get_tracer("t").start_as_current_span("tool") as span:
        span.add_event(event_name, {"n": 1})
        span.add_event("exception", {"exception.type": "ValueError"})
    provider.shutdown()

    exported = exporter.get_finished_spans()[0]
    view = redact_span_view(
        span_view_from_readable(pipeline_copy.get_finished_spans()[0]), redactor()
    )
    for names in ([e.name for e in exported.events], [e.name for e in view.events]):
        assert names[1] == "exception"
        if event_name == "retry 3 of 5":
            assert names[0] == event_name
        else:
            assert names[0] != event_name
            for value in ("415 555 0132", EMAIL, CARD):
                assert value not in names[0]


@pytest.mark.parametrize(
    ("key", "value"),
    [(f"customer.{EMAIL}", "vip"), ("callback.+1 415 555 0132", "queued"), (f"card {CARD}", "ok")],
)
def test_attribute_keys_are_redacted_on_both_paths(key: str, value: str) -> None:
    exporter = InMemorySpanExporter()
    pipeline_copy = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "agent", key: value}))
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(exporter, redactor())))
    provider.add_span_processor(SimpleSpanProcessor(pipeline_copy))
    with provider.get_tracer("t").start_as_current_span("tool", attributes={key: value}) as span:
        span.add_event("retry", {key: value})
    provider.shutdown()

    exported = exporter.get_finished_spans()[0]
    view = redact_span_view(
        span_view_from_readable(pipeline_copy.get_finished_spans()[0]), redactor()
    )
    for attributes in (
        exported.attributes,
        exported.events[0].attributes,
        exported.resource.attributes,
        view.attributes,
        view.events[0].attributes,
        view.resource,
    ):
        assert attributes is not None
        assert key not in attributes
        assert value in attributes.values()  # the value under its redacted key
        assert not any(part in str(dict(attributes)) for part in (EMAIL, "415 555 0132", CARD))


def test_keys_found_clean_are_remembered_and_keys_with_findings_are_not() -> None:
    r = redactor()
    attributes = {"llm.input_messages.0.message.content": "hi", f"to.{EMAIL}": 1}
    first = r.redact_attributes(attributes, RedactionAudit())
    assert "llm.input_messages.0.message.content" in r.clean_keys
    assert not any(EMAIL in key for key in r.clean_keys)
    assert r.redact_attributes(attributes, RedactionAudit()) == first
    assert next(iter(first)) == "llm.input_messages.0.message.content"


def test_drop_is_a_sentinel_not_a_value() -> None:
    assert repr(DROP) == "DROP"


@pytest.mark.parametrize("bad_key", [b"", b"short"])
def test_short_keys_are_refused(bad_key: bytes) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        Redactor(key=bad_key, detectors=[])


def test_short_values_found_clean_are_remembered_and_values_with_findings_are_not() -> None:
    r = redactor()
    attributes = {"llm.model_name_x": "gpt-4o-mini", "note": "mail jane@x.io", "role": "user"}
    first = r.redact_attributes(attributes, RedactionAudit())
    assert {"gpt-4o-mini", "user"} <= r.clean_short
    assert "mail jane@x.io" not in r.clean_short
    audit = RedactionAudit()
    again = r.redact_attributes(attributes, audit)  # the clean ones are not scanned again
    assert again == first
    assert again["note"] != "mail jane@x.io"
    assert audit.total == 1
    r.clear_caches()
    assert not r.clean_short


def test_a_long_string_repeated_in_one_span_is_scanned_once_and_redacted_everywhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from otel_flywheel.privacy import _batch

    message = f"My order arrived broken; I am {EMAIL}, please refund the card {CARD} today."
    request = json.dumps({"model": "m", "messages": [{"role": "user", "content": message}]})
    scanned: list[str] = []
    find_in_each = _batch.find_in_each

    def recording(texts, joinable, per_string):  # type: ignore[no-untyped-def]
        scanned.extend(texts)
        return find_in_each(texts, joinable, per_string)

    monkeypatch.setattr(_batch, "find_in_each", recording)
    audit = RedactionAudit()
    redacted = redactor().redact_attributes(
        {
            "input.value": request,
            "llm.input_messages.0.message.content": message,
            "output.value": json.dumps({"echo": [message, message]}),
            "llm.output_messages.0.message.content": request,  # a JSON text, read as JSON again
        },
        audit,
    )
    assert scanned.count(message) == 1
    flattened = redacted["llm.input_messages.0.message.content"]
    assert EMAIL not in flattened
    assert CARD not in flattened
    assert json.loads(redacted["input.value"])["messages"][0]["content"] == flattened
    assert json.loads(redacted["output.value"])["echo"] == [flattened, flattened]
    assert redacted["llm.output_messages.0.message.content"] == redacted["input.value"]
    assert audit.counts == {"EMAIL": 5, "CARD": 5}  # every occurrence counts
