"""Where the server's settings come from, and what ``create_app`` does with the spool they name."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter

from otel_flywheel.capture import InMemoryPipeline
from otel_flywheel.config import resolve_settings
from otel_flywheel.server import ServerSettings, Spool, create_app


def test_the_spool_defaults_to_spool_sqlite_in_the_state_directory(tmp_path):
    settings = ServerSettings()

    assert settings.spool_path(environ={"FLYWHEEL_STATE_DIR": str(tmp_path)}) == (
        tmp_path / "spool.sqlite"
    )
    assert settings.spool_path(environ={}) == Path(".flywheel", "spool.sqlite")
    assert ServerSettings(spool=tmp_path / "x.sqlite").spool_path() == tmp_path / "x.sqlite"


def test_defaults_bind_loopback_on_4319_without_auth():
    settings = resolve_settings(ServerSettings, environ={}, file_values={})

    assert (settings.host, settings.port, settings.token_value()) == ("127.0.0.1", 4319, None)
    assert (settings.max_spool_spans, settings.max_body_bytes) == (200_000, 16 * 1024 * 1024)


def test_explicit_values_beat_the_environment_which_beats_the_file():
    settings = resolve_settings(
        ServerSettings,
        {"port": 5000},
        environ={
            "FLYWHEEL_SERVER_PORT": "6000",
            "FLYWHEEL_SERVER_HOST": "0.0.0.0",
            "FLYWHEEL_SERVER_TOKEN": "from-the-environment",
        },
        file_values={"host": "10.0.0.1", "max_spool_spans": 1000},
    )

    assert (settings.port, settings.host, settings.max_spool_spans) == (5000, "0.0.0.0", 1000)
    assert settings.token_value() == "from-the-environment"
    assert "from-the-environment" not in repr(settings)  # a SecretStr: never logged by accident


def test_a_bad_environment_value_warns_and_falls_back(caplog):
    with caplog.at_level(logging.WARNING):
        settings = resolve_settings(
            ServerSettings, environ={"FLYWHEEL_SERVER_PORT": "http"}, file_values={}
        )

    assert settings.port == 4319
    assert "FLYWHEEL_SERVER_PORT" in caplog.text


def test_create_app_opens_the_spool_the_settings_name(tmp_path):
    path = tmp_path / "named.sqlite"
    app = create_app(pipeline=InMemoryPipeline(), settings=ServerSettings(spool=path, port=4320))

    spool: Spool = app.state.spool
    assert spool.path == path
    spool.close()  # the app was never served, so its lifespan never closed it


def test_create_app_closes_the_spool_it_opened_when_building_fails(tmp_path):
    path = tmp_path / "named.sqlite"
    registry = CollectorRegistry()
    Counter("flywheel_server_requests", "taken already", registry=registry)

    with pytest.raises(ValueError, match="Duplicated timeseries"):
        create_app(
            pipeline=InMemoryPipeline(), settings=ServerSettings(spool=path), registry=registry
        )
    with Spool(path, max_spans=10) as reopened:  # not locked by the failed app
        assert reopened.depth_spans == 0
