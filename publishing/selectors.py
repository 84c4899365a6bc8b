"""Read queries of the publishing site."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from publishing.models import Comment, Story


def story_list() -> QuerySet[Story]:
    return (
        Story.objects.published()
        .select_related("author")
        .annotate(read_count=Count("reads", distinct=True), comment_count=Count("comments", distinct=True))
    )


def story_comments(*, story: Story) -> QuerySet[Comment]:
    return story.comments.select_related("author")
