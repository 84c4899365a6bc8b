"""The other packages attached to their copies of the item, each the way its documentation shows.

- django-activity-stream: the item and the user model registered with
  ``actstream.registry`` (the actor and the action object must be), and a
  post_save receiver calling ``actstream.action.send(actor, verb=...,
  action_object=instance)``: the package has no receivers of its own.
- django-auditlog: ``auditlog.registry.auditlog.register(ALItem)``.
- django-simple-history: ``history = HistoricalRecords()`` on SHItem (in models.py).
- django-pghistory: ``@pghistory.track()`` on PghItem (``bench.overhead.pg``).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from actstream import action
from actstream import registry as actstream_registry
from auditlog.registry import auditlog
from django.contrib.auth import get_user_model
from django.db.models.signals import post_save

from bench.overhead.models import ALItem, ASItem

# Whom django-activity-stream records as the actor: a receiver has no request,
# so the benchmark sets it once per run, as a command acting for a user would.
acting_user: ContextVar[Any] = ContextVar("bench_overhead_acting_user", default=None)


def send_action(
    sender: type[ASItem], instance: ASItem, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if raw:
        return
    action.send(acting_user.get(), verb="created" if created else "updated", action_object=instance)


def attach() -> None:
    """Called once from ``OverheadConfig.ready()``."""
    actstream_registry.register(get_user_model(), ASItem)
    post_save.connect(send_action, sender=ASItem, dispatch_uid="bench.overhead.actstream")
    auditlog.register(ALItem)
