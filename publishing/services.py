"""Business actions of the publishing site: one function each, keyword-only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_fsm import can_proceed

from publishing.models import Bookmark, Comment, Member, Reply, Review, Story, StoryRead, ThumbsUp
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


# Bookmarks, reviews, replies, thumbs-up.


@transaction.atomic
def bookmark_toggle(*, story: Story, user: Any, at: datetime | None = None) -> bool:
    """Bookmark ``story`` for ``user``, or remove the bookmark; True if now bookmarked."""
    deleted, _ = Bookmark.objects.filter(story=story, user=user).delete()
    if deleted:
        return False
    try:
        with transaction.atomic():
            Bookmark.objects.create(story=story, user=user, created_at=at or timezone.now())
    except IntegrityError:
        pass  # a concurrent toggle (double click) bookmarked it first
    return True


@transaction.atomic
def review_create(
    *, story: Story, reviewer: Any, rating: int, body: str, at: datetime | None = None
) -> Review:
    review = Review(story=story, reviewer=reviewer, rating=rating, body=body, created_at=at or timezone.now())
    # Field validators only (rating 1..5, body length): no query.
    review.full_clean(exclude=["story", "reviewer"], validate_unique=False, validate_constraints=False)
    review.save()
    return review


@transaction.atomic
def reply_create(*, review: Review, author: Any, body: str, at: datetime | None = None) -> Reply:
    return Reply.objects.create(review=review, author=author, body=body, created_at=at or timezone.now())


@transaction.atomic
def thumbs_up_toggle(*, review: Review, user: Any, at: datetime | None = None) -> bool:
    """Give ``review`` a thumbs-up from ``user``, or take it back; True if now given."""
    deleted, _ = ThumbsUp.objects.filter(review=review, user=user).delete()
    if deleted:
        return False
    try:
        with transaction.atomic():
            ThumbsUp.objects.create(review=review, user=user, created_at=at or timezone.now())
    except IntegrityError:
        pass  # a concurrent toggle gave it first
    return True


# Member states. Each service runs one FSM transition and saves the member,
# so its pre_save/post_save (and django-fsm's pre/post_transition) fire.

LOCK_AFTER_FAILED_LOGINS = 5


def lock_duration() -> timedelta:
    """How long failed logins lock a member (setting ``MEMBER_LOCK_SECONDS``, default 15 minutes)."""
    return timedelta(seconds=getattr(settings, "MEMBER_LOCK_SECONDS", 15 * 60))


def _member_transition(member: Member, name: str) -> Member:
    method = getattr(member, name)
    if not can_proceed(method):
        raise ValidationError(
            "Cannot %(transition)s %(member)s: it is %(state)s.",
            code="transition_not_allowed",
            params={"transition": name, "member": member, "state": member.state},
        )
    method()
    member.save(update_fields=["state", "failed_logins", "locked_until"])
    return member


@transaction.atomic
def member_activate(*, member: Member) -> Member:
    return _member_transition(member, "activate")


@transaction.atomic
def member_lock(*, member: Member) -> Member:
    return _member_transition(member, "lock")


@transaction.atomic
def member_unlock(*, member: Member) -> Member:
    return _member_transition(member, "unlock")


@transaction.atomic
def member_deactivate(*, member: Member) -> Member:
    return _member_transition(member, "deactivate")


@transaction.atomic
def member_reactivate(*, member: Member) -> Member:
    return _member_transition(member, "reactivate")


@transaction.atomic
def login_failed(*, username: str) -> Member | None:
    """Count a failed login; the ``LOCK_AFTER_FAILED_LOGINS``-th in a row locks an active member.

    The lock lasts ``lock_duration()`` (``expire_lock`` ends it). Staff are
    never locked this way: anyone can type a staff name, and locking the only
    staff account would leave nobody to unlock the others; their failures
    are throttled instead (``dashboard.login``). The row is locked while
    counting so concurrent failures all count.
    """
    member = (
        Member.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(user__username=username)
        .first()
    )
    if member is None:
        return None
    Member.objects.filter(pk=member.pk).update(failed_logins=F("failed_logins") + 1)
    member.refresh_from_db(fields=["failed_logins"])
    if (
        member.failed_logins >= LOCK_AFTER_FAILED_LOGINS
        and member.state == Member.State.ACTIVE
        and not member.user.is_staff
    ):
        member.locked_until = timezone.now() + lock_duration()
        _member_transition(member, "lock")
    return member


@transaction.atomic
def expire_lock(*, username: str) -> Member | None:
    """End a lock from failed logins whose time is up (an ``unlock``, audited like any other).

    Called before each login attempt; returns the member if it was unlocked.
    """
    member = (
        Member.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(user__username=username, state=Member.State.LOCKED, locked_until__lte=timezone.now())
        .first()
    )
    if member is None:
        return None
    return _member_transition(member, "unlock")


@transaction.atomic
def login_succeeded(*, user: Any) -> Member:
    """A login went through: the failure count starts again; an invited member becomes active."""
    member, _ = Member.objects.select_for_update().get_or_create(user=user)
    if member.state == Member.State.INVITED:
        return _member_transition(member, "activate")
    if member.failed_logins:
        Member.objects.filter(pk=member.pk).update(failed_logins=0)
        member.failed_logins = 0
    return member
