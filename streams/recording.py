"""``record()``: the one way an action is written."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, router, transaction
from django.utils import timezone

from streams.broadcast import announce
from streams.context import actor_name, current
from streams.models import Action


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


def record(
    *,
    verb: str,
    actor: Any = FROM_CONTEXT,
    object: models.Model | None = None,  # noqa: A002 - the activity-stream term
    target: models.Model | None = None,
    owner: Any = None,
    public: bool = True,
    changes: dict[str, Any] | None = None,
    timestamp: Any = None,
) -> Action | None:
    """Write one action in the current transaction and announce it after commit.

    ``actor`` is a user, a plain name (a failed login's attempted username),
    or left out to take the user of the current request (``CLI`` outside a
    request). ``owner`` is a user or a user's primary key. Costs one INSERT;
    returns ``None`` when recording is disabled.
    """
    ctx = current()
    if not ctx.recording:
        return None
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
        changes=changes,
    )
    if isinstance(owner, models.Model):
        action.owner = owner
    else:
        action.owner_id = owner
    using = router.db_for_write(Action)
    action.save(using=using, force_insert=True)
    transaction.on_commit(partial(announce, action.broadcast_message()), using=using, robust=True)
    return action
