"""Streamed, injection-safe CSV.

The contract: the ``excel`` dialect of :mod:`csv` (comma, double quote,
quotes only where needed, CRLF line ends), every cell passed through
``neutralise()`` first, so a spreadsheet never runs a cell as a formula.

Two writers give the same text for the same rows:

``csv_lines(header, rows)``
    One ``csv.writer`` line per row: the reference, plain and slow.

``encode_columns(columns)`` / ``encode_rows(rows)`` / ``csv_chunks(header, batches)``
    A batch of rows at a time, column by column, in C loops (``str.join``,
    ``in``, ``str.replace``, ``re.sub``, ``str.split``, dict lookups): a
    column's cells are joined with NUL and a formula prefix or a character
    that needs quoting is looked for once in the whole column; only a
    column where one occurs is rewritten, either text by text when it holds
    few distinct texts (verbs, names, user agents) or in one pass over the
    joined column. The rows are then put together with one ``str.join``. A
    batch with a NUL in a cell (or with fewer than two columns) goes through
    ``csv.writer`` row by row instead. ``csv_chunks`` yields the header,
    then one encoded chunk per batch: a chunk always holds whole rows.

For a Django queryset:

``fetch_columns(queryset, fields, chunk_size=..., isoformat=..., formatters=...)``
    ``queryset.values_list(*fields)`` as batches of columns, read with
    ``fetchmany`` through the cursor ``.iterator(chunk_size=...)`` uses (a
    server-side cursor on PostgreSQL), Django's field converters applied a
    column at a time; the DateTimeFields named in ``isoformat`` come as
    ``value.isoformat()`` text made in bulk (from the stored text on SQLite,
    from ``to_char`` on PostgreSQL), and the fields named in ``formatters``
    as ``formatter(value)``, computed once per distinct value in a batch.

``iterate_in_thread(chunks)``
    Under ASGI: the chunks of a synchronous iterator (which reads the
    database) as an async iterator, one ``sync_to_async`` hop per chunk; at
    the end, even when the client went away, the iterator is closed and the
    thread's old connections with it (``close_old_connections``).

This module knows nothing of the tables that use it (no ``dashboard``, no
``publishing``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections
from django.db.models import F, Func, TextField
from django.db.models.functions import Cast
from django.db.models.sql.constants import MULTI

# A spreadsheet treats a cell starting with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# Rows a chunk holds when the caller does not say.
CHUNK_ROWS = 1000


def neutralise(value: Any) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """Yield one encoded CSV line at a time, for ``StreamingHttpResponse``."""
    writer = csv.writer(_Echo())
    yield writer.writerow([neutralise(cell) for cell in header])
    for row in rows:
        yield writer.writerow([neutralise(cell) for cell in row])


# --- Batches ------------------------------------------------------------------

# Joins a column's cells; a cell holding one sends its batch the slow way.
_SEP = "\x00"
_FORMULA_CELL = re.compile("\x00([=+\\-@\t\r])")
# A whole cell (after its separator) holding a character the excel dialect
# quotes for: the delimiter, the quote or a line end. Possessive, so a cell
# without one is scanned once.
_QUOTED_CELL = re.compile('\x00([^\x00,"\r\n]*+[,"\r\n][^\x00]*+)')


# A column with at most one distinct text in this many cells is rewritten text by
# text (if a sample of its first cells is at most half distinct).
_FEW = 4
_SAMPLE = 128


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _reference(rows: Iterable[Iterable[Any]]) -> str:
    """``csv.writer`` with ``neutralise()``, row by row: what the fast path must equal."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def _cell(text: str) -> str:
    """One neutralised cell as ``csv.writer`` writes it in a row of several."""
    if text.startswith(FORMULA_PREFIXES):
        text = "'" + text
    if '"' in text:
        return '"' + text.replace('"', '""') + '"'
    if "," in text or "\n" in text or "\r" in text:
        return '"' + text + '"'
    return text


def _few_texts(column: Sequence[Any]) -> dict[Any, str] | None:
    """Each distinct cell of a column of few distinct texts (or None) as written, if it is one."""
    if len(set(column[:_SAMPLE])) * 2 > _SAMPLE:
        return None
    distinct = set(column)
    if len(distinct) * _FEW > len(column):
        return None
    # Only str and None: 1, 1.0 and True would share a key, yet not a text.
    if not all(type(value) is str or value is None for value in distinct):
        return None
    return {value: _cell(_text(value)) for value in distinct}


def _column_cells(column: Sequence[Any]) -> Sequence[str] | None:
    """The column's cells neutralised and quoted as ``csv.writer`` would, or None (a NUL)."""
    cells = _few_texts(column)
    if cells is not None:
        # Few different texts (verbs, names, titles, user agents): each one once.
        if any(_SEP in text for text in cells.values()):
            return None
        if all(key is text for key, text in cells.items()):
            return column
        return list(map(cells.__getitem__, column))
    try:
        joined = _SEP + _SEP.join(column)
    except TypeError:  # None, numbers, dates: as neutralise() sees them
        column = [value if type(value) is str else _text(value) for value in column]
        joined = _SEP + _SEP.join(column)
    if joined.count(_SEP) != len(column):
        return None
    formula = _FORMULA_CELL.search(joined) is not None
    quote = '"' in joined or "," in joined or "\n" in joined or "\r" in joined
    if not formula and not quote:
        return column
    if formula:
        joined = _FORMULA_CELL.sub("\x00'\\1", joined)
    if quote:
        # Every cell with a quote is quoted, so doubling them all is right.
        joined = joined.replace('"', '""')
        joined = _QUOTED_CELL.sub('\x00"\\1"', joined)
    cells = joined.split(_SEP)
    return cells[1:]


def encode_columns(columns: Sequence[Sequence[Any]]) -> str:
    """The CSV text of the rows these equally long columns make (no header).

    For each row of ``zip(*columns)``, what ``csv.writer().writerow()`` writes
    for ``[neutralise(cell) for cell in row]``.
    """
    if len(columns) < 2:
        # One column: csv.writer quotes a lone empty cell; leave that to it.
        return _reference(zip(*columns, strict=True))
    cells = []
    for column in columns:
        column_cells = _column_cells(column)
        if column_cells is None:
            return _reference(zip(*columns, strict=True))
        cells.append(column_cells)
    width = len(cells)
    rows = len(cells[0])
    if any(len(column_cells) != rows for column_cells in cells):
        raise ValueError("columns of different lengths")
    # Every cell in its place among the separators, then one join.
    parts = ([","] * (2 * width - 1) + ["\r\n"]) * rows
    for index, column_cells in enumerate(cells):
        parts[2 * index :: 2 * width] = column_cells
    return "".join(parts)


def encode_rows(rows: Sequence[Sequence[Any]]) -> str:
    """The CSV text of these rows (no header); see ``encode_columns``."""
    if not rows:
        return ""
    try:
        columns = list(zip(*rows, strict=True))
    except ValueError:  # rows of different lengths
        return _reference(rows)
    if not columns:
        return _reference(rows)
    return encode_columns(columns)


def csv_chunks(
    header: Sequence[str], batches: Iterable[Sequence[Sequence[Any]]], *, encoding: str = "utf-8"
) -> Iterator[bytes]:
    """The header line, then one chunk of whole rows per batch of columns, encoded."""
    yield _reference([header]).encode(encoding)
    for columns in batches:
        text = encode_columns(columns)
        if text:
            yield text.encode(encoding)


# --- Reading a queryset ------------------------------------------------------

# SQLite keeps a datetime as Django wrote it, str() of the naive UTC value:
# by length, this shape (then the separator) once every ASCII digit is a 0.
_SQLITE_SHAPES = {19: "0000-00-00 00:00:00\x00", 26: "0000-00-00 00:00:00.000000\x00"}
_DIGITS_TO_ZERO = str.maketrans("123456789", "000000000")
# PostgreSQL writes a timestamptz in the session's time zone (UTC, set by Django).
_PG_ISOFORMAT = "to_char(%(expressions)s, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"


def _isoformat_all(values: Sequence[Any]) -> list[Any]:
    try:
        return list(map(datetime.isoformat, values))
    except TypeError:  # None, or not a datetime
        return [None if value is None else value.isoformat() for value in values]


def _offset_suffix(connection: Any) -> str | None:
    """What isoformat() writes after the time for the datetimes Django loads, if fixed.

    "" without USE_TZ (naive datetimes), "+00:00" in UTC, None for a zone
    whose offset changes (its datetimes go the slow way).
    """
    if not settings.USE_TZ:
        return ""
    timezone = connection.timezone
    if timezone.utcoffset(None) is None:  # a zone with rules, not a fixed offset
        return None
    return datetime(2000, 1, 1, tzinfo=timezone).isoformat()[19:]


class _IsoColumn:
    """How one DateTimeField column is selected and turned into ``isoformat()`` text.

    ``value.isoformat()`` of the datetime Django would load, without making the
    datetime where the database can hand over the text: SQLite has it stored
    (checked, then rewritten for the whole column at once), PostgreSQL writes
    it with ``to_char``. Anywhere else, or when the text is not in the
    expected form, the value goes the way Django loads it.
    """

    def __init__(self, name: str, connection: Any) -> None:
        self.connection = connection
        self.suffix = _offset_suffix(connection)
        self.kind = "datetime"
        self.select: Any = name
        if connection.vendor == "sqlite":
            self.kind = "sqlite"
            self.select = Cast(name, output_field=TextField())
        elif (
            connection.vendor == "postgresql"
            and settings.USE_TZ
            and connection.timezone_name == "UTC"
            and self.suffix is not None
        ):
            self.kind = "postgresql"
            self.select = Func(F(name), template=_PG_ISOFORMAT, output_field=TextField())

    def __call__(self, values: Sequence[Any]) -> list[Any]:
        if self.kind == "datetime":
            return _isoformat_all(values)
        try:
            joined = _SEP.join(values) + _SEP
        except TypeError:  # a NULL
            return self._slow(values)
        if self.kind == "sqlite":
            if self.suffix is None or not self._canonical(values, joined):
                return self._slow(values)
            joined = joined.replace(" ", "T")
        # isoformat() leaves out a zero microsecond.
        joined = joined.replace(".000000" + _SEP, _SEP)
        cells = joined.replace(_SEP, self.suffix + _SEP).split(_SEP)
        cells.pop()
        return cells

    @staticmethod
    def _canonical(values: Sequence[str], joined: str) -> bool:
        """Whether every text is ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (ASCII digits)."""
        try:
            expected = "".join(map(_SQLITE_SHAPES.__getitem__, map(len, values)))
        except KeyError:  # not 19 or 26 characters
            return False
        return joined.translate(_DIGITS_TO_ZERO) == expected

    def _slow(self, values: Sequence[Any]) -> list[Any]:
        if self.kind == "sqlite":
            convert = self.connection.ops.convert_datetimefield_value
            return [
                None if value is None else convert(value, None, self.connection).isoformat()
                for value in values
            ]
        # to_char text: as psycopg reads the timestamp, in the session's zone (UTC).
        return [
            None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC).isoformat()
            for value in values
        ]


def _converted(
    column: Sequence[Any], converters: list[Any], expression: Any, connection: Any
) -> Sequence[Any]:
    for converter in converters:
        column = [converter(value, expression, connection) for value in column]
    return column


def _formatted(
    column: Sequence[Any],
    converters: list[Any],
    expression: Any,
    connection: Any,
    formatter: Callable[[Any], Any],
) -> list[Any]:
    """``formatter(converted value)`` for each value, computed once per distinct value."""
    try:
        distinct = set(column)
    except TypeError:  # unhashable (memoryview)
        distinct = None
    # One type (and None) only: 1, 1.0 and True would share a key.
    if distinct is None or len({type(value) for value in distinct} - {type(None)}) > 1:
        return list(map(formatter, _converted(column, converters, expression, connection)))
    keys = list(distinct)
    cells = dict(zip(keys, map(formatter, _converted(keys, converters, expression, connection)), strict=True))
    return list(map(cells.__getitem__, column))


def fetch_columns(
    queryset: Any,
    fields: Sequence[str],
    *,
    chunk_size: int = CHUNK_ROWS,
    isoformat: Collection[str] = (),
    formatters: Mapping[str, Callable[[Any], Any]] | None = None,
) -> Iterator[list[Sequence[Any]]]:
    """``queryset.values_list(*fields)``, ``chunk_size`` rows at a time, each batch a list of columns.

    Read as ``.iterator(chunk_size=chunk_size)`` reads them: one query, a
    server-side cursor where the database has them, ``fetchmany``. Values are
    what ``values_list`` gives (Django's converters, applied a column at a
    time), except that

    - the DateTimeFields named in ``isoformat`` come as ``value.isoformat()``
      text (None stays None), made in bulk;
    - the fields named in ``formatters`` come as ``formatter(value)``,
      called once per distinct database value in a batch (so ``formatter``
      must depend on the value alone).
    """
    connection = connections[queryset.db]
    formatters = formatters or {}
    iso_columns = {}
    select: list[Any] = []
    for name in fields:
        if name in isoformat and queryset.model._meta.get_field(name).get_internal_type() == "DateTimeField":
            iso_columns[len(select)] = _IsoColumn(name, connection)
            select.append(iso_columns[len(select)].select)
        else:
            select.append(name)
    values = queryset.values_list(*select)
    compiler = values.query.get_compiler(using=values.db)
    batches = compiler.execute_sql(MULTI, chunked_fetch=True, chunk_size=chunk_size)
    steps: list[tuple[int, Callable[[Sequence[Any]], Sequence[Any]]]] | None = None
    for rows in batches:
        if not rows:
            continue
        if steps is None:
            selected = [item[0] for item in compiler.select[0 : compiler.col_count]]
            if len(selected) != len(fields) or compiler.has_composite_fields(selected):
                raise NotImplementedError("fetch_columns() reads plain fields only")
            converters = compiler.get_converters(selected)
            steps = []
            for pos, name in enumerate(fields):
                convs, expression = converters.get(pos, ([], None))
                args = (convs, expression, connection)
                if pos in iso_columns:
                    iso = iso_columns[pos]
                    steps.append((pos, lambda column, iso=iso, args=args: iso(_converted(column, *args))))
                elif name in formatters:
                    formatter = formatters[name]
                    steps.append((pos, lambda column, f=formatter, args=args: _formatted(column, *args, f)))
                elif convs:
                    steps.append((pos, lambda column, args=args: _converted(column, *args)))
        columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
        for pos, step in steps:
            columns[pos] = step(columns[pos])
        yield columns


# --- ASGI ---------------------------------------------------------------------------


def _finish(chunks: Iterator[Any]) -> None:
    try:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    finally:
        close_old_connections()


async def iterate_in_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """``chunks`` for an async server: each ``next()`` in the thread that reads the database.

    One thread hop per chunk. The iterator only starts (runs its query) in
    that thread. At the end, or when the client goes away, it is closed and
    ``close_old_connections()`` runs there: the reads happened in a worker
    thread, whose connection is given back now rather than when (or if) that
    thread serves another request.
    """
    step = sync_to_async(next)
    try:
        while (chunk := await step(chunks, None)) is not None:
            yield chunk
    finally:
        await sync_to_async(_finish)(chunks)
