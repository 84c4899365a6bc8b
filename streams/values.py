"""What an action's columns accept, made so before the INSERT is sent.

A route's INSERT runs inside the business transaction without a savepoint
of its own (``streams.registration``), so it must not fail for what it
carries: on PostgreSQL a failed statement aborts the whole transaction.
Texts are cut to their column's length and lose NUL characters (which
PostgreSQL refuses in text and JSON); diffs become JSON that both databases
accept (no NaN, no infinities, no NUL). A value that cannot be made valid
(an unknown verb length, an object key too long) raises ``ValueError`` in
Python, before anything reaches the database.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import math
import uuid
from typing import Any

# U+FFFD, as a decoder shows what it could not read.
REPLACEMENT = "\ufffd"


def text(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, without NUL characters or lone surrogates."""
    if "\x00" in value:
        value = value.replace("\x00", REPLACEMENT)
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate: no database takes it
            value = value.encode(errors="replace").decode()
    return value[:limit]


def jsonable(value: Any) -> Any:
    """A value as it can be stored in a JSON diff; anything odd becomes its text."""
    if isinstance(value, enum.Enum):  # model choices
        value = value.value
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return _json_text(value)
    if isinstance(value, float):
        # JSON has no NaN or infinity; both databases refuse them in a JSON column.
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {_json_text(str(key)): jsonable(item) for key, item in value.items()}
    try:
        return _json_text(str(value))
    except Exception:
        return f"<{type(value).__name__}>"


def _json_text(value: str) -> str:
    if "\x00" in value or not value.isascii():
        return text(value, len(value))
    return value


def owner_key(value: Any) -> int | str | None:
    """An owner's primary key as broadcast messages carry it: an integer stays one, any other
    key (a UUID, a string) is its text, so it survives JSON and compares the same everywhere."""
    if value is None or isinstance(value, int):
        return value
    return str(value)
