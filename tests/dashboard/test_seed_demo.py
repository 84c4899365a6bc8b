from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from publishing.models import Comment, Story, StoryRead
from streams import search, search_index
from streams.models import Action
from tests import factories

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_logins_and_history_once() -> None:
    out = StringIO()
    call_command("seed_demo", actions=80, stdout=out)
    rows = (Story.objects.count(), StoryRead.objects.count() + Comment.objects.count())
    actions = Action.objects.count()

    call_command("seed_demo", actions=80, stdout=StringIO())

    assert (Story.objects.count(), StoryRead.objects.count() + Comment.objects.count()) == rows
    assert Action.objects.count() == actions  # a second run adds nothing
    # Every table has history: each event kind of the demo is there.
    assert set(Action.objects.values_list("verb", flat=True)) >= {
        "published", "read", "commented", "bookmarked", "reviewed", "replied", "liked", "changed state",
    }  # fmt: skip
    assert Action.objects.filter(verb="read").count() == StoryRead.objects.count()
    for name in ("admin", "alice", "bob", "rita", "raj", "rae", "ravi"):
        assert authenticate(username=name, password="demo") is not None
        assert name in out.getvalue()
    assert get_user_model().objects.get(username="admin").is_staff


def test_seed_demo_history_ids_follow_timestamps() -> None:
    call_command("seed_demo", actions=60, stdout=StringIO())
    by_id = list(Action.objects.order_by("id").values_list("timestamp", flat=True))
    assert by_id == sorted(by_id)


def test_seed_demo_uses_demo_password_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_PASSWORD", "s3cret-demo")
    out = StringIO()
    call_command("seed_demo", actions=0, stdout=out)
    assert authenticate(username="alice", password="s3cret-demo") is not None
    assert "s3cret-demo" not in out.getvalue()


def test_seed_demo_large_history_goes_through_bulk_signals(monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard.management.commands import seed_demo

    monkeypatch.setattr(seed_demo, "DETAILED_EVENTS", 40)
    monkeypatch.setattr(seed_demo, "BULK_BATCH", 100)
    out = StringIO()
    call_command("seed_demo", actions=640, stdout=out)

    assert Action.objects.filter(verb="read").count() == StoryRead.objects.count() >= 600
    stamps = list(Action.objects.order_by("id").values_list("timestamp", flat=True))
    assert stamps == sorted(stamps)
    assert "600 / 600 reads" in out.getvalue()


def _large_seed(monkeypatch: pytest.MonkeyPatch, *, reindex: bool = False, **options: Any) -> str:
    """A 640-event history whose 600 oldest reads are bulk-created in batches of 100."""
    from dashboard.management.commands import seed_demo

    monkeypatch.setattr(seed_demo, "DETAILED_EVENTS", 40)
    monkeypatch.setattr(seed_demo, "BULK_BATCH", 100)
    # The search index is dropped and rebuilt around a large bulk part only.
    monkeypatch.setattr(seed_demo, "REINDEX_FROM", {"sqlite": 100, "postgresql": 100} if reindex else {})
    out = StringIO()
    call_command("seed_demo", actions=640, stdout=out, **options)
    return out.getvalue()


def test_seed_demo_bulk_reads_are_recorded_by_the_bulk_route(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    # seed_demo never writes actions itself: with the hub's bulk route off,
    # the bulk-created reads have none, the detailed ones still do.
    settings.STREAMS = {**settings.STREAMS, "DISABLED_ROUTES": ("story-reads-bulk",)}
    _large_seed(monkeypatch)

    reads = StoryRead.objects.count()
    assert reads >= 600
    assert Action.objects.filter(verb="read").count() == reads - 600


def test_seed_demo_bulk_actions_match_their_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    from streams import recording

    monkeypatch.setattr(recording, "BULK_INSERT_BATCH", 30)  # several INSERTs per batch of reads
    _large_seed(monkeypatch)

    bulk_reads = StoryRead.objects.select_related("story", "reader").order_by("read_at", "id")[:600]
    actions = Action.objects.filter(verb="read").order_by("id")[:600]
    assert [
        (a.timestamp, a.actor_id, a.actor_name, a.object_id, a.object_repr, a.owner_id, a.public)
        for a in actions
    ] == [
        (r.read_at, r.reader_id, r.reader.username, str(r.story_id), r.story.title, r.story.author_id, True)
        for r in bulk_reads
    ]
    assert all(a.search_text == a.document() for a in actions)


@pytest.mark.parametrize("reindex", [False, True], ids=["kept", "rebuilt"])
def test_seed_demo_search_index_finds_bulk_reads(monkeypatch: pytest.MonkeyPatch, reindex: bool) -> None:
    from streams.query import ActionQuery

    out = _large_seed(monkeypatch, reindex=reindex)

    assert search_index.installed(connection)
    assert ("search index rebuilt" in out) is reindex
    needle = search.needle("Winter harbour")
    expected = set(Action.objects.filter(search_text__contains=needle).values_list("id", flat=True))
    found = set(ActionQuery(text="winter HARBOUR").apply(Action.objects.all()).values_list("id", flat=True))
    assert found == expected
    oldest_read = Action.objects.filter(verb="read", object_repr="Winter harbour").order_by("id").first()
    assert oldest_read is not None and oldest_read.pk in found  # a bulk read, not only the detailed ones
    if connection.vendor == "sqlite":  # every action is in the FTS table, not only the later ones
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT count(*) FROM {search_index.FTS_TABLE} WHERE search_text GLOB %s",
                [search.glob_pattern(needle)],
            )
            assert cursor.fetchone()[0] == len(expected)


def test_seed_demo_failure_in_bulk_part_leaves_search_index_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dashboard.management.commands import seed_demo

    calls = 0
    bulk_reads = seed_demo.Command.bulk_reads

    def failing_bulk_reads(self: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        assert not search_index.installed(connection)  # dropped for the bulk part
        bulk_reads(self, *args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(seed_demo.Command, "bulk_reads", failing_bulk_reads)
    with pytest.raises(RuntimeError, match="disk full"):
        _large_seed(monkeypatch, reindex=True)

    assert calls == 1
    assert search_index.installed(connection)
    assert not StoryRead.objects.exists()  # rolled back


def test_seed_demo_progress_bar_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    out = _large_seed(monkeypatch, progress=False)
    assert "/ 600 reads" not in out
    assert Action.objects.filter(verb="read").count() == StoryRead.objects.count()


def test_bulk_route_records_the_same_rows_as_record(alice: Any, rae: Any) -> None:
    """record_many() builds its rows without model instances: the same columns as record()."""
    from streams import acting_as, record, record_many

    story = factories.story(alice, 'Odd "text" \\ 😀 Straße\nİ')
    when = timezone.now()
    entries = [
        {"actor": rae, "verb": "read", "object": story, "owner": story.author_id, "timestamp": when},
        {"actor": "ghost ǰ", "verb": "failed login", "public": False, "timestamp": when},
        {"verb": "updated", "object": story, "target": story, "owner": alice, "changes": {"title": ["a", 1]}},
        {"actor": rae, "verb": "liked", "object": story, "changes": {"n": None, "t": True}},
    ]
    if connection.vendor == "sqlite":  # PostgreSQL refuses a NUL in any text
        entries.append({"actor": rae, "verb": "nul\x00verb", "object": story, "timestamp": when})
    columns = [f.attname for f in Action._meta.concrete_fields if not f.primary_key]

    def rows(actions: Any) -> list[list[Any]]:
        found = []
        for action, entry in zip(actions, entries, strict=True):
            values = Action.objects.filter(pk=action.pk).values(*columns).get()
            if "timestamp" not in entry:  # "now", a little later for the second
                values["timestamp"] = None
            found.append([values[name] for name in columns])
        return found

    with acting_as(rae, ip="203.0.113.9", user_agent="Agent/1.0"):
        single = [record(**entry) for entry in entries]
        many = list(record_many(entries))

    assert len(many) == len(entries)
    assert rows(many) == rows(single)
    assert [a.pk for a in many] == sorted(a.pk for a in many)
    assert [(a.actor_name, a.verb, a.search_text) for a in many] == [
        (a.actor_name, a.verb, a.search_text) for a in single
    ]
