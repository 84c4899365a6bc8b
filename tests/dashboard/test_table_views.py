"""The feed and reads pages: who sees what, filters, htmx partials, refusals."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.test import Client

from publishing import services
from streams.models import Action
from tests.dashboard.conftest import pager_link, row_ids

pytestmark = pytest.mark.django_db


def test_root_redirects_to_feed() -> None:
    assert Client().get("/")["Location"] == "/feed/"


@pytest.mark.parametrize("path", ["/feed/", "/reads/", "/feed/export.csv", "/reads/export.csv"])
def test_anonymous_is_sent_to_login(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={path}")


def test_feed_shows_reader_public_actions_newest_first(
    history: dict[str, Any], rae: Any, client_for: Any
) -> None:
    response = client_for(rae).get("/feed/")

    public = list(
        Action.objects.filter(public=True).order_by("-timestamp", "-id").values_list("id", flat=True)
    )
    assert row_ids(response.content.decode()) == public
    assert history["audit"].pk not in row_ids(response.content.decode())
    assert 'id="feed-table"' in response.content.decode() and 'id="feed-rows"' in response.content.decode()
    assert '<form id="feed-filters"' in response.content.decode()
    assert "User agent" not in response.content.decode()


def test_feed_shows_staff_everything_with_ip(history: dict[str, Any], admin: Any, client_for: Any) -> None:
    html = client_for(admin).get("/feed/").content.decode()
    assert history["audit"].pk in row_ids(html)
    assert "col-ip" in html


def test_reads_shows_author_only_reads_of_own_stories(
    history: dict[str, Any], alice: Any, client_for: Any
) -> None:
    html = client_for(alice).get("/reads/").content.decode()

    expected = Action.objects.filter(verb="read", owner=alice).order_by("-timestamp", "-id")
    assert row_ids(html) == list(expected.values_list("id", flat=True))
    assert len(row_ids(html)) == 2
    assert "Dusk" not in html  # bob's story


def test_reads_refuses_a_reader(history: dict[str, Any], rae: Any, client_for: Any) -> None:
    for path in ("/reads/", "/reads/export.csv"):
        response = client_for(rae).get(path)
        assert response.status_code == 403
        assert "Dawn" not in response.content.decode()


def test_staff_picks_an_author_on_reads(
    history: dict[str, Any], admin: Any, bob: Any, client_for: Any
) -> None:
    everyone = row_ids(client_for(admin).get("/reads/").content.decode())
    bobs = row_ids(client_for(admin).get("/reads/", {"author": "bob"}).content.decode())

    assert everyone == list(Action.objects.filter(verb="read").values_list("id", flat=True))
    assert bobs == list(Action.objects.filter(verb="read", owner=bob).values_list("id", flat=True))
    assert len(bobs) == 1


def test_verb_filter_narrows_the_feed(history: dict[str, Any], rae: Any, client_for: Any) -> None:
    html = client_for(rae).get("/feed/", {"verb": "commented"}).content.decode()
    assert row_ids(html) == list(Action.objects.filter(verb="commented").values_list("id", flat=True))


def test_actor_filter_narrows_the_feed(history: dict[str, Any], rae: Any, client_for: Any) -> None:
    html = client_for(rae).get("/feed/", {"actor": "bob"}).content.decode()
    expected = Action.objects.filter(actor_name="bob", public=True).order_by("-timestamp", "-id")
    assert row_ids(html) == list(expected.values_list("id", flat=True))
    assert len(row_ids(html)) == 2  # published Dusk, read Dawn


def test_htmx_request_gets_only_the_results_partial(
    history: dict[str, Any], rae: Any, client_for: Any
) -> None:
    response = client_for(rae).get("/feed/", {"verb": "read"}, headers={"HX-Request": "true"})
    html = response.content.decode()

    assert html.lstrip().startswith('<section id="feed-results"')
    assert "<html" not in html and 'id="feed-filters"' not in html
    assert 'ws-connect="/ws/live/?table=feed&amp;verb=read&amp;after=' in html
    assert response["Vary"] and "HX-Request" in response["Vary"]


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"verb": "exploded"},
        {"since": "2026-05-02", "until": "2026-05-01"},
        {"sort": "password"},
        {"object_type": "auth.user"},
        {"cursor": "not-a-cursor"},
        {"cursor": "W10"},  # base64 of "[]"
        {"q": "x" * 101},
    ],
)
def test_bad_filters_show_the_form_error_not_a_500(rae: Any, client_for: Any, params: dict[str, str]) -> None:
    response = client_for(rae).get("/feed/", params)
    assert response.status_code == 400
    assert "These filters can’t be used" in response.content.decode()
    assert row_ids(response.content.decode()) == []
    assert "Not live: fix the filters" in response.content.decode()
    assert 'ws-connect="/ws/live/?table=feed' not in response.content.decode()


def test_live_url_starts_after_the_newest_row_shown(
    history: dict[str, Any], rae: Any, client_for: Any
) -> None:
    html = client_for(rae).get("/feed/").content.decode()
    newest = Action.objects.filter(public=True).latest("id").pk
    assert f"after={newest}" in html
    assert 'data-mode="prepend"' in html


def test_later_pages_count_new_rows_instead_of_prepending(alice: Any, rae: Any, client_for: Any) -> None:
    from tests import factories

    story = factories.story(alice)
    for _ in range(30):
        services.story_read(story=story, reader=rae)

    client = client_for(alice)
    html = client.get(pager_link(client.get("/reads/").content.decode(), "next")).content.decode()

    assert len(row_ids(html)) == 5
    assert "mode=count" in html and 'data-mode="count"' in html


def test_story_page_records_one_read_per_open(alice: Any, rae: Any) -> None:
    from tests import factories

    story = factories.story(alice)
    client = Client()
    client.force_login(rae)
    client.get(f"/stories/{story.pk}/")
    client.get(f"/stories/{story.pk}/")
    Client().get(f"/stories/{story.pk}/")  # anonymous: no read

    assert story.reads.count() == 2
    assert Action.objects.filter(verb="read").count() == 2


def test_feed_queries_do_not_grow_with_rows(
    alice: Any, rae: Any, client_for: Any, django_assert_max_num_queries: Any
) -> None:
    from tests import factories

    story = factories.story(alice)
    client = client_for(rae)
    client.get("/feed/")  # warm the content-type cache
    # session, user (with the viewer's roles, for the navigation and the
    # table's permission alike), the page of rows: nothing per row (the
    # unseen badge of "For you" comes by its socket).
    with django_assert_max_num_queries(3) as one_row:
        client.get("/feed/")
    for _ in range(100):
        services.story_read(story=story, reader=rae)
    with django_assert_max_num_queries(len(one_row.captured_queries)):
        response = client.get("/feed/")
    assert len(row_ids(response.content.decode())) == 25


def test_page_numbers_from_old_links_open_the_first_page(alice: Any, rae: Any, client_for: Any) -> None:
    from tests import factories

    story = factories.story(alice)
    for _ in range(30):
        services.story_read(story=story, reader=rae)
    client = client_for(alice)

    first = row_ids(client.get("/reads/").content.decode())
    for page in ("2", "99", "abc", str(10**20)):
        response = client.get("/reads/", {"page": page})
        assert response.status_code == 200
        assert row_ids(response.content.decode()) == first


@pytest.mark.parametrize("path", ["/feed/", "/feed/export.csv", "/reads/", "/reads/export.csv"])
def test_the_last_day_there_is_as_until_is_no_upper_bound_not_a_500(
    history: dict[str, Any], alice: Any, client_for: Any, path: str
) -> None:
    response = client_for(alice).get(path, {"until": "9999-12-31"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    everything = client_for(alice).get(path)
    everything_body = b"".join(everything.streaming_content) if everything.streaming else everything.content
    assert body.count(b"rae") == everything_body.count(b"rae") > 0


def test_sort_by_a_column_orders_rows_and_keeps_it_in_the_form(
    history: dict[str, Any], rae: Any, client_for: Any
) -> None:
    html = client_for(rae).get("/feed/", {"sort": "actor_name"}).content.decode()
    # Ties broken by time and id, in the same direction: one index serves it.
    expected = Action.objects.filter(public=True).order_by("actor_name", "timestamp", "id")
    assert [Action.objects.get(pk=pk).actor_name for pk in row_ids(html)] == [a.actor_name for a in expected]
    assert 'name="sort" value="actor_name" form="feed-filters"' in html
    assert 'data-mode="count"' in html  # another order: new rows are counted, not prepended


def test_fast_rows_render_every_cell_as_django_tables2_does(admin: Any) -> None:
    from django.contrib.contenttypes.models import ContentType
    from django.template import Context, Template
    from django.utils import timezone

    from dashboard.tables import FEED
    from publishing.models import Story
    from streams.models import Action
    from streams.tables import ALL_COLUMNS, Table

    story_type = ContentType.objects.get_for_model(Story)
    Action.objects.bulk_create(
        [
            Action(
                actor_name="rae",
                verb="read",
                object_repr="<b>Dawn</b> & Dusk",
                object_type=story_type,
                object_id="1",
                public=True,
            ),
            Action(
                actor_name="Ünïcode", verb="updated", changes={"title": ["a", "b"], "tags": {"added": ["x"]}}
            ),
            Action(
                actor_name="x", verb="logged in", ip="2001:db8::1", user_agent="Mozilla/5.0 (q)", changes={}
            ),
            Action(
                actor_name="y", verb="deleted", target_repr="=cmd", changes=None, timestamp=timezone.now()
            ),
        ]
    )
    actions = list(Action.objects.order_by("id"))
    # The row as a template over django-tables2's own cells renders it.
    reference = Template(
        '<tr id="action-{{ row.record.pk }}" class="verb-{{ row.record.verb|slugify }}{% if live %} is-new{% endif %}">'
        '{% for column, cell in row.items %}<td class="col-{{ column.name }}" data-label="{{ column.header }}">'
        "{{ cell }}</td>{% endfor %}</tr>"
    )
    every_column = Table(name="every", title="Every column", columns=ALL_COLUMNS)
    for staff, live, kind in itertools.product((True, False), (True, False), (FEED, every_column)):
        table = kind.table(actions, staff=staff)
        expected = [reference.render(Context({"row": row, "live": live})) for row in table.rows]
        assert [row.html(live=live) for row in table.fast_rows()] == expected
        assert ('data-label="Kind">story</td>' in "".join(expected)) is (kind is every_column)


@pytest.mark.parametrize("value", ["", "zoë", None, "missing"])
def test_the_long_owner_select_writes_what_djangos_select_does(value: Any) -> None:
    import re

    from django import forms

    from streams.filters import LongSelect

    choices = [("", "every author"), ("a<b", "a<b"), ("zoë", "zoë"), ('x"y', 'x"y')]
    expected = forms.Select(choices=choices).render("author", value, {"id": "id_author"})
    assert LongSelect(choices=choices).render("author", value, {"id": "id_author"}) == re.sub(
        r">\s+<", "><", expected
    )
