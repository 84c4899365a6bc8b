"""Two people, two browsers, one real server: rows arrive live."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.servers import Server


def newest_row(page: Page, table: str) -> Any:
    return page.locator(f"#{table}-rows > tr[id^='action-']").first


def wait_live(page: Page, table: str) -> None:
    expect(page.locator(f"#{table}-live .live-status")).to_have_attribute("data-state", "live")


def open_story_by(page: Page, site: Server, author: str) -> str:
    page.goto(f"{site.url}/stories/")
    story = page.locator(".story-list li", has_text=f"by {author} ").first
    title = story.locator("h2 a").inner_text()
    story.locator("h2 a").click()
    expect(page.locator("#story h1")).to_have_text(title)
    return title


def test_a_read_appears_at_the_top_of_the_authors_open_table(login: Any, site: Server) -> None:
    alice = login("alice")
    alice.goto(f"{site.url}/reads/")
    wait_live(alice, "reads")
    before = newest_row(alice, "reads").get_attribute("id")
    alice.evaluate("window.__notReloaded = true")
    total = alice.locator("#reads-chart .chart-total")
    expect(total).to_have_text(re.compile(r"^\d+$"))
    counted = int(total.inner_text())

    rae = login("rae")
    title = open_story_by(rae, site, "alice")

    top = newest_row(alice, "reads")
    expect(top).not_to_have_attribute("id", before or "", timeout=3000)
    expect(top.locator("td.col-actor_name")).to_have_text("rae")
    # The chart above the table grows with it.
    expect(total).to_have_text(str(counted + 1))
    expect(top.locator("td.col-object_repr")).to_have_text(title)
    expect(top).to_have_class(re.compile(r"\bis-new\b"))
    # Its time reads relative as it arrives, not at the page's next 30-second tick.
    expect(top.locator("td.col-timestamp time")).to_have_text("just now", timeout=1000)
    assert alice.evaluate("window.__notReloaded") is True


def test_an_empty_chart_counts_its_first_live_row_and_names_the_busiest_hour(
    login: Any, site: Server
) -> None:
    alice = login("alice")
    alice.goto(f"{site.url}/stories/new/")
    alice.fill("#story-form input[name=title]", "Quokka weather report")
    alice.fill("#story-form textarea[name=body]", "Sunny, then quokkas.")
    alice.locator("#story-form input[name=publish]").check()
    alice.locator("#story-form button[type=submit]").click()
    alice.goto(f"{site.url}/reads/?q=quokka&actor=rae")  # her own read on saving it is not rae's
    wait_live(alice, "reads")
    caption = alice.locator("#reads-chart figcaption")
    expect(caption).to_have_text("Actions over the last day, by hour: 0.")

    rae = login("rae")
    rae.goto(f"{site.url}/stories/")
    rae.locator(".story-list a", has_text="Quokka weather report").click()

    expect(newest_row(alice, "reads").locator("td.col-actor_name")).to_have_text("rae", timeout=5000)
    expect(caption).to_have_text("Actions over the last day, by hour: 1; the busiest hour had 1.")


def test_another_authors_read_does_not_arrive(login: Any, site: Server) -> None:
    alice = login("alice")
    alice.goto(f"{site.url}/reads/")
    wait_live(alice, "reads")
    before = newest_row(alice, "reads").get_attribute("id")

    rae = login("rae")
    open_story_by(rae, site, "bob")
    alice.wait_for_timeout(1000)

    assert newest_row(alice, "reads").get_attribute("id") == before


def test_feed_filter_updates_rows_and_url_and_moves_the_live_subscription(login: Any, site: Server) -> None:
    admin = login("admin")
    wait_live(admin, "feed")
    admin.evaluate("window.__notReloaded = true")

    admin.select_option("#feed-filters select[name=verb]", "commented")

    admin.wait_for_url(re.compile(r"/feed/\?.*verb=commented"))
    expect(admin.locator("#feed-live")).to_have_attribute("ws-connect", re.compile("verb=commented"))
    wait_live(admin, "feed")
    verbs = admin.locator("#feed-rows > tr[id^='action-'] td.col-verb").all_inner_texts()
    assert verbs and set(verbs) == {"commented"}
    assert admin.evaluate("window.__notReloaded") is True
    before = newest_row(admin, "feed").get_attribute("id")

    rae = login("rae")
    open_story_by(rae, site, "bob")  # a read: no longer matches the feed's filter
    admin.wait_for_timeout(800)
    assert newest_row(admin, "feed").get_attribute("id") == before

    rae.fill("#comment-form textarea", "Live from the browser test")
    rae.click("#comment-form button[type=submit]")

    top = newest_row(admin, "feed")
    expect(top.locator("td.col-object_repr")).to_have_text("Live from the browser test", timeout=3000)
    expect(top.locator("td.col-verb")).to_have_text("commented")


def test_export_link_downloads_the_filtered_rows(login: Any, site: Server) -> None:
    alice = login("alice")
    alice.goto(f"{site.url}/feed/?verb=published")
    shown = alice.locator("#feed-rows > tr[id^='action-']").count()

    with alice.expect_download() as download_info:
        alice.click("#feed-results a.export")
    lines = Path(download_info.value.path()).read_text(encoding="utf-8").splitlines()

    assert lines[0] == "timestamp,actor,verb,object,target"
    assert len(lines) - 1 == shown > 0
    assert all(",published," in line for line in lines[1:])


def test_the_unseen_badge_rises_live_and_falls_on_every_tab_when_the_inbox_opens(
    login: Any, site: Server
) -> None:
    alice = login("alice")
    alice.goto(f"{site.url}/inbox/")  # everything so far is seen
    badge = alice.locator("#inbox-count")
    expect(badge).to_have_attribute("data-count", "0")
    expect(badge).to_be_hidden()
    alice.goto(f"{site.url}/stories/")
    other_tab = alice.context.new_page()
    other_tab.goto(f"{site.url}/feed/")
    wait_live(other_tab, "feed")
    alice.wait_for_timeout(500)  # both badges' sockets are open

    rae = login("rae")
    open_story_by(rae, site, "alice")

    for page in (alice, other_tab):
        expect(page.locator("#inbox-count")).to_have_attribute("data-count", "1", timeout=5000)
        expect(page.locator("#inbox-count")).to_be_visible()
        expect(page.locator("#inbox-count")).to_have_text("1")

    alice.locator(".site-nav a", has_text="For you").click()
    alice.wait_for_url(f"{site.url}/inbox/")
    expect(newest_row(alice, "inbox").locator("td.col-actor_name")).to_have_text("rae")
    expect(other_tab.locator("#inbox-count")).to_have_attribute("data-count", "0", timeout=5000)
    expect(other_tab.locator("#inbox-count")).to_be_hidden()


def test_rows_arriving_on_the_open_inbox_are_seen_when_shown_and_badges_fall(
    login: Any, site: Server
) -> None:
    alice = login("alice")
    alice.goto(f"{site.url}/inbox/")
    wait_live(alice, "inbox")
    other_tab = alice.context.new_page()
    other_tab.goto(f"{site.url}/stories/")
    alice.wait_for_timeout(500)  # both badges' sockets are open
    pause = alice.locator(".pause[data-table='inbox']")
    rows = alice.locator("#inbox-rows > tr[id^='action-']")
    shown = rows.count()

    # Held by Pause, a row is not seen: the badge rises on both tabs.
    pause.click()
    rae = login("rae")
    open_story_by(rae, site, "alice")
    expect(pause).to_have_text("Resume (1 new)", timeout=5000)
    for page in (alice, other_tab):
        expect(page.locator("#inbox-count")).to_have_attribute("data-count", "1", timeout=5000)

    # Shown, it is seen: the badge falls on both tabs.
    pause.click()
    expect(rows).to_have_count(shown + 1)
    expect(newest_row(alice, "inbox").locator("td.col-actor_name")).to_have_text("rae")
    for page in (alice, other_tab):
        expect(page.locator("#inbox-count")).to_have_attribute("data-count", "0", timeout=5000)

    # Not paused, the next row is seen as it arrives: a page opened afterwards counts nothing new.
    open_story_by(rae, site, "alice")
    expect(rows).to_have_count(shown + 2, timeout=5000)
    alice.wait_for_timeout(2000)  # the inbox says what it has shown, at most once a second
    other_tab.reload()
    other_tab.wait_for_timeout(1500)  # the badge's socket counts what came after the cursor
    expect(other_tab.locator("#inbox-count")).to_have_attribute("data-count", "0")


def test_follow_someone_then_see_their_next_action_arrive_live(login: Any, site: Server) -> None:
    rae = login("rae")
    rae.goto(f"{site.url}/feed/?actor=alice")
    rae.locator("#follow button", has_text="Follow alice").click()
    expect(rae.locator("#follow")).to_contain_text("You follow alice")
    rae.locator(".site-nav a", has_text="Following").click()
    rae.wait_for_url(f"{site.url}/following/")
    expect(rae.locator("#following-people")).to_contain_text("alice")
    wait_live(rae, "following")

    alice = login("alice")
    title = open_story_by(alice, site, "bob")

    top = newest_row(rae, "following")
    expect(top.locator("td.col-actor_name")).to_have_text("alice", timeout=5000)
    expect(top.locator("td.col-object_repr")).to_have_text(title)
    expect(top).to_have_class(re.compile(r"\bis-new\b"))
