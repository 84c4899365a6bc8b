"""Text search over actions: one folding, so the page, the CSV and the live socket agree.

Each action stores ``search_text``: who, did, what and on, folded by
``fold()`` and joined by newlines. A search folds the needle the same way and
looks for it as an exact substring: PostgreSQL with ``LIKE`` on a ``pg_trgm``
GIN index, SQLite through an FTS5 trigram table (``GLOB``), other databases
by scanning. The live socket folds the broadcast message's texts with the same
function, in memory. Because both sides are folded in Python, case folding
beyond ASCII (``Straße`` finds ``STRASSE``, ``Ä`` finds ``ä``) matches alike
on every database, whatever its collation.
"""

from __future__ import annotations

import re
import unicodedata

# Between the four texts of a document; a needle never holds one.
SEPARATOR = "\n"
# Control characters (the separator among them) are spaces in a needle.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def fold(text: str) -> str:
    """Compatibility-normalised, case-folded text (Unicode caseless matching)."""
    if text.isascii():
        # NFKC leaves ASCII alone and casefold() is lower() on it; once per
        # recorded text, this is the common case worth a shortcut.
        return text.lower()
    text = unicodedata.normalize("NFKC", text).casefold()
    # Normalising again after folding keeps the result stable (folding may
    # decompose, e.g. "ǰ"), so fold(fold(x)) == fold(x).
    return unicodedata.normalize("NFKC", text).casefold()


def document(actor: str, verb: str, object_repr: str, target_repr: str) -> str:
    """The ``search_text`` of an action with these texts."""
    return SEPARATOR.join(fold(value or "") for value in (actor, verb, object_repr, target_repr))


def needle(text: str) -> str:
    """What a search for ``text`` looks for in ``search_text``: folded, no control characters."""
    return fold(_CONTROL.sub(" ", text).strip())


def matches(needle_text: str, search_text: str) -> bool:
    """The in-memory twin of the database search (``needle_text`` from ``needle()``)."""
    return needle_text in search_text


def glob_pattern(needle_text: str) -> str:
    """A SQLite GLOB pattern for "contains ``needle_text``" (GLOB is case-sensitive)."""
    escaped = re.sub(r"([*?\[])", r"[\1]", needle_text)
    return f"*{escaped}*"
