"""A database that does not answer gives a 503 "try again" page, never a 500."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connections

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends


@contextmanager
def database_down() -> Iterator[None]:
    """The request's database connection points at a closed port (SQLite: a file it cannot open)."""
    real = connections["default"]
    settings = dict(real.settings_dict)
    if real.vendor == "sqlite":
        settings["NAME"] = "/nonexistent-directory/signalboard.sqlite3"
    else:
        settings.update(HOST="127.0.0.1", PORT=str(_closed_port()))
    down = type(real)(settings, alias="default")
    connections["default"] = down
    try:
        yield
    finally:
        down.close()
        connections["default"] = real


def test_a_signed_in_page_during_an_outage_says_try_again(admin: Any, client_for: Any) -> None:
    client = client_for(admin)
    client.raise_request_exception = False  # as a server does: answer, not re-raise
    with database_down():
        for path in ("/feed/", "/feed/export.csv", "/stories/", "/members/"):
            response = client.get(path)
            assert response.status_code == 503, (path, response.status_code)
            assert "Try again in a moment" in response.content.decode()
            assert response["Retry-After"] == "5"
            assert "no-store" in response["Cache-Control"]
    assert client.get("/feed/").status_code == 200  # back once the database answers
