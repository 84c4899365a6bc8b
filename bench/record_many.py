"""How fast ``record_many()`` writes a bulk: 10,000 actions in one call, as a bulk route does.

Each call records ``--rows`` actions in its own transaction, the way the
hub's ``story-reads-bulk`` route does for a ``bulk_create`` of reads: a
real actor, object and owner per row (drawn from a few hundred users and
stories, so the per-batch caches see repeats and misses alike), a
timestamp each, one action in ten with a small diff. The time covers the
whole call and its commit: building the rows, the INSERT, on SQLite the
search index taking the bulk (``streams.search_index``), and the
announcement. For scale, in turns with it: the same rows through Django's
``bulk_create`` of Action instances (what the engine did before its JSON
INSERT), and the floor, the engine's INSERT statement alone of rows built
beforehand (what the table and its indexes cost, before any Python). Calls alternate, ``--rounds`` of each; medians and spread.
"""

from __future__ import annotations

import argparse
import datetime
import random
import statistics
import time

from bench import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="actions per call (default 10000)")
    parser.add_argument("--rounds", type=int, default=7, help="calls of each kind (default 7)")
    args = parser.parse_args()
    if args.rows < 1 or args.rounds < 1:
        parser.error("--rows and --rounds must be 1 or more")
    common.setup()

    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction

    from publishing.models import Story
    from streams import current, record_many
    from streams.models import Action
    from streams.recording import _insert_rows, _Rows
    from tests import factories

    rng = random.Random(7)
    User = get_user_model()
    authors = [factories.user(f"author{n}", "author") for n in range(30)]
    readers = list(User.objects.bulk_create(User(username=f"reader{n}") for n in range(300)))
    stories = [factories.story(rng.choice(authors), f"Story number {n}") for n in range(200)]
    story_type = ContentType.objects.get_for_model(Story)
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

    def entries() -> list[dict[str, object]]:
        made = []
        for n in range(args.rows):
            story = rng.choice(stories)
            made.append(
                {
                    "actor": rng.choice(readers),
                    "verb": "read",
                    "object": story,
                    "owner": story.author_id,
                    "timestamp": start + datetime.timedelta(seconds=n),
                    "changes": {"pages": [n % 7, n % 7 + 1]} if n % 10 == 0 else None,
                }
            )
        return made

    def engine() -> None:
        with transaction.atomic():
            record_many(entries_now)

    def instances() -> None:
        with transaction.atomic():
            Action.objects.bulk_create(
                [
                    Action(
                        timestamp=entry["timestamp"],
                        actor=entry["actor"],
                        actor_name=entry["actor"].get_username(),
                        verb=entry["verb"],
                        object_type=story_type,
                        object_id=str(entry["object"].pk),
                        object_repr=str(entry["object"]),
                        owner_id=entry["owner"],
                        changes=entry["changes"],
                        search_text="",
                    )
                    for entry in entries_now
                ],
                batch_size=2000,
            )

    def statement_only() -> None:
        # The floor: the engine's own INSERT of rows built beforehand, and its commit.
        with transaction.atomic():
            _insert_rows(connection, prepared)

    kinds = {
        "record_many()": engine,
        "bulk_create(Action(...))": instances,
        "its INSERT alone (rows built before)": statement_only,
    }
    seconds: dict[str, list[float]] = {name: [] for name in kinds}
    build = _Rows(current())
    entries_now = entries()
    prepared: list[tuple[object, ...]] = []
    engine()  # warm up: content types, statements
    for _ in range(args.rounds):
        for name, call in kinds.items():
            entries_now = entries()  # made outside the timed call
            prepared = [build(**entry) for entry in entries_now]
            began = time.perf_counter()
            call()
            seconds[name].append(time.perf_counter() - began)

    rows = []
    for name, taken in seconds.items():
        rates = sorted(args.rows / t for t in taken)
        rows.append(
            [
                name,
                f"{statistics.median(taken) * 1000:.0f}",
                f"{statistics.median(rates):,.0f}",
                f"{rates[0]:,.0f}–{rates[-1]:,.0f}",
            ]
        )
    print(f"record_many: {args.rows} actions per call, {args.rounds} calls of each; {common.environment()}")
    print()
    print(common.table(["call", "median ms", "actions/s (median)", "actions/s (spread)"], rows))
    print()
    print(f"Reproduce: {common.command('bench.record_many', {'rows': args.rows, 'rounds': args.rounds})}")


if __name__ == "__main__":
    main()
