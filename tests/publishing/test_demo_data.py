"""seed_demo's publishing history: reviews, replies, thumbs-up, bookmarks, member states."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from publishing import services
from publishing.models import Bookmark, Comment, Member, Reply, Review, Story, StoryRead, ThumbsUp

pytestmark = pytest.mark.django_db

DEMO_LOGINS = ("admin", "alice", "bob", "rita", "raj", "rae", "ravi")


def counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count() for model in (Story, StoryRead, Review, Reply, ThumbsUp, Bookmark, Member)
    )


def test_seed_demo_history_has_every_publishing_event() -> None:
    call_command("seed_demo", actions=200, stdout=StringIO())

    assert set(Review.objects.values_list("reviewer__username", flat=True)) <= {"rita", "raj"}
    assert set(Review.objects.values_list("story__author__username", flat=True)) <= {"alice", "bob"}
    assert Review.objects.exists() and Reply.objects.exists()
    assert ThumbsUp.objects.exists() and Bookmark.objects.exists()
    repliers = set(Reply.objects.values_list("author__username", flat=True))
    assert repliers & {"alice", "bob"} and repliers - {"alice", "bob"}  # authors and readers
    history = (
        StoryRead.objects.count()
        + Review.objects.count()
        + Reply.objects.count()
        + ThumbsUp.objects.count()
        + Bookmark.objects.count()
        + Comment.objects.count()
    )
    assert history == 200  # --actions counts history events of every kind


def test_seed_demo_makes_demo_logins_active_and_crowd_reviewers() -> None:
    call_command("seed_demo", actions=10, stdout=StringIO())

    states = dict(Member.objects.values_list("user__username", "state"))
    assert {states[name] for name in DEMO_LOGINS} == {Member.State.ACTIVE}
    assert states["cato"] == Member.State.ACTIVE  # locked, then unlocked
    assert states["cora"] == Member.State.INVITED
    reviewers = set(
        Member.objects.filter(user__groups__name="reviewers").values_list("user__username", flat=True)
    )
    assert reviewers == {"rita", "raj", "carmen", "cyrus"}


def test_seed_demo_twice_adds_nothing_and_restores_demo_logins() -> None:
    call_command("seed_demo", actions=30, stdout=StringIO())
    before = counts()
    services.member_deactivate(member=Member.objects.get(user__username="rae"))

    call_command("seed_demo", actions=30, stdout=StringIO())

    assert counts() == before
    assert Member.objects.get(user__username="rae").state == Member.State.ACTIVE
    assert authenticate(username="rae", password="demo") is not None


def test_seed_demo_history_rows_follow_timestamps() -> None:
    call_command("seed_demo", actions=80, stdout=StringIO())
    for model, field in ((Review, "created_at"), (Reply, "created_at"), (ThumbsUp, "created_at")):
        by_id = list(model.objects.order_by("id").values_list(field, flat=True))
        assert by_id == sorted(by_id)
