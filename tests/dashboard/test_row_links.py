"""Rows people can act on: names and verbs filter the table, objects link to their page, times carry UTC."""

from __future__ import annotations

import re
from typing import Any

import pytest

from publishing import services
from tests import factories


@pytest.fixture
def dawn(alice: Any) -> Any:
    return factories.story(alice, "Dawn")


def test_names_and_verbs_link_to_the_filtered_table_where_it_offers_the_filter(
    dawn: Any, rae: Any, alice: Any, client_for: Any
) -> None:
    services.story_read(story=dawn, reader=rae)
    feed = client_for(rae).get("/feed/").content.decode()
    assert (
        '<td class="col-actor_name" data-label="Who"><a class="filter-link" href="?actor=rae">rae</a></td>'
        in feed
    )
    assert '<a class="filter-link" href="?verb=read">read</a>' in feed
    # The reads table offers no verb filter: its verbs are plain text.
    reads = client_for(alice).get("/reads/").content.decode()
    assert '<a class="filter-link" href="?actor=rae">rae</a>' in reads
    assert '<td class="col-verb" data-label="Did">read</td>' in reads


def test_a_story_links_to_its_page_and_a_comment_does_not(dawn: Any, rae: Any, client_for: Any) -> None:
    services.comment_create(story=dawn, author=rae, body="Lovely")
    feed = client_for(rae).get("/feed/").content.decode()
    assert (
        f'<td class="col-object_repr" data-label="What"><a href="/stories/{dawn.pk}/">Dawn</a></td>' in feed
    )
    assert f'<td class="col-target_repr" data-label="On"><a href="/stories/{dawn.pk}/">Dawn</a></td>' in feed
    assert '<td class="col-object_repr" data-label="What">Lovely</td>' in feed


def test_times_carry_iso_utc_for_the_viewers_zone_and_the_server_time_as_text(
    dawn: Any, client_for: Any, rae: Any, settings: Any
) -> None:
    settings.TIME_ZONE = "Europe/Paris"
    services.story_read(story=dawn, reader=rae)
    feed = client_for(rae).get("/feed/").content.decode()
    cell = re.search(r'<td class="col-timestamp" data-label="When">(.*?)</td>', feed).group(1)
    iso, title, text = re.fullmatch(r'<time datetime="([^"]+)" title="([^"]+)">([^<]+)</time>', cell).groups()
    assert iso.endswith("Z") and title == text and not text.startswith(iso[:16].replace("T", " "))
    export = client_for(rae).get("/feed/export.csv")
    first_row = b"".join(export.streaming_content).decode().splitlines()[1]
    # The CSV stays ISO 8601 in UTC, whatever the site's zone.
    assert first_row.split(",")[0].startswith(iso.rstrip("Z")) and first_row.split(",")[0].endswith("+00:00")
