"""What the airline agent's scripted model does in each run, and what the evaluators must conclude.

Each ``Scenario`` scripts the model's turns (tool calls, then an answer) and says what the
evaluators must conclude: the references line for its trace (``references``, without
``trace_id``), and the verdict's primary (category, subcategory) when the run fails. The
scenarios come in three groups, each with several variants:

- runs that succeed: many read-only lookups around the writes, a search that correctly finds
  nothing, a write that failed and was retried, customers' emails, phones and cards in arguments;
- runs that fail on a write: wrong, missing, unexpected, repeated, misordered, failed every time,
  and a wrong write after an earlier read-only mistake;
- single-turn function calling (the calls are recorded, not executed), judged as an exact set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from otel_flywheel.testing.llm_server import Reply, Text, ToolCallReply, ToolCalls

Call = tuple[str, Mapping[str, Any] | str]

MIA_EMAIL = "mia.li3818@example.com"
MIA_NEW_EMAIL = "mia.li.travel@example.org"
MIA_NEW_PHONE = "+44 20 7946 0321"
CARD = "5555 5555 5555 4444"


@dataclass(frozen=True, kw_only=True)
class Scenario:
    key: str
    question: str
    turns: Sequence[Sequence[Call] | str]
    references: Mapping[str, Any] | None
    primary: tuple[str, str] | None = None  # None: the run passes
    flaky: Mapping[str, int] = field(default_factory=dict)
    broken: frozenset[str] = frozenset()
    executes: bool = True  # False: single-turn function calling, the calls are only recorded

    @property
    def passes(self) -> bool:
        return self.primary is None


def _v2(*expected: Mapping[str, Any], **options: Any) -> dict[str, Any]:
    return {"version": 2, "tool_calls": {"expected": list(expected), **options}}


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


MIA = {"user_id": "mia_li_3668"}
CANCEL_NO6 = _call("cancel_reservation", reservation_id="NO6JO3", reason={"$any": True})
BOOK_170 = _call(
    "book_reservation",
    user_id="mia_li_3668",
    flight_number="HAT170",
    date="2024-05-21",
    cabin="economy",
    payment_id="credit_card_4421",
)
BOOK_ARGS = {k: v for k, v in BOOK_170["arguments"].items()}
CONTACT = _call(
    "update_contact_info", user_id="mia_li_3668", email=MIA_NEW_EMAIL, phone=MIA_NEW_PHONE
)
SEARCH_21 = {"origin": "JFK", "destination": "SFO", "date": "2024-05-21"}

SCENARIOS: tuple[Scenario, ...] = (
    # --- runs that succeed: lookups are free, failed calls changed nothing, PII matches ----------
    Scenario(
        key="cancel_after_lookups",
        question="Please cancel my trip NO6JO3, plans changed. I'm mia_li_3668.",
        turns=[
            [("get_user_details", MIA)],
            [
                ("get_reservation_details", {"reservation_id": "NO6JO3"}),
                ("get_reservation_details", {"reservation_id": "AIXC49"}),
            ],
            [("cancel_reservation", {"reservation_id": "NO6JO3", "reason": "change_of_plan"})],
            "Reservation NO6JO3 is cancelled.",
        ],
        references=_v2(CANCEL_NO6),
    ),
    Scenario(
        key="book_after_an_empty_search",
        question="Book me JFK to SFO on May 20, or the 21st if nothing flies. mia_li_3668, card 4421.",
        turns=[
            [("get_user_details", MIA)],
            [("search_direct_flight", {**SEARCH_21, "date": "2024-05-20"})],
            [("search_direct_flight", SEARCH_21)],
            [("book_reservation", BOOK_ARGS)],
            "Nothing flies on the 20th; you're booked on HAT170 on May 21.",
        ],
        references=_v2(BOOK_170),
    ),
    Scenario(
        key="bags_then_read_again",
        question="Make it 2 bags on JG7FMM please (omar_davis_3817).",
        turns=[
            [("get_reservation_details", {"reservation_id": "JG7FMM"})],
            [("update_reservation_baggages", {"reservation_id": "JG7FMM", "total_baggages": 2})],
            [("get_reservation_details", {"reservation_id": "JG7FMM"})],
            "JG7FMM now has 2 checked bags.",
        ],
        references=_v2(
            _call("update_reservation_baggages", reservation_id="JG7FMM", total_baggages=2)
        ),
    ),
    Scenario(
        key="cancel_then_book_in_order",
        question="Cancel AIXC49 and put me on HAT170 on the 21st instead. mia_li_3668, card 4421.",
        turns=[
            [("get_user_details", MIA)],
            [("cancel_reservation", {"reservation_id": "AIXC49", "reason": "change_of_plan"})],
            [("book_reservation", BOOK_ARGS)],
            "Done: AIXC49 is cancelled and HAT170 is booked.",
        ],
        references=_v2(
            _call("cancel_reservation", reservation_id="AIXC49", reason={"$any": True}),
            BOOK_170,
            ordered=True,
        ),
    ),
    Scenario(
        key="contact_update_retried_after_a_503",
        question=f"New contact details for mia_li_3668: {MIA_NEW_EMAIL}, {MIA_NEW_PHONE}.",
        turns=[
            [("get_user_details", MIA)],
            [("update_contact_info", CONTACT["arguments"])],
            [("update_contact_info", CONTACT["arguments"])],
            "Your email and phone are updated.",
        ],
        references=_v2(CONTACT),
        flaky={"update_contact_info": 1},
    ),
    Scenario(
        key="booking_retried_with_the_right_card",
        question="Book HAT170 on May 21 for mia_li_3668, economy.",
        turns=[
            [("book_reservation", {**BOOK_ARGS, "payment_id": "credit_card_9999"})],
            [("get_user_details", MIA)],
            [("book_reservation", BOOK_ARGS)],
            "Booked on HAT170 with your card ending 4421.",
        ],
        references=_v2(BOOK_170),
    ),
    Scenario(
        key="card_added",
        question=f"Add my card {CARD}, expiry 12/27, to mia_li_3668.",
        turns=[
            [
                (
                    "add_payment_card",
                    {"user_id": "mia_li_3668", "card_number": CARD, "expiry": "12/27"},
                )
            ],
            "Your card is saved.",
        ],
        references=_v2(
            _call("add_payment_card", user_id="mia_li_3668", card_number=CARD, expiry="12/27")
        ),
    ),
    Scenario(
        key="handed_to_a_human",
        question="I want to complain about my lost luggage, mia_li_3668.",
        turns=[
            [("get_user_details", MIA)],
            [("transfer_to_human_agents", {"summary": "lost luggage complaint"})],
            "I've passed you to a colleague.",
        ],
        references=_v2(allow=["transfer_*"]),
    ),
    # --- runs that fail: the state-changing error must lead the verdict -------------------------
    Scenario(
        key="wrong_reservation_cancelled",
        question="Cancel NO6JO3 please, I'm mia_li_3668.",
        turns=[
            [("get_user_details", MIA)],
            [("get_reservation_details", {"reservation_id": "NO6JO3"})],
            [("cancel_reservation", {"reservation_id": "AIXC49", "reason": "change_of_plan"})],
            "NO6JO3 is cancelled.",
        ],
        references=_v2(CANCEL_NO6),
        primary=("parameter", "wrong_value"),
    ),
    Scenario(
        key="write_never_made",
        question="Cancel my NO6JO3 booking, mia_li_3668.",
        turns=[
            [("get_user_details", MIA)],
            [("get_reservation_details", {"reservation_id": "NO6JO3"})],
            "Your reservation is cancelled.",
        ],
        references=_v2(CANCEL_NO6),
        primary=("tool_selection", "missing_tool_call"),
    ),
    Scenario(
        key="write_nobody_asked_for",
        question="Cancel NO6JO3, mia_li_3668.",
        turns=[
            [("get_user_details", MIA)],
            [("cancel_reservation", {"reservation_id": "NO6JO3", "reason": "other"})],
            [("update_reservation_baggages", {"reservation_id": "AIXC49", "total_baggages": 3})],
            "Cancelled, and I added bags to your other trip.",
        ],
        references=_v2(CANCEL_NO6),
        primary=("tool_selection", "unnecessary_call"),
    ),
    Scenario(
        key="booking_fails_every_time",
        question="Book HAT999 on May 22 for mia_li_3668, economy, card 4421.",
        turns=[
            [("book_reservation", {**BOOK_ARGS, "flight_number": "HAT999", "date": "2024-05-22"})],
            [("book_reservation", {**BOOK_ARGS, "flight_number": "HAT999", "date": "2024-05-22"})],
            "You're booked on HAT999.",
        ],
        references=_v2(
            _call(
                "book_reservation",
                **{**BOOK_ARGS, "flight_number": "HAT999", "date": "2024-05-22"},
            )
        ),
        primary=("tool_selection", "missing_tool_call"),
    ),
    Scenario(
        key="contact_update_backend_down",
        question=f"Please set my email to {MIA_NEW_EMAIL} and phone {MIA_NEW_PHONE}; mia_li_3668.",
        turns=[
            [("update_contact_info", CONTACT["arguments"])],
            [("update_contact_info", CONTACT["arguments"])],
            "Sorry, I couldn't update your details right now.",
        ],
        references=_v2(CONTACT),
        broken=frozenset({"update_contact_info"}),
        primary=("tool_selection", "missing_tool_call"),
    ),
    Scenario(
        key="wrong_email_written",
        question=f"My new email is {MIA_NEW_EMAIL}, phone {MIA_NEW_PHONE}. User mia_li_3668.",
        turns=[
            [
                (
                    "update_contact_info",
                    {"user_id": "mia_li_3668", "email": MIA_EMAIL, "phone": MIA_NEW_PHONE},
                )
            ],
            "Updated.",
        ],
        references=_v2(CONTACT),
        primary=("parameter", "wrong_value"),
    ),
    Scenario(
        key="bad_lookup_then_wrong_write",
        question="Cancel NO6JO3 for mia_li_3668.",
        turns=[
            [("get_reservation_details", {"reservation_id": "NO6JO3", "verbose": True})],
            [("cancel_reservation", {"reservation_id": "AIXC49", "reason": "other"})],
            "Cancelled.",
        ],
        references=_v2(CANCEL_NO6),
        primary=("parameter", "wrong_value"),
    ),
    Scenario(
        key="booked_before_cancelling",
        question="Swap AIXC49 for HAT170 on the 21st: cancel it first. mia_li_3668, card 4421.",
        turns=[
            [("book_reservation", BOOK_ARGS)],
            [("cancel_reservation", {"reservation_id": "AIXC49", "reason": "change_of_plan"})],
            "Swapped.",
        ],
        references=_v2(
            _call("cancel_reservation", reservation_id="AIXC49", reason={"$any": True}),
            BOOK_170,
            ordered=True,
        ),
        primary=("task_decomposition", "bad_plan_order"),
    ),
    Scenario(
        key="booked_twice",
        question="Book HAT170 on May 21, mia_li_3668, economy, card 4421.",
        turns=[
            [("book_reservation", BOOK_ARGS)],
            [("book_reservation", BOOK_ARGS)],
            "Booked.",
        ],
        references=_v2(BOOK_170),
        primary=("tool_selection", "repeated_call"),
    ),
    Scenario(
        key="help_center_finds_nothing",
        question="Can I bring my pet on board?",
        turns=[
            [("search_help_center", {"query": "pet in cabin policy"})],
            "Yes, pets fly free.",
        ],
        references=_v2(),
        primary=("knowledge_context", "empty_retrieval"),
    ),
    # --- single-turn function calling: the exact set, version 1 ---------------------------------
    Scenario(
        key="fc_exact",
        question="Flights from JFK to SFO on 2024-05-21?",
        turns=[[("search_direct_flight", SEARCH_21)]],
        references={"expected_tool_calls": [_call("search_direct_flight", **SEARCH_21)]},
        executes=False,
    ),
    Scenario(
        key="fc_pii_exact",
        question=f"Change mia_li_3668's contact to {MIA_NEW_EMAIL} and {MIA_NEW_PHONE}.",
        turns=[[("update_contact_info", CONTACT["arguments"])]],
        references={"expected_tool_calls": [CONTACT]},
        executes=False,
    ),
    Scenario(
        key="fc_extra_call",
        question="Flights JFK-SFO 2024-05-21, please.",
        turns=[[("search_direct_flight", SEARCH_21), ("get_user_details", MIA)]],
        references={"expected_tool_calls": [_call("search_direct_flight", **SEARCH_21)]},
        executes=False,
        primary=("tool_selection", "unnecessary_call"),
    ),
    Scenario(
        key="fc_none_applies",
        question="What's the weather in Paris?",
        turns=[[("search_direct_flight", {**SEARCH_21, "destination": "CDG"})]],
        references={"expected_tool_calls": []},
        executes=False,
        primary=("tool_selection", "tool_when_none_applies"),
    ),
    Scenario(
        key="fc_wrong_value",
        question="Any direct JFK to SFO flight on 2024-05-21?",
        turns=[[("search_direct_flight", {**SEARCH_21, "date": "2024-05-12"})]],
        references={"expected_tool_calls": [_call("search_direct_flight", **SEARCH_21)]},
        executes=False,
        primary=("parameter", "wrong_value"),
    ),
    Scenario(
        key="fc_unexpected_argument",
        question="JFK to SFO on 2024-05-21, economy?",
        turns=[[("search_direct_flight", {**SEARCH_21, "cabin": "economy"})]],
        references={"expected_tool_calls": [_call("search_direct_flight", **SEARCH_21)]},
        executes=False,
        primary=("parameter", "unexpected_argument"),
    ),
    Scenario(
        key="fc_malformed",
        question="JFK to SFO flights on 2024-05-21",
        turns=[[("search_direct_flight", '{"origin": "JFK", "destination": "SF')]],
        references={"expected_tool_calls": [_call("search_direct_flight", **SEARCH_21)]},
        executes=False,
        primary=("parameter", "malformed_arguments"),
    ),
    Scenario(
        key="fc_unknown_tool",
        question="Find flights JFK->SFO, 2024-05-21.",
        turns=[[("find_flights", SEARCH_21)]],
        references={"expected_tool_calls": [_call("search_direct_flight", **SEARCH_21)]},
        executes=False,
        primary=("tool_selection", "unknown_tool"),
    ),
)

_BY_QUESTION = {scenario.question: scenario for scenario in SCENARIOS}


def respond(request: Mapping[str, Any]) -> Reply:
    """The scripted model: the next turn of the scenario this request's user message names."""
    messages = request.get("messages") or []
    question = next((m.get("content") for m in messages if m.get("role") == "user"), None)
    scenario = _BY_QUESTION[str(question)]
    turn = sum(1 for m in messages if m.get("role") == "assistant")
    step = scenario.turns[turn]
    if isinstance(step, str):
        return Text(step)
    return ToolCalls([ToolCallReply(name, arguments) for name, arguments in step])


def references_line(scenario: Scenario, trace_id: str) -> str:
    """The scenario's references as a line of a references file."""
    assert scenario.references is not None
    return json.dumps({"trace_id": trace_id, **scenario.references})
