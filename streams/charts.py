"""A table's filtered actions over time: one aggregate query, drawn as server-side SVG.

Per hour over the last day (or any window up to two days), per day over
longer ones (at most ``MAX_DAYS``). Buckets are UTC hours and days, each
counted on a range of the index the table's own filters use, or, for whole
days under broad filters, read from the counts kept per day (``chart``).
The page loads the figure after itself (htmx), so a page's own queries
stay as they were, and ``live.js`` grows its bars as live rows arrive.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from html import escape
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import Count
from django.db.models.functions import Substr, Trunc
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from streams import rollup
from streams.models import Action
from streams.query import ActionQuery

UTC = datetime.UTC
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
MAX_HOURLY = datetime.timedelta(hours=48)
MAX_DAYS = 366
# The drawing: a viewBox the page scales to its width.
WIDTH, HEIGHT, TOP, BOTTOM = 720, 100, 4, 1


@dataclass(frozen=True)
class Bin:
    start: datetime.datetime
    count: int


@dataclass(frozen=True)
class Chart:
    unit: str  # "hour" or "day"
    bins: list[Bin]

    @property
    def step(self) -> datetime.timedelta:
        return HOUR if self.unit == "hour" else DAY

    @property
    def total(self) -> int:
        return sum(b.count for b in self.bins)


def window(
    since: datetime.datetime | None, until: datetime.datetime | None, now: datetime.datetime | None = None
) -> tuple[datetime.datetime, datetime.datetime, str]:
    """The span a chart covers (start inclusive, end exclusive, on whole UTC hours or days) and its unit."""
    now = (now or timezone.now()).astimezone(UTC)
    end = until.astimezone(UTC) if until is not None else _ceil(now, HOUR)
    start = since.astimezone(UTC) if since is not None else end - DAY
    if end - start <= MAX_HOURLY:
        return _floor(start, HOUR), _ceil(end, HOUR), "hour"
    end = _ceil(end, DAY)
    start = max(_floor(start, DAY), end - MAX_DAYS * DAY)
    return start, end, "day"


def chart(query: ActionQuery, *, now: datetime.datetime | None = None, using: str | None = None) -> Chart:
    """Counts of the query's actions per bin of its window, in one statement.

    By day, with only broad filters (verbs, visibility, kinds: ``rollup.answers``),
    whole days are read from the counts kept per day (``streams.rollup``):
    a year is 366 days, not a million actions. Otherwise the actions are
    counted (``_counts``): with a selective filter (one person, a text) the
    few rows are read once and grouped (``_grouped``; also, on PostgreSQL,
    for any filter: ``_count_per_bin``); else one scalar subquery per bin,
    each counting a range of an index the table's filters already use
    (``(public, timestamp, id)``, ``(verb, timestamp, id)``, ...) without
    reading the rows.
    """
    start, end, unit = window(query.since, query.until, now)
    step = HOUR if unit == "hour" else DAY
    starts = []
    at = start
    while at < end:
        starts.append(at)
        at += step
    using = using or router.db_for_read(Action)
    if unit == "day" and rollup.answers(query):
        # Whole days from the counts kept per day; a day the filters cut (a since or until
        # inside it) from its actions.
        whole = [
            b
            for b in starts
            if (query.since is None or b >= query.since) and (query.until is None or b + DAY <= query.until)
        ]
        counted = rollup.counts(query, [b.date() for b in whole], using) if whole else {}
        if counted is not None:
            bins = {b: Bin(b, counted[b.date()]) for b in whole}
            for edge in starts:
                if edge not in bins:
                    bins[edge] = _counts(query, [edge], step, unit, using)[0]
            return Chart(unit, [bins[b] for b in starts])
    return Chart(unit, _counts(query, starts, step, unit, using))


def _counts(
    query: ActionQuery, starts: list[datetime.datetime], step: datetime.timedelta, unit: str, using: str
) -> list[Bin]:
    """The query's actions in each of ``starts``' bins, counted from the actions, in one statement."""
    connection = connections[using]
    if not _count_per_bin(query, connection.vendor):
        return _grouped(query, starts, step, unit, using)
    # The table's own query for one bin, compiled once with two stand-in bounds.
    low, high = SENTINELS
    one_bin = query.apply(Action.objects.using(using).filter(timestamp__gte=low, timestamp__lt=high))
    try:
        sql, params = one_bin.order_by().values("id").query.sql_with_params()
    except EmptyResultSet:  # nothing can match (an empty choice of verbs): no query at all
        return [Bin(b, 0) for b in starts]
    adapted = {
        connection.ops.adapt_datetimefield_value(low): 0,
        connection.ops.adapt_datetimefield_value(high): 1,
    }
    slots = [(i, adapted[p]) for i, p in enumerate(params) if _hashable(p) and p in adapted]
    if len(slots) != 2:  # the bounds could not be told apart from the other values: group instead
        return _grouped(query, starts, step, unit, using)
    columns, values = [], []
    for bin_start in starts:
        bounds = (
            connection.ops.adapt_datetimefield_value(bin_start),
            connection.ops.adapt_datetimefield_value(bin_start + step),
        )
        bound = list(params)
        for index, which in slots:
            bound[index] = bounds[which]
        columns.append(f"(SELECT COUNT(*) FROM ({sql}) bin)")
        values.extend(bound)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(columns), values)
        counts = list(cursor.fetchone())
    return [Bin(b, int(n)) for b, n in zip(starts, counts, strict=True)]


def _count_per_bin(query: ActionQuery, vendor: str) -> bool:
    """Whether counting each bin on an index range beats reading the window once and grouping.

    Not with filters that leave few rows (one person, a text, a request, an
    owner): each probe would search for the same few rows again. On
    PostgreSQL, only without any filter but time: there, per-bin counts of
    a filtered query visit the heap for every row (measured in bench.chart:
    a month of the reader's feed 170-270 ms per bin, 80-120 ms grouped; the
    whole unfiltered year 280-310 ms per bin, 510 ms grouped). On SQLite
    they win in every other case.
    """
    if (
        query.actor
        or query.text
        or query.request_id
        or query.owner_id is not None
        or query.followed_by is not None
    ):
        return False
    if vendor == "sqlite":
        return True
    return (
        query.verbs is None
        and not query.public_only
        and query.object_type_id is None
        and query.target_type_id is None
    )


def _grouped(
    query: ActionQuery, starts: list[datetime.datetime], step: datetime.timedelta, unit: str, using: str
) -> list[Bin]:
    """The window's rows read once and grouped by bucket in the database: on SQLite by a prefix of
    the stored UTC text ('YYYY-MM-DD HH'), no function call per row; elsewhere with ``Trunc``."""
    end = starts[-1] + step
    rows = query.apply(Action.objects.using(using).filter(timestamp__gte=starts[0], timestamp__lt=end))
    counts: dict[datetime.datetime, int] = {}
    if connections[using].vendor == "sqlite":
        length = 13 if unit == "hour" else 10
        grouped = (
            rows.annotate(bucket=Substr("timestamp", 1, length)).values("bucket").annotate(n=Count("id"))
        )
        for row in grouped.order_by():
            text = row["bucket"] + (":00:00" if unit == "hour" else " 00:00:00")
            counts[datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)] = row["n"]
    else:
        grouped = (
            rows.annotate(bucket=Trunc("timestamp", unit, tzinfo=UTC))
            .values("bucket")
            .annotate(n=Count("id"))
        )
        for row in grouped.order_by():
            counts[row["bucket"].astimezone(UTC)] = row["n"]
    return [Bin(at, counts.get(at, 0)) for at in starts]


# Two instants no action has, to find where a compiled query holds its time bounds.
SENTINELS = (
    datetime.datetime(1901, 2, 3, 4, 5, 6, 789012, tzinfo=UTC),
    datetime.datetime(1902, 3, 4, 5, 6, 7, 890123, tzinfo=UTC),
)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def svg(name: str, drawn: Chart) -> SafeString:
    """The figure's content: an SVG bar per bin, labelled, and a caption; ``live.js`` grows it."""
    peak = max((b.count for b in drawn.bins), default=0)
    n = max(len(drawn.bins), 1)
    slot = WIDTH / n
    plot = HEIGHT - TOP - BOTTOM

    # Plain formatting (every value a number, an ISO time or escaped text): a year is 366 bars.
    zone = timezone.get_current_timezone()
    parts = []
    for index, item in enumerate(drawn.bins):
        height = 0 if not peak else plot * item.count / peak
        title = escape(f"{_label(item.start, drawn.unit, long=True, zone=zone)}: {item.count}")
        parts.append(
            f'<rect x="{index * slot + slot * 0.1:.1f}" y="{TOP + plot - height:.1f}" width="{slot * 0.8:.1f}" '
            f'height="{height:.1f}" data-start="{_iso(item.start)}" data-end="{_iso(item.start + drawn.step)}" '
            f'data-count="{int(item.count)}"><title>{title}</title></rect>'
        )
    bars = mark_safe("".join(parts))
    ticks = sorted({0, n // 2, n - 1}) if drawn.bins else []
    # Labels in HTML under the drawing, which stretches to the page's width (text in it would too).
    axis = format_html_join(
        "", "<span>{}</span>", ((_label(drawn.bins[i].start, drawn.unit),) for i in ticks)
    )
    span = f"{len(drawn.bins)} {drawn.unit}{'s' if len(drawn.bins) != 1 else ''}"
    over = (
        f"over {'the last day' if drawn.unit == 'hour' and len(drawn.bins) == 24 else span}, by {drawn.unit}"
    )
    # The numbers stand alone (no "1 action" / "2 actions"): live.js counts them up.
    # "The busiest hour had 0" says nothing: an empty chart leaves it out (live.js adds it back).
    busiest = (
        format_html('; the busiest {} had <span class="chart-peak">{}</span>', drawn.unit, peak)
        if peak
        else ""
    )
    caption = format_html(
        '<figcaption>Actions {}: <span class="chart-total">{}</span>{}.</figcaption>',
        over,
        drawn.total,
        busiest,
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" preserveAspectRatio="none" role="img" aria-label="{}" '
        'data-unit="{}" data-peak="{}" data-plot="{}" data-top="{}">{}<line x1="0" x2="{}" y1="{}" y2="{}">'
        '</line></svg><div class="chart-axis" aria-hidden="true">{}</div>{}',
        WIDTH,
        HEIGHT,
        f"{name}: actions {over}",
        drawn.unit,
        peak,
        plot,
        TOP,
        bars,
        WIDTH,
        TOP + plot + 0.5,
        TOP + plot + 0.5,
        axis,
        caption,
    )


def _label(at: datetime.datetime, unit: str, *, long: bool = False, zone: Any = None) -> str:
    """A bin as the site's zone reads it ("Dec 2, 14:00", "Wed Dec 2, 2026")."""
    local = at.astimezone(zone or timezone.get_current_timezone())
    if unit == "hour":
        return f"{local:%b} {local.day}, {local:%H:%M}" if long else f"{local:%H:%M}"
    return f"{local:%a %b} {local.day}, {local.year}" if long else f"{local:%b} {local.day}"


def _iso(at: datetime.datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _floor(at: datetime.datetime, step: datetime.timedelta) -> datetime.datetime:
    at = at.astimezone(UTC)
    if step == HOUR:
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def _ceil(at: datetime.datetime, step: datetime.timedelta) -> datetime.datetime:
    floored = _floor(at, step)
    return floored if floored == at.astimezone(UTC) else floored + step
