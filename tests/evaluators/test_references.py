"""References files: JSON lines keyed by trace id; errors name the line and the fix."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from trace_builders import build_trace

from otel_flywheel.errors import ConfigError
from otel_flywheel.evaluators._reference_format import dump_references_json_schema
from otel_flywheel.evaluators.checks import EXACT_SET, ExpectedCall, ToolCatalog
from otel_flywheel.evaluators.references import (
    References,
    load_references,
    read_references,
)
from otel_flywheel.evaluators.rubric import load_taxonomy
from otel_flywheel.evaluators.suite import EvaluatorSuite
from otel_flywheel.evaluators.tools import load_tool_catalog
from otel_flywheel.privacy import build_redactor

RUBRICS_DIR = Path(__file__).resolve().parents[2] / "rubrics"

TRACE = "0AF7651916CD43DD8448EB211C80319C"


def write(path: Path, *entries: object) -> Path:
    path.write_text("\n".join(json.dumps(e) for e in entries) + "\n", encoding="utf-8")
    return path


def test_references_load_by_trace_id_with_policy_files(tmp_path: Path) -> None:
    (tmp_path / "refunds.md").write_text("Refunds over $500 need approval.", encoding="utf-8")
    path = write(
        tmp_path / "refs.jsonl",
        {
            "trace_id": TRACE,
            "expected_output": "Refund R-1003 issued.",
            "expected_tool_calls": [
                {"name": "issue_refund", "arguments": {"order_id": "A-1003", "amount": 45.5}}
            ],
            "policy": {"path": "refunds.md"},
        },
    )

    references = load_references(path)[TRACE.lower()]

    assert references.expected_output == "Refund R-1003 issued."
    assert references.expected_tool_calls is not None
    assert [c.name for c in references.expected_tool_calls] == ["issue_refund"]
    assert references.policy == "Refunds over $500 need approval."
    assert references.names == ("reference_answer", "expected_tool_calls", "policy_document")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 1: not JSON"),
        ('{"expected_output": "x"}', '"trace_id" string'),
        (f'{{"trace_id": "{TRACE}", "answer": "x"}}', "unknown keys ['answer']"),
        (f'{{"trace_id": "{TRACE}", "expected_tool_calls": {{"name": "x"}}}}', "must be a list"),
        (
            f'{{"trace_id": "{TRACE}", "policy": {{"path": "missing.md"}}}}',
            "cannot read policy file",
        ),
    ],
)
def test_bad_references_name_the_line_and_the_fix(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "refs.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_references(path)


# --- version 2 ---------------------------------------------------------------------------------

TRACE_2 = "4BF92F3577B34DA6A3CE929D0E0E4736"


def test_version_2_says_which_calls_must_happen_and_which_are_free(tmp_path: Path) -> None:
    path = write(
        tmp_path / "refs.jsonl",
        {
            "version": 2,
            "trace_id": TRACE_2,
            "tool_calls": {
                "expected": [
                    {"name": "get_user_details", "min": 1, "max": None},
                    {"name": "cancel_reservation", "arguments": {"reservation_id": "ZFA04Y"}},
                    {"name": "issue_refund", "min": 0, "max": 0},
                ],
                "others": "read_only",
                "allow": ["think", {"$regex": "transfer_to_.*"}],
                "read_only": ["get_*"],
                "ordered": True,
            },
        },
    )

    references = load_references(path, redactor=False)[TRACE_2.lower()]

    calls = references.expected_tool_calls
    assert calls is not None
    assert [(c.name, c.min, c.max) for c in calls] == [
        ("get_user_details", 1, None),
        ("cancel_reservation", 1, 1),
        ("issue_refund", 0, 0),
    ]
    matching = references.call_matching
    assert (matching.others, matching.ordered) == ("read_only", True)
    assert [str(p) for p in matching.allow] == ["think", "/transfer_to_.*/"]
    assert matching.allow[1].matches("transfer_to_human_agents")
    assert [str(p) for p in references.read_only] == ["get_*"]
    assert references.line == 1


def test_version_1_is_the_exact_set_and_version_2_defaults_to_free_lookups(tmp_path: Path) -> None:
    path = write(
        tmp_path / "refs.jsonl",
        {"trace_id": TRACE, "expected_tool_calls": [{"name": "a"}]},
        {"version": 2, "trace_id": TRACE_2, "tool_calls": {"expected": [{"name": "a"}]}},
    )
    refs = load_references(path, redactor=False)
    assert refs[TRACE.lower()].call_matching == EXACT_SET
    assert refs[TRACE_2.lower()].call_matching.others == "read_only"


def test_the_schema_file_equals_the_models_schema() -> None:
    text = (RUBRICS_DIR / "references.schema.json").read_text(encoding="utf-8")
    assert text == dump_references_json_schema(), (
        "rubrics/references.schema.json is stale; regenerate it with python -c 'from "
        "otel_flywheel.evaluators._reference_format import dump_references_json_schema as d; "
        'open("rubrics/references.schema.json", "w").write(d())\''
    )


@pytest.mark.parametrize(
    "line",
    [
        {"trace_id": TRACE, "expected_tool_calls": []},
        {"trace_id": TRACE, "expected_output": "x", "policy": {"path": "p.md"}},
        {"version": 2, "trace_id": TRACE, "tool_calls": {"expected": [{"name": "a", "max": None}]}},
        {"version": 2, "trace_id": TRACE, "tool_calls": {"allow": [{"$regex": "^get_"}]}},
    ],
)
def test_valid_lines_validate_against_the_json_schema(line: dict[str, object]) -> None:
    schema = json.loads((RUBRICS_DIR / "references.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(line, schema)


@pytest.mark.parametrize(
    "line",
    [
        {"trace_id": TRACE, "tool_calls": {}},
        {"version": 2, "trace_id": TRACE, "tool_calls": {"others": "some"}},
        {"version": 3, "trace_id": TRACE},
    ],
)
def test_invalid_lines_fail_the_json_schema(line: dict[str, object]) -> None:
    schema = json.loads((RUBRICS_DIR / "references.schema.json").read_text(encoding="utf-8"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(line, schema)


# --- bad files: every problem, with its line, never silently ignored ----------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"trace_id": "x"', "not JSON: Expecting ',' delimiter at column 17"),
        ("[1, 2]", '"trace_id" string'),
        (f'{{"trace_id": "{TRACE}", "trace_id": "{TRACE}"}}', "key 'trace_id' appears twice"),
        ('{"trace_id": "order-17"}', "trace_id: must be 32 hex digits"),
        (f'{{"version": 3, "trace_id": "{TRACE}"}}', "version must be one of [1, 2]"),
        (
            f'{{"trace_id": "{TRACE}", "tool_calls": {{}}}}',
            "unknown keys ['tool_calls'] (tool_calls needs \"version\": 2)",
        ),
        (
            f'{{"trace_id": "{TRACE}", "expected_tool_calls": '
            '[{"name": "a", "arguments": {"x": {"$one_of": [1]}}}]}',
            'expected_tool_calls[0].arguments.x: unknown matcher "$one_of"',
        ),
        (
            f'{{"version": 2, "trace_id": "{TRACE}", "tool_calls": {{"expected": '
            '[{"name": "a", "arguments": {"x": {"$regex": "("}}}]}}',
            "tool_calls.expected[0].arguments.x.$regex: not a valid regular expression",
        ),
        (
            f'{{"trace_id": "{TRACE}", "expected_tool_calls": '
            '[{"name": "a", "arguments": {"x": {"$any": true, "y": 1}}}]}',
            "a matcher object has exactly one key",
        ),
        (
            f'{{"version": 2, "trace_id": "{TRACE}", "tool_calls": {{"expected": '
            '[{"name": "a", "min": 2, "max": 1}]}}',
            "max must not be below min",
        ),
        (
            f'{{"version": 2, "trace_id": "{TRACE}", "tool_calls": {{"expected": [{{"name": "a", '
            '"args": {}}]}}',
            "tool_calls.expected[0].args: unknown key; the keys are name, arguments, min, max",
        ),
        (
            f'{{"version": 2, "trace_id": "{TRACE}", "tool_calls": {{"others": "some"}}}}',
            "tool_calls.others: Input should be 'forbidden', 'read_only' or 'allowed'",
        ),
        (
            f'{{"version": 2, "trace_id": "{TRACE}", "tool_calls": {{"allow": [{{"$regex": "("}}]}}}}',
            "tool_calls.allow[0]: not a valid regular expression",
        ),
        (
            f'{{"version": 2, "trace_id": "{TRACE}", "expected_tool_calls": [], "tool_calls": {{}}}}',
            "not both",
        ),
    ],
)
def test_each_problem_names_its_line_and_field(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "refs.jsonl"
    path.write_text("\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_references(path)
    (problem,) = [line for line in str(caught.value).splitlines() if "line 2: " in line]
    assert message in problem


def test_every_bad_line_is_reported_at_once_and_a_trace_given_twice_is_one(tmp_path: Path) -> None:
    path = tmp_path / "refs.jsonl"
    good = json.dumps({"trace_id": TRACE, "expected_output": "x"})
    path.write_text(f"{good}\nnot json\n{good}\n{{}}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_references(path)
    message = str(caught.value)
    assert "3 problem(s)" in message
    assert "line 2: not JSON" in message
    assert f"line 3: trace {TRACE.lower()} already has references on line 1" in message
    assert "line 4: trace_id: required" in message


def test_errors_never_echo_a_value(tmp_path: Path) -> None:
    secret = "ada.lovelace@example.com"
    lines = [
        {"trace_id": TRACE, "expected_output": [secret]},
        {
            "trace_id": TRACE_2,
            "expected_tool_calls": [{"name": "a", "arguments": {"e": {"$regex": secret + "("}}}],
        },
        {"version": 2, "trace_id": "0" * 32, "tool_calls": {"others": secret}},
        {
            "version": 2,
            "trace_id": "1" * 32,
            "tool_calls": {"expected": [{"name": "a", "min": secret}]},
        },
    ]
    path = write(tmp_path / "refs.jsonl", *lines)
    with pytest.raises(ConfigError) as caught:
        load_references(path)
    assert "4 problem(s)" in str(caught.value)
    assert secret not in str(caught.value)
    assert "ada" not in str(caught.value)


def test_keys_version_1_ignores_are_warnings_with_their_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "refs.jsonl",
        {"trace_id": TRACE, "expected_tool_calls": [{"name": "a", "args": {}, "max": 2}]},
    )
    file = read_references(path, redactor=False)
    assert [str(w) for w in file.warnings] == [
        f"{path}, line 1: expected_tool_calls[0]: key 'args' is ignored",
        f"{path}, line 1: expected_tool_calls[0]: key 'max' is ignored (counts are "
        'tool_calls.expected[].min/max, with "version": 2)',
    ]


def test_references_that_cannot_apply_to_the_traces_are_warnings(tmp_path: Path) -> None:
    trace = build_trace(seed="refs")
    path = write(
        tmp_path / "refs.jsonl",
        {"trace_id": trace.trace_id, "expected_tool_calls": [{"name": "lookup_ordr"}]},
        {"trace_id": TRACE, "expected_output": "x"},
        {
            "version": 2,
            "trace_id": "0" * 32,
            "tool_calls": {"allow": ["serach_*"], "others": "allowed"},
        },
    )
    other = build_trace(seed="other")
    other.trace_id = "0" * 32
    file = read_references(path, redactor=False)

    warnings = [(w.line, w.message) for w in file.check_against([trace, other])]

    assert warnings == [
        (1, "expected tool 'lookup_ordr' is offered and called in no trace"),
        (2, f"trace {TRACE.lower()} is not among the traces evaluated; unused"),
        (3, "tool-name pattern 'serach_*' matches no tool in any trace"),
    ]


# --- redaction: references are pseudonymized with the traces' redactor --------------------------

EMAIL, PHONE, CARD = "ada.lovelace@example.com", "+44 20 7946 0958", "4111 1111 1111 1111"


def test_every_value_is_redacted_as_the_traces_are_and_matchers_keep_their_shape(
    tmp_path: Path,
) -> None:
    (tmp_path / "policy.md").write_text(f"Escalate to {EMAIL}.", encoding="utf-8")
    arguments = {
        "email": EMAIL,
        "phone": {"$any_of": [PHONE, "none"]},
        "card": {"$optional": CARD},
        "card_int": 4111111111111111,
        "filter": {"$literal": {"$eq": EMAIL}},
        "pattern": {"$regex": ".*@example\\.com"},
        "nested": [{"to": EMAIL}],
        "id": "A-1001",
    }
    path = write(
        tmp_path / "refs.jsonl",
        {
            "trace_id": TRACE,
            "expected_output": f"We wrote to {EMAIL}.",
            "policy": {"path": "policy.md"},
            "expected_tool_calls": [{"name": "notify", "arguments": arguments}],
        },
    )
    redactor = build_redactor()
    assert redactor is not None

    references = load_references(path)[TRACE.lower()]

    def token(kind: str, value: str) -> str:
        return redactor.token(kind, value)

    assert references.redacted
    assert references.expected_output == f"We wrote to {token('EMAIL', EMAIL)}."
    assert references.policy == f"Escalate to {token('EMAIL', EMAIL)}."
    (call,) = references.expected_tool_calls or ()
    assert dict(call.arguments) == {
        "email": token("EMAIL", EMAIL),
        "phone": {"$any_of": [token("PHONE", PHONE), "none"]},
        "card": {"$optional": token("CARD", CARD)},
        "card_int": token("CARD", "4111111111111111"),
        "filter": {"$literal": {"$eq": token("EMAIL", EMAIL)}},
        "pattern": {"$regex": ".*@example\\.com"},
        "nested": [{"to": token("EMAIL", EMAIL)}],
        "id": "A-1001",
    }
    assert EMAIL not in repr(references)
    assert references.redact(redactor) is references  # once is enough


def test_references_stay_raw_only_when_asked(tmp_path: Path) -> None:
    path = write(tmp_path / "refs.jsonl", {"trace_id": TRACE, "expected_output": EMAIL})
    raw = load_references(path, redactor=False)[TRACE.lower()]
    assert (raw.expected_output, raw.redacted) == (EMAIL, False)


def test_the_suite_redacts_references_built_in_code_before_checks_and_judge() -> None:
    """A pipeline's ``references=`` callable or a replay example hands over raw values: they
    match the trace's pseudonyms, and no finding quotes them."""
    redactor = build_redactor()
    assert redactor is not None
    trace = build_trace(seed="pii")
    (tool_step,) = [s for s in trace.steps if s.tool is not None]
    assert tool_step.tool is not None
    tool_step.tool.arguments = {"email": redactor.token("EMAIL", EMAIL)}
    suite = EvaluatorSuite(taxonomy=load_taxonomy())
    built = References(
        expected_output=f"Mail {EMAIL}",
        expected_tool_calls=(
            ExpectedCall("lookup_order", {"email": EMAIL}),
            ExpectedCall("notify", {"to": EMAIL, "phone": PHONE}),
        ),
    )

    redacted = suite.redacted(built)
    evaluations = suite.check(trace, built)

    assert redacted is not None
    assert redacted.redacted
    assert EMAIL not in (redacted.expected_output or "")
    (expected,) = [e for e in evaluations if e.evaluator == "expected_tool_calls"]
    assert expected.subcategory == "missing_tool_call"  # lookup_order matched; notify is missing
    text = repr(evaluations)
    assert EMAIL not in text
    assert PHONE not in text
    assert redactor.token("EMAIL", EMAIL) in expected.explanation


# --- the tools file -----------------------------------------------------------------------------


def test_an_mcp_tools_list_declares_read_only_tools_and_their_schemas(tmp_path: Path) -> None:
    path = tmp_path / "tools.json"
    path.write_text(
        json.dumps(
            {
                "tools": [
                    {
                        "name": "get_user",
                        "inputSchema": {"type": "object"},
                        "annotations": {"readOnlyHint": True},
                    },
                    {"name": "delete_user", "annotations": {"destructiveHint": True}},
                    {
                        "type": "function",
                        "function": {"name": "ping", "parameters": {"type": "object"}},
                    },
                ],
                "nextCursor": "abc",
                "retrieval": ["search_*"],
            }
        ),
        encoding="utf-8",
    )
    catalog = load_tool_catalog(path, read_only=["list_*"])
    effects = catalog.effects(build_trace())
    assert effects.effect("get_user") == "read_only"
    assert effects.effect("list_orders") == "read_only"
    assert effects.effect("delete_user") == "state_changing"
    assert effects.effect("ping") == "state_changing"  # MCP's default: not read-only
    assert effects.is_retrieval("search_kb")
    assert catalog.tools["get_user"].parameters == {"type": "object"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not JSON"),
        ('{"tools": [{"description": "x"}]}', "tools[0] has no name"),
        ('{"tools": [], "read_only": [{"$regex": "("}]}', "not a valid regular expression"),
        ('{"tool": []}', "tool: unknown key"),
    ],
)
def test_a_bad_tools_file_names_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "tools.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_tool_catalog(path)


def test_nothing_known_about_tools_means_no_effect() -> None:
    effects = ToolCatalog().effects(build_trace())
    assert effects.effect("lookup_order") is None
    assert not effects.known
