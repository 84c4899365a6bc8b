"""Keyset paging: any order, any depth, for the cost of the first page.

An ``Order`` is a list of columns ending with the primary key, all in one
direction, so it is total (no two rows tie) and one index on those columns
serves it both ways. A page is "the rows after (or before) this position",
asked as one row-value comparison, ``(a, b, id) < (%s, %s, %s)``, which
PostgreSQL and SQLite answer from that index: no ``OFFSET``, no ``COUNT``.

A ``Cursor`` is that position as a short URL-safe token. It names the order
it belongs to, so a link keeps meaning the same rows when it is shared, when
new rows arrive, and is refused (``InvalidCursor``) when it belongs to
another order or was tampered with.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet
from django.db.models.fields.tuple_lookups import TupleGreaterThan, TupleLessThan

# The token of the last page (the oldest rows in the default order).
LAST = "last"
# A token longer than this is not one of ours (a key is at most a few hundred characters).
MAX_TOKEN_LENGTH = 2048


class InvalidCursor(ValueError):
    """A cursor token that is not one of this order's positions."""


@dataclass(frozen=True)
class Order:
    """Columns to sort by, the primary key last, all ascending or all descending."""

    fields: tuple[str, ...]
    descending: bool

    @classmethod
    def by(cls, column: str, *, tie_breakers: Sequence[str] = ("timestamp", "id")) -> Order:
        """``"-verb"`` → verb, timestamp, id descending; the column itself is not repeated."""
        name = column.removeprefix("-")
        fields = (name, *(field for field in tie_breakers if field != name))
        return cls(fields=fields, descending=column.startswith("-"))

    @property
    def name(self) -> str:
        return ("-" if self.descending else "") + self.fields[0]

    def order_by(self, *, reverse: bool = False) -> list[str]:
        prefix = "-" if self.descending != reverse else ""
        return [prefix + field for field in self.fields]

    def key(self, row: Any) -> tuple[Any, ...]:
        return tuple(getattr(row, field) for field in self.fields)


@dataclass(frozen=True)
class Cursor:
    """A position in an order: the rows after it, or (``before``) the rows before it."""

    values: tuple[Any, ...] | None  # None with ``before``: past the end (the last page)
    before: bool = False

    def encode(self, order: Order) -> str:
        if self.values is None:
            return LAST
        values = [value.isoformat() if isinstance(value, datetime) else value for value in self.values]
        payload = json.dumps([order.name, "b" if self.before else "a", *values], separators=(",", ":"))
        return base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode()

    @classmethod
    def decode(cls, token: str, order: Order, model: Any) -> Cursor:
        """The cursor of ``token`` in ``order``; ``InvalidCursor`` says why not."""
        if token == LAST:
            return cls(values=None, before=True)
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidCursor("This page link is too long to be one of ours.")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            name, direction, *values = json.loads(raw)
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
            raise InvalidCursor("This page link is broken; start again from the first page.") from None
        if name != order.name:
            raise InvalidCursor("This page link belongs to another sort order.")
        if direction not in ("a", "b") or len(values) != len(order.fields):
            raise InvalidCursor("This page link is broken; start again from the first page.")
        cleaned = []
        for field_name, value in zip(order.fields, values, strict=True):
            field = model._meta.get_field(field_name)
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise InvalidCursor("This page link is broken; start again from the first page.")
            try:
                python = field.to_python(value)
                if isinstance(python, datetime) and python.tzinfo is None:
                    raise ValidationError("naive")
                field.run_validators(python)
                # An id past the database's integers would overflow the comparison.
                if isinstance(python, int) and not -(2**63) <= python < 2**63:
                    raise ValidationError("out of range")
            except (ValidationError, OverflowError, ValueError):
                raise InvalidCursor("This page link is broken; start again from the first page.") from None
            if python is None:
                raise InvalidCursor("This page link is broken; start again from the first page.")
            cleaned.append(python)
        return cls(values=tuple(cleaned), before=direction == "b")


@dataclass
class Page:
    """One page of rows in order, and where the pages beside it start."""

    rows: list[Any]
    order: Order
    has_previous: bool
    has_next: bool

    def next_cursor(self) -> str | None:
        if not self.has_next or not self.rows:
            return None
        return Cursor(self.order.key(self.rows[-1])).encode(self.order)

    def previous_cursor(self) -> str | None:
        if not self.has_previous or not self.rows:
            return None
        return Cursor(self.order.key(self.rows[0]), before=True).encode(self.order)


def paginate(queryset: QuerySet, order: Order, cursor: Cursor | None, per_page: int) -> Page:
    """The page of ``queryset`` in ``order`` at ``cursor`` (None: the first page): one query."""
    columns = tuple(F(field) for field in order.fields)
    if cursor is None:
        rows = list(queryset.order_by(*order.order_by())[: per_page + 1])
        return Page(rows[:per_page], order, has_previous=False, has_next=len(rows) > per_page)
    if cursor.values is not None:
        # "After" in the order's direction is "less than" when it descends.
        after = TupleLessThan if order.descending else TupleGreaterThan
        before = TupleGreaterThan if order.descending else TupleLessThan
        lookup = before if cursor.before else after
        queryset = queryset.filter(lookup(columns, cursor.values))
    if not cursor.before:
        rows = list(queryset.order_by(*order.order_by())[: per_page + 1])
        return Page(rows[:per_page], order, has_previous=True, has_next=len(rows) > per_page)
    rows = list(queryset.order_by(*order.order_by(reverse=True))[: per_page + 1])
    more = len(rows) > per_page
    rows = rows[:per_page]
    rows.reverse()
    return Page(rows, order, has_previous=more, has_next=cursor.values is not None)
