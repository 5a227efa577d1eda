"""The pytest plugin: ``@pytest.mark.flywheel_replay`` makes one test per example and a gate item,
next to phoenix-client's own plugin. Each case runs an inner pytest session (pytester)."""

from __future__ import annotations

from pathlib import Path

import pytest

from otel_flywheel.datasets import DatasetExample, write_examples

pytest_plugins = ["pytester"]

INNER_TESTS = """
import pytest

from otel_flywheel import tool


@tool
def lookup(order_id: str) -> str:
    return "shipped"


def order_of(input):
    return input["input"].split()[-1].rstrip("?")


def right(input):
    return lookup(order_of(input))


def wrong_for_1002(input):
    order = order_of(input)
    return lookup("A-0000" if order == "A-1002" else order)


@pytest.mark.flywheel_replay("plugin/golden", offline="golden.jsonl", min_pass_rate=0.3, judge=False)
def test_support_agent(flywheel_case, flywheel_tracer_provider):
    result = flywheel_case.run(right)
    assert result.trace_id is not None


@pytest.mark.flywheel_replay(
    "plugin/golden", offline="golden.jsonl", repetitions=2, min_pass_rate=0.3, judge=False
)
def test_new_version(flywheel_case):
    flywheel_case.run(wrong_for_1002)
"""


def golden_file(folder: Path) -> None:
    write_examples(
        folder / "golden.jsonl",
        [
            DatasetExample(
                example_id=f"example-{order}",
                dataset="plugin/golden",
                input={"input": f"Where is order {order}?"},
                output={
                    "output": "shipped",
                    "expected_tool_calls": [{"name": "lookup", "arguments": {"order_id": order}}],
                },
                metadata={"route": "golden"},
            )
            for order in ("A-1001", "A-1002", "A-1003")
        ],
    )


def test_the_marker_runs_one_test_per_example_and_gates_them_after_the_last(
    pytester: pytest.Pytester,
) -> None:
    golden_file(pytester.path)
    pytester.makepyfile(test_agent=INNER_TESTS)

    result = pytester.runpytest("-v", "-p", "no:cacheprovider")

    result.stdout.fnmatch_lines(
        [
            "*test_support_agent?example-*where-is-order-a-1001* PASSED*",
            "*test_support_agent?gate? PASSED*",
            "*test_new_version?example-*where-is-order-a-1002*-rep2* FAILED*",
            "*test_new_version?gate? FAILED*",
        ]
    )
    # 3 examples + gate for the first test; 3 examples x 2 repetitions + gate for the second.
    result.assert_outcomes(passed=4 + 4, failed=2 + 1)
    result.stdout.fnmatch_lines(
        [
            "*1 golden example(s) passed in the baseline and fail now*Where is order A-1002?*",
            "*GATE FAILED (exit 1)*",
        ]
    )


def test_the_marker_coexists_with_phoenix_clients_own_pytest_plugin(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest("--markers", "-p", "no:cacheprovider")

    result.stdout.fnmatch_lines(["@pytest.mark.phoenix(*", "@pytest.mark.flywheel_replay(*"])
    assert result.ret == 0


def test_the_fixture_without_the_marker_is_a_usage_error_naming_the_marker(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_unmarked="def test_agent(flywheel_case):\n    flywheel_case.run(print)\n"
    )

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.stdout.fnmatch_lines(["*@pytest.mark.flywheel_replay(dataset, ...)*"])
    assert result.ret != 0
