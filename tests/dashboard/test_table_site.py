"""Tables are declared through the engine: ``streams.tables.site``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from streams import record
from streams.tables import AlreadyRegistered, Table, site


@pytest.fixture
def starred_public() -> Iterator[None]:
    """A verb of the project's own, declared public for the test."""
    public, every = site.public_verbs, site.all_verbs
    site.verbs(public=(*public, "starred"), staff_only=every)
    yield
    site.public_verbs, site.all_verbs = public, every


def test_the_demo_declares_its_tables_in_order() -> None:
    assert list(site) == ["feed", "inbox", "following", "reads", "replies", "audit"]
    assert site["reads"].owner_param == "author"


@pytest.mark.django_db
def test_each_viewer_gets_the_tables_they_may_open(rae: Any, alice: Any, admin: Any) -> None:
    assert [t.name for t in site.allowed(rae)] == ["feed", "inbox", "following"]
    assert [t.name for t in site.allowed(alice)] == ["feed", "inbox", "following", "reads"]
    assert [t.name for t in site.allowed(admin)] == [
        "feed",
        "inbox",
        "following",
        "reads",
        "replies",
        "audit",
    ]


def test_a_table_name_is_taken_once() -> None:
    with pytest.raises(AlreadyRegistered, match="feed"):
        site.register(Table(name="feed", title="Again", description=""))


def test_staff_only_verbs_are_declared_after_the_public_ones_without_repeats() -> None:
    assert site.all_verbs[: len(site.public_verbs)] == site.public_verbs
    assert len(set(site.all_verbs)) == len(site.all_verbs)
    assert "logged in" in site.all_verbs and "logged in" not in site.public_verbs


@pytest.mark.django_db
def test_a_verb_of_the_projects_own_shows_once_declared_public(
    rae: Any, alice: Any, client_for: Any, request: pytest.FixtureRequest
) -> None:
    record(verb="starred", actor=alice)  # a route of the project's own

    def reader_sees() -> bool:
        return "starred" in client_for(rae).get("/feed/").content.decode()

    assert not reader_sees()  # a verb nobody declared public stays hidden from readers
    request.getfixturevalue("starred_public")
    assert reader_sees()
    assert "starred" in site["feed"].visible_verbs(rae)


@pytest.mark.django_db
def test_a_project_overrides_a_block_of_the_table_page(
    rae: Any, client_for: Any, tmp_path: Any, settings: Any
) -> None:
    page = tmp_path / "streams" / "table_page.html"
    page.parent.mkdir()
    page.write_text(
        '{% extends "streams/table_page.html" %}'
        '{% block table_head %}<h1 id="our-head">Our own heading</h1>{% endblock %}'
        '{% block table_after %}<p id="our-footer">Questions? Ask the desk.</p>{% endblock %}'
    )
    templates = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    settings.TEMPLATES = templates
    record(verb="published", actor="alice")

    html = client_for(rae).get("/feed/").content.decode()

    assert 'id="our-head"' in html and 'id="our-footer"' in html
    assert "Everything that happens on the site" not in html  # the engine's heading, replaced
    assert 'id="feed-filters"' in html and 'id="feed-rows"' in html  # the rest is the engine's
