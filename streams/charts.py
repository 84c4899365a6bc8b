"""A table's filtered actions over time: one aggregate query, drawn as server-side SVG.

Per hour over the last day (or any window up to two days), per day over
longer ones (at most ``MAX_DAYS``). Buckets are UTC hours and days, counted
in the database on the timestamp index the table's own filters use: on
SQLite by the stored text's prefix (``YYYY-MM-DD HH``), which needs no
function per row; elsewhere with ``Trunc``. The page loads the figure
after itself (htmx), so a page's own queries stay as they were, and
``live.js`` grows its bars as live rows arrive.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db import connections, router
from django.db.models import Count
from django.db.models.functions import Substr, Trunc
from django.utils import dateformat, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

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
    """Counts of the query's actions per bin of its window: one query, grouped in the database."""
    start, end, unit = window(query.since, query.until, now)
    using = using or router.db_for_read(Action)
    rows = query.apply(Action.objects.using(using).filter(timestamp__gte=start, timestamp__lt=end))
    counts: dict[datetime.datetime, int] = {}
    if connections[using].vendor == "sqlite":
        # Stored as 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC: the bucket is a prefix of the text.
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
    step = HOUR if unit == "hour" else DAY
    bins = []
    at = start
    while at < end:
        bins.append(Bin(at, counts.get(at, 0)))
        at += step
    return Chart(unit, bins)


def svg(name: str, drawn: Chart) -> SafeString:
    """The figure's content: an SVG bar per bin, labelled, and a caption; ``live.js`` grows it."""
    peak = max((b.count for b in drawn.bins), default=0)
    n = max(len(drawn.bins), 1)
    slot = WIDTH / n
    plot = HEIGHT - TOP - BOTTOM

    def bar(index: int, item: Bin) -> tuple[Any, ...]:
        height = 0 if not peak else plot * item.count / peak
        end = item.start + drawn.step
        label = f"{_label(item.start, drawn.unit, long=True)}: {item.count}"
        return (
            f"{index * slot + slot * 0.1:.1f}",
            f"{TOP + plot - height:.1f}",
            f"{slot * 0.8:.1f}",
            f"{height:.1f}",
            _iso(item.start),
            _iso(end),
            item.count,
            label,
        )

    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" data-start="{}" data-end="{}" data-count="{}">'
        "<title>{}</title></rect>",
        (bar(i, item) for i, item in enumerate(drawn.bins)),
    )
    ticks = sorted({0, n // 2, n - 1}) if drawn.bins else []
    # Labels in HTML under the drawing, which stretches to the page's width (text in it would too).
    axis = format_html_join(
        "", "<span>{}</span>", ((_label(drawn.bins[i].start, drawn.unit),) for i in ticks)
    )
    per = "per hour over" if drawn.unit == "hour" else "per day over"
    span = f"{len(drawn.bins)} {drawn.unit}{'s' if len(drawn.bins) != 1 else ''}"
    caption = format_html(
        '<figcaption><span class="chart-total">{}</span> {} {} {}; the busiest {} had '
        '<span class="chart-peak">{}</span>.</figcaption>',
        drawn.total,
        "action" if drawn.total == 1 else "actions",
        per,
        "the last day" if drawn.unit == "hour" and len(drawn.bins) == 24 else span,
        drawn.unit,
        peak,
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" preserveAspectRatio="none" role="img" aria-label="{}" '
        'data-unit="{}" data-peak="{}" data-plot="{}" data-top="{}">{}<line x1="0" x2="{}" y1="{}" y2="{}">'
        '</line></svg><div class="chart-axis" aria-hidden="true">{}</div>{}',
        WIDTH,
        HEIGHT,
        f"{name}: actions {per} {span}",
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


def _label(at: datetime.datetime, unit: str, *, long: bool = False) -> str:
    local = timezone.localtime(at)
    if unit == "hour":
        return dateformat.format(local, "M j, H:i" if long else "H:i")
    return dateformat.format(local, "D M j, Y" if long else "M j")


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
