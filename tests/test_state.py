"""The state directory and its files are private to their owner whatever the umask; every SQLite
store opens through the one helper."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from otel_flywheel.errors import ConfigError
from otel_flywheel.state import (
    open_sqlite,
    private_directory,
    private_file,
    state_dir,
    state_path,
    write_transaction,
)

# Opens every store the flywheel keeps in the state directory, as a process with a permissive
# umask would (a container running as root with umask 000, a shared host with 022).
EVERY_STORE = textwrap.dedent(
    """
    import json, os, stat, sys
    from pathlib import Path
    os.umask(int(sys.argv[1], 8))
    from otel_flywheel.model import Feedback
    from otel_flywheel.outbox import Outbox
    from otel_flywheel.privacy import load_redaction_key
    from otel_flywheel.routing import RoutingStore
    from otel_flywheel.server import Spool
    from otel_flywheel.evaluators.judge._cache import JudgeCache
    from otel_flywheel.state import private_directory, state_dir, state_path

    private_directory(state_dir())
    load_redaction_key()
    outbox = Outbox(state_path("outbox.sqlite"))
    store = RoutingStore(state_path("routing.sqlite"))
    store.put_pending_feedback(Feedback(trace_id="ab" * 16, thumbs="up"))
    spool = Spool(state_path("spool.sqlite"), max_spans=10)
    spool.append_request(b"body", {"ab" * 16: 1})
    cache = JudgeCache(state_path("nested/judge-cache.sqlite3"))
    cache.get("key")
    # While every store is open: the WAL and shared-memory files exist now.
    root = state_dir()
    print(json.dumps({str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode)
                      for p in root.rglob("*")}))
    """
)


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


@pytest.mark.parametrize("umask", ["000", "022", "002"])
def test_every_file_and_directory_the_flywheel_creates_is_private(tmp_path: Path, umask: str):
    state = tmp_path / "deep" / "state"
    env = {**os.environ, "FLYWHEEL_STATE_DIR": str(state)}
    env.pop("FLYWHEEL_REDACTION_KEY", None)

    run = subprocess.run(
        [sys.executable, "-c", EVERY_STORE, umask],
        env=env,
        check=True,
        cwd=tmp_path,
        timeout=120,
        capture_output=True,
        text=True,
    )

    while_open = json.loads(run.stdout)
    # The stores with their WAL sidecars, the spool's lock and the generated key are all there.
    stores = ("outbox.sqlite", "routing.sqlite", "spool.sqlite")
    expected = {f"{store}{suffix}" for store in stores for suffix in ("", "-wal", "-shm")}
    expected |= {"redaction.key", "spool.sqlite.lock", "nested", "nested/judge-cache.sqlite3"}
    assert expected <= set(while_open)
    for found in (while_open, modes(state)):
        for name, mode in found.items():
            expected = 0o700 if (state / name).is_dir() or name == "." else 0o600
            assert mode == expected, f"{name} is {mode:o} under umask {umask}, not {expected:o}"
    assert stat.S_IMODE((tmp_path / "deep").stat().st_mode) == 0o700  # created by us too


def test_private_file_tightens_a_store_an_older_version_left_readable(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    for name in ("spool.sqlite", "spool.sqlite-wal", "spool.sqlite-shm"):
        (tmp_path / name).write_bytes(b"")
        os.chmod(tmp_path / name, 0o644)

    private_file(path)

    for name in ("spool.sqlite", "spool.sqlite-wal", "spool.sqlite-shm"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_a_directory_an_operator_made_is_left_as_it_is(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    private_directory(tmp_path)
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755


def test_the_state_directory_comes_from_the_environment_else_dot_flywheel() -> None:
    assert state_dir(environ={}) == Path(".flywheel")
    assert state_path("outbox.sqlite", environ={"FLYWHEEL_STATE_DIR": "/var/lib/fw"}) == Path(
        "/var/lib/fw/outbox.sqlite"
    )


def test_open_sqlite_is_wal_with_the_synchronous_level_asked_for(tmp_path: Path) -> None:
    connection = open_sqlite(
        tmp_path / "a.sqlite", what="test store", fix="fix it", synchronous="NORMAL"
    )
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    connection.close()


def test_a_file_that_is_not_sqlite_is_a_config_error_naming_the_store_and_the_fix(
    tmp_path: Path,
) -> None:
    path = tmp_path / "routing.sqlite"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(ConfigError, match=r"routing store .* move it aside"):
        open_sqlite(path, what="routing store", fix="move it aside")


def test_write_transaction_commits_and_rolls_back(tmp_path: Path) -> None:
    connection = open_sqlite(tmp_path / "a.sqlite", what="test store", fix="fix it")
    connection.execute("CREATE TABLE t (x INTEGER)")

    def insert_then_fail(value: int) -> None:
        with write_transaction(connection):
            connection.execute("INSERT INTO t VALUES (?)", (value,))
            raise ZeroDivisionError

    with write_transaction(connection):
        connection.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(ZeroDivisionError):
        insert_then_fail(2)
    assert connection.execute("SELECT x FROM t").fetchall() == [(1,)]
    assert not connection.in_transaction
    connection.close()
