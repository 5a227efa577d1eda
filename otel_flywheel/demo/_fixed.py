"""A fixed version of the demo's support agent: what its "model" does once the failures are fixed.

The demo plants a failure in some conversations (``otel_flywheel.demo._script``). Here each of
those conversations gets the turns a fixed agent produces: the right tool, well-formed arguments
within the schema, one lookup instead of three, a search that finds the article, answers that
stay with the documents, and refunds over $500 sent for approval instead of issued. Every other
conversation plays as before. ``respond_fixed`` is the scripted model's responder for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from otel_flywheel.demo import _script
from otel_flywheel.testing.llm_server import Reply, Text, ToolCallReply, ToolCalls

__all__ = ["FIXED_TURNS", "respond_fixed"]

Turn = Sequence[tuple[str, Mapping[str, Any]]] | str

APPROVAL = (
    "Refunds over $500 need a supervisor's approval, so I've asked one to approve it; you'll "
    "hear from us within one business day."
)

FIXED_TURNS: Final[Mapping[str, Sequence[Turn]]] = {
    "What is your return policy?": [
        [("search_kb", {"query": "return policy refunds"})],
        "Items can be returned within 30 days of delivery for a full refund.",
    ],
    "Status of order A-1003 please": [
        [("lookup_order", {"order_id": "A-1003"})],
        "Order A-1003 was delivered on 2026-11-15.",
    ],
    "Has A-1001 shipped yet?": [
        [("lookup_order", {"order_id": "A-1001"})],
        "Yes, A-1001 has shipped with UPS and should arrive on 2026-11-24.",
    ],
    "Do you price-match competitors?": [
        [("search_kb", {"query": "price match refund policy"})],
        "Our help center has no price-match policy, so I can't promise one. What it does offer "
        "is a full refund within 30 days of delivery.",
    ],
    "How many days do I have to return a jacket?": [
        [("search_kb", {"query": "return refund days"})],
        "You have 30 days from delivery to return it for a full refund.",
    ],
    "My order A-1005 arrived broken, refund it to my card 4111 1111 1111 1111 please": [
        [("lookup_order", {"order_id": "A-1005"})],
        f"I'm sorry A-1005 arrived broken. Its total is $720. {APPROVAL}",
    ],
    "Refund order A-1003, it was late": [
        [("issue_refund", {"order_id": "A-1003", "amount": 45.5, "reason": "late"})],
        "Refund R-1003 for $45.50 is issued.",
    ],
    "Hi, what are your opening hours?": [
        [("search_kb", {"query": "support shipping cancellations"})],
        "I couldn't find our opening hours in the help center; I'll pass your question to the "
        "team.",
    ],
    "Refund A-1002 please, it's late": [
        [("lookup_order", {"order_id": "A-1002"})],
        f"A-1002 is still processing and its total is $1240. {APPROVAL}",
    ],
    "Was my order A-1005 delivered?": [
        [("lookup_order", {"order_id": "A-1005"})],
        "Yes: A-1005 was delivered on 2026-10-02.",
    ],
}


def respond_fixed(request: Mapping[str, Any]) -> Reply:
    """The fixed agent's scripted model: fixed turns where the demo planted a failure."""
    messages = request.get("messages") or []
    question = next((m.get("content") for m in messages if m.get("role") == "user"), None)
    turns = FIXED_TURNS.get(str(question))
    if turns is None:
        return _script.respond(request)
    turn = sum(1 for m in messages if m.get("role") == "assistant")
    if turn >= len(turns):
        return Text("I'm sorry, I lost track of this conversation.")
    step = turns[turn]
    if isinstance(step, str):
        return Text(step)
    return ToolCalls([ToolCallReply(name, dict(arguments)) for name, arguments in step])
