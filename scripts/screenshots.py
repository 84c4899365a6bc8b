"""Screenshot every table for each demo role, to look at by eye.

Usage: python scripts/screenshots.py [BASE_URL] [OUT_DIR]
(with a server running, e.g. `make run`). Files land in OUT_DIR
(default ./screenshots, ignored by git).
"""

from __future__ import annotations

import datetime
import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.servers import CHROMIUM
from tests.servers import CHROMIUM_ARGS as ARGS

MONTH = f"since={datetime.date.today() - datetime.timedelta(days=30)}"  # a chart by day
PAGES = {
    "admin": ["/feed/", f"/feed/?{MONTH}", "/inbox/", "/reads/", "/replies/", "/audit/", "/members/"],
    "alice": ["/feed/", "/inbox/", "/reads/", "/stories/"],
    "rita": ["/feed/", "/inbox/", "/replies/", "/stories/1/"],
    "rae": ["/feed/", "/inbox/", "/following/", "/feeds/", "/feed/?actor=alice"],
}


def main() -> None:
    base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    password = os.environ.get("DEMO_PASSWORD") or "demo"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        for width, label in ((1280, "desktop"), (390, "phone")):
            for user, paths in PAGES.items():
                page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
                page.goto(f"{base}/accounts/login/")
                page.fill("input[name=username]", user)
                page.fill("input[name=password]", password)
                page.click("button[type=submit]")
                for path in paths:
                    page.goto(base + path)
                    page.wait_for_timeout(600)
                    slug = path.strip("/").replace("/", "_").replace("?", "_").replace("=", "-")
                    name = f"{label}-{user}-{slug or 'home'}.png"
                    page.screenshot(path=str(out / name), full_page=False)
                    print(out / name)
                page.context.close()
        browser.close()


if __name__ == "__main__":
    main()
