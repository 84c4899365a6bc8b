"""Helpers for the tests of a project that records with streams.

::

    from streams.testing import capture_actions, disable_routes

    def test_comment_is_recorded(...):
        with capture_actions() as captured:
            services.comment_create(...)
        assert [a.verb for a in captured] == ["commented"]
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db.models.signals import post_save

from streams.context import routes_disabled
from streams.models import Action

__all__ = ["CapturedActions", "capture_actions", "disable_routes"]


class CapturedActions(list[Action]):
    """The actions recorded inside a ``capture_actions()`` block, oldest first."""

    def verbs(self) -> list[str]:
        return [action.verb for action in self]


@contextmanager
def capture_actions() -> Iterator[CapturedActions]:
    captured = CapturedActions()

    def collect(sender: type[Action], instance: Action, created: bool, **kwargs: object) -> None:
        if created:
            captured.append(instance)

    uid = f"streams.testing.capture:{id(captured)}"
    post_save.connect(collect, sender=Action, weak=False, dispatch_uid=uid)
    before = Action.objects.order_by("-id").values_list("id", flat=True).first() or 0
    try:
        yield captured
    finally:
        post_save.disconnect(sender=Action, dispatch_uid=uid)
        # Bulk inserts send no post_save: pick them up by id.
        seen = {action.pk for action in captured}
        captured.extend(Action.objects.filter(id__gt=before).exclude(id__in=seen).order_by("id"))
        captured.sort(key=lambda action: action.pk or 0)


def disable_routes(*names: str):  # type: ignore[no-untyped-def]
    """Context manager: the named routes do nothing inside the block."""
    return routes_disabled(*names)
