"""Fitting the fences into a budget: every text keeps what its weight earns, small ones whole.

1. Everything is shown when it fits.
2. Otherwise one cap is found (by bisection) such that each text keeps ``max(floor, cap x
   weight)`` characters: short texts (a call's arguments, an error, a one-line answer) stay whole
   and only long ones are cut, the long texts of suspicious steps and of the rubric's focus last.
3. When even the floors do not fit, the least suspicious steps are omitted (a gap line says which)
   until the floors take half the budget, and the cap is found again. Protected steps (flagged by a
   check, failed, the final answer) are never omitted: a trace whose protected steps alone do not
   fit is rendered over budget rather than hiding them.

Repeats are resolved while rendering, over the steps actually shown: the first shown occurrence of
a text carries it and later ones point to it, so omitting a step never leaves a pointer to nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ._blocks import Block, Item
from ._fence import neutralize
from ._tokens import text_size

__all__ = ["Fitted", "Layout", "fit"]

_BISECT_STEPS = 22
_MIN_CHARS = 40
_FLOOR_SCALES = (1.0, 0.5, 0.25, 0.1)  # floors shrink only when the protected steps' do not fit


@dataclass
class Layout:
    """What one request shows: trace blocks (fixed ones with ``number`` 0, then steps) and
    reference blocks. ``steps_line`` heads the steps (e.g. ``steps (60):``); None shows no steps."""

    trace: list[Block]
    references: list[Block]
    steps_line: str | None = None
    known: dict[str, str] = field(default_factory=dict)
    """Texts shown elsewhere (the goal, the answer) -> what to call them in a pointer."""
    scope: set[int] | None = None
    """The steps this request is about (a part); the others are judged in other parts."""
    before_cut: Callable[[], None] | None = None
    """Called once the whole rendering is found too long: ranks the steps and weighs the texts."""

    @property
    def steps(self) -> list[Block]:
        return [
            b for b in self.trace if b.number > 0 and (self.scope is None or b.number in self.scope)
        ]


@dataclass
class Fitted:
    """A rendering: the two fence bodies, and what each step and text got."""

    trace_text: str
    references_text: str
    size: int
    shown: set[int] = field(default_factory=set)
    cut: set[int] = field(default_factory=set)
    elided: set[int] = field(default_factory=set)
    shown_chars: int = 0
    total_chars: int = 0
    used: set[str] = field(default_factory=set)

    @property
    def share_shown(self) -> float:
        return 1.0 if self.total_chars == 0 else min(1.0, self.shown_chars / self.total_chars)


def _allowance(item: Item, cap: float | None, floor_scale: float) -> int | None:
    if cap is None:
        return None
    allowance = max(int(item.floor * floor_scale), _MIN_CHARS, int(cap * item.weight))
    return None if allowance >= len(item.text) else allowance


def render(
    layout: Layout, kept: set[int] | None, cap: float | None, floor_scale: float = 1.0
) -> Fitted:
    """Render ``layout`` showing the steps in ``kept`` (None: all) with texts capped at ``cap``."""
    where: dict[str, str] = dict(layout.known)
    fitted = Fitted(trace_text="", references_text="", size=0)
    trace_lines: list[str] = []
    gap: list[int] = []
    elsewhere: list[int] = []
    steps_started = False
    for block in layout.trace:
        if block.number > 0:
            if not steps_started and layout.steps_line is not None:
                trace_lines.append(layout.steps_line)
            steps_started = True
            if layout.steps_line is None:
                continue
            if layout.scope is not None and block.number not in layout.scope:
                if gap:
                    trace_lines.append(_gap_line(gap))
                    gap = []
                elsewhere.append(block.number)
                continue
            if elsewhere:
                trace_lines.append(_gap_line(elsewhere, "in the other parts"))
                elsewhere = []
            if kept is not None and block.number not in kept:
                gap.append(block.number)
                fitted.elided.add(block.number)
                continue
            if gap:
                trace_lines.append(_gap_line(gap))
                gap = []
        trace_lines += _render_block(block, cap, floor_scale, where, fitted)
    if gap:
        trace_lines.append(_gap_line(gap))
    if elsewhere:
        trace_lines.append(_gap_line(elsewhere, "in the other parts"))
    reference_lines: list[str] = []
    for block in layout.references:
        reference_lines += _render_block(block, cap, floor_scale, where, fitted)
    fitted.trace_text = "\n".join(trace_lines)
    fitted.references_text = "\n".join(reference_lines)
    fitted.size = text_size(fitted.trace_text) + text_size(fitted.references_text)
    return fitted


def _render_block(
    block: Block, cap: float | None, floor_scale: float, where: dict[str, str], fitted: Fitted
) -> list[str]:
    indent = "  " * block.depth
    detail = indent + ("    " if block.number > 0 else block.item_indent)
    lines: list[str] = []
    summary_at: int | None = None
    announced = listed = 0
    cut = False
    place = f"step {block.number}" if block.number > 0 else "the shared context above"
    for position, line in enumerate(block.lines):
        if isinstance(line, str):
            if line.startswith("input: ") and line.endswith(" messages"):
                summary_at = len(lines)
                announced = int(line.split()[1])
            fixed = block.fixed.get(position)
            if fixed is None:
                prefix = indent if position == 0 else detail
                fixed = block.fixed[position] = neutralize(prefix + line)
            lines.append(fixed)
            continue
        item = line
        prefix = detail
        if item.key and item.key in where:
            if item.skip_repeat:
                continue
            lines.append(neutralize(f"{prefix}{item.label}: (same as {where[item.key]})"))
            continue
        listed += item.message
        allowance = _allowance(item, cap, floor_scale)
        lines.append(item.line(prefix, allowance))
        fitted.total_chars += len(item.text)
        fitted.shown_chars += len(item.text) if allowance is None else allowance
        if allowance is not None:
            cut = True
        if item.reference is not None:
            fitted.used.add(item.reference)
        if item.key:
            where[item.key] = place
    if summary_at is not None and announced > listed:
        lines[summary_at] += (
            f", {announced - listed} shown before, new:" if listed else ", all shown before"
        )
    if block.number > 0:
        (fitted.cut if cut else fitted.shown).add(block.number)
    return lines


def _gap_line(gap: Sequence[int], why: str = "omitted") -> str:
    first, last = gap[0], gap[-1]
    which = f"step {first}" if first == last else f"steps {first}-{last}"
    return f"[... {which} {why} ...]"


def _largest_cap(layout: Layout, kept: set[int] | None, budget: int) -> Fitted:
    """The rendering with the largest cap that fits ``budget`` (the smallest floors' if none
    does: over budget rather than hiding a protected step)."""
    texts = [item for block in [*layout.trace, *layout.references] for item in block.items]
    high = max((len(item.text) / max(item.weight, 1e-6) for item in texts), default=1.0)
    for scale in _FLOOR_SCALES:
        best = render(layout, kept, 0.0, scale)
        if best.size <= budget:
            break
    else:
        return best
    low = 0.0
    for _ in range(_BISECT_STEPS):
        middle = (low + high) / 2
        attempt = render(layout, kept, middle, scale)
        if attempt.size <= budget:
            low, best = middle, attempt
        else:
            high = middle
        if high - low < max(8.0, low * 0.02):  # within 2%: another render gains little
            break
    return best


def fit(layout: Layout, budget: int) -> Fitted:
    """The best rendering of ``layout`` within ``budget`` bytes (see the module docstring)."""
    whole = render(layout, None, None)
    if whole.size <= budget:
        return whole
    if layout.before_cut is not None:
        layout.before_cut()
    floors = render(layout, None, 0.0)
    if floors.size <= budget:
        return _with_total(_largest_cap(layout, None, budget), whole)
    steps = layout.steps
    numbers = {block.number for block in steps}
    candidates = sorted(
        (block for block in steps if not block.protected),
        key=lambda block: (block.suspicion, -block.number),
    )
    target = budget // 2
    low, high = 0, len(candidates)  # how many of the least suspicious to omit
    while low < high:
        middle = (low + high) // 2
        kept = numbers - {block.number for block in candidates[:middle]}
        if render(layout, kept, 0.0).size <= target:
            high = middle
        else:
            low = middle + 1
    kept = numbers - {block.number for block in candidates[:low]}
    return _with_total(_largest_cap(layout, kept, budget), whole)


def _with_total(fitted: Fitted, whole: Fitted) -> Fitted:
    # The share shown is measured against the whole rendering, repeats resolved over every step.
    fitted.total_chars = whole.total_chars
    return fitted
