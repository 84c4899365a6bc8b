"""Synthetic traffic for the demo: crowd members reading, commenting,
bookmarking, reviewing, replying, giving thumbs-up and publishing.

Goes through the same services as the site's views, so whatever listens to
the publishing app's signals sees ordinary business events.
"""

from __future__ import annotations

import random
from typing import Any

from django.contrib.auth import get_user_model

from publishing import services
from publishing.models import Bookmark, Member, Review, Story, ThumbsUp
from publishing.roles import AUTHORS, CROWD, REVIEWERS

PHRASES = (
    "Loved the ending.",
    "This made my morning.",
    "I disagree with the second part, but well argued.",
    "Sharing this with my team.",
    "Could you write a follow-up?",
    "Beautifully put.",
    "Café au lait and a good story — perfect.",
    "Naïve question: what happened next?",
)
TITLES = (
    "Notes from the night train",
    "The lighthouse keeper's ledger",
    "A field guide to small kindnesses",
    "What the river remembers",
    "Letters to a future gardener",
    "The cartographer's daughter",
)
REVIEWS = (
    "A quiet, careful piece; the middle drags a little.",
    "Strong opening, and the ending earns its weight.",
    "Clear and warm. I would cut the last paragraph.",
    "The structure is clever, the voice even better.",
    "Not my cup of tea, but the craft is undeniable.",
    "Tight prose; every sentence pulls its weight.",
)
REPLIES = (
    "Thank you, that is a fair point.",
    "Agreed, the ending is the best part.",
    "I read it differently, but I see what you mean.",
    "Thanks for taking the time to review this.",
    "Which paragraph would you cut?",
)
# How a step's roll is spent, cumulatively: read, comment, bookmark, review,
# reply, thumbs-up; above PUBLISH a writer publishes.
READ, COMMENT, BOOKMARK, REVIEW, REPLY = 0.55, 0.65, 0.73, 0.80, 0.88
PUBLISH = 0.95


def crowd() -> list[Any]:
    """Crowd members who may act: active users whose member is not locked or deactivated."""
    return list(
        get_user_model()
        .objects.filter(groups__name=CROWD, is_active=True)
        .exclude(member__state__in=Member.BLOCKED_STATES)
    )


def _in_group(members: list[Any], group: str) -> list[Any]:
    pks = set(
        get_user_model()
        .objects.filter(pk__in=[m.pk for m in members], groups__name=group)
        .values_list("pk", flat=True)
    )
    return [m for m in members if m.pk in pks]


def step(rng: random.Random, members: list[Any] | None = None) -> str:
    """Do one random thing as a random crowd member; return what was done."""
    members = members if members is not None else crowd()
    if not members:
        return "no crowd members: run seed_demo first"
    member = rng.choice(members)
    recent = list(Story.objects.published().values_list("id", flat=True)[:50])
    roll = rng.random()
    writers = _in_group(members, AUTHORS) if roll > PUBLISH else []
    if not recent or writers:
        author = rng.choice(writers or members)
        story = services.story_create(
            author=author,
            title=f"{rng.choice(TITLES)} #{rng.randint(100, 999)}",
            body="\n\n".join(rng.sample(PHRASES, 3)),
            publish=True,
        )
        return f"{author} published {story}"
    story = Story.objects.select_related("author").get(pk=rng.choice(recent))
    if READ <= roll < COMMENT:
        comment = services.comment_create(story=story, author=member, body=rng.choice(PHRASES))
        return f"{member} commented on {story}: {comment}"
    done = None
    if COMMENT <= roll < BOOKMARK:
        done = _bookmark(rng, story, member)
    elif BOOKMARK <= roll < REVIEW:
        done = _review(rng, story, members)
    elif REVIEW <= roll < REPLY:
        done = _reply(rng, story, member)
    elif roll >= REPLY:
        done = _thumbs_up(rng, story, member)
    if done:
        return done
    # A read, also when the chosen event had nothing to act on.
    services.story_read(story=story, reader=member)
    return f"{member} read {story}"


def _bookmark(rng: random.Random, story: Story, member: Any) -> str | None:
    # Mostly new bookmarks; now and then one is removed.
    if Bookmark.objects.filter(story=story, user=member).exists() and rng.random() > 0.25:
        return None
    if services.bookmark_toggle(story=story, user=member):
        return f"{member} bookmarked {story}"
    return f"{member} removed the bookmark on {story}"


def _review(rng: random.Random, story: Story, members: list[Any]) -> str | None:
    reviewers = _in_group(members, REVIEWERS)
    if not reviewers:
        return None
    reviewer = rng.choice(reviewers)
    review = services.review_create(
        story=story, reviewer=reviewer, rating=rng.randint(2, 5), body=rng.choice(REVIEWS)
    )
    return f"{reviewer} reviewed {story}: {review}"


def _recent_review(rng: random.Random, story: Story) -> Review | None:
    reviews = list(story.reviews.select_related("reviewer").order_by("-id")[:10])
    return rng.choice(reviews) if reviews else None


def _reply(rng: random.Random, story: Story, member: Any) -> str | None:
    review = _recent_review(rng, story)
    if review is None:
        return None
    reply = services.reply_create(review=review, author=member, body=rng.choice(REPLIES))
    return f"{member} replied to {review.reviewer}'s review of {story}: {reply}"


def _thumbs_up(rng: random.Random, story: Story, member: Any) -> str | None:
    review = _recent_review(rng, story)
    if review is None or review.reviewer_id == member.pk:
        return None
    # Mostly new thumbs-up; now and then one is taken back.
    if ThumbsUp.objects.filter(review=review, user=member).exists() and rng.random() > 0.25:
        return None
    if services.thumbs_up_toggle(review=review, user=member):
        return f"{member} gave a thumbs-up to {review.reviewer}'s review of {story}"
    return f"{member} took back a thumbs-up on {review.reviewer}'s review of {story}"
