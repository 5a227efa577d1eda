"""An example that routing moves to another trace is linked to the new span in a real Phoenix.

Phoenix keeps the span an example was created with; these tests pin that the sink replaces such
an example rather than patching it, and that every repeat (a crash, a fresh sink) leaves one.
"""

from __future__ import annotations

from typing import Any

import pytest
from phoenix.client import Client
from phoenix_helpers import SpanSource, dataset_examples

from otel_flywheel.phoenix import PhoenixSink
from otel_flywheel.phoenix._relink import plan_relinks
from otel_flywheel.sinks import ExampleWrite

EXAMPLE_ID = "e" * 32


def example(
    dataset: str, span_id: str | None, *, relink: bool = False, **fields: Any
) -> ExampleWrite:
    values: dict[str, Any] = {
        "input": {"input": "Has A-1001 shipped yet?"},
        "output": {"output": f"answer of {span_id}"},
        "metadata": {"example_id": EXAMPLE_ID, "source_span_id": span_id},
    }
    values.update(fields)
    return ExampleWrite(
        dataset=dataset, example_id=EXAMPLE_ID, span_id=span_id, relink=relink, **values
    )


def held(client: Client, dataset: str) -> list[tuple[str, str | None, str]]:
    """(Phoenix id, linked span, output) per example of the dataset."""
    return sorted(
        (e["id"], (e["source"] or {}).get("span_id"), e["output"].get("output", ""))
        for e in dataset_examples(client, dataset)
    )


@pytest.fixture
def three_spans(spans: SpanSource) -> list[str]:
    roots = [spans.trace()[1][0] for _ in range(3)]
    spans.export()
    return roots


def test_a_relinked_example_is_replaced_by_one_linked_to_the_new_span(
    sink: PhoenixSink, spans: SpanSource, three_spans: list[str], phoenix_server_client: Client
) -> None:
    first, later, _ = three_spans
    dataset = f"{spans.project}/review"
    other = ExampleWrite(dataset=dataset, example_id="f" * 32, input={"input": "other"})
    assert {o.kind for o in sink.write([example(dataset, first), other]).values()} == {"done"}

    moved = example(dataset, later, relink=True)
    assert sink.write([moved])[moved.key].kind == "done"

    assert held(phoenix_server_client, dataset) == [
        (f"{EXAMPLE_ID}-{later}", later, f"answer of {later}"),
        ("f" * 32, None, ""),
    ]
    (ours,) = [e for e in dataset_examples(phoenix_server_client, dataset) if e["id"] != "f" * 32]
    assert ours["metadata"]["example_id"] == EXAMPLE_ID


def test_repeating_a_relinked_write_leaves_one_example_in_this_sink_and_a_fresh_one(
    sink: PhoenixSink, spans: SpanSource, three_spans: list[str], phoenix_server_client: Client
) -> None:
    first, later, _ = three_spans
    dataset = f"{spans.project}/review"
    sink.write([example(dataset, first)])
    moved = example(dataset, later, relink=True)
    for _ in range(2):
        assert sink.write([moved])[moved.key].kind == "done"
    changed = example(dataset, later, relink=True, output={"output": "changed"})
    with PhoenixSink(client=phoenix_server_client) as fresh:
        assert fresh.write([changed])[changed.key].kind == "done"

    assert held(phoenix_server_client, dataset) == [(f"{EXAMPLE_ID}-{later}", later, "changed")]


def test_a_crash_between_creating_and_removing_is_mended_by_the_next_attempt(
    sink: PhoenixSink, spans: SpanSource, three_spans: list[str], phoenix_server_client: Client
) -> None:
    first, later, _ = three_spans
    dataset = f"{spans.project}/review"
    sink.write([example(dataset, first)])
    # What the first attempt left: the new example created, the old one not yet removed.
    created = ExampleWrite(
        dataset=dataset,
        example_id=f"{EXAMPLE_ID}-{later}",
        span_id=later,
        input={"input": "Has A-1001 shipped yet?"},
        output={"output": f"answer of {later}"},
        metadata={"example_id": EXAMPLE_ID},
    )
    sink.write([created])
    assert len(held(phoenix_server_client, dataset)) == 2

    moved = example(dataset, later, relink=True)
    assert sink.write([moved])[moved.key].kind == "done"

    assert held(phoenix_server_client, dataset) == [
        (f"{EXAMPLE_ID}-{later}", later, f"answer of {later}")
    ]


@pytest.mark.parametrize("first_landed", [False, True], ids=["nothing-yet", "dataset-only"])
def test_a_relinked_write_whose_first_write_never_landed_keeps_the_plain_id(
    sink: PhoenixSink,
    spans: SpanSource,
    three_spans: list[str],
    phoenix_server_client: Client,
    first_landed: bool,
) -> None:
    _, later, _ = three_spans
    dataset = f"{spans.project}/review"
    if first_landed:  # the dataset exists, with other examples only
        sink.write([ExampleWrite(dataset=dataset, example_id="f" * 32, input={"input": "x"})])
    moved = example(dataset, later, relink=True)

    assert sink.write([moved])[moved.key].kind == "done"

    ours = [row for row in held(phoenix_server_client, dataset) if row[0] != "f" * 32]
    assert ours == [(EXAMPLE_ID, later, f"answer of {later}")]


def test_writes_that_do_not_relink_in_the_same_upload_patch_as_before(
    sink: PhoenixSink, spans: SpanSource, three_spans: list[str], phoenix_server_client: Client
) -> None:
    first, later, third = three_spans
    dataset = f"{spans.project}/review"
    plain = ExampleWrite(dataset=dataset, example_id="a" * 32, input={"input": "a"}, span_id=third)
    sink.write([example(dataset, first), plain])
    patched = ExampleWrite(
        dataset=dataset, example_id="a" * 32, input={"input": "a"}, output={"output": "new"}
    )

    outcomes = sink.write([example(dataset, later, relink=True), patched])

    assert {o.kind for o in outcomes.values()} == {"done"}
    assert held(phoenix_server_client, dataset) == [
        ("a" * 32, third, "new"),
        (f"{EXAMPLE_ID}-{later}", later, f"answer of {later}"),
    ]


# --- the plan, from what a dataset holds ---------------------------------------------------------


def listed(phoenix_id: str, node: str, span: str | None, example_id: str = EXAMPLE_ID) -> Any:
    return {
        "id": phoenix_id,
        "node_id": node,
        "metadata": {"example_id": example_id},
        "source": {"span_id": span} if span else None,
    }


SPAN_A, SPAN_B, SPAN_C = "a" * 16, "b" * 16, "c" * 16


@pytest.mark.parametrize(
    ("examples", "span", "phoenix_id", "replaced"),
    [
        ([], SPAN_B, EXAMPLE_ID, ()),
        ([listed("other", "n0", SPAN_A, "f" * 32)], SPAN_B, EXAMPLE_ID, ()),
        ([listed(EXAMPLE_ID, "n1", SPAN_A)], SPAN_B, f"{EXAMPLE_ID}-{SPAN_B}", ("n1",)),
        ([listed(EXAMPLE_ID, "n1", SPAN_B)], SPAN_B, EXAMPLE_ID, ()),
        ([listed(EXAMPLE_ID, "n1", None)], SPAN_B, f"{EXAMPLE_ID}-{SPAN_B}", ("n1",)),
        (
            [listed(EXAMPLE_ID, "n1", SPAN_A), listed(f"{EXAMPLE_ID}-{SPAN_B}", "n2", SPAN_B)],
            SPAN_B,
            f"{EXAMPLE_ID}-{SPAN_B}",
            ("n1",),
        ),
        (
            [listed(EXAMPLE_ID, "n1", SPAN_A), listed(f"{EXAMPLE_ID}-{SPAN_B}", "n2", SPAN_B)],
            SPAN_C,
            f"{EXAMPLE_ID}-{SPAN_C}",
            ("n1", "n2"),
        ),
    ],
    ids=[
        "empty",
        "others-only",
        "linked-elsewhere",
        "already-linked",
        "unlinked",
        "half-done",
        "moved-again",
    ],
)
def test_the_plan_patches_the_example_linked_to_the_span_and_replaces_the_rest(
    examples: list[Any], span: str, phoenix_id: str, replaced: tuple[str, ...]
) -> None:
    write = example("p/review", span, relink=True)
    plan = plan_relinks(examples, [(write, span)])[write.key]
    assert (plan.phoenix_id, plan.replaced) == (phoenix_id, replaced)
