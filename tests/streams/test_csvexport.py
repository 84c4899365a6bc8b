"""Batched CSV: the same text as csv.writer row by row, chunks of whole rows, the export as before."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import AsyncRequestFactory, RequestFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams import csvexport, export
from streams.csvexport import csv_lines, neutralise
from streams.models import Action
from streams.tables import describe_changes


def reference(rows: list[list[Any]]) -> str:
    """The plain way: csv.writer, one row at a time, each cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return buffer.getvalue()


# Cells that take every branch: formula prefixes, quotes, delimiters, line
# ends, NUL (the batch separator), non-ASCII, None and non-text values.
TRICKY = [
    "",
    "plain",
    "=1+1",
    "+1",
    "-1",
    "@SUM(A1)",
    "\tx",
    "\rx",
    "\nx",
    "a,b",
    'say "hi"',
    '"',
    '""',
    "line\r\nbreak",
    "trailing,",
    "'quoted already",
    "Zoë ☕ 日本語 🎉",
    '=HYPERLINK("http://x","a,b")',
    "nul\x00inside",
    "\x00",
    " spaced ",
    None,
    0,
    -5,
    1.5,
    True,
]
ALPHABET = st.sampled_from(list("ab=+-@\t\r\n,\"' \x00é日🎉'0"))
cells = st.one_of(
    st.sampled_from(TRICKY),
    st.text(alphabet=ALPHABET, max_size=12),
    st.text(max_size=6),
    st.none(),
    st.integers(-3, 3),
)


@st.composite
def tables(draw: Any, max_rows: int = 40) -> list[list[Any]]:
    width = draw(st.integers(1, 8))
    height = draw(st.integers(0, max_rows))
    columns = []
    for _ in range(width):
        if draw(st.booleans()):
            # Few distinct texts, many rows: the text-by-text path.
            pool = draw(st.lists(cells, min_size=1, max_size=4))
            columns.append(draw(st.lists(st.sampled_from(pool), min_size=height, max_size=height)))
        else:
            columns.append(draw(st.lists(cells, min_size=height, max_size=height)))
    return [list(row) for row in zip(*columns, strict=True)] if height else []


@settings(max_examples=300, deadline=None)
@given(tables())
def test_encode_rows_is_csv_writer_row_by_row(rows: list[list[Any]]) -> None:
    assert csvexport.encode_rows(rows) == reference(rows)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(tables(max_rows=400))
def test_encode_columns_is_csv_writer_row_by_row_for_long_columns(rows: list[list[Any]]) -> None:
    if not rows:
        return
    columns = [list(column) for column in zip(*rows, strict=True)]
    assert csvexport.encode_columns(columns) == reference(rows)


@pytest.mark.parametrize("cell", [cell for cell in TRICKY])
@pytest.mark.parametrize("repeat", [1, 300])
def test_every_tricky_cell_alone_and_repeated(cell: Any, repeat: int) -> None:
    # A column of one text repeated, another of distinct ones: both paths.
    rows = [[cell, f"row {index}", cell] for index in range(repeat)]
    assert csvexport.encode_rows(rows) == reference(rows)


def test_rows_of_different_lengths_are_written_as_they_are() -> None:
    rows = [["a", "=b"], ["c"], ["d", "e", "f"]]
    assert csvexport.encode_rows(rows) == reference(rows)


def test_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError):
        csvexport.encode_columns([["a", "b"], ["c"]])


@settings(max_examples=150, deadline=None)
@given(tables(max_rows=60), st.integers(1, 7))
def test_chunks_hold_whole_rows_and_every_row(rows: list[list[Any]], size: int) -> None:
    header = ["when", "=who", "what,now"]
    width = len(rows[0]) if rows else 3
    header = (header * 3)[:width]
    batches = [
        [list(column) for column in zip(*rows[first : first + size], strict=True)]
        for first in range(0, len(rows), size)
    ]
    chunks = list(csvexport.csv_chunks(header, batches))

    assert all(isinstance(chunk, bytes) for chunk in chunks)
    body = b"".join(chunks).decode("utf-8")
    assert body == "".join(csv_lines(header, rows))
    # Each chunk parses on its own into whole rows: the header, then one batch each.
    parsed = [list(csv.reader(io.StringIO(chunk.decode("utf-8"), newline=""))) for chunk in chunks]
    assert parsed[0] == [[neutralise(cell) for cell in header]]
    assert [len(rows_in_chunk) for rows_in_chunk in parsed[1:]] == [
        len(batch[0]) for batch in batches if batch and batch[0]
    ]
    assert [row for chunk_rows in parsed[1:] for row in chunk_rows] == [
        [neutralise(cell) for cell in row] for row in rows
    ]


# --- Reading the database ----------------------------------------------------

STAMPS = [
    datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
    datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),  # no microsecond: isoformat() leaves it out
    datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=UTC),  # trailing zeros
    datetime(2024, 1, 2, 3, 4, 5, 1, tzinfo=UTC),
    datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2024, 6, 30, 23, 59, 59, tzinfo=UTC) + timedelta(hours=5),
]
CHANGES = [
    None,
    {"state": ["draft", "published"]},
    {"groups": {"added": ["reviewers"], "removed": ["authors"]}},
    {"title": {"set": "=SUM(A1)"}},
    {"rating": 4},
    ["not", "a", "dict"],
    "a string",
    7,
]
TEXTS = [
    "chloe",
    "Zoë's café",
    '=HYPERLINK("x")',
    "Line one\nline two",
    "a, b",
    "-5",
    "@everyone",
    "\tTab",
    "",
]


def make_actions(count: int) -> list[Action]:
    actions = []
    for index in range(count):
        text = TEXTS[index % len(TEXTS)]
        action = Action(
            timestamp=STAMPS[index % len(STAMPS)] + timedelta(days=index),
            actor_name=TEXTS[(index + 1) % len(TEXTS)] or "rae",
            verb="commented" if index % 3 else "read",
            object_repr=text,
            target_repr=TEXTS[(index + 2) % len(TEXTS)],
            ip=None if index % 4 == 0 else (f"10.0.0.{index % 250}" if index % 2 else "2001:db8::1"),
            user_agent="Mozilla/5.0 (X11; Linux, like Gecko)" if index % 5 else "",
            changes=CHANGES[index % len(CHANGES)],
            public=index % 7 != 0,
            request_id=None if index % 3 == 0 else f"req-{index % 4}",
        )
        action.search_text = action.document()
        actions.append(action)
    Action.objects.bulk_create(actions)
    return actions


def old_export(queryset: Any, staff: bool) -> bytes:
    """The export as dashboard.views wrote it before: values_list, _format, csv_lines."""
    fields = ["timestamp", "actor_name", "verb", "object_repr", "target_repr"]
    header = ["timestamp", "actor", "verb", "object", "target"]
    if staff:
        fields += ["changes", "ip", "user_agent", "request_id"]
        header += ["changes", "ip", "user_agent", "request"]

    def format_row(row: tuple[Any, ...]) -> list[Any]:
        timestamp, *rest = row
        if len(rest) > 4:
            rest[4] = describe_changes(rest[4])
        return [timestamp.isoformat(), *rest]

    rows = (format_row(row) for row in queryset.values_list(*fields).iterator(chunk_size=7))
    return "".join(csv_lines(header, rows)).encode("utf-8")


@pytest.mark.django_db
@pytest.mark.parametrize("staff", [True, False])
@pytest.mark.parametrize("chunk_size", [1, 4, 2000])
def test_export_is_the_bytes_of_before(staff: bool, chunk_size: int) -> None:
    make_actions(60)
    ordered = Action.objects.order_by("-timestamp", "-id")

    chunks = list(export.csv_chunks(ordered, staff=staff, chunk_size=chunk_size))

    assert b"".join(chunks) == old_export(ordered, staff)
    assert chunks[0] == (",".join(export.header(staff)) + "\r\n").encode()
    # One chunk per chunk_size rows, each of whole rows.
    assert len(chunks) == 1 + -(-60 // chunk_size)
    for chunk in chunks[1:]:
        assert chunk.endswith(b"\r\n")
        rows = list(csv.reader(io.StringIO(chunk.decode("utf-8"), newline="")))
        assert len(rows) in (chunk_size, 60 % chunk_size)


@pytest.mark.django_db
def test_export_follows_any_order_and_filter() -> None:
    make_actions(30)
    for ordered in (
        Action.objects.order_by("verb", "timestamp", "id"),
        Action.objects.filter(public=True).order_by("-object_repr", "-timestamp", "-id"),
        Action.objects.none(),
    ):
        assert b"".join(export.csv_chunks(ordered, staff=True, chunk_size=8)) == old_export(ordered, True)


@pytest.mark.django_db
def test_isoformat_is_what_django_loads() -> None:
    make_actions(len(STAMPS) * 2)
    ordered = Action.objects.order_by("id")
    expected = [stamp.isoformat() for stamp in ordered.values_list("timestamp", flat=True)]

    (columns,) = csvexport.fetch_columns(
        ordered, ["timestamp", "verb"], chunk_size=100, isoformat={"timestamp"}
    )

    assert list(columns[0]) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    "stored",
    [
        "2024-01-02T03:04:05",
        "2024-01-02 03:04:05+02:00",
        "2024-01-02 03:04:05.5",
        "2024-01-02 03:04:05.000000",
        "2024-01-02 03:04",
    ],
)
def test_datetimes_not_written_by_django_load_as_django_loads_them(stored: str) -> None:
    # SQLite keeps the text as it is; PostgreSQL parses it into a timestamp.
    make_actions(3)
    table = Action._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE {table} SET "timestamp" = %s WHERE id = (SELECT MIN(id) FROM {table})', [stored]
        )
    ordered = Action.objects.order_by("id")
    expected = [stamp.isoformat() for stamp in ordered.values_list("timestamp", flat=True)]

    (columns,) = csvexport.fetch_columns(ordered, ["timestamp"], isoformat={"timestamp"})

    assert list(columns[0]) == expected


@pytest.mark.django_db
def test_isoformat_column_keeps_none_and_reads_any_datetime() -> None:
    stamps = [datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2024, 1, 2, 3, 4, 5, 60)]
    assert csvexport._isoformat_all(stamps) == [stamp.isoformat() for stamp in stamps]
    assert csvexport._isoformat_all([*stamps, None]) == [*(stamp.isoformat() for stamp in stamps), None]

    column = csvexport._IsoColumn("timestamp", connection)
    if column.kind == "sqlite":
        texts = ["2024-01-02 03:04:05", None, "2024-01-02 03:04:05.000100"]
        assert column(texts) == ["2024-01-02T03:04:05+00:00", None, "2024-01-02T03:04:05.000100+00:00"]
    elif column.kind == "postgresql":
        texts = ["2024-01-02T03:04:05.000000", None, "2024-01-02T03:04:05.000100"]
        assert column(texts) == ["2024-01-02T03:04:05+00:00", None, "2024-01-02T03:04:05.000100+00:00"]


@pytest.mark.django_db
def test_formatters_run_once_per_distinct_value() -> None:
    make_actions(40)
    calls = []

    def describe(value: Any) -> str:
        calls.append(value)
        return describe_changes(value)

    ordered = Action.objects.order_by("id")
    (columns,) = csvexport.fetch_columns(ordered, ["changes", "ip"], formatters={"changes": describe})

    assert list(columns[0]) == [
        describe_changes(value) for value in ordered.values_list("changes", flat=True)
    ]
    assert len(calls) == len(CHANGES)
    assert list(columns[1]) == list(ordered.values_list("ip", flat=True))


@pytest.mark.django_db
def test_response_under_wsgi() -> None:
    make_actions(10)
    request = RequestFactory().get("/feed/export.csv")
    ordered = Action.objects.order_by("-timestamp", "-id")

    response = export.csv_response(request, ordered, staff=False, filename="feed-x.csv", chunk_size=3)

    assert not response.is_async
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="feed-x.csv"'
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert b"".join(response.streaming_content) == old_export(ordered, False)
    response.close()


@pytest.mark.django_db(transaction=True)
def test_response_under_asgi_closes_the_connection() -> None:
    make_actions(10)
    ordered = Action.objects.order_by("-timestamp", "-id")
    expected = old_export(ordered, True)
    request = AsyncRequestFactory().get("/feed/export.csv")
    response = export.csv_response(request, ordered, staff=True, filename="feed-x.csv", chunk_size=3)
    assert response.is_async

    async def read() -> list[bytes]:
        return [chunk async for chunk in response.streaming_content]

    chunks = async_to_sync(read)()

    assert b"".join(chunks) == expected
    assert len(chunks) == 1 + 4  # the header, then 3 + 3 + 3 + 1 rows


@pytest.mark.django_db(transaction=True)  # close_old_connections() looks at the thread's connection
def test_iterate_in_thread_closes_the_iterator_when_the_reader_stops() -> None:
    steps = []

    def chunks() -> Any:
        try:
            for number in range(10):
                steps.append(number)
                yield b"x"
        finally:
            steps.append("closed")

    async def read_two() -> None:
        stream = csvexport.iterate_in_thread(chunks())
        assert await anext(stream) == b"x"
        assert await anext(stream) == b"x"
        await stream.aclose()

    async_to_sync(read_two)()

    assert steps == [0, 1, "closed"]
