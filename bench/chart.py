"""The chart above each table at a million actions: one aggregate query per figure, at most 50 ms.

Runs on ``bench.table_pages``' data (skewed actors, a year of history with an
outage day, staff-only rows; made by it if missing, reused with ``--keep``).
Each case is a real request for a table's figure (``<table>/chart/``), as a
viewer's browser makes it after the page, beside the table page itself with
the same filters (the baseline), interleaved over ``--runs`` rounds; medians
and 95th percentiles, and the aggregate statement's own time. Windows are
anchored at the data's last day, so "the last day" holds rows whenever the
data was made.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from typing import Any
from urllib.parse import urlencode

from bench import common, table_pages

COMMAND_ENV = "BENCH_CHART_COMMAND"


def cases(picks: Any) -> list[tuple[str, str, str, dict[str, str], int]]:
    """(name, viewer, table, filters, tail): ``tail`` actions are added first, uncounted
    (``streams.rollup``), and taken back after the request."""
    end = datetime.datetime.fromisoformat(picks.end).date()
    first = datetime.datetime.fromisoformat(picks.start).date()
    last_day = {"until": end.isoformat()}
    month = {"since": (end - datetime.timedelta(days=29)).isoformat(), "until": end.isoformat()}
    year = {"since": first.isoformat(), "until": end.isoformat()}
    reader, admin = picks.feed_viewer, "admin"
    plain = [
        ("feed, reader, last day by hour", reader, "feed", last_day),
        ("feed, staff, last day by hour", admin, "feed", last_day),
        ("feed, reader, 30 days by day", reader, "feed", month),
        ("feed, staff, a year by day", admin, "feed", year),
        ("busiest actor, last day", reader, "feed", {**last_day, "actor": picks.busiest_actor}),
        ("rare actor, a year", reader, "feed", {**year, "actor": picks.rare_actor}),
        ("verb=read, 30 days", reader, "feed", {**month, "verb": "read"}),
        ("q=quincunx (10 rows), a year", reader, "feed", {**year, "q": "quincunx"}),
        ("q=nowhere-zzqx (none), last day", reader, "feed", {**last_day, "q": "nowhere-zzqx"}),
        ("reads of an author, 30 days", picks.reads_viewer, "reads", month),
        ("the outage day, by hour", admin, "feed", {"since": picks.empty_day, "until": picks.empty_day}),
    ]
    from streams import rollup

    # The worst a long window meets: a tail as long as a chart counts itself before catching up.
    tails = [
        (f"a year by day + {rollup.TAIL:,} uncounted", admin, "feed", year, rollup.TAIL),
        (f"reader 30 days + {rollup.TAIL:,} uncounted", reader, "feed", month, rollup.TAIL),
    ]
    return [(*case, 0) for case in plain] + tails


def add_tail(count: int, end: str) -> None:
    """``count`` actions on the data's last day, above the counted mark (a caller's transaction takes them back)."""
    from streams.models import Action

    last = datetime.datetime.fromisoformat(end)
    Action.objects.bulk_create(
        Action(
            timestamp=last - datetime.timedelta(seconds=i * 7),
            actor_name="tail",
            verb="read",
            object_repr="a tail story",
            search_text="tail read a tail story",
        )
        for i in range(count)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=1_000_000, help="actions (default 1000000)")
    parser.add_argument("--runs", type=int, default=15, help="rounds of every case (default 15)")
    parser.add_argument("--keep", action="store_true", help="reuse bench.table_pages' data")
    args = parser.parse_args()
    reproduce = os.environ.get(COMMAND_ENV) or (
        common.command("bench.chart", {"actions": args.actions, "runs": args.runs}) + " --keep"
    )
    common.setup()

    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from streams import disable_recording

    picks, origin = table_pages.prepare(args.actions, args.keep)
    if origin != "reused":  # measure as a server started on the full table would (see table_pages)
        import subprocess

        connection.close()
        argv = [sys.executable, "-m", "bench.chart", *sys.argv[1:], "--keep"]
        env = {**os.environ, COMMAND_ENV: reproduce}
        sys.exit(subprocess.run(argv, env=env, check=False).returncode)

    from django.core.signals import request_started
    from django.db import reset_queries

    # Django empties the query log when a request starts: keep it, to time the aggregate statement.
    request_started.disconnect(reset_queries)
    chosen = cases(picks)
    clients: dict[str, Client] = {}
    with disable_recording():
        for user in get_user_model().objects.filter(username__in={viewer for _, viewer, *_ in chosen}):
            clients[user.username] = Client(raise_request_exception=True)
            clients[user.username].force_login(user)

    timed: list[float] = []

    def time_aggregates(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if "COUNT(" in sql.upper():
                timed.append(time.perf_counter() - started)

    figures: dict[str, list[float]] = {name: [] for name, *_ in chosen}
    statements: dict[str, list[float]] = {name: [] for name, *_ in chosen}
    pages: dict[str, list[float]] = {name: [] for name, *_ in chosen}
    facts: dict[str, tuple[int, int, int]] = {}
    load_before = os.getloadavg()[0]
    for round_ in range(args.runs + 1):  # round 0 warms caches, as a running server has them
        for name, viewer, table, filters, tail in chosen:
            client = clients[viewer]
            query = urlencode(filters)
            timed.clear()
            with transaction.atomic():
                if tail:
                    add_tail(tail, picks.end)
                with (
                    CaptureQueriesContext(connection) as captured,
                    connection.execute_wrapper(time_aggregates),
                ):
                    started = time.perf_counter()
                    figure = client.get(f"/{table}/chart/?{query}")
                    elapsed = time.perf_counter() - started
                transaction.set_rollback(True)
            assert figure.status_code == 200, (name, figure.status_code)
            started = time.perf_counter()
            page = client.get(f"/{table}/?{query}")
            page_elapsed = time.perf_counter() - started
            assert page.status_code == 200, (name, page.status_code)
            if round_ == 0:
                html = figure.content.decode()
                total = int(html.split('class="chart-total">', 1)[1].split("<", 1)[0])
                facts[name] = (html.count("<rect "), total, len(captured))
                continue
            figures[name].append(elapsed * 1000)
            pages[name].append(page_elapsed * 1000)
            statements[name].append(sum(timed) * 1000)
    load_after = os.getloadavg()[0]

    rows = []
    for name, *_ in chosen:
        bins, total, queries = facts[name]
        chart_p50 = common.median(figures[name])
        page_p50 = common.median(pages[name])
        rows.append(
            [
                name,
                bins,
                f"{total:,}",
                queries,
                f"{common.median(statements[name]):.1f}",
                f"{chart_p50:.1f}",
                f"{common.percentile(figures[name], 0.95):.1f}",
                f"{page_p50:.1f}",
                f"{chart_p50 / page_p50:.2f}",
                "yes" if common.median(statements[name]) <= 50 else "NO",
            ]
        )
    print(
        f"bench.chart on {args.actions:,} actions ({common.environment()}); load {load_before:.1f} → {load_after:.1f}"
    )
    print(
        common.table(
            [
                "case",
                "bins",
                "actions",
                "queries",
                "SQL p50 ms",
                "figure p50 ms",
                "figure p95 ms",
                "page p50 ms",
                "figure/page",
                "SQL ≤ 50 ms",
            ],
            rows,
        )
    )
    print(f"Reproduce: {reproduce}")


if __name__ == "__main__":
    main()
