"""The pseudonymization key: from the environment, else generated once into the state directory."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from otel_flywheel.errors import ConfigError
from otel_flywheel.privacy import load_redaction_key


def test_environment_key_wins() -> None:
    key = load_redaction_key(environ={"FLYWHEEL_REDACTION_KEY": "x" * 20})
    assert key == b"x" * 20


def test_short_environment_key_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="at least 16 characters"):
        load_redaction_key(environ={"FLYWHEEL_REDACTION_KEY": "hunter2"})


def test_generated_key_is_private_reused_and_announced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        first = load_redaction_key(environ={}, state_dir=tmp_path)
    second = load_redaction_key(environ={}, state_dir=tmp_path)

    assert first == second
    assert len(first) == 64
    key_file = tmp_path / "redaction.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    [warning] = [r for r in caplog.records if "generated a redaction key" in r.getMessage()]
    assert "FLYWHEEL_REDACTION_KEY" in warning.getMessage()
    assert first.decode() not in warning.getMessage()


def test_state_dir_comes_from_the_environment(tmp_path: Path) -> None:
    key = load_redaction_key(environ={"FLYWHEEL_STATE_DIR": str(tmp_path / "state")})
    assert (tmp_path / "state" / "redaction.key").read_text().strip().encode() == key


def test_corrupt_key_file_names_the_fix(tmp_path: Path) -> None:
    (tmp_path / "redaction.key").write_text("short")
    with pytest.raises(ConfigError, match="delete it"):
        load_redaction_key(environ={}, state_dir=tmp_path)
