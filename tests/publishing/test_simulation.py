"""The traffic simulator acts through the services, as crowd members."""

from __future__ import annotations

import random
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db.models import F

from publishing import services
from publishing.models import Bookmark, Member, Reply, Review, StoryRead, ThumbsUp
from publishing.roles import CROWD, REVIEWERS
from publishing.simulation import crowd, step
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def members(alice: Any) -> dict[str, Any]:
    group = Group.objects.create(name=CROWD)
    made = {name: factories.user(name) for name in ("carmen", "colm", "cleo")}
    made["cyrus"] = factories.user("cyrus", "reviewer")
    made["carmen"].groups.add(Group.objects.get(name=REVIEWERS))
    for user in made.values():
        user.groups.add(group)
    factories.story(alice, "Dawn")
    factories.story(alice, "Dusk")
    return made


def test_simulation_steps_bookmark_review_reply_and_thumbs_up(members: dict[str, Any]) -> None:
    rng = random.Random(7)
    done = [step(rng) for _ in range(250)]

    assert all(isinstance(line, str) and line for line in done)
    assert StoryRead.objects.exists()
    assert Bookmark.objects.exists() and ThumbsUp.objects.exists() and Reply.objects.exists()
    reviewers = set(Review.objects.values_list("reviewer__username", flat=True))
    assert reviewers == {"carmen", "cyrus"}
    crowd_pks = {user.pk for user in members.values()}
    assert set(Reply.objects.values_list("author", flat=True)) <= crowd_pks
    assert not ThumbsUp.objects.filter(user=F("review__reviewer")).exists()  # no self thumbs-up


def test_simulation_without_crowd_reviewers_writes_no_reviews(alice: Any) -> None:
    group = Group.objects.create(name=CROWD)
    factories.user("colm").groups.add(group)
    factories.story(alice)
    rng = random.Random(3)
    for _ in range(100):
        step(rng)
    assert not Review.objects.exists()


def test_crowd_leaves_out_locked_and_deactivated_members(members: dict[str, Any]) -> None:
    services.member_deactivate(member=Member.objects.get(user=members["colm"]))
    Member.objects.filter(user=members["cleo"]).update(state=Member.State.LOCKED)
    assert {user.username for user in crowd()} == {"carmen", "cyrus"}
