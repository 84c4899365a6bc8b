from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from publishing.models import Comment, Story, StoryRead
from streams.models import Action

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
