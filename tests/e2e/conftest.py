"""Fixtures for the end-to-end tests: a state directory of the test's own."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``FLYWHEEL_STATE_DIR`` for this test only: outbox and routing store start empty, and no
    other test's pending writes are delivered from here."""
    path = tmp_path / "state"
    monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(path))
    return path
