"""The flywheel's local state: one directory, private files, one way to open SQLite.

Everything the flywheel keeps on disk lives in one state directory (``FLYWHEEL_STATE_DIR``,
default ``.flywheel``): the redaction key, the outbox, the routing store, the judge cache and
``serve``'s spool. They hold agent data (the spool even holds it before redaction), so every file
and directory created here is private to its user, 0600 and 0700, whatever the process's umask:

- ``private_directory`` creates each missing directory of a path with mode 0700;
- ``private_file`` creates a file with mode 0600, and tightens one that a permissive umask or an
  older version left readable by others;
- ``open_sqlite`` opens a SQLite store through both (SQLite gives the ``-wal`` and ``-shm`` files
  the database's own mode), in WAL mode, with the pragmas each store asks for;
- ``write_transaction`` is the one ``BEGIN IMMEDIATE`` / ``COMMIT`` / ``ROLLBACK`` block.

The modes are set with ``chmod`` after creation, not only passed to ``open``/``mkdir``, because a
umask can only take permissions away: 0600 under any umask still needs the explicit mode.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final, Literal

from otel_flywheel import _env
from otel_flywheel.errors import ConfigError

__all__ = [
    "DEFAULT_STATE_DIR",
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "Synchronous",
    "open_sqlite",
    "private_directory",
    "private_file",
    "state_dir",
    "state_path",
    "write_transaction",
]

logger = logging.getLogger(__name__)

DEFAULT_STATE_DIR: Final = ".flywheel"
PRIVATE_DIR_MODE: Final = 0o700
PRIVATE_FILE_MODE: Final = 0o600
_SQLITE_SIDECARS: Final = ("-wal", "-shm", "-journal")
_OTHERS: Final = stat.S_IRWXG | stat.S_IRWXO

Synchronous = Literal["FULL", "NORMAL"]


def state_dir(*, environ: Mapping[str, str] | None = None) -> Path:
    """The state directory: ``FLYWHEEL_STATE_DIR``, else ``.flywheel`` (not created here)."""
    environ = os.environ if environ is None else environ
    return Path(environ.get(_env.FLYWHEEL_STATE_DIR) or DEFAULT_STATE_DIR)


def state_path(name: str, *, environ: Mapping[str, str] | None = None) -> Path:
    """``name`` inside the state directory."""
    return state_dir(environ=environ) / name


def private_directory(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` and its missing parents with mode 0700; returns it.

    Directories that exist already are left as they are: one an operator made (``/var/lib/...``)
    is theirs to set. The files the flywheel puts inside are private either way.
    """
    directory = Path(path)
    missing: list[Path] = []
    probe = directory
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # another process made it meanwhile: theirs, made by this same code
        os.chmod(created, PRIVATE_DIR_MODE)
    return directory


def private_file(path: str | os.PathLike[str]) -> Path:
    """Make sure ``path`` exists and is readable and writable by its owner only; returns it.

    A missing file is created empty with mode 0600. An existing one that others may read (written
    under a permissive umask, or by an older version) is tightened to 0600, with its SQLite
    ``-wal``/``-shm``/``-journal`` files.
    """
    file = Path(path)
    private_directory(file.parent)
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        for candidate in (file, *(Path(f"{file}{suffix}") for suffix in _SQLITE_SIDECARS)):
            _tighten(candidate)
    else:
        try:
            os.fchmod(fd, PRIVATE_FILE_MODE)
        finally:
            os.close(fd)
    return file


def open_sqlite(
    path: str | os.PathLike[str],
    *,
    what: str,
    fix: str,
    synchronous: Synchronous = "FULL",
    busy_timeout_seconds: float = 10.0,
    require_wal: bool = True,
) -> sqlite3.Connection:
    """A connection to the SQLite file at ``path``, private (see ``private_file``), in WAL mode.

    ``isolation_level=None``: no implicit transactions; writes go through ``write_transaction``.
    ``check_same_thread=False``: every store shares its connection between threads under a lock
    of its own. ``what`` names the store and ``fix`` what to change, for the ``ConfigError``
    raised when the file cannot be opened or (with ``require_wal``) cannot use WAL, which a
    network file system may refuse; without ``require_wal`` that is a warning.
    """
    file = Path(path)
    try:
        private_file(file)
        connection = sqlite3.connect(
            file, timeout=busy_timeout_seconds, isolation_level=None, check_same_thread=False
        )
    except (OSError, sqlite3.Error) as error:
        raise ConfigError(f"cannot open {what} {file}: {error}; {fix}") from None
    try:
        (mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
        if str(mode).lower() != "wal":
            message = (
                f"{what} {file} cannot use WAL journaling (journal_mode={mode}: a network file "
                "system?)"
            )
            if require_wal:
                raise ConfigError(f"{message}; {fix}")
            logger.warning("%s; writers will wait for readers. Keep it on a local disk.", message)
        connection.execute(f"PRAGMA synchronous = {synchronous}")
    except sqlite3.DatabaseError as error:
        connection.close()
        raise ConfigError(f"{file} is not a usable {what} ({error}); {fix}") from None
    except BaseException:
        connection.close()
        raise
    return connection


@contextlib.contextmanager
def write_transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` (the write lock is taken up front, so a reader never fails to upgrade),
    committed on exit, rolled back on an exception. The caller serializes use of ``connection``."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        # A failed statement may already have ended the transaction: nothing left to roll back.
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _tighten(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if mode & _OTHERS:
        os.chmod(path, PRIVATE_FILE_MODE)
        logger.info("made %s private to its owner (it was %o)", path, stat.S_IMODE(mode))
