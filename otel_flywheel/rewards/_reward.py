"""`tool_call_reward`: the flywheel's deterministic checks as a verifiable reward for GRPO.

TRL's ``GRPOTrainer`` calls a reward function as ``f(prompts=..., completions=..., **columns)``,
one value per completion, every other dataset column passed by name. This one reads two columns
``otel-flywheel export grpo`` writes:

- ``expected_tool_calls``: the calls the row requires, in the references format ``evaluate
  --references`` reads, without ``trace_id`` (``{"expected_tool_calls": [...]}``, version 1's exact
  set, or ``{"version": 2, "tool_calls": {...}}``; a bare list is read as version 1);
- ``tools``: the tools offered, whose MCP ``readOnlyHint`` annotations make lookups free under
  ``others: read_only``.

Each completion's calls (`_parse`) become a trace (`_trace`), which the ``expected_tool_calls``
check judges exactly as ``evaluate`` judges a captured run, with the same matchers: 1.0 when it
passes; 0.0 when it fails, or when the calls cannot be read. `PartialCredit` grades failures
instead. A row without ``expected_tool_calls`` gets ``None``, which TRL leaves out of the reward
(another reward function may score it). A row whose references are malformed raises
``ConfigError`` naming the row: a broken training set must not train quietly on zeros.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from otel_flywheel.conventions import tool_definitions_from_json
from otel_flywheel.errors import ConfigError
from otel_flywheel.evaluation import CallScore, CallScorer, load_call_scorer
from otel_flywheel.model import ToolDefinition
from otel_flywheel.rewards._parse import UNREADABLE_TOOL, completion_messages
from otel_flywheel.rewards._trace import trace_from_completion

__all__ = ["PartialCredit", "ToolCallReward", "tool_call_reward"]

_BELOW_ONE: Final = 1.0 - 1e-6  # a failing verdict never earns the reward of a pass
_CACHE_SIZE: Final = 4096  # parsed references and tools: GRPO scores each row num_generations times


@dataclass(frozen=True, kw_only=True)
class PartialCredit:
    """How a failing completion is graded instead of getting 0.0 (a pass is always 1.0).

    Each call the references require earns 1 when made with matching arguments; made with the
    right tool but other arguments, it earns ``right_tool``, plus, with ``arguments``, the rest
    of the way in proportion to the share of its arguments that match (a call with 3 of 4
    arguments right earns ``0.5 + 0.5 * 3/4`` by default); not made, 0. The average over the
    required calls (1.0 when none is required) then loses ``extra_call_penalty`` per call the
    references do not allow (unnecessary, repeated or misordered), floored at 0. A failing
    completion always stays below 1.0.
    """

    right_tool: float = 0.5
    arguments: bool = True
    extra_call_penalty: float = 0.25

    def __post_init__(self) -> None:
        if not 0.0 <= self.right_tool < 1.0:
            raise ConfigError(
                f"PartialCredit.right_tool must be within [0, 1), got {self.right_tool}: a call "
                "with wrong arguments cannot earn what a right one does"
            )
        if not 0.0 < self.extra_call_penalty <= 1.0:
            raise ConfigError(
                f"PartialCredit.extra_call_penalty must be within (0, 1], got "
                f"{self.extra_call_penalty}: calls nobody asked for must cost something"
            )

    def grade(self, score: CallScore) -> float:
        if score.passed:
            return 1.0
        earned = float(score.matched)
        for share in score.near_misses:
            earned += self.right_tool
            if self.arguments:
                earned += (1.0 - self.right_tool) * share
        credit = earned / score.required if score.required else 1.0
        credit -= self.extra_call_penalty * score.beyond
        return min(max(credit, 0.0), _BELOW_ONE)


class ToolCallReward:
    """A reward function for TRL's ``GRPOTrainer`` (see the module docstring).

    ``partial``: grade failures (`PartialCredit`) instead of scoring them 0.0. ``name``: the
    name TRL logs the reward under. Instances are picklable, as TRL's workers need.
    """

    def __init__(self, *, partial: PartialCredit | None = None, name: str = "tool_call_reward"):
        self.partial = partial
        self.__name__ = name
        self._scorer: CallScorer | None = None
        self._references: OrderedDict[str, Any] = OrderedDict()
        self._tools: OrderedDict[str, tuple[ToolDefinition, ...]] = OrderedDict()

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] = (),
        expected_tool_calls: Sequence[Any] | None = None,
        tools: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        """One reward per completion; ``None`` where the row names no expected calls."""
        if expected_tool_calls is None:
            raise ConfigError(
                "tool_call_reward needs the dataset's expected_tool_calls column (otel-flywheel "
                "export grpo writes it); this dataset has none"
            )
        if len(expected_tool_calls) != len(completions):
            raise ConfigError(
                f"tool_call_reward got {len(completions)} completions but "
                f"{len(expected_tool_calls)} expected_tool_calls values"
            )
        offered = tools if tools is not None else [None] * len(completions)
        rewards: list[float | None] = []
        unreadable = 0
        for index, (completion, expected, row_tools) in enumerate(
            zip(completions, expected_tool_calls, offered, strict=True)
        ):
            try:
                reward, unread = self._score(completion, expected, row_tools)
            except ConfigError as exc:
                raise ConfigError(f"tool_call_reward, row {index}: {exc}") from None
            rewards.append(reward)
            unreadable += unread
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and completions:
            log_metric(f"{self.__name__}/unreadable_calls", unreadable / len(completions))
        return rewards

    def score(self, completion: Any, expected_tool_calls: Any, tools: Any = None) -> float | None:
        """The reward of one completion: what ``__call__`` gives each."""
        return self._score(completion, expected_tool_calls, tools)[0]

    def _score(self, completion: Any, expected: Any, tools: Any) -> tuple[float | None, int]:
        if expected is None:
            return None, 0
        references = self._parsed_references(expected)
        definitions = self._parsed_tools(tools)
        messages = completion_messages(completion)
        trace = trace_from_completion(messages, tools=definitions)
        result = self._call_scorer().score_calls(trace, references, tools=definitions)
        unread = any(
            call.arguments_malformed and call.name == UNREADABLE_TOOL
            for message in messages
            for call in message.tool_calls
        )
        if self.partial is None:
            return (1.0 if result.passed else 0.0), int(unread)
        return self.partial.grade(result), int(unread)

    def _call_scorer(self) -> CallScorer:
        if self._scorer is None:
            self._scorer = load_call_scorer()
        return self._scorer

    def _parsed_references(self, value: Any) -> Any:
        key = _key(value)
        cached = self._references.get(key)
        if cached is None:
            cached = self._call_scorer().parse_expected(value)
            _remember(self._references, key, cached)
        return cached

    def _parsed_tools(self, value: Any) -> tuple[ToolDefinition, ...]:
        if not value:
            return ()
        key = _key(value)
        cached = self._tools.get(key)
        if cached is None:
            cached = tuple(tool_definitions_from_json(list(value) if _is_list(value) else value))
            _remember(self._tools, key, cached)
        return cached

    def __getstate__(self) -> dict[str, Any]:
        # The evaluators module is loaded again in the worker; caches start empty there.
        return {"partial": self.partial, "__name__": self.__name__}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__init__(partial=state["partial"], name=state["__name__"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"ToolCallReward(partial={self.partial!r}, name={self.__name__!r})"


tool_call_reward: Callable[..., list[float | None]] = ToolCallReward()
"""1.0 when a completion's tool calls pass the ``expected_tool_calls`` check, else 0.0."""


def _key(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _remember(cache: OrderedDict[str, Any], key: str, value: Any) -> None:
    if len(cache) >= _CACHE_SIZE:
        # Oldest first, in O(1): a plain dict's first entry, deleted, leaves a slot that every
        # later ``next(iter(...))`` walks over again.
        cache.popitem(last=False)
    cache[key] = value


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)
