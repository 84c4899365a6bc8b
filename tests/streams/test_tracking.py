"""Field diffs, conditional routes and bulk operations."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from publishing import services
from publishing.models import Story, StoryRead
from streams.models import Action
from streams.testing import capture_actions
from streams.tracking import MASK
from tests import factories

pytestmark = pytest.mark.django_db


def test_story_edit_records_a_staff_only_diff(alice: Any) -> None:
    story = Story.objects.get(pk=factories.story(alice, "Dawn").pk)

    with capture_actions() as captured:
        story.title = "Daybreak"
        story.save()

    assert captured.verbs() == ["updated"]
    assert captured[0].changes == {"title": ["Dawn", "Daybreak"]}
    assert captured[0].public is False


def test_save_without_a_tracked_change_records_nothing(alice: Any) -> None:
    story = Story.objects.get(pk=factories.story(alice).pk)
    with capture_actions() as captured:
        story.save()
        story.published_at = story.published_at  # untracked field
        story.save(update_fields=["published_at"])
    assert captured.verbs() == []


def test_update_fields_limits_the_diff(alice: Any) -> None:
    story = Story.objects.get(pk=factories.story(alice, "Dawn").pk)
    with capture_actions() as captured:
        story.title, story.body = "Daybreak", "new body"
        story.save(update_fields=["body"])
    assert list(captured[0].changes) == ["body"]


@pytest.mark.django_db(transaction=True)
def test_update_with_diff_costs_the_write_and_one_insert(alice: Any, django_assert_num_queries: Any) -> None:
    story = Story.objects.get(pk=factories.story(alice).pk)
    story.title = "Changed"
    with django_assert_num_queries(2) as captured:
        story.save(update_fields=["title"])
    assert [q["sql"].split()[0] for q in captured.captured_queries] == ["UPDATE", "INSERT"]


def test_password_change_is_recorded_masked(rae: Any) -> None:
    user = get_user_model().objects.get(pk=rae.pk)
    with capture_actions() as captured:
        user.set_password("correct horse battery staple")
        user.save()
    assert captured.verbs() == ["updated"]
    assert captured[0].changes == {"password": [MASK, MASK]}
    assert "horse" not in str(captured[0].changes)


def test_group_membership_change_is_recorded(rae: Any) -> None:
    from django.contrib.auth.models import Group

    reviewers = Group.objects.create(name="reviewers")
    with capture_actions() as captured:
        rae.groups.add(reviewers)
        rae.groups.remove(reviewers)
    assert [a.changes for a in captured] == [
        {"groups": {"added": ["reviewers"]}},
        {"groups": {"removed": ["reviewers"]}},
    ]


def test_deleted_comment_is_recorded(alice: Any, rae: Any) -> None:
    comment = services.comment_create(story=factories.story(alice), author=rae, body="oops")
    with capture_actions() as captured:
        comment.delete()
    assert captured.verbs() == ["deleted"]
    assert (captured[0].object_repr, captured[0].public) == ("oops", False)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rows", [10, 300])
def test_bulk_create_records_one_action_per_row_in_bounded_queries(
    alice: Any, rae: Any, bob: Any, rows: int, django_assert_max_num_queries: Any
) -> None:
    story = factories.story(alice, "Dawn")
    reads = [StoryRead(story=story, reader=rae if i % 2 else bob) for i in range(rows)]

    # one INSERT of reads, a SELECT of stories and of readers, one INSERT of actions
    with django_assert_max_num_queries(4):
        created = StoryRead.objects.bulk_create(reads)

    actions = Action.objects.filter(verb="read").order_by("id")
    assert actions.count() == rows
    assert {(a.actor_name, a.owner_id, a.object_id) for a in actions} == {
        ("rae", alice.pk, str(story.pk)),
        ("bob", alice.pk, str(story.pk)),
    }
    assert [a.timestamp for a in actions] == [r.read_at for r in created]


def test_bulk_update_records_each_row_diff(alice: Any) -> None:
    factories.story(alice, "One")
    factories.story(alice, "Two")
    stories = list(Story.objects.order_by("id"))
    for story in stories:
        story.title = story.title.upper()

    with capture_actions() as captured:
        Story.objects.bulk_update(stories, ["title"])

    assert [a.changes for a in captured] == [{"title": ["One", "ONE"]}, {"title": ["Two", "TWO"]}]
    with capture_actions() as again:
        stories[0].save()  # the snapshot moved on: nothing left to report
    assert again.verbs() == []


def test_queryset_update_records_each_row(alice: Any) -> None:
    one, two = factories.story(alice, "One"), factories.story(alice, "Two")
    with capture_actions() as captured:
        Story.objects.filter(pk__in=[one.pk, two.pk]).update(body="rewritten")
    assert sorted(a.object_id for a in captured) == sorted([str(one.pk), str(two.pk)])
    assert {str(a.changes) for a in captured} == {str({"body": {"set": "rewritten"}})}


def test_deferred_fields_are_not_loaded_by_tracking(alice: Any, django_assert_num_queries: Any) -> None:
    factories.story(alice)
    with django_assert_num_queries(1):
        story = Story.objects.only("id", "author").get()
        assert story.pk
