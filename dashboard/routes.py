"""The hub: which business events become which actions.

``publishing`` knows nothing of ``streams`` and the reverse; this module is
the only place where the two meet. Each route is one cheap ``record()``
call: every value it reads is already loaded on the instance, so a route
costs one INSERT and no SELECT.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save

from dashboard import verbs
from publishing.models import Comment, Story, StoryRead
from publishing.signals import story_published
from streams import record, registry


@registry.register(story_published, sender=Story, name="story-published")
def story_published_route(*, story: Story, user: Any, **kwargs: Any) -> None:
    record(actor=user, verb=verbs.PUBLISHED, object=story, timestamp=story.published_at)


@registry.register(post_save, sender=StoryRead, name="story-read")
def story_read_route(*, instance: StoryRead, created: bool, **kwargs: Any) -> None:
    if not created:
        return
    record(
        actor=instance.reader,
        verb=verbs.READ,
        object=instance.story,
        owner=instance.story.author_id,
        timestamp=instance.read_at,
    )


@registry.register(post_save, sender=Comment, name="comment-created")
def comment_created_route(*, instance: Comment, created: bool, **kwargs: Any) -> None:
    if not created:
        return
    record(
        actor=instance.author,
        verb=verbs.COMMENTED,
        object=instance,
        target=instance.story,
        owner=instance.story.author_id,
        timestamp=instance.created_at,
    )
