"""The hub: which business events become which actions.

``publishing`` knows nothing of ``streams`` and the reverse; this module is
the only place where the two meet. Each route is one cheap ``record()``
call: every value it reads is already loaded on the instance, so a route
costs one INSERT and no SELECT. Routes never depend on one another.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save

from dashboard import verbs
from publishing.models import Bookmark, Comment, Member, Reply, Review, Story, StoryRead, ThumbsUp
from publishing.signals import story_published
from streams import (
    bulk_created,
    bulk_updated,
    changes,
    current,
    queryset_updated,
    record,
    record_many,
    registry,
    track,
    unsaved_changes,
)

User = get_user_model()

# Field diffs for the models that ask for them; a password never in clear.
track(Story, fields=("title", "body"), bulk=True)
track(
    User,
    fields=("username", "email", "first_name", "last_name", "is_staff", "is_active", "password"),
    masked=("password",),
)
# Bulk creation of reads (seed_demo, imports) becomes one bulk INSERT of actions.
track(StoryRead, bulk=True)
# Every change of a member's state, through the FSM or forced in the admin.
track(Member, fields=("state",))


@registry.register(story_published, sender=Story, name="story-published")
def story_published_route(*, story: Story, user: Any, **kwargs: Any) -> None:
    record(actor=user, verb=verbs.PUBLISHED, object=story, timestamp=story.published_at)


@registry.register(post_save, sender=StoryRead, name="story-read", when_created=True)
def story_read_route(*, instance: StoryRead, **kwargs: Any) -> None:
    record(
        actor=instance.reader,
        verb=verbs.READ,
        object=instance.story,
        owner=instance.story.author_id,
        timestamp=instance.read_at,
    )


@registry.register(bulk_created, sender=StoryRead, name="story-reads-bulk")
def story_reads_bulk_route(*, objs: list[StoryRead], **kwargs: Any) -> None:
    # Two SELECTs for the whole batch, whatever its size.
    stories = Story.objects.in_bulk({read.story_id for read in objs})
    readers = User.objects.in_bulk({read.reader_id for read in objs})
    record_many(
        {
            "actor": readers[read.reader_id],
            "verb": verbs.READ,
            "object": stories[read.story_id],
            "owner": stories[read.story_id].author_id,
            "timestamp": read.read_at,
        }
        for read in objs
    )


@registry.register(post_save, sender=Comment, name="comment-created", when_created=True)
def comment_created_route(*, instance: Comment, **kwargs: Any) -> None:
    record(
        actor=instance.author,
        verb=verbs.COMMENTED,
        object=instance,
        target=instance.story,
        owner=instance.story.author_id,
        timestamp=instance.created_at,
    )


@registry.register(post_save, sender=Bookmark, name="bookmark-created", when_created=True)
def bookmark_created_route(*, instance: Bookmark, **kwargs: Any) -> None:
    record(
        actor=instance.user,
        verb=verbs.BOOKMARKED,
        object=instance.story,
        owner=instance.story.author_id,
        timestamp=instance.created_at,
    )


@registry.register(post_save, sender=Review, name="review-created", when_created=True)
def review_created_route(*, instance: Review, **kwargs: Any) -> None:
    record(
        actor=instance.reviewer,
        verb=verbs.REVIEWED,
        object=instance,
        target=instance.story,
        owner=instance.story.author_id,
        timestamp=instance.created_at,
    )


@registry.register(post_save, sender=Reply, name="reply-created", when_created=True)
def reply_created_route(*, instance: Reply, **kwargs: Any) -> None:
    record(
        actor=instance.author,
        verb=verbs.REPLIED,
        object=instance,
        target=instance.review,
        owner=instance.review.reviewer_id,
        timestamp=instance.created_at,
    )


@registry.register(post_save, sender=ThumbsUp, name="thumbs-up-created", when_created=True)
def thumbs_up_created_route(*, instance: ThumbsUp, **kwargs: Any) -> None:
    record(
        actor=instance.user,
        verb=verbs.LIKED,
        object=instance.review,
        owner=instance.review.reviewer_id,
        timestamp=instance.created_at,
    )


@registry.register(post_save, sender=Member, name="member-state-changed", when_changed=("state",))
def member_state_changed_route(*, instance: Member, **kwargs: Any) -> None:
    ctx = current()
    # Staff in a request, the member on first login, CLI in a command; a change
    # nobody logged in made (the lock after failed logins) is the system's.
    actor = "system" if ctx.actor is None and not ctx.cli else ctx.actor
    instance.user  # noqa: B018 - load the username for a readable audit row (a rare event)
    record(
        actor=actor,
        verb=verbs.CHANGED_STATE,
        object=instance,
        changes={"state": changes(instance)["state"]},
        public=False,
    )


def _deleted(*, instance: Any, **kwargs: Any) -> None:
    record(verb=verbs.DELETED, object=instance, public=False)


for _model in (Comment, Review, Reply, Bookmark, ThumbsUp):
    registry.register(post_delete, sender=_model, name=f"{_model._meta.model_name}-deleted")(_deleted)


@registry.register(post_save, sender=Story, name="story-updated", when_changed=("title", "body"))
def story_updated_route(*, instance: Story, **kwargs: Any) -> None:
    record(verb=verbs.UPDATED, object=instance, changes=changes(instance), public=False)


@registry.register(bulk_updated, sender=Story, name="stories-bulk-updated")
def stories_bulk_updated_route(*, objs: list[Story], fields: list[str], **kwargs: Any) -> None:
    record_many(
        {"verb": verbs.UPDATED, "object": story, "changes": diff, "public": False}
        for story in objs
        if (diff := unsaved_changes(story, fields))
    )


@registry.register(queryset_updated, sender=Story, name="stories-updated")
def stories_queryset_updated_route(*, pks: list[int], values: dict[str, Any], **kwargs: Any) -> None:
    # update() never loads the rows: the new values are known, the old ones not.
    stories = Story.objects.only("id", "title").in_bulk(pks)
    record_many(
        {
            "verb": verbs.UPDATED,
            "object": story,
            "changes": {name: {"set": value} for name, value in values.items()},
            "public": False,
        }
        for story in stories.values()
    )


@registry.register(
    post_save,
    sender=User,
    name="user-updated",
    when_changed=("username", "email", "first_name", "last_name", "is_staff", "is_active", "password"),
)
def user_updated_route(*, instance: Any, **kwargs: Any) -> None:
    record(verb=verbs.UPDATED, object=instance, changes=changes(instance), public=False)


@registry.register(m2m_changed, sender=User.groups.through, name="user-groups-changed")
def user_groups_changed_route(
    *, instance: Any, action: str, pk_set: set[int] | None, reverse: bool, **kwargs: Any
) -> None:
    if reverse or action not in {"post_add", "post_remove"} or not pk_set:
        return
    names = sorted(Group.objects.filter(pk__in=pk_set).values_list("name", flat=True))
    key = "added" if action == "post_add" else "removed"
    record(verb=verbs.UPDATED, object=instance, changes={"groups": {key: names}}, public=False)


@registry.register(user_logged_in, name="user-logged-in")
def user_logged_in_route(*, user: Any, **kwargs: Any) -> None:
    record(actor=user, verb=verbs.LOGGED_IN, public=False)


@registry.register(user_logged_out, name="user-logged-out")
def user_logged_out_route(*, user: Any = None, **kwargs: Any) -> None:
    if user is not None:
        record(actor=user, verb=verbs.LOGGED_OUT, public=False)


@registry.register(user_login_failed, name="user-login-failed")
def user_login_failed_route(*, credentials: dict[str, Any], **kwargs: Any) -> None:
    # Django has already masked the password in ``credentials``; only the
    # attempted name is kept, nothing else the client sent.
    attempted = str(credentials.get("username") or "")[:150] or "(no username)"
    record(actor=attempted, verb=verbs.FAILED_LOGIN, public=False)
