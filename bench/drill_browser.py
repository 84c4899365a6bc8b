"""An optional real Chromium page on ``/reads/`` that lives through every fault of the drill."""

from __future__ import annotations

import time
from typing import Any

from tests.browser.conftest import log_in
from tests.servers import CHROMIUM, CHROMIUM_ARGS

ROW_IDS = "() => Array.from(document.querySelectorAll('#reads-rows > tr[id^=\"action-\"]'), tr => tr.id)"


class ReadsPage:
    """An author logged in on one worker, with ``/reads/`` open and never reloaded."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        from playwright.sync_api import sync_playwright

        self.base_url = base_url
        self.username = username
        self._playwright = sync_playwright().start()
        self.page: Any = None
        try:
            self.browser = self._playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            page = log_in(self.browser.new_context().new_page(), base_url, username, password)
            page.set_default_timeout(20_000)
            page.goto(f"{base_url}/reads/")
            page.wait_for_selector("#reads-live .live-status[data-state=live]")
            self.page = page
        except BaseException:
            self.close()
            raise

    def shown(self) -> set[int]:
        return {int(row_id.removeprefix("action-")) for row_id in self.page.evaluate(ROW_IDS)}

    def state(self) -> str:
        return self.page.get_attribute("#reads-live .live-status", "data-state") or "?"

    def wait_for(self, expected: set[int], timeout: float) -> set[int]:
        """The expected rows still missing from ``#reads-rows`` once they all came or time ran out."""
        deadline = time.monotonic() + timeout
        while True:
            missing = expected - self.shown()
            if not missing or time.monotonic() >= deadline:
                return missing
            self.page.wait_for_timeout(500)

    def close(self) -> None:
        try:
            if getattr(self, "browser", None) is not None:
                self.browser.close()
        finally:
            self._playwright.stop()
