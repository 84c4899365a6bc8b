from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.servers import CHROMIUM, CHROMIUM_ARGS, Server, make_server, manage, project_database, project_env

DEMO_PASSWORD = "demo-e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # A missing browser is a failure, never a skip: `make test` installs it.
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make chromium` or set CHROMIUM_PATH.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real ASGI server on a fresh database with the demo data."""
    tmp = tmp_path_factory.mktemp("site")
    with project_database(tmp) as database_url:
        env = project_env(database_url, DEMO_PASSWORD=DEMO_PASSWORD)
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "seed_demo", "--actions", "40")
        server = make_server(env, tmp / "server.log")
        server.start()
        try:
            yield server
        finally:
            server.stop()


def log_in(page: Page, base_url: str, username: str, password: str = DEMO_PASSWORD) -> Page:
    page.set_default_timeout(10_000)
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/feed/")
    return page


@pytest.fixture
def login(browser: Browser, site: Server) -> Iterator[Any]:
    contexts = []

    def open_as(username: str, **context_args: Any) -> Page:
        context = browser.new_context(**context_args)
        contexts.append(context)
        return log_in(context.new_page(), site.url, username)

    yield open_as
    for context in contexts:
        context.close()
