"""Business actions of the publishing site: one function each, keyword-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from publishing.models import Comment, Story, StoryRead
from publishing.signals import story_published


@transaction.atomic
def story_create(
    *, author: Any, title: str, body: str, publish: bool = False, at: datetime | None = None
) -> Story:
    story = Story.objects.create(author=author, title=title, body=body, created_at=at or timezone.now())
    if publish:
        story_publish(story=story, user=author, at=at)
    return story


@transaction.atomic
def story_publish(*, story: Story, user: Any, at: datetime | None = None) -> Story:
    if story.is_published:
        return story
    story.published_at = at or timezone.now()
    story.save(update_fields=["published_at"])
    story_published.send(sender=Story, story=story, user=user)
    return story


def story_read(*, story: Story, reader: Any, at: datetime | None = None) -> StoryRead:
    return StoryRead.objects.create(story=story, reader=reader, read_at=at or timezone.now())


def comment_create(*, story: Story, author: Any, body: str, at: datetime | None = None) -> Comment:
    return Comment.objects.create(story=story, author=author, body=body, created_at=at or timezone.now())
