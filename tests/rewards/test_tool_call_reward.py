"""tool_call_reward as a GRPO trainer calls it: calls read from structured messages or from each
chat template's text, rows without references, bad rows, partial credit and its bounds."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from otel_flywheel.errors import ConfigError
from otel_flywheel.rewards import (
    UNREADABLE_TOOL,
    PartialCredit,
    ToolCallReward,
    completion_tool_calls,
    tool_call_reward,
)

LOOKUP = {"expected_tool_calls": [{"name": "lookup", "arguments": {"order_id": "A-1"}}]}
TWO = {
    "expected_tool_calls": [
        {"name": "lookup", "arguments": {"order_id": "A-1"}},
        {"name": "weather", "arguments": {"city": "Lyon", "days": 2}},
    ]
}


def assistant(content: str = "", **fields: Any) -> list[dict[str, Any]]:
    return [{"role": "assistant", "content": content, **fields}]


def structured(*calls: tuple[str, Any]) -> list[dict[str, Any]]:
    return assistant(
        tool_calls=[
            {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(calls)
        ]
    )


def reward(completion: Any, expected: Any = LOOKUP, **options: Any) -> float | None:
    return ToolCallReward(**options).score(completion, expected)


@pytest.mark.parametrize(
    "completion",
    [
        structured(("lookup", {"order_id": "A-1"})),
        structured(("lookup", '{"order_id": "A-1"}')),  # OpenAI's arguments: JSON text
        assistant(
            '<tool_call>\n{"name": "lookup", "arguments": {"order_id": "A-1"}}\n</tool_call>'
        ),
        assistant(
            'Let me check.\n<tool_call>{"name": "lookup", "arguments": {"order_id": "A-1"}}</tool_call>'
        ),
        assistant('{"name": "lookup", "parameters": {"order_id": "A-1"}}'),  # Llama 3.1
        assistant('<|python_tag|>{"name": "lookup", "parameters": {"order_id": "A-1"}}'),
        assistant(
            '[TOOL_CALLS][{"name": "lookup", "arguments": {"order_id": "A-1"}, "id": "a1B2c3D4e"}]'
        ),
        assistant('[TOOL_CALLS]lookup[ARGS]{"order_id": "A-1"}'),  # Mistral's newer tokenizers
        assistant('[{"name": "lookup", "arguments": {"order_id": "A-1"}}]'),
        '<tool_call>{"name": "lookup", "arguments": {"order_id": "A-1"}}</tool_call>',  # plain text
    ],
    ids=[
        "structured",
        "structured_json_text",
        "hermes",
        "hermes_after_text",
        "llama",
        "llama_python_tag",
        "mistral",
        "mistral_args",
        "json_list",
        "standard_format",
    ],
)
def test_a_right_call_scores_one_in_every_shape_a_model_writes_it(completion: Any) -> None:
    assert reward(completion) == 1.0


@pytest.mark.parametrize(
    "completion",
    [
        assistant(
            '<tool_call>{"name": "lookup", "arguments": {"order_id": "A-1"}}</tool_call>\n'
            '<tool_call>{"name": "weather", "arguments": {"city": "Lyon", "days": 2}}</tool_call>'
        ),
        assistant(
            '{"name": "weather", "parameters": {"city": "Lyon", "days": 2}}; '
            '{"name": "lookup", "parameters": {"order_id": "A-1"}}'
        ),
        assistant(
            '[TOOL_CALLS]lookup[ARGS]{"order_id": "A-1"}[TOOL_CALLS]weather[ARGS]{"city": "Lyon", "days": 2}'
        ),
        structured(("weather", {"days": 2, "city": "Lyon"}), ("lookup", {"order_id": "A-1"})),
    ],
    ids=["hermes", "llama", "mistral_args", "structured"],
)
def test_parallel_calls_are_all_read(completion: Any) -> None:
    assert reward(completion, TWO) == 1.0
    assert sorted(c.name for c in completion_tool_calls(completion)) == ["lookup", "weather"]


def test_a_json_answer_with_a_name_is_not_a_tool_call() -> None:
    answer = assistant('{"name": "Ada", "age": 36}')
    assert completion_tool_calls(answer) == []
    assert reward(answer, {"expected_tool_calls": []}) == 1.0  # no call, none expected
    assert reward(answer) == 0.0


@pytest.mark.parametrize(
    ("completion", "name"),
    [
        (assistant('<tool_call>{"name": "lookup", "arguments": {"order_'), "lookup"),
        (assistant("<tool_call>lookup(order_id='A-1')</tool_call>"), UNREADABLE_TOOL),
        (structured(("lookup", '{"order_id": "A-')), "lookup"),
        (assistant('[TOOL_CALLS]lookup{"order_id": "A-1"}'), UNREADABLE_TOOL),
    ],
    ids=["cut_off", "not_json", "structured_truncated", "mistral_without_args"],
)
def test_a_call_that_cannot_be_read_scores_zero(completion: Any, name: str) -> None:
    (call,) = completion_tool_calls(completion)
    assert call.arguments_malformed
    assert call.name == name
    assert reward(completion) == 0.0


def test_a_completion_without_calls_is_text() -> None:
    assert reward("The order has shipped.") == 0.0
    assert reward("The order has shipped.", {"expected_tool_calls": []}) == 1.0


def test_the_reward_takes_what_trl_passes() -> None:
    """TRL passes every other column and its own helpers as keyword arguments."""
    metrics: dict[str, float] = {}
    completions = [
        structured(("lookup", {"order_id": "A-1"})),
        assistant("<tool_call>broken"),
        structured(("lookup", {"order_id": "A-1"})),
    ]
    rewards = tool_call_reward(
        prompts=[[{"role": "user", "content": "Where is A-1?"}]] * 3,
        completions=completions,
        completion_ids=[[1, 2], [3], [4]],
        expected_tool_calls=[LOOKUP, LOOKUP, None],
        tools=[None, None, None],
        expected_output=["It shipped.", "It shipped.", None],
        trainer_state=object(),
        log_extra=lambda *args: None,
        log_metric=metrics.__setitem__,
    )
    assert rewards == [1.0, 0.0, None]  # None: this row is not the tool-call reward's to score
    assert metrics == {"tool_call_reward/unreadable_calls": pytest.approx(1 / 3)}


def test_references_as_json_text_and_as_a_bare_list_are_read() -> None:
    completion = structured(("lookup", {"order_id": "A-1"}))
    assert reward(completion, json.dumps(LOOKUP)) == 1.0
    assert reward(completion, LOOKUP["expected_tool_calls"]) == 1.0
    v2 = {"version": 2, "tool_calls": {"expected": LOOKUP["expected_tool_calls"]}}
    assert reward(completion, v2) == 1.0


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"expected_tool_calls": [{"name": "x", "arguments": {"a": {"$one_of": [1]}}}]},
            "unknown matcher",
        ),
        ({"tool_calls": {"expected": []}}, '"version": 2'),
        ({"policy": "be nice"}, "name no tool calls"),
        ("{not json", "not JSON"),
        (42, "give a references object"),
    ],
)
def test_a_malformed_row_fails_loudly_naming_the_row_never_its_values(
    row: Any, message: str
) -> None:
    with pytest.raises(ConfigError, match="row 1") as raised:
        tool_call_reward(
            completions=[assistant("x"), assistant("y")], expected_tool_calls=[LOOKUP, row]
        )
    assert message in str(raised.value)


def test_a_dataset_without_the_column_is_named() -> None:
    with pytest.raises(ConfigError, match="export grpo"):
        tool_call_reward(prompts=[[]], completions=[assistant("x")])


def test_the_tools_column_says_which_lookups_are_free() -> None:
    row = {
        "version": 2,
        "tool_calls": {"expected": [{"name": "cancel", "arguments": {"id": "R1"}}]},
    }
    completion = structured(("get_user", {"id": "u1"}), ("cancel", {"id": "R1"}))
    tools = [
        {
            "type": "function",
            "function": {"name": "get_user", "annotations": {"readOnlyHint": True}},
        },
        {
            "name": "cancel",
            "inputSchema": {"type": "object"},
            "annotations": {"readOnlyHint": False},
        },
    ]
    scorer = ToolCallReward()
    assert scorer(completions=[completion], expected_tool_calls=[row], tools=[tools]) == [1.0]
    # Without them nothing says the lookup only reads: it is a call nobody expected.
    assert scorer(completions=[completion], expected_tool_calls=[row], tools=[None]) == [0.0]


# --- partial credit -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("completion", "binary", "partial"),
    [
        (
            structured(("lookup", {"order_id": "A-1"}), ("weather", {"city": "Lyon", "days": 2})),
            1.0,
            1.0,
        ),
        # one right, one with 1 of 2 arguments right: (1 + 0.5 + 0.5 * 1/2) / 2
        (
            structured(("lookup", {"order_id": "A-1"}), ("weather", {"city": "Lyon", "days": 3})),
            0.0,
            0.875,
        ),
        # one right, the other not made at all
        (structured(("lookup", {"order_id": "A-1"})), 0.0, 0.5),
        # both right plus a call nobody asked for: 1 - 0.25
        (
            structured(
                ("lookup", {"order_id": "A-1"}),
                ("weather", {"city": "Lyon", "days": 2}),
                ("refund", {"id": "A-1"}),
            ),
            0.0,
            0.75,
        ),
        # the right tools with arguments that are not JSON: 0.5 each
        (structured(("lookup", "{bad"), ("weather", "{bad")), 0.0, 0.5),
        # wrong tools only: nothing earned, two unexpected calls
        (structured(("refund", {"id": "A-1"}), ("cancel", {"id": "A-1"})), 0.0, 0.0),
        ("no call at all", 0.0, 0.0),
    ],
    ids=[
        "right",
        "one_argument_wrong",
        "one_missing",
        "extra_call",
        "malformed",
        "wrong_tools",
        "text",
    ],
)
def test_partial_credit_grades_failures_and_never_reaches_a_pass(
    completion: Any, binary: float, partial: float
) -> None:
    assert reward(completion, TWO) == binary
    graded = reward(completion, TWO, partial=PartialCredit())
    assert graded == pytest.approx(partial)
    if binary == 0.0:
        assert graded is not None
        assert graded < 1.0


def test_partial_credit_options() -> None:
    wrong_day = structured(
        ("lookup", {"order_id": "A-1"}), ("weather", {"city": "Lyon", "days": 3})
    )
    assert reward(wrong_day, TWO, partial=PartialCredit(arguments=False)) == pytest.approx(0.75)
    assert reward(wrong_day, TWO, partial=PartialCredit(right_tool=0.0, arguments=False)) == 0.5
    extra = structured(("lookup", {"order_id": "A-1"}), ("refund", {"id": "A-1"}))
    assert reward(extra, LOOKUP, partial=PartialCredit(extra_call_penalty=1.0)) == 0.0
    none_expected = {"expected_tool_calls": []}
    assert reward(extra, none_expected, partial=PartialCredit()) == 0.5
    # Every argument right but the call repeated past its maximum: below a pass, by the penalty.
    twice = structured(("lookup", {"order_id": "A-1"}), ("lookup", {"order_id": "A-1"}))
    assert reward(twice, LOOKUP, partial=PartialCredit()) == 0.75


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"right_tool": 1.0}, "right_tool"),
        ({"right_tool": -0.1}, "right_tool"),
        ({"extra_call_penalty": 0.0}, "extra_call_penalty"),
        ({"extra_call_penalty": 1.5}, "extra_call_penalty"),
    ],
)
def test_partial_credit_refuses_settings_that_would_let_a_failure_pass(
    options: dict[str, float], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        PartialCredit(**options)


def test_the_reward_is_picklable_and_named_for_trl_logs() -> None:
    graded = ToolCallReward(partial=PartialCredit(right_tool=0.3), name="calls")
    graded.score(structured(("lookup", {"order_id": "A-1"})), LOOKUP)  # fill its caches
    copy = pickle.loads(pickle.dumps(graded))
    assert copy.__name__ == "calls"
    assert copy.partial == PartialCredit(right_tool=0.3)
    assert copy.score(structured(("lookup", {"order_id": "A-2"})), LOOKUP) == pytest.approx(
        0.3 + 0.7 * 0
    )
    assert tool_call_reward.__name__ == "tool_call_reward"  # type: ignore[attr-defined]
