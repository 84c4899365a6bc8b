"""``record()``: the one way an action is written."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, router, transaction
from django.utils import timezone

from streams import conf
from streams.broadcast import announce, announce_each, announce_range
from streams.context import actor_name, current
from streams.models import Action
from streams.tracking import jsonable


class _FromContext:
    def __repr__(self) -> str:
        return "FROM_CONTEXT"


FROM_CONTEXT: Any = _FromContext()


def _describe(
    instance: models.Model | None,
) -> tuple[ContentType | None, str, str]:
    if instance is None:
        return None, "", ""
    # get_for_model is cached per process: no query after the first call.
    content_type = ContentType.objects.get_for_model(instance, for_concrete_model=False)
    return content_type, str(instance.pk), str(instance)[:255]


def _build(
    *,
    verb: str,
    actor: Any = FROM_CONTEXT,
    object: models.Model | None = None,  # noqa: A002 - the activity-stream term
    target: models.Model | None = None,
    owner: Any = None,
    public: bool = True,
    changes: dict[str, Any] | None = None,
    timestamp: Any = None,
) -> Action:
    ctx = current()
    if actor is FROM_CONTEXT:
        actor = ctx.actor
    if isinstance(actor, str):
        actor_obj, name = None, actor[:150]
    else:
        actor_obj, name = actor, actor_name(actor)
    object_type, object_id, object_repr = _describe(object)
    target_type, target_id, target_repr = _describe(target)
    action = Action(
        timestamp=timestamp or timezone.now(),
        actor=actor_obj,
        actor_name=name,
        verb=verb,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        public=public,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        changes=jsonable(changes) if changes is not None else None,
    )
    action.search_text = action.document()
    if isinstance(owner, models.Model):
        action.owner = owner
    else:
        action.owner_id = owner
    return action


def record(**fields: Any) -> Action | None:
    """Write one action in the current transaction and announce it after commit.

    Fields: ``verb``; ``actor``, a user, a plain name (a failed login's
    attempted username) or left out to take the user of the current request
    (``CLI`` outside a request); ``object`` and ``target``, model instances;
    ``owner``, whom the action is for (a user or a user's primary key);
    ``public``; ``changes``, a JSON-able diff; ``timestamp``. Costs one
    INSERT; returns ``None`` when recording is disabled.
    """
    if not current().recording:
        return None
    action = _build(**fields)
    using = router.db_for_write(Action)
    action.save(using=using, force_insert=True)
    transaction.on_commit(partial(announce, action.broadcast_message()), using=using, robust=True)
    return action


def record_many(entries: Iterable[dict[str, Any]]) -> list[Action]:
    """Write many actions with one bulk INSERT (per batch) and announce them after commit.

    Each entry holds the fields ``record()`` takes. For routes of bulk
    operations (``streams.tracking.bulk_created`` and friends).
    """
    if not current().recording:
        return []
    actions = [_build(**entry) for entry in entries]
    if not actions:
        return []
    using = router.db_for_write(Action)
    Action.objects.using(using).bulk_create(actions, batch_size=2000)
    # Keep only what the announcement needs until commit, not the actions.
    if len(actions) <= conf.get("BULK_ANNOUNCE_LIMIT"):
        messages = [action.broadcast_message() for action in actions]
        transaction.on_commit(partial(announce_each, messages), using=using, robust=True)
    else:
        ids = [action.pk for action in actions if action.pk is not None]
        if ids:
            transaction.on_commit(
                partial(announce_range, min(ids), max(ids), len(ids)), using=using, robust=True
            )
    return actions
