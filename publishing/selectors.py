"""Read queries of the publishing site."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, QuerySet, Value

from publishing.models import Bookmark, Comment, Member, Reply, Review, Story, ThumbsUp


def story_list() -> QuerySet[Story]:
    return (
        Story.objects.published()
        .select_related("author")
        .annotate(read_count=Count("reads", distinct=True), comment_count=Count("comments", distinct=True))
    )


def story_comments(*, story: Story) -> QuerySet[Comment]:
    return story.comments.select_related("author")


def story_reviews(*, story: Story, viewer: Any) -> QuerySet[Review]:
    """A story's reviews, oldest first, with reviewer, replies (and their
    authors), the thumbs-up count and whether ``viewer`` gave one: three
    queries however many reviews and replies there are."""
    if viewer.is_authenticated:
        liked = Exists(ThumbsUp.objects.filter(review=OuterRef("pk"), user=viewer))
    else:
        liked = Value(False)
    return (
        story.reviews.select_related("reviewer")
        .annotate(thumbs_up_count=Count("thumbs_up"), liked=liked)
        .prefetch_related(Prefetch("replies", queryset=Reply.objects.select_related("author")))
        .order_by("created_at", "id")
    )


def is_bookmarked(*, story: Story, user: Any) -> bool:
    return bool(user.is_authenticated and Bookmark.objects.filter(story=story, user=user).exists())


def member_list() -> QuerySet[Member]:
    return Member.objects.select_related("user").order_by("user__username")
