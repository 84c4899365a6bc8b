"""One definition of "which actions": the page, the CSV and the socket agree for any filters."""

from __future__ import annotations

import csv
import datetime
import io
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.tables import KINDS
from publishing import services
from streams import disable_recording, record
from streams.filters import ActionFilterSet
from streams.models import Action
from tests import factories

TODAY = timezone.now().date()
DAYS = [None, *(TODAY + datetime.timedelta(days=offset) for offset in (-3, -1, 0, 1))]
# Letters whose case folds beyond ASCII: ß/SS, Ú/ú, Σ/σ/ς, the Kelvin sign.
TEXT = st.text(alphabet="aDdUsk é☕'=-ßSÚúΣσςK", min_size=3, max_size=5)

filters = st.fixed_dictionaries(
    {},
    optional={
        "actor": st.sampled_from(["rae", "bob", "alice", "admin"]),
        "verb": st.sampled_from(["read", "commented", "published", "logged in", "updated"]),
        "object_type": st.sampled_from(["publishing.story", "publishing.comment"]),
        "target_type": st.sampled_from(["publishing.story", "publishing.comment"]),
        "since": st.sampled_from(DAYS[1:]),
        "until": st.sampled_from(DAYS[1:]),
        "q": TEXT,
    },
)


@pytest.fixture
def world(db: Any) -> Any:
    # Built once per test; every hypothesis example reads it inside the
    # test's transaction, which is rolled back afterwards.
    alice, bob = factories.user("alice", "author"), factories.user("bob", "author")
    rae, admin = factories.user("rae"), factories.user("admin", "staff")
    dawn = factories.story(alice, "Dawn Údarás")
    dusk = factories.story(bob, "dusk STRASSE Straße ΣΊΣΥΦΟΣ σίσυφος K")
    services.story_read(story=dawn, reader=rae)
    services.story_read(story=dusk, reader=bob)
    services.comment_create(story=dawn, author=rae, body="=SUM(A1) ☕")
    services.comment_create(story=dusk, author=alice, body="Dusk is kind")
    record(verb="logged in", actor=rae, public=False)
    # Spread over days so since/until cut somewhere.
    for offset, action in enumerate(Action.objects.order_by("id")):
        Action.objects.filter(pk=action.pk).update(
            timestamp=timezone.now() - datetime.timedelta(days=offset % 4, hours=offset)
        )
    return {"alice": alice, "rae": rae, "admin": admin}


def shown(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="action-(\d+)"', html)]


def as_params(chosen: dict[str, Any]) -> dict[str, str]:
    return {
        key: value.isoformat() if isinstance(value, datetime.date) else value for key, value in chosen.items()
    }


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chosen=filters, viewer=st.sampled_from(["rae", "admin"]))
def test_page_csv_and_socket_match_the_same_rows(world: Any, chosen: dict[str, Any], viewer: str) -> None:
    params = as_params(chosen)
    client = Client()
    with disable_recording():  # logging in is recorded; keep the world as built
        client.force_login(world[viewer])
    page = client.get("/feed/", params)
    export = client.get("/feed/export.csv", params)

    if page.status_code == 400:  # bad combination (until before since, unknown actor...)
        assert export.status_code == 400
        return
    page_ids = shown(page.content.decode())
    lines = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))[1:]
    assert len(lines) == len(page_ids)
    by_id = {a.pk: a for a in Action.objects.filter(pk__in=page_ids)}
    assert [line[2] for line in lines] == [by_id[pk].verb for pk in page_ids]

    # The socket's in-memory match keeps exactly what the page shows.
    filterset = ActionFilterSet(params, Action.objects.all(), kind=KINDS["feed"], viewer=world[viewer])
    assert filterset.is_valid()
    query = filterset.query()
    matched = {a.pk for a in Action.objects.all() if query.matches(a.broadcast_message())}
    assert matched == set(page_ids)
