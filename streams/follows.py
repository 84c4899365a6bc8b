"""Who follows whom: the people whose public actions a ``following=True`` table shows its viewer.

``follow()`` and ``unfollow()`` change it and, after commit, tell every
process (``announce``): the live fan-out keeps each follower's set in
memory (``followed()``), drops it on that message and reloads it before
matching the next actions, so an open table shows a newly followed
person's next action without reconnecting.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction

from streams.broadcast import FOLLOWS, announce
from streams.models import Follow
from streams.values import owner_key

_lock = threading.Lock()
# Follower key -> (keys of whom they follow, their usernames).
_followed: dict[Any, tuple[frozenset[Any], frozenset[str]]] = {}


class CannotFollow(ValueError):
    pass


def follow(follower: Any, followed: Any) -> bool:
    """``follower`` follows ``followed`` (users); False if they already did."""
    if owner_key(follower.pk) == owner_key(followed.pk):
        raise CannotFollow("One cannot follow oneself.")
    try:
        with transaction.atomic():
            _, created = Follow.objects.get_or_create(follower_id=follower.pk, followed_id=followed.pk)
    except IntegrityError:  # the same follow from another tab, at the same moment
        created = False
    if created:
        _changed(follower.pk)
    return created


def unfollow(follower: Any, followed: Any) -> bool:
    deleted, _ = Follow.objects.filter(follower_id=follower.pk, followed_id=followed.pk).delete()
    if deleted:
        _changed(follower.pk)
    return bool(deleted)


def followed_users(follower: Any) -> Any:
    """The users ``follower`` follows, by username."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    ids = Follow.objects.filter(follower_id=follower.pk).values("followed_id")
    return User._default_manager.filter(pk__in=ids).order_by(User.USERNAME_FIELD)


def followed_names(follower: Any) -> frozenset[str]:
    """The usernames of whom ``follower`` follows, from memory; loaded if missing (one query)."""
    key = owner_key(follower.pk)
    with _lock:
        found = _followed.get(key)
    if found is None:
        load([key])
        with _lock:
            found = _followed.get(key, (frozenset(), frozenset()))
    return found[1]


def cached(follower_key: Any) -> frozenset[Any] | None:
    """The keys (``owner_key``) of whom the follower follows, if in memory (no query)."""
    with _lock:
        found = _followed.get(follower_key)
    return None if found is None else found[0]


def load(follower_keys: Iterable[Any]) -> None:
    """Read whom these followers follow, in one query."""
    from django.contrib.auth import get_user_model

    keys = [owner_key(key) for key in follower_keys]
    sets: dict[Any, tuple[set[Any], set[str]]] = {key: (set(), set()) for key in keys}
    name = f"followed__{get_user_model().USERNAME_FIELD}"
    rows = Follow.objects.filter(follower_id__in=keys).values_list("follower_id", "followed_id", name)
    for follower_id, followed_id, username in rows:
        ids, names = sets.setdefault(owner_key(follower_id), (set(), set()))
        ids.add(owner_key(followed_id))
        names.add(username)
    with _lock:
        for key, (ids, names) in sets.items():
            _followed[key] = (frozenset(ids), frozenset(names))


def forget(follower_key: Any = None) -> None:
    with _lock:
        if follower_key is None:
            _followed.clear()
        else:
            _followed.pop(follower_key, None)


def _changed(follower_pk: Any) -> None:
    key = owner_key(follower_pk)
    forget(key)  # this process at once; every process after commit

    def tell() -> None:
        forget(key)
        announce({"type": FOLLOWS, "follower": key})

    transaction.on_commit(tell)
