"""Writes that can never succeed are not retried forever: a malformed answer (a proxy's HTML page
with 200), refused credentials or a wrong URL are retried a bounded number of times, then parked
as dead, visible in /metrics and in `otel-flywheel outbox`; an outage is logged once, not per
batch; and a transient failure (Phoenix down, 500) is retried for as long as it takes."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from phoenix.client import Client
from phoenix_helpers import CannedPhoenix, dataset_examples
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from otel_flywheel.cli import main
from otel_flywheel.outbox import Outbox, OutboxCollector, OutboxWorker
from otel_flywheel.phoenix import PhoenixSink
from otel_flywheel.sinks import AnnotationWrite, ExampleWrite, Write
from otel_flywheel.testing.phoenix import LocalPhoenix

PROXY_PAGE = "<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"
HTML = {"Content-Type": "text/html"}


def writes(count: int, dataset: str = "proxy/golden") -> list[Write]:
    """Half annotations, half examples: both paths of the sink."""
    made: list[Write] = []
    for index in range(count):
        if index % 2:
            made.append(
                ExampleWrite(dataset=dataset, example_id=f"ex-{index}", input={"q": f"{index}"})
            )
        else:
            made.append(
                AnnotationWrite(
                    target="span",
                    target_id=f"{index:016x}",
                    name="flywheel.verdict",
                    annotator_kind="CODE",
                    label="fail",
                )
            )
    return made


def metrics(outbox: Outbox, worker: OutboxWorker) -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(OutboxCollector(outbox, worker=worker))
    return {
        sample.name + "".join(f"[{v}]" for v in sample.labels.values()): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }


def wait_for(condition: Any, what: str, timeout_seconds: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class NoJitter(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


@pytest.fixture
def proxy() -> Iterator[CannedPhoenix]:
    server = CannedPhoenix(200, HTML, PROXY_PAGE)
    yield server
    server.close()


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.sqlite") as opened:
        yield opened


# --- the sink classifies what it hears ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind", "said"),
    [
        (200, HTML, PROXY_PAGE, "failed", "answered HTTP 200 with text/html"),
        (200, {"Content-Type": "application/json"}, '{"ok": true}', "failed", "not Phoenix's"),
        (302, {"Location": "/login"}, "", "failed", "HTTP 302"),
        (404, {}, "Not Found", "failed", "check that it is Phoenix's base URL"),
        (405, {}, "Method Not Allowed", "failed", "HTTP 405"),
        (403, {}, '{"detail": "forbidden"}', "failed", "PHOENIX_API_KEY"),
        (500, {}, "Internal Server Error", "retry", "HTTP 500"),
        (502, HTML, PROXY_PAGE, "retry", "HTTP 502"),
        (429, {"Retry-After": "3"}, "slow down", "retry", "HTTP 429"),
    ],
)
def test_each_answer_is_classified_and_none_of_them_counts_as_delivered(
    proxy: CannedPhoenix, status: int, headers: dict[str, str], body: str, kind: str, said: str
) -> None:
    proxy.answer(status, headers, body)
    batch = writes(4)
    with PhoenixSink(base_url=proxy.base_url) as sink:
        outcomes = sink.write(batch)  # never raises, whatever comes back

    assert {outcome.kind for outcome in outcomes.values()} == {kind}
    assert set(outcomes) == {write.key for write in batch}
    assert all(said in outcome.reason for outcome in outcomes.values())


def test_a_proxy_page_on_the_span_check_holds_examples_back_and_keeps_checking(
    proxy: CannedPhoenix,
) -> None:
    linked = ExampleWrite(
        dataset="proxy/golden", example_id="linked", input={"q": "1"}, span_id="ab" * 8
    )
    with PhoenixSink(base_url=proxy.base_url) as sink:
        first = sink.write([linked])
        second = sink.write([linked])

    assert first[linked.key].kind == "failed"
    assert second[linked.key].kind == "failed"
    assert sum("graphql" in path for path in proxy.requests) == 2  # the check was not given up


# --- the worker bounds them, says so once, and shows them -----------------------------------------


def test_a_proxy_answering_html_parks_the_writes_as_dead_after_a_bounded_number_of_attempts(
    proxy: CannedPhoenix, outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    outbox.put(writes(40))
    sink = PhoenixSink(base_url=proxy.base_url)
    worker = OutboxWorker(
        outbox,
        sink,
        interval_millis=20,
        initial_backoff_seconds=0.01,
        max_backoff_seconds=0.05,
        max_failed_attempts=4,
        batch_size=100,
        rng=NoJitter(),  # the 40 writes stay due together: one batch, one dead-letter line
    )
    with caplog.at_level(logging.DEBUG, logger="otel_flywheel"):
        worker.start()
        wait_for(lambda: outbox.stats().dead == 40, "every write to be dead")
        worker.shutdown()
    sink.close()

    stats = outbox.stats()
    assert (stats.depth, stats.dead, stats.done_total) == (0, 40, 0)
    for entry in outbox.list_entries(state="dead", limit=100):
        assert entry.attempts == 4
        assert "text/html" in (entry.last_error or "")
        assert "failed 4 times in a row" in (entry.last_error or "")
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    outage = [r for r in warnings if "are failing" in r.message]
    dead = [r for r in warnings if "are dead" in r.message]
    assert len(outage) == 1  # one line for the outage, not one per batch
    assert outage[0].exc_info is None  # a classified answer, not a traceback
    assert len(dead) == 1  # every write went dead in the same batch
    assert len(warnings) == 2
    exposed = metrics(outbox, worker)
    assert exposed["flywheel_outbox_dead"] == 40
    assert exposed["flywheel_outbox_deliveries_total[dead]"] == 40
    assert exposed["flywheel_outbox_deliveries_total[failed]"] == 120
    assert exposed["flywheel_outbox_sink_up"] == 0


def test_phoenix_answering_500_forever_is_logged_once_and_never_gives_up(
    proxy: CannedPhoenix, outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    proxy.answer(500, {}, "Internal Server Error")
    examples = [
        ExampleWrite(dataset="down/golden", example_id=f"ex-{index}", input={"q": f"{index}"})
        for index in range(10)
    ]
    outbox.put(examples)
    sink = PhoenixSink(base_url=proxy.base_url)
    worker = OutboxWorker(
        outbox,
        sink,
        interval_millis=10,
        initial_backoff_seconds=0.01,
        max_backoff_seconds=0.02,
        max_failed_attempts=2,  # a bound that transient failures must never reach
        batch_size=5,
    )
    with caplog.at_level(logging.WARNING, logger="otel_flywheel"):
        worker.start()
        wait_for(lambda: len(proxy.requests) >= 40, "many failed calls")
        exposed = metrics(outbox, worker)
        assert (exposed["flywheel_outbox_sink_up"], exposed["flywheel_outbox_dead"]) == (0, 0)
        assert exposed["flywheel_outbox_outage_seconds"] > 0
        proxy.answer(200, {"Content-Type": "application/json"}, '{"data": {"dataset_id": "d"}}')
        wait_for(lambda: outbox.stats().done_total == 10, "every write to land once it is back")
        worker.shutdown()
    sink.close()

    assert outbox.stats().dead == 0
    messages = [record.message for record in caplog.records]
    failing = [m for m in messages if "are failing: Phoenix at" in m]
    assert len(failing) == 1, messages  # at the default level, and once
    assert "HTTP 500" in failing[0]
    assert sum("resumed after" in m for m in messages) == 1
    assert len(messages) == 2


# --- otel-flywheel outbox status | retry | drop ---------------------------------------------------


def park_dead(outbox: Outbox, dataset: str, count: int, reason: str) -> list[Write]:
    batch = [
        ExampleWrite(dataset=dataset, example_id=f"ex-{index}", input={"q": f"q{index}"})
        for index in range(count)
    ]
    outbox.put(batch)
    for write in batch:
        outbox.mark_dead(write.key, reason=reason)
    return batch


def test_status_lists_dead_writes_with_their_reason_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "outbox.sqlite"
    with Outbox(path) as outbox:
        dead = park_dead(outbox, "cli/golden", 2, "Phoenix answered HTTP 200 with text/html")
        outbox.put([ExampleWrite(dataset="cli/golden", example_id="waiting", input={"q": "w"})])

    code = main(["outbox", "status", "--outbox", str(path)])

    out = capsys.readouterr().out
    assert code == 1
    assert "pending    1" in out
    assert "dead       2" in out
    assert dead[0].key in out
    assert "text/html" in out
    assert "otel-flywheel outbox retry --all" in out
    assert main(["outbox", "status", "--outbox", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["pending"], report["dead"]) == (1, 2)
    assert {item["key"] for item in report["dead_writes"]} == {write.key for write in dead}


def test_retry_requeues_dead_writes_and_they_reach_phoenix(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    phoenix_server: LocalPhoenix,
    phoenix_server_client: Client,
) -> None:
    path = tmp_path / "outbox.sqlite"
    dataset = f"retry-{time.time_ns()}/golden"
    with Outbox(path) as outbox:
        dead = park_dead(outbox, dataset, 3, "answered 200 with text/html")

    assert main(["outbox", "retry", dead[0].key, "--outbox", str(path)]) == 0
    assert main(["outbox", "retry", "--all", "--outbox", str(path)]) == 0
    assert "requeued 2 dead writes" in capsys.readouterr().out
    with Outbox(path) as outbox:
        assert (outbox.stats().depth, outbox.stats().dead) == (3, 0)
        sink = PhoenixSink(base_url=phoenix_server.base_url)
        assert OutboxWorker(outbox, sink).force_flush(timeout_millis=60_000)
        sink.close()
        assert outbox.stats().done_total == 3
    assert len(dataset_examples(phoenix_server_client, dataset)) == 3
    assert main(["outbox", "status", "--outbox", str(path)]) == 0


def test_drop_deletes_dead_writes_only_and_names_keys_it_did_not_find(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "outbox.sqlite"
    with Outbox(path) as outbox:
        dead = park_dead(outbox, "cli/golden", 2, "rejected")
        pending = ExampleWrite(dataset="cli/golden", example_id="p", input={"q": "p"})
        outbox.put([pending])

    assert main(["outbox", "drop", dead[0].key, pending.key, "--outbox", str(path)]) == 1
    assert "1 of the keys given are not dead writes" in capsys.readouterr().err
    with Outbox(path) as outbox:
        stats = outbox.stats()
        assert (stats.depth, stats.dead) == (1, 1)  # the pending write is untouched
    assert main(["outbox", "drop", "--all", "--outbox", str(path)]) == 0
    with Outbox(path) as outbox:
        assert outbox.stats().dead == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["outbox", "status"], "no outbox at"),
        (["outbox", "retry"], "give the keys of dead writes, or --all"),
        (["outbox", "drop", "--all", "some-key"], "give the keys of dead writes, or --all"),
    ],
)
def test_bad_use_exits_2_naming_the_fix(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(tmp_path / "nowhere"))
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()  # looking never creates an outbox
