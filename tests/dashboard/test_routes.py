"""The hub: each business event becomes exactly one action with the right fields."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.db import transaction
from django.db.models.signals import post_save

from publishing import services
from publishing.models import Comment, Story, StoryRead
from streams import registry
from streams.health import health
from streams.live.transport import Transport
from streams.models import Action
from tests import factories

pytestmark = pytest.mark.django_db


def only_action() -> Action:
    actions = list(Action.objects.all())
    assert len(actions) == 1, actions
    return actions[0]


def test_story_published_records_author_published_story(alice: Any) -> None:
    story = factories.story(alice, "Dawn")

    action = only_action()
    assert (action.actor, action.actor_name, action.verb) == (alice, "alice", "published")
    assert (action.object_type, action.object_id, action.object_repr) == (
        ContentType.objects.get_for_model(Story),
        str(story.pk),
        "Dawn",
    )
    assert (action.target_type, action.owner, action.public) == (None, None, True)
    assert action.timestamp == story.published_at


def test_draft_records_nothing_until_published(alice: Any) -> None:
    story = factories.story(alice, publish=False)
    assert Action.objects.count() == 0

    services.story_publish(story=story, user=alice)
    services.story_publish(story=story, user=alice)  # already public: no second action

    assert only_action().verb == "published"


def test_story_read_records_reader_read_story_owned_by_author(alice: Any, rae: Any) -> None:
    story = factories.story(alice, "Dawn")
    Action.objects.all().delete()

    read = services.story_read(story=story, reader=rae)

    action = only_action()
    assert (action.actor, action.verb, action.object_repr, action.owner) == (rae, "read", "Dawn", alice)
    assert action.object_id == str(story.pk)
    assert action.timestamp == read.read_at


def test_comment_records_commenter_commented_comment_on_story(alice: Any, rae: Any) -> None:
    story = factories.story(alice, "Dawn")
    Action.objects.all().delete()

    comment = services.comment_create(story=story, author=rae, body="=lovely")

    action = only_action()
    assert (action.actor, action.verb, action.owner) == (rae, "commented", alice)
    assert (action.object_type, action.object_id, action.object_repr) == (
        ContentType.objects.get_for_model(Comment),
        str(comment.pk),
        "=lovely",
    )
    assert (action.target_type, action.target_id, action.target_repr) == (
        ContentType.objects.get_for_model(Story),
        str(story.pk),
        "Dawn",
    )


def test_fixture_loading_records_nothing(alice: Any, rae: Any) -> None:
    story = factories.story(alice)
    data = serializers.serialize("json", [StoryRead(id=999, story=story, reader=rae)])
    Action.objects.all().delete()

    for obj in serializers.deserialize("json", data):
        obj.save()  # what loaddata does: post_save with raw=True

    assert StoryRead.objects.filter(pk=999).exists()
    assert Action.objects.count() == 0


def test_failing_route_is_logged_counted_and_isolated(
    alice: Any, rae: Any, caplog: pytest.LogCaptureFixture
) -> None:
    story = factories.story(alice)
    Action.objects.all().delete()

    @registry.register(post_save, sender=Comment, name="test-broken")
    def broken(**kwargs: Any) -> None:
        Action.objects.create(actor_name="half", verb="written")  # rolled back with the route
        raise RuntimeError("boom")

    try:
        with caplog.at_level(logging.ERROR, logger="streams.routes"):
            comment = services.comment_create(story=story, author=rae, body="still saved")
    finally:
        registry.unregister("test-broken")

    assert Comment.objects.filter(pk=comment.pk).exists()
    assert list(Action.objects.values_list("verb", flat=True)) == ["commented"]
    assert "test-broken" in caplog.text and "boom" in caplog.text
    assert health.snapshot()["test-broken"].errors == 1
    assert health.snapshot()["comment-created"].errors == 0


def test_route_cannot_loop_back_into_itself(alice: Any, rae: Any) -> None:
    story = factories.story(alice)
    Action.objects.all().delete()
    calls = []

    @registry.register(post_save, sender=StoryRead, name="test-looping")
    def looping(*, instance: StoryRead, **kwargs: Any) -> None:
        calls.append(instance.pk)
        services.story_read(story=instance.story, reader=instance.reader)  # fires post_save again

    try:
        services.story_read(story=story, reader=rae)
    finally:
        registry.unregister("test-looping")

    assert len(calls) == 1
    assert health.snapshot()["test-looping"].skipped == 1


@pytest.mark.django_db(transaction=True)
def test_rolled_back_save_records_and_announces_nothing(alice: Any, rae: Any, monkeypatch: Any) -> None:
    story = factories.story(alice)
    published: list[dict[str, Any]] = []

    class Recorder(Transport):
        def publish(self, message: dict[str, Any]) -> None:
            published.append(message)

    monkeypatch.setattr("streams.broadcast.get_transport", Recorder)
    before = Action.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        services.story_read(story=story, reader=rae)
        raise RuntimeError("the business write fails later")

    services.comment_create(story=story, author=rae, body="committed")

    assert Action.objects.count() == before + 1
    assert [(m["verb"], m["actor"]) for m in published] == [("commented", "rae")]  # the read never announced


@pytest.mark.django_db(transaction=True)
def test_read_costs_the_write_and_one_insert(alice: Any, rae: Any, django_assert_num_queries: Any) -> None:
    story = Story.objects.select_related("author").get(pk=factories.story(alice).pk)

    with django_assert_num_queries(2) as captured:
        services.story_read(story=story, reader=rae)

    statements = [query["sql"].split()[0:3] for query in captured.captured_queries]
    assert statements[0][:3] == ["INSERT", "INTO", '"publishing_storyread"']
    assert statements[1][:3] == ["INSERT", "INTO", '"streams_action"']
