"""Several ASGI workers (daphne and uvicorn) behind one Redis layer.

An event committed through one worker reaches a table open on another: the
scale path of DESIGN.md, run by `make test-services`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import DEMO_PASSWORD, log_in
from tests.servers import Server, make_server, manage, project_database, project_env

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        pytest.fail("REDIS_URL is not set: run these through `make test-services`.")
    tmp = tmp_path_factory.mktemp("workers")
    with project_database(tmp) as database_url:
        env = project_env(database_url, REDIS_URL=redis_url, DEMO_PASSWORD=DEMO_PASSWORD)
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "seed_demo", "--actions", "20")
        servers = [
            make_server(env, tmp / "daphne.log", kind="daphne"),
            make_server(env, tmp / "uvicorn.log", kind="uvicorn"),
        ]
        for server in servers:
            server.start()
        try:
            yield servers
        finally:
            for server in servers:
                server.stop()


def login(browser: Browser, server: Server, username: str) -> Any:
    return log_in(browser.new_context().new_page(), server.url, username)


@pytest.mark.parametrize("direction", ["daphne-to-uvicorn", "uvicorn-to-daphne"])
def test_read_on_one_worker_reaches_a_table_on_another(
    browser: Browser, workers: list[Server], direction: str
) -> None:
    writer, watcher = workers if direction == "daphne-to-uvicorn" else workers[::-1]
    alice = login(browser, watcher, "alice")
    alice.goto(f"{watcher.url}/reads/")
    expect(alice.locator("#reads-live .live-status")).to_have_attribute("data-state", "live")
    before = alice.locator("#reads-rows > tr[id^='action-']").first.get_attribute("id")

    rae = login(browser, writer, "rae")
    rae.goto(f"{writer.url}/stories/")
    rae.locator(".story-list li", has_text="by alice ").first.locator("h2 a").click()

    top = alice.locator("#reads-rows > tr[id^='action-']").first
    expect(top).not_to_have_attribute("id", before or "", timeout=5000)
    expect(top.locator("td.col-actor_name")).to_have_text("rae")
    alice.context.close()
    rae.context.close()
