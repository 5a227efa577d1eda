"""What the demo's "model" does in each conversation, failures included.

The scripted LLM server plays the model: for a request it finds the conversation by its user message
and answers with the next scripted turn (the number of assistant messages so far says which). Each
scenario names the failure it plants, so the demo can show what the flywheel should catch.

Some customers give an email address, a phone number or a card number. The agent's own model sees
them (it has to: that is the conversation); Phoenix and the flywheel see only pseudonyms such as
``<EMAIL:1a2b3c4d>``, because ``register()`` redacts every span before it leaves the process.

After the answers, some customers react as users of a real support widget would: a thumbs up on a
good answer, a thumbs down with or without the answer they expected, a pick between two drafts
(``Scenario.feedback``). ``FOLLOW_UPS`` come later: a customer who rephrases a question whose answer
did not help, in the same session (an implicit signal the flywheel detects by itself), and a
customer who declined the use of their conversations (``consent=False``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from otel_flywheel.demo._agent import Conversation
from otel_flywheel.testing.llm_server import Reply, Text, ToolCallReply, ToolCalls

__all__ = [
    "ALL_SCENARIOS",
    "FOLLOW_UPS",
    "HISTORY_ONLY",
    "NEW_QUESTION",
    "SCENARIOS",
    "DemoFeedback",
    "Scenario",
    "ScenarioLookup",
    "respond",
]

Call = tuple[str, Mapping[str, Any] | str]


@dataclass(frozen=True, kw_only=True)
class DemoFeedback:
    """What the customer (or a reviewer) says about the answer; the arguments of ``feedback()``."""

    thumbs: Literal["up", "down"] | None = None
    correction: str | None = None
    chosen: str | None = None
    rejected: str | None = None
    reason: str | None = None

    @property
    def kind(self) -> str:
        """How the demo describes it."""
        if self.chosen is not None:
            return "preferred another draft"
        if self.thumbs == "down" and self.correction is not None:
            return "thumbs down + correction"
        return f"thumbs {self.thumbs}"


@dataclass(frozen=True)
class Scenario:
    question: str
    turns: Sequence[Sequence[Call] | str]
    failure: str | None = None  # what is planted, for the demo's summary
    user_id: str = "user-1"
    session_id: str = field(default="")
    feedback: DemoFeedback | None = None
    consent: bool | None = None

    def conversation(self, index: int) -> Conversation:
        return Conversation(
            session_id=self.session_id or f"session-{index:02d}",
            user_id=self.user_id,
            question=self.question,
            consent=self.consent,
        )


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "My order A-1001 hasn't arrived. Email me at ada.lovelace@example.com or call "
        "+44 20 7946 0958",
        [
            [("lookup_order", {"order_id": "A-1001"})],
            "Order A-1001 has shipped with UPS and should arrive on 2026-11-24.",
        ],
        user_id="user-ada",
    ),
    Scenario(
        "How long does standard shipping take?",
        [
            [("search_kb", {"query": "standard shipping time"})],
            "Standard shipping takes 3-5 business days.",
        ],
        user_id="user-kim",
        feedback=DemoFeedback(thumbs="up"),
    ),
    Scenario(
        "Can I cancel order A-1002? Send the confirmation to ben.okafor@example.org",
        [
            [("cancel_order", {"order_id": "A-1002"})],
            "Done: order A-1002 is cancelled and you won't be charged. The confirmation is on its "
            "way to ben.okafor@example.org.",
        ],
        user_id="user-ben",
    ),
    Scenario(
        "What is your return policy?",
        [[("lookup_order", {"order_id": "A-1003"})], "You can return items whenever you like."],
        failure="wrong tool: looked up an order instead of searching the knowledge base",
    ),
    Scenario(
        "Status of order A-1003 please",
        [
            [("lookup_order", {"order": 1003})],
            [("lookup_order", {"order_id": "A-1003"})],
            "Order A-1003 was delivered on 2026-11-15.",
        ],
        failure="bad arguments: `order` (an integer) instead of the required `order_id`",
    ),
    Scenario(
        "Has A-1001 shipped yet?",
        [
            [("lookup_order", {"order_id": "A-1001"})],
            [("lookup_order", {"order_id": "A-1001"})],
            [("lookup_order", {"order_id": "A-1001"})],
            "Yes, A-1001 has shipped.",
        ],
        failure="repeated calls: the same lookup three times",
    ),
    Scenario(
        "Do you price-match competitors?",
        [
            [("search_kb", {"query": "competitor price match guarantee"})],
            "Yes, we match any competitor's price within 14 days.",
        ],
        failure="empty retrieval, then an answer invented anyway",
    ),
    Scenario(
        "How many days do I have to return a jacket?",
        [
            [("search_kb", {"query": "return refund days"})],
            "You have 90 days to return it for a full refund.",
        ],
        failure="unsupported answer: the article says 30 days, not 90",
        feedback=DemoFeedback(
            thumbs="down",
            correction="You have 30 days from delivery to return it for a full refund.",
            reason="the returns page says 30 days",
        ),
    ),
    Scenario(
        "My order A-1005 arrived broken, refund it to my card 4111 1111 1111 1111 please",
        [
            [("issue_refund", {"order_id": "A-1005", "amount": 720.0, "reason": "damaged"})],
            "I've refunded $720 to your card 4111 1111 1111 1111.",
        ],
        failure="business rule: a $720 refund issued without supervisor approval",
        user_id="user-cy",
        # A reviewer compared the agent's reply with a draft that follows the approval rule.
        feedback=DemoFeedback(
            chosen="Refunds over $500 need a supervisor's approval. I've asked one to approve "
            "your $720 refund for A-1005; you'll hear from us within one business day.",
            rejected="I've refunded $720 to your card 4111 1111 1111 1111.",
            reason="refunds over $500 need approval",
        ),
    ),
    Scenario(
        "Refund order A-1003, it was late",
        [
            [("issue_refund", '{"order_id": "A-1003", "amount": 45.5, "rea')],
            "Your refund is on its way.",
        ],
        failure="malformed arguments: truncated JSON, then a claim of success",
    ),
    Scenario(
        "Where is order A-9999?",
        [
            [("lookup_order", {"order_id": "A-9999"})],
            "I couldn't find order A-9999. Could you check the number?",
        ],
    ),
    Scenario(
        "What does the warranty cover?",
        [
            [("search_kb", {"query": "warranty coverage electronics"})],
            "Electronics carry a 1-year limited warranty covering manufacturing defects.",
        ],
        user_id="user-lou",
        feedback=DemoFeedback(thumbs="up"),
    ),
    Scenario(
        "Is express shipping faster?",
        [
            [("search_kb", {"query": "express shipping"})],
            "Yes: express takes 1-2 business days versus 3-5 for standard.",
        ],
    ),
    Scenario(
        "Cancel A-1001 please, and text me on +1 415-555-0132 when it's done",
        [
            [("cancel_order", {"order_id": "A-1001"})],
            "A-1001 has already shipped, so it can't be cancelled. You can return it within 30 days of delivery.",
        ],
        user_id="user-ada",
    ),
    Scenario(
        "I want a refund for A-1003, I don't want it anymore",
        [
            [("issue_refund", {"order_id": "A-1003", "amount": 45.5, "reason": "unwanted"})],
            "Refund R-1003 for $45.50 is issued.",
        ],
        user_id="user-dee",
    ),
    Scenario(
        "When will A-1002 arrive and can I still change it?",
        [
            [
                ("lookup_order", {"order_id": "A-1002"}),
                ("search_kb", {"query": "cancellations before shipping"}),
            ],
            "A-1002 is still processing (ETA 2026-11-28), and it can be cancelled free of charge until it ships.",
        ],
    ),
    Scenario(
        "Hi, what are your opening hours?",
        ["Our support team is available around the clock via chat."],
        failure="answered from nowhere: no knowledge-base search",
        feedback=DemoFeedback(thumbs="down", reason="nobody answered the chat at night"),
    ),
    Scenario(
        "Refund A-1002 please, it's late",
        [
            [("issue_refund", {"order_id": "A-1002", "amount": 1240.0, "reason": "slow"})],
            "Refunded $1240.",
        ],
        failure="business rule and bad argument: $1240 without approval, `slow` is not an allowed reason",
        user_id="user-ben",
    ),
    Scenario(
        "Track A-1004",
        [
            [("lookup_order", {"order_id": "A-1004"})],
            "Order A-1004 was cancelled, so there is nothing to track.",
        ],
        user_id="user-max",
        feedback=DemoFeedback(thumbs="up"),
    ),
    Scenario(
        "How fast is standard shipping and where is A-1001?",
        [
            [
                ("search_kb", {"query": "standard shipping"}),
                ("lookup_order", {"order_id": "A-1001"}),
            ],
            "Standard shipping takes 3-5 business days; A-1001 shipped with UPS, ETA 2026-11-24.",
        ],
        user_id="user-ada",
    ),
)

# Conversations that come after the first 20, each naming the session it belongs to.
FOLLOW_UPS: tuple[Scenario, ...] = (
    # The customer of "What is your return policy?" (session 4) got "whenever you like" and asks
    # again in other words: the flywheel's implicit-signal detector sees the rephrase.
    Scenario(
        "What is your actual return policy?",
        [
            [("search_kb", {"query": "return policy refunds"})],
            "Items can be returned within 30 days of delivery for a full refund.",
        ],
        session_id="session-04",
    ),
    # This customer declined the use of their conversations: the failure is annotated for triage,
    # the thumbs up is recorded, but neither reaches a dataset.
    Scenario(
        "Was my order A-1005 delivered?",
        [
            [("lookup_order", {"order_id": "A-1005"})],
            [("lookup_order", {"order_id": "A-1005"})],
            "Yes: A-1005 was delivered on 2026-10-02.",
        ],
        failure="repeated calls: the same lookup twice (consent withheld: no dataset may keep it)",
        user_id="user-eve",
        feedback=DemoFeedback(thumbs="up"),
        consent=False,
    ),
)

# What the demo runs, in order.
ALL_SCENARIOS: tuple[Scenario, ...] = SCENARIOS + FOLLOW_UPS

# A question only the simulated history asks (see _history): new in its second week.
NEW_QUESTION = "Can I change the delivery address of order A-1002?"
HISTORY_ONLY: tuple[Scenario, ...] = (
    Scenario(
        NEW_QUESTION,
        [
            [("lookup_order", {"order_id": "A-1002"})],
            "A-1002 is still processing, so yes: reply with the new address and we'll update it.",
        ],
    ),
)

_BY_QUESTION = {scenario.question: scenario for scenario in ALL_SCENARIOS + HISTORY_ONLY}


def respond(request: Mapping[str, Any]) -> Reply:
    """The scripted model: the next turn of the conversation this request belongs to."""
    messages = request.get("messages") or []
    question = next((m.get("content") for m in messages if m.get("role") == "user"), None)
    scenario = _BY_QUESTION.get(str(question))
    if scenario is None:
        return Text("I'm sorry, I can't help with that.")
    turn = sum(1 for m in messages if m.get("role") == "assistant")
    if turn >= len(scenario.turns):
        return Text("I'm sorry, I lost track of this conversation.")
    step = scenario.turns[turn]
    if isinstance(step, str):
        return Text(step)
    return ToolCalls([ToolCallReply(name, arguments) for name, arguments in step])


class ScenarioLookup:
    """The scenario an example's (redacted) question came from, as the customer asked it: a
    replayed example holds the question as capture redacted it."""

    def __init__(self, scenarios: Sequence[Scenario] = ALL_SCENARIOS) -> None:
        from otel_flywheel.privacy import RedactionAudit, build_redactor

        redactor = build_redactor()
        self._by_question: dict[str, tuple[int, Scenario]] = {}
        for index, scenario in enumerate(scenarios, start=1):
            self._by_question.setdefault(scenario.question, (index, scenario))
            if redactor is not None:
                redacted = redactor.redact_message(scenario.question, RedactionAudit())
                self._by_question.setdefault(redacted, (index, scenario))

    def conversation(self, input: Mapping[str, Any]) -> Conversation:
        """The conversation of the scenario whose question ``input["input"]`` is."""
        question = str(input.get("input") or "")
        found = self._by_question.get(question)
        if found is None:
            raise LookupError(f"no demo scenario asks {question!r}")
        index, scenario = found
        return scenario.conversation(index)
