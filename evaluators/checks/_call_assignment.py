"""Which call the agent made satisfies which expected call, when counts and matchers overlap.

Expected call ``i`` must be matched by at least ``minimum[i]`` and at most ``maximum[i]`` calls
(``None``: no upper bound); ``fits(i, c)`` says whether call ``c`` satisfies it (same tool,
arguments matched). Greedy pairing can fail where a valid pairing exists: with expected
``lookup(order_id=$any)`` and ``lookup(order_id="A-1")`` and the calls ``lookup("A-1")``,
``lookup("A-2")``, taking ``A-1`` for the first leaves the second unmet. So the minimums are
filled as a maximum bipartite matching (augmenting paths, Kuhn's algorithm: traces hold tens of
calls, not thousands); the calls left over then fill the remaining room in listed order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["Assignment", "assign"]


@dataclass
class Assignment:
    matched: dict[int, list[int]] = field(default_factory=dict)  # expected -> calls, trace order
    over: dict[int, int] = field(default_factory=dict)  # call -> the full expected call it fits
    unmatched: list[int] = field(default_factory=list)  # calls that fit no expected call

    def count(self, expected: int) -> int:
        return len(self.matched.get(expected, ()))


def assign(
    minimum: Sequence[int],
    maximum: Sequence[int | None],
    calls: int,
    fits: Callable[[int, int], bool],
) -> Assignment:
    """Pair calls ``0..calls-1`` with expected calls; see the module docstring."""
    candidates = [[c for c in range(calls) if fits(i, c)] for i in range(len(minimum))]
    fitting_of = [[i for i, fit in enumerate(candidates) if c in fit] for c in range(calls)]
    slots = [i for i, count in enumerate(minimum) for _ in range(count)]
    slot_of_call: dict[int, int] = {}

    def augment(slot: int, visited: set[int]) -> bool:
        for call in candidates[slots[slot]]:
            if call in visited:
                continue
            visited.add(call)
            holder = slot_of_call.get(call)
            if holder is None or augment(holder, visited):
                slot_of_call[call] = slot
                return True
        return False

    for slot in range(len(slots)):
        augment(slot, set())
    result = Assignment()
    for call, slot in slot_of_call.items():
        result.matched.setdefault(slots[slot], []).append(call)
    for call in range(calls):
        if call in slot_of_call:
            continue
        fitting = fitting_of[call]
        room = next(
            (i for i in fitting if maximum[i] is None or result.count(i) < (maximum[i] or 0)),
            None,
        )
        if room is not None:
            result.matched.setdefault(room, []).append(call)
        elif fitting:
            result.over[call] = fitting[0]
        else:
            result.unmatched.append(call)
    for calls_of in result.matched.values():
        calls_of.sort()
    return result
