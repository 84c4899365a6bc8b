"""The kinds of object and target actions are about: filter choices from what is recorded.

A table's "What" and "On" filters offer the content types that actions
have actually been recorded with, so a project's own models appear without
a list to keep, and a kind a viewer has no visible action about is never
offered to them. Finding them is a loose index scan, one index probe per
kind (a recursive query over the ``(object_type, timestamp, id)`` index and
its public twin), not a ``DISTINCT`` over the table; the answer is kept for
``CACHE_SECONDS`` per process.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connections, router

CACHE_SECONDS = 60.0
FIELDS = ("object_type", "target_type")

_lock = threading.Lock()
_cache: dict[tuple[str, str, bool], tuple[float, tuple[Any, ...]]] = {}


def recorded(field: str, *, public_only: bool) -> list[ContentType]:
    """The content types of ``field`` ("object_type" or "target_type") in recorded actions.

    ``public_only``: only those of public actions (what a non-staff viewer
    may see). Sorted by their name.
    """
    from streams.models import Action

    if field not in FIELDS:
        raise ValueError(f"field must be one of {FIELDS}, not {field!r}")
    using = router.db_for_read(Action)
    types = []
    for pk in _seen(using, field, public_only):
        try:
            types.append(ContentType.objects.db_manager(using).get_for_id(pk))
        except ContentType.DoesNotExist:
            # Deleted since it was seen (stale content types removed, a database flushed).
            continue
    return sorted(types, key=lambda content_type: label(content_type).casefold())


def owners() -> dict[str, Any]:
    """Every user some action was recorded for (``owner``), username -> primary key, by username.

    The staff owner picker of a table that names no ``owners``: a loose scan
    of the ``(owner, verb, timestamp, id)`` index, kept like the kinds."""
    from django.contrib.auth import get_user_model

    from streams.models import Action

    using = router.db_for_read(Action)
    User = get_user_model()
    name = User.USERNAME_FIELD
    seen = _seen(using, "owner", public_only=False)
    users = User._default_manager.db_manager(using).filter(pk__in=seen).order_by(name)
    return dict(users.values_list(name, "pk"))


def label(content_type: ContentType) -> str:
    """A kind as a person reads it: the model's verbose name, capitalised."""
    model = content_type.model_class()
    name = str(model._meta.verbose_name) if model is not None else content_type.model
    return name[:1].upper() + name[1:]


def forget(**kwargs: Any) -> None:
    """Drop what is kept: after deleting actions, and after each ``migrate`` or ``flush``
    (connected to ``post_migrate`` in ``StreamsConfig.ready``), whose content types may differ."""
    with _lock:
        _cache.clear()


def _seen(using: str, field: str, public_only: bool) -> tuple[Any, ...]:
    """The distinct values of ``field`` in recorded actions, kept CACHE_SECONDS."""
    from streams.models import Action

    key = (using, field, public_only)
    now = time.monotonic()
    with _lock:
        found = _cache.get(key)
    if found is None or now - found[0] >= CACHE_SECONDS:
        found = (now, _scan(connections[using], Action, field, public_only))
        with _lock:
            _cache[key] = found
    return found[1]


def _scan(connection: Any, model: Any, field: str, public_only: bool) -> tuple[int, ...]:
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    column = qn(model._meta.get_field(field).column)
    public = f" AND {qn('public')}" if public_only else ""
    # Each step asks the index for the smallest kind past the last one found.
    sql = (
        f"WITH RECURSIVE kinds(id) AS ("
        f"SELECT min({column}) FROM {table} WHERE {column} IS NOT NULL{public} "
        f"UNION ALL "
        f"SELECT (SELECT min({column}) FROM {table} WHERE {column} > kinds.id{public}) "
        f"FROM kinds WHERE kinds.id IS NOT NULL"
        f") SELECT id FROM kinds WHERE id IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return tuple(row[0] for row in cursor.fetchall())
