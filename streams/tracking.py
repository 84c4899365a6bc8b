"""Field changes without an extra SELECT, and bulk operations that send signals.

``track(Model, fields=..., masked=..., bulk=True)`` is called by a project's
hub; the tracked model's app does not change:

- each loaded instance keeps a snapshot of the tracked fields (from
  ``post_init``, reading only what the row already loaded: no query);
- ``pre_save`` turns the snapshot into a diff, ``{field: [old, new]}``, kept
  on the instance for post_save routes, and refreshes the snapshot. Doing
  both before the write keeps the diff independent of receiver order;
- masked fields appear in a diff as changed but never with their values;
- with ``bulk=True`` the model's managers get a QuerySet whose
  ``bulk_create``, ``bulk_update`` and ``update()`` send the bulk signals
  below, which Django itself never sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.signals import post_init, pre_save
from django.dispatch import Signal

from streams.values import jsonable

MASK = "••••••"
SNAPSHOT = "_streams_snapshot"
DIFF = "_streams_diff"

# sender=model class, objs=list of saved instances (with primary keys).
bulk_created = Signal()
# sender=model class, objs=list of instances, fields=list of field names.
bulk_updated = Signal()
# sender=model class, pks=list of primary keys, values={field: new value}.
queryset_updated = Signal()


@dataclass(frozen=True)
class Tracking:
    model: type[models.Model]
    fields: tuple[str, ...]
    masked: frozenset[str]

    @cached_property
    def _attnames(self) -> dict[str, str]:
        return self.attnames()

    def attnames(self) -> dict[str, str]:
        """Field name to attribute name; unknown names are left to the system check."""
        found = {}
        for name in self.fields:
            try:
                found[name] = self.model._meta.get_field(name).attname
            except FieldDoesNotExist:
                continue
        return found

    def missing_fields(self) -> list[str]:
        return [name for name in self.fields if name not in self.attnames()]


_tracked: dict[type[models.Model], Tracking] = {}


def _snapshot(instance: models.Model, tracking: Tracking) -> dict[str, Any]:
    loaded = instance.__dict__
    # Deferred fields are absent from __dict__: reading them would query.
    return {name: loaded[attname] for name, attname in tracking._attnames.items() if attname in loaded}


def _on_init(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    tracking = _tracked.get(sender)
    if tracking is not None:
        instance.__dict__[SNAPSHOT] = _snapshot(instance, tracking)


def _on_pre_save(
    sender: type[models.Model],
    instance: models.Model,
    update_fields: Any = None,
    raw: bool = False,
    **kwargs: Any,
) -> None:
    tracking = _tracked.get(sender)
    if tracking is None:
        return
    before = instance.__dict__.get(SNAPSHOT, {})
    after = _snapshot(instance, tracking)
    diff: dict[str, list[Any]] = {}
    if not instance._state.adding:
        for name, new in after.items():
            if update_fields is not None and name not in update_fields:
                continue
            if name in before and before[name] != new:
                if name in tracking.masked:
                    diff[name] = [MASK, MASK]
                else:
                    diff[name] = [jsonable(before[name]), jsonable(new)]
    instance.__dict__[DIFF] = diff
    instance.__dict__[SNAPSHOT] = {**before, **after}


def unsaved_changes(instance: models.Model, fields: Iterable[str] | None = None) -> dict[str, list[Any]]:
    """What changed on a loaded instance since it was read (for ``bulk_update`` routes)."""
    tracking = _tracked.get(type(instance))
    if tracking is None:
        return {}
    before = instance.__dict__.get(SNAPSHOT, {})
    after = _snapshot(instance, tracking)
    wanted = set(fields) if fields is not None else set(after)
    diff: dict[str, list[Any]] = {}
    for name, new in after.items():
        if name in wanted and name in before and before[name] != new:
            diff[name] = [MASK, MASK] if name in tracking.masked else [jsonable(before[name]), jsonable(new)]
    return diff


def changes(instance: models.Model) -> dict[str, list[Any]]:
    """The diff of the save in progress: ``{field: [old, new]}``; empty on create."""
    return dict(instance.__dict__.get(DIFF, {}))


def changed(instance: models.Model, fields: Iterable[str]) -> bool:
    diff = instance.__dict__.get(DIFF, {})
    return any(name in diff for name in fields)


def tracking_for(model: type[models.Model]) -> Tracking | None:
    return _tracked.get(model)


def tracked_models() -> list[Tracking]:
    return list(_tracked.values())


_inside_bulk_update: ContextVar[bool] = ContextVar("streams_inside_bulk_update", default=False)


class BulkSignalsMixin:
    """QuerySet mixin: bulk operations announce what they did."""

    model: type[models.Model]

    def bulk_create(self, objs: Iterable[models.Model], *args: Any, **kwargs: Any) -> list[models.Model]:
        created = super().bulk_create(objs, *args, **kwargs)  # type: ignore[misc]
        if created:
            bulk_created.send(sender=self.model, objs=created)
        return created

    def bulk_update(
        self, objs: Iterable[models.Model], fields: Sequence[str], *args: Any, **kwargs: Any
    ) -> int:
        objs = list(objs)
        # bulk_update works through update(): announce the whole, not its parts.
        token = _inside_bulk_update.set(True)
        try:
            count = super().bulk_update(objs, fields, *args, **kwargs)  # type: ignore[misc]
        finally:
            _inside_bulk_update.reset(token)
        if objs:
            bulk_updated.send(sender=self.model, objs=objs, fields=list(fields))
            tracking = _tracked.get(self.model)
            if tracking is not None:  # what is saved now is the new "before"
                for obj in objs:
                    obj.__dict__[SNAPSHOT] = {**obj.__dict__.get(SNAPSHOT, {}), **_snapshot(obj, tracking)}
        return count

    def update(self, **kwargs: Any) -> int:
        if _inside_bulk_update.get():
            return super().update(**kwargs)  # type: ignore[misc]
        # Which rows: one SELECT of their keys, the price of knowing.
        pks = list(self.values_list("pk", flat=True))  # type: ignore[attr-defined]
        count = super().update(**kwargs)  # type: ignore[misc]
        if pks:
            queryset_updated.send(
                sender=self.model, pks=pks, values={name: jsonable(value) for name, value in kwargs.items()}
            )
        return count


def _install_bulk_signals(model: type[models.Model]) -> None:
    for manager in model._meta.managers:
        queryset_class = manager._queryset_class
        if not issubclass(queryset_class, BulkSignalsMixin):
            manager._queryset_class = type(
                f"Streams{queryset_class.__name__}", (BulkSignalsMixin, queryset_class), {}
            )


def track(
    model: type[models.Model], *, fields: Iterable[str] = (), masked: Iterable[str] = (), bulk: bool = False
) -> Tracking:
    """Track ``fields`` of ``model`` for diffs (``masked`` ones never in clear), and its bulk operations."""
    fields = tuple(fields)
    masked = frozenset(masked)
    previous = _tracked.get(model)
    if previous is not None:
        fields = tuple(dict.fromkeys((*previous.fields, *fields)))
        masked = previous.masked | masked
    tracking = Tracking(model=model, fields=fields, masked=masked)
    _tracked[model] = tracking
    post_init.connect(_on_init, sender=model, dispatch_uid=f"streams.track.init:{model._meta.label}")
    pre_save.connect(_on_pre_save, sender=model, dispatch_uid=f"streams.track.pre_save:{model._meta.label}")
    if bulk:
        _install_bulk_signals(model)
    return tracking
