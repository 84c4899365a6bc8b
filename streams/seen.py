"""Unseen counts: one "seen up to" cursor per viewer and table, not a row per notification.

A table declared with ``seen=True`` (``streams.tables.Table``) remembers, per
viewer, the newest action they were shown on its first page (``Seen``: an
id, and a time a little before it). Its unseen count is the viewer's rows
after that cursor (id after it, time from it: the table's index serves it),
counted by the badge's socket (``streams.live.tables``). Opening the table
moves the cursor and tells every open badge of that viewer, in every
process, after commit (``announce``), so badges drop on every tab.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from streams import conf
from streams.broadcast import SEEN, announce
from streams.models import Seen
from streams.values import owner_key

# Past this the badge says "99+": counting further costs more and tells nothing.
LIMIT = 99


def badge_text(count: int, limit: int = LIMIT) -> str:
    return f"{limit}+" if count > limit else str(count)


def mark_seen(table: Any, user: Any, action: Any) -> bool:
    """The viewer has seen ``table`` up to ``action``; the cursor never moves back.

    Open badges of the viewer drop to nothing after commit. Returns whether
    the cursor moved.
    """
    since = action.timestamp - conf.lookback()
    moved = Seen.objects.filter(user=user.pk, table=table.name, upto__lt=action.pk).update(
        upto=action.pk, upto_time=since
    )
    if not moved:
        try:
            with transaction.atomic():
                _, moved = Seen.objects.get_or_create(
                    user_id=user.pk, table=table.name, defaults={"upto": action.pk, "upto_time": since}
                )
        except IntegrityError:  # another tab made it first
            moved = False
    if moved:
        message = {"type": SEEN, "table": table.name, "owner": owner_key(user.pk), "upto": action.pk}
        transaction.on_commit(lambda: announce(message))
    return bool(moved)


def unseen_count_html(kind: Any, count: int, *, oob: bool = False) -> str:
    """The unseen badge of a ``seen`` table: ``<span id="<table>-count">``, hidden at 0 (tables.css)."""
    text = badge_text(count)
    return format_html(
        '<span id="{}-count" class="streams-count" data-count="{}" title="{} unseen"{}>{}</span>',
        kind.name,
        count,
        text,
        mark_safe(' hx-swap-oob="true"') if oob else "",
        text,
    )
