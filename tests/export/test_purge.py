"""``otel-flywheel purge``: a user's data out of the outbox, the routing store and Phoenix; and
retention of local data."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from export_world import Turn, World

from otel_flywheel.cli import main
from otel_flywheel.model import AgentTrace
from otel_flywheel.outbox import Outbox
from otel_flywheel.privacy_ops import apply_retention, pseudonymize_user
from otel_flywheel.routing import RoutingStore
from otel_flywheel.sinks import ExampleWrite
from otel_flywheel.testing.phoenix import LocalPhoenix

GONE = "user-gone"
DAY = 86_400.0


def examples_of(world: World, route: str, user_id: str, version_id: str | None = None) -> list:
    dataset = world.client.datasets.get_dataset(dataset=world.dataset(route), version_id=version_id)
    return [e for e in dataset.examples if e["metadata"].get("user_id") == user_id]


def test_purge_user_removes_their_examples_from_phoenix_and_the_local_stores(
    export_world: World,
    phoenix_server: LocalPhoenix,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = export_world
    before = {route: world.count(route) for route in ("golden", "regression", "preference")}
    world.run(
        Turn("g1", "Where did order A-1005 go?", "A-1005", "It was delivered on 2026-10-02.", GONE),
        Turn("g2", "Has order A-1001 shipped yet?", "A-1001", "Not yet.", GONE),
    )
    world.feedback("g1", thumbs="up")
    world.feedback("g2", correction="Yes, it shipped with UPS and arrives on 2026-11-24.")
    world.wait_for_examples({route: count + 1 for route, count in before.items()})
    pseudonym = pseudonymize_user(GONE)
    assert len(examples_of(world, "golden", pseudonym)) == 1  # capture stored this pseudonym
    version_before = world.client.datasets.get_dataset(dataset=world.dataset("golden")).version_id
    monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(world.state_dir))

    dry = main(["purge", "--user", GONE, "--phoenix-url", phoenix_server.base_url, "--dry-run"])
    dry_out = capsys.readouterr().out
    code = main(["purge", "--user", GONE, "--phoenix-url", phoenix_server.base_url])

    out = capsys.readouterr().out
    assert (dry, code) == (0, 0)
    assert f"Phoenix dataset '{world.dataset('golden')}': would remove 1 examples" in dry_out
    assert f"Phoenix project '{world.project}': would remove 2 traces (not deleted)" in dry_out
    assert out.startswith(f"purging {pseudonym} (and the raw id)\n")
    assert "routing store: removed 2 traces, 0 pending feedback, 3 routing records" in out
    for route in ("golden", "regression", "preference"):
        assert f"Phoenix dataset '{world.dataset(route)}': removed 1 examples (verified" in out
        assert examples_of(world, route, pseudonym) == []
        assert world.count(route) == before[route]  # everyone else's examples stay
    # Phoenix keeps history, and the output says so.
    assert len(examples_of(world, "golden", pseudonym, version_id=version_before)) == 1
    assert "earlier versions still hold them" in out
    gone = [world.trace_ids["g1"], world.trace_ids["g2"]]
    assert f"Phoenix project '{world.project}': removed 2 traces (verified gone)" in out
    assert world.client.spans.get_spans(project_identifier=world.project, trace_ids=gone) == []
    others = world.client.spans.get_spans(
        project_identifier=world.project, trace_ids=[world.trace_ids["q1"]]
    )
    assert len(others) == 4
    for trace_id in gone:
        assert world.store.get_trace(trace_id=trace_id) is None
    entries = [
        entry
        for state in ("pending", "done", "dead")
        for entry in world.flywheel.outbox.list_entries(state=state, limit=10_000)  # type: ignore[arg-type]
    ]
    assert entries  # the other users' writes
    assert [e for e in entries if e.write.user_id == pseudonym] == []
    removed_writes = int(out.split("outbox: removed ")[1].split()[0])
    assert removed_writes > 0


def trace(trace_id: str, user_id: str) -> AgentTrace:
    return AgentTrace(trace_id=trace_id, user_id=user_id, goal="Where is my order?")


def test_purge_by_pseudonym_on_local_stores_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    user = "<USER:0123abcd>"
    store = RoutingStore(tmp_path / "routing.sqlite")
    store.put_trace(trace("a" * 32, user), None)
    store.put_trace(trace("b" * 32, "<USER:99999999>"), None)
    store.close()
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        outbox.put(
            [
                ExampleWrite(
                    dataset="s/golden", example_id="e1", input={"input": "q"}, user_id=user
                ),
                ExampleWrite(dataset="s/golden", example_id="e2", input={"input": "r"}),
            ]
        )
    monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(tmp_path))

    code = main(["purge", "--pseudonym", user, "--no-phoenix"])

    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        f"purging {user}",
        "outbox: removed 1 writes",
        "routing store: removed 1 traces, 0 pending feedback, 0 routing records",
    ]
    store = RoutingStore(tmp_path / "routing.sqlite")
    assert store.get_trace(trace_id="a" * 32) is None
    assert store.get_trace(trace_id="b" * 32) is not None
    store.close()


def test_purge_without_a_redaction_key_refuses_rather_than_guess(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLYWHEEL_REDACTION_KEY")
    monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(tmp_path))

    code = main(["purge", "--user", "someone", "--no-phoenix"])

    err = capsys.readouterr().err
    assert code == 2
    assert "set FLYWHEEL_REDACTION_KEY to the key the agents use" in err
    assert "--pseudonym" in err
    assert not (tmp_path / "redaction.key").exists()  # no key was made up


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "say what to purge"),
        (["--pseudonym", "jane"], "is not a user pseudonym"),
        (["--older-than", "soon"], "neither a duration"),
    ],
)
def test_bad_purge_options_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["purge", *args]) == 2
    assert message in capsys.readouterr().err


def test_retention_drops_old_traces_and_delivered_writes_but_counts_dead_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()
    clock = [now - 100 * DAY]
    # A retention of its own longer than the purge's: the command is what removes the trace.
    store = RoutingStore(
        tmp_path / "routing.sqlite", clock=lambda: clock[0], retention_seconds=365 * DAY
    )
    store.put_trace(trace("a" * 32, "<USER:0123abcd>"), None)
    with Outbox(tmp_path / "outbox.sqlite", clock=lambda: clock[0]) as outbox:
        old = ExampleWrite(dataset="s/golden", example_id="old", input={"input": "q"})
        dead = ExampleWrite(dataset="s/golden", example_id="dead", input={"input": "r"})
        outbox.put([old, dead])
        outbox.mark_done([old.key])
        outbox.mark_dead(dead.key, reason="422 from Phoenix")
        clock[0] = now
        fresh = ExampleWrite(dataset="s/golden", example_id="new", input={"input": "s"})
        outbox.put([fresh])
        outbox.mark_done([fresh.key])
    store.put_trace(trace("b" * 32, "<USER:0123abcd>"), None)
    store.close()
    monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(tmp_path))

    code = main(["purge", "--older-than", "90d"])

    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        "retention: removing local data older than 90 days",
        "routing store: removed 1 traces and 0 pending feedback older than the cutoff",
        "outbox: removed 1 delivered writes",
        "outbox: kept 1 dead writes older than the cutoff (never delivered; requeue them or "
        "purge their users)",
    ]
    store = RoutingStore(tmp_path / "routing.sqlite")
    assert store.get_trace(trace_id="a" * 32) is None
    assert store.get_trace(trace_id="b" * 32) is not None
    store.close()
    report = apply_retention(90 * DAY, outbox_path=tmp_path / "outbox.sqlite")
    assert (report.outbox_done, report.outbox_dead_kept, report.routing) == (0, 1, None)


def test_retention_where_there_are_no_stores_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(tmp_path))

    assert main(["purge", "--older-than", "2w"]) == 0

    assert "no local stores here (nothing to remove)" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []  # nothing created
