"""Page latency of the feed and reads tables, and the full CSV export, at scale.

Seeds ``--actions`` rows straight into ``streams_action`` with ``bulk_create``
(no routes run), ids and timestamps in the same order, then times requests
through ``django.test.Client`` logged in with ``force_login``: wall time of the
whole request in the process (middleware, query, template), median of
``RUNS`` runs after ``WARMUPS`` warm-ups. The CSV export is streamed to the
end; its peak memory is measured in a separate run under ``tracemalloc``.
On PostgreSQL the table is analyzed after seeding, as autovacuum soon would.
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc
from datetime import timedelta
from typing import Any

from bench import common

WARMUPS = 3
RUNS = 20
CSV_RUNS = 3
BATCH = 5000
ACTORS = ("chloe", "chidi", "carmen", "colm", "cyrus", "cleo", "cato", "cora", "rae", "ravi")
# Mostly reads, as on the demo site; every verb present.
VERBS = ("read", "commented", "published")
VERB_WEIGHTS = (0.75, 0.2, 0.05)


def seed(actions: int, stories: list[Any]) -> None:
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction
    from django.utils import timezone

    from streams.models import Action

    story_type = ContentType.objects.get_for_model(stories[0])
    rng = random.Random(4)
    start = timezone.now() - timedelta(seconds=actions + 60)
    with transaction.atomic():
        for first in range(0, actions, BATCH):
            batch = []
            for index in range(first, min(first + BATCH, actions)):
                story = rng.choice(stories)
                verb = rng.choices(VERBS, VERB_WEIGHTS)[0]
                batch.append(
                    Action(
                        timestamp=start + timedelta(seconds=index),
                        actor_name=rng.choice(ACTORS),
                        verb=verb,
                        object_type=story_type,
                        object_id=str(story.pk),
                        object_repr=story.title,
                        # As the hub's routes: reads and comments are for the story's author.
                        owner_id=None if verb == "published" else story.author_id,
                        public=True,
                    )
                )
            Action.objects.bulk_create(batch, batch_size=BATCH)
    if connection.vendor == "postgresql":
        # Autovacuum would within a minute; without statistics the planner guesses.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE streams_action")


def page_case(client: Any, url: str) -> tuple[float, int]:
    """Median wall milliseconds of GET url, and the queries one GET makes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(WARMUPS):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return common.median(times), len(captured)


def stream(client: Any, url: str) -> tuple[int, int]:
    """GET a streaming url and read it to the end: (lines, bytes)."""
    response = client.get(url)
    assert response.status_code == 200 and response.streaming, (url, response.status_code)
    lines = size = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
    response.close()
    return lines, size


def csv_case(client: Any, url: str) -> tuple[float, int, int, float]:
    """Median ms to stream the CSV, its queries, data lines and peak MiB while streaming."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    stream(client, url)  # warm-up
    times = []
    for _ in range(CSV_RUNS):
        start = time.perf_counter()
        lines, _ = stream(client, url)
        times.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as captured:
        stream(client, url)
    queries = len(captured)  # now: the next request clears the connection's query log
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        stream(client, url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return common.median(times), queries, lines - 1, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=100_000, help="actions to seed (default 100000)")
    args = parser.parse_args()
    if args.actions < 1:
        parser.error("--actions must be 1 or more")
    common.setup()

    from django.test import Client

    from streams import disable_recording
    from tests import factories

    staff, author = Client(), Client()
    with disable_recording():  # the seeded rows are the only ones
        admin = factories.user("admin", "staff")
        alice = factories.user("alice", "author")
        bob = factories.user("bob", "author")
        stories = [
            factories.story(writer, f"Story title {number}")
            for number, writer in enumerate((alice, alice, bob, bob), start=1)
        ]
        staff.force_login(admin)
        author.force_login(alice)
    started = time.perf_counter()
    seed(args.actions, stories)
    seeded = time.perf_counter() - started
    cases = [
        ("GET /feed/ (staff)", staff, "/feed/"),
        ("GET /feed/?page=50 (staff)", staff, "/feed/?page=50"),
        ("GET /feed/?verb=commented (staff)", staff, "/feed/?verb=commented"),
        ("GET /feed/?q=title (staff)", staff, "/feed/?q=title"),
        ("GET /feed/?q=nomatch (staff, scans all)", staff, "/feed/?q=nomatch"),
        ("GET /feed/ (author)", author, "/feed/"),
        ("GET /reads/ (author)", author, "/reads/"),
    ]
    rows: list[list[object]] = []
    for name, client, url in cases:
        median_ms, queries = page_case(client, url)
        rows.append([name, f"{median_ms:.1f}", queries, ""])
    csv_ms, csv_queries, csv_rows, peak_mib = csv_case(staff, "/feed/export.csv")
    rows.append(
        [f"GET /feed/export.csv (staff, {csv_rows:,} rows)", f"{csv_ms:.1f}", csv_queries, f"{peak_mib:.1f}"]
    )

    print(
        f"{args.actions:,} actions (seeded in {seeded:.1f} s); pages: median of {RUNS} after {WARMUPS} "
        f"warm-ups; CSV: median of {CSV_RUNS}; {common.environment()}"
    )
    print()
    print(common.table(["case", "median ms", "queries", "peak MiB"], rows))
    print()
    print(f"Reproduce: {common.command('bench.feed_page', {'actions': args.actions})}")


if __name__ == "__main__":
    main()
