"""The CSV export of an action table: its columns, how they read, the streamed response.

The view builds the table's filtered queryset in the table's order, as the
viewer sees it; this module does the rest (``ActionExportView.get``)::

    ordered = rows.order_by(*order.order_by())
    filename = f"{self.kind.name}-{timezone.now():%Y%m%d-%H%M%S}.csv"
    return export.csv_response(request, ordered, staff=request.user.is_staff, filename=filename)

The file: UTF-8, a header row, one row per action in the queryset's order,
every cell neutralised against formulas (``streams.csvexport.neutralise``).
Columns ``timestamp,actor,verb,object,target`` (``timestamp.isoformat()``),
and for staff also ``changes,ip,user_agent,request`` (``changes`` as the table
shows it, ``describe_changes``; ``request`` the correlation id, empty outside
a request).

API:

``csv_response(request, rows, *, staff, filename, chunk_size=CHUNK_ROWS)``
    The ``StreamingHttpResponse`` (``text/csv; charset=utf-8``, an
    attachment named ``filename``, never cached): an async iterator under
    ASGI, a plain one under WSGI.
``csv_chunks(rows, *, staff, chunk_size=CHUNK_ROWS)``
    The body as bytes chunks (WSGI): the header, then one chunk per
    ``chunk_size`` rows, never splitting a row. The rows are read with one
    query, ``chunk_size`` at a time (a server-side cursor on PostgreSQL).
``acsv_chunks(rows, *, staff, chunk_size=CHUNK_ROWS)``
    The same for ASGI: one thread hop per chunk, the cursor closed and
    ``close_old_connections()`` run in that thread at the end.
``header(staff)`` / ``fields(staff)``
    The column titles and the ``Action`` fields they come from.

``rows`` is an ``Action`` queryset, filtered and ordered; its
``values_list`` is taken here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.cache import add_never_cache_headers

from streams import csvexport
from streams.tables import describe_changes

CHUNK_ROWS = csvexport.CHUNK_ROWS

COLUMNS = (
    ("timestamp", "timestamp"),
    ("actor", "actor_name"),
    ("verb", "verb"),
    ("object", "object_repr"),
    ("target", "target_repr"),
)
# ``request``: the id of the request that recorded the row (empty outside one), as the
# table's "same request" link filters by it.
STAFF_COLUMNS = (
    ("changes", "changes"),
    ("ip", "ip"),
    ("user_agent", "user_agent"),
    ("request", "request_id"),
)


def _columns(staff: bool) -> tuple[tuple[str, str], ...]:
    return COLUMNS + STAFF_COLUMNS if staff else COLUMNS


def header(staff: bool) -> list[str]:
    return [title for title, _ in _columns(staff)]


def fields(staff: bool) -> list[str]:
    return [field for _, field in _columns(staff)]


def _batches(rows: Any, staff: bool, chunk_size: int) -> Iterator[list[Sequence[Any]]]:
    return csvexport.fetch_columns(
        rows,
        fields(staff),
        chunk_size=chunk_size,
        isoformat={"timestamp"},
        # As the table shows it; None is "" as well.
        formatters={"changes": describe_changes},
    )


def csv_chunks(rows: Any, *, staff: bool, chunk_size: int = CHUNK_ROWS) -> Iterator[bytes]:
    return csvexport.csv_chunks(header(staff), _batches(rows, staff, chunk_size))


def acsv_chunks(rows: Any, *, staff: bool, chunk_size: int = CHUNK_ROWS) -> AsyncIterator[bytes]:
    return csvexport.iterate_in_thread(csv_chunks(rows, staff=staff, chunk_size=chunk_size))


def csv_response(
    request: HttpRequest, rows: Any, *, staff: bool, filename: str, chunk_size: int = CHUNK_ROWS
) -> StreamingHttpResponse:
    if isinstance(request, ASGIRequest):
        content: Any = acsv_chunks(rows, staff=staff, chunk_size=chunk_size)
    else:
        content = csv_chunks(rows, staff=staff, chunk_size=chunk_size)
    response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # An export is a copy of private data: no cache may keep it.
    add_never_cache_headers(response)
    return response
