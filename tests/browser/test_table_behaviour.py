"""How a live table behaves for a person: pause, reconnect, and no JavaScript at all."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, expect

from tests.browser.conftest import log_in
from tests.servers import Server, manage

THREE_READS_AS_RAE = (
    "from publishing.models import Story; from publishing import services; "
    "from django.contrib.auth import get_user_model as users; "
    "[services.story_read(story=story, reader=users().objects.get(username='rae')) "
    "for story in Story.objects.filter(author__username='alice').order_by('id')[:3]]"
)


def rows(page: Any, table: str) -> Any:
    return page.locator(f"#{table}-rows > tr[id^='action-']")


def test_pause_holds_new_rows_and_resume_adds_them(login: Any, site: Server) -> None:
    alice = login("alice")
    alice.goto(f"{site.url}/reads/")
    expect(alice.locator("#reads-live .live-status")).to_have_attribute("data-state", "live")
    before = rows(alice, "reads").first.get_attribute("id")

    alice.click("button.pause")
    expect(alice.locator("button.pause")).to_have_attribute("aria-pressed", "true")
    rae = login("rae")
    rae.goto(f"{site.url}/stories/")
    rae.locator(".story-list li", has_text="by alice ").first.locator("h2 a").click()

    expect(alice.locator("button.pause")).to_have_text("Resume (1 new)", timeout=5000)
    assert rows(alice, "reads").first.get_attribute("id") == before  # nothing moved

    alice.click("button.pause")
    top = rows(alice, "reads").first
    expect(top).not_to_have_attribute("id", before or "")
    expect(top.locator("td.col-actor_name")).to_have_text("rae")
    expect(alice.locator("button.pause")).to_have_text("Pause")


def test_indicator_says_reconnecting_while_the_server_is_away_and_no_row_is_lost(
    login: Any, site: Server
) -> None:
    alice = login("alice")
    alice.goto(f"{site.url}/reads/")
    status = alice.locator("#reads-live .live-status")
    expect(status).to_have_attribute("data-state", "live")
    before = rows(alice, "reads").first.get_attribute("id")
    alice.evaluate(
        "window.__frames = []; document.addEventListener('htmx:wsBeforeMessage',"
        " (e) => window.__frames.push(e.detail.message))"
    )

    site.stop()
    try:
        expect(status).to_have_attribute("data-state", "reconnecting", timeout=10_000)
        manage(site.env, "shell", "-c", THREE_READS_AS_RAE)  # committed while no server runs
    finally:
        site.start()

    expect(status).to_have_attribute("data-state", "live", timeout=30_000)
    top = rows(alice, "reads").first
    expect(top).not_to_have_attribute("id", before or "", timeout=5000)
    ids = [row.get_attribute("id") for row in rows(alice, "reads").all()]
    assert len(ids) == len(set(ids))  # caught up once, never twice
    # The three came in one frame of three fragments, applied in order: newest on top.
    frames = [f for f in alice.evaluate("window.__frames") if f.count("<tr id=") == 3]
    sent = [int(pk) for pk in re.findall(r'<tr id="action-(\d+)"', frames[0])]
    assert sent == sorted(sent)
    assert ids[:3] == [f"action-{pk}" for pk in reversed(sent)]
    assert rows(alice, "reads").nth(0).locator("td.col-actor_name").inner_text() == "rae"


def test_without_javascript_the_table_filters_sorts_and_exports(browser: Browser, site: Server) -> None:
    context = browser.new_context(java_script_enabled=False, accept_downloads=True)
    page = log_in(context.new_page(), site.url, "admin")

    page.select_option("#feed-filters select[name=verb]", "commented")
    page.click("#feed-filters button[type=submit]")
    page.wait_for_url(re.compile(r"verb=commented"))
    verbs = page.locator("#feed-rows > tr[id^='action-'] td.col-verb").all_inner_texts()
    assert verbs and set(verbs) == {"commented"}

    page.click("#feed-table th.col-actor_name a")
    page.wait_for_url(re.compile(r"sort=actor_name"))
    assert "verb=commented" in page.url
    names = page.locator("#feed-rows > tr[id^='action-'] td.col-actor_name").all_inner_texts()
    assert names == sorted(names)

    with page.expect_download() as download:
        page.click("#feed-results a.export")
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(lines) - 1 == len(verbs) and all(",commented," in line for line in lines[1:])
    context.close()


def test_a_name_in_a_row_filters_the_table_and_keeps_the_other_filters(login: Any, site: Server) -> None:
    admin = login("admin")
    admin.goto(f"{site.url}/feed/?verb=read")
    expect(admin.locator("#feed-live .live-status")).to_have_attribute("data-state", "live")
    admin.evaluate("window.__notReloaded = true")
    name = rows(admin, "feed").first.locator("td.col-actor_name a.filter-link").inner_text()

    rows(admin, "feed").first.locator("td.col-actor_name a.filter-link").click()

    admin.wait_for_url(re.compile(rf"/feed/\?(?=.*verb=read)(?=.*actor={re.escape(name)})"))
    expect(admin.locator("#feed-filters input[name=actor]")).to_have_value(name)
    shown = rows(admin, "feed")
    expect(shown.first.locator("td.col-actor_name")).to_have_text(name)
    assert set(shown.locator("td.col-actor_name").all_inner_texts()) == {name}
    assert set(shown.locator("td.col-verb").all_inner_texts()) == {"read"}
    assert admin.evaluate("window.__notReloaded") is True
    # Times read relative, the exact time in the viewer's zone on hover.
    time = shown.first.locator("td.col-timestamp time")
    expect(time).to_have_text(re.compile(r"(just now|ago|\d{4}|[A-Z][a-z]{2} \d)"))
    assert time.get_attribute("title") and time.get_attribute("datetime").endswith("Z")


def test_every_page_loads_without_a_failed_request_or_a_script_error(browser: Any, site: Server) -> None:
    problems: list[str] = []
    context = browser.new_context()
    page = context.new_page()
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "requestfailed",
        # A request cut short by going to the next page is not a fault of the page.
        lambda request: request.failure != "net::ERR_ABORTED" and problems.append(f"failed {request.url}"),
    )
    page.on(
        "response",
        lambda response: response.status >= 400 and problems.append(f"{response.status} {response.url}"),
    )
    try:
        log_in(page, site.url, "admin")  # the login page too (a browser asks for the site's icon there)
        for path in (
            "/feed/",
            "/inbox/",
            "/following/",
            "/reads/",
            "/replies/",
            "/audit/",
            "/stories/",
            "/feeds/",
            "/members/",
        ):
            page.goto(f"{site.url}{path}")
            page.wait_for_load_state("networkidle")  # the chart's request, after the page
        assert problems == []
    finally:
        context.close()
