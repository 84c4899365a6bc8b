"""What keeping per-day counts costs (``streams.rollup``): the catch-up a chart pays, and deletes.

No save pays for the counts; two things do, and this measures them beside
what they go with, on the database it is given (``bench.table_pages``'
million actions, for example, with ``DATABASE_URL``; else a throwaway one
filled with ``--fill`` actions):

- A chart that meets more than ``rollup.TAIL`` uncounted actions counts
  them in first: ``catch_up()`` of ``--n`` new actions, beside the INSERT
  that wrote them.
- Deleting counted actions (``streams_prune``, an admin's delete) fires the
  triggers that take them out of their days: the same DELETE of the
  ``--n`` oldest actions with and without the triggers.

Each round runs in a transaction that is rolled back, so the data is left
as it was; variants interleaved, medians and spread over ``--rounds``.
"""

from __future__ import annotations

import argparse
import datetime
import time
from typing import Any

from bench import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="actions per operation (default 5000)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds (default 7)")
    parser.add_argument("--fill", type=int, default=100_000, help="actions to make in a throwaway database")
    args = parser.parse_args()
    reproduce = common.command("bench.rollup", {"n": args.n, "rounds": args.rounds})
    common.setup()

    from django.db import connection, transaction

    from streams import rollup
    from streams.models import Action

    if not Action.objects.exists():
        make(args.fill)
    while rollup.catch_up(connection):
        pass
    total = Action.objects.count()
    oldest = list(Action.objects.order_by("id").values_list("id", flat=True)[: args.n])

    def rolled_back(body: Any) -> Any:
        """What ``body()`` returns, run inside a transaction that is rolled back after."""
        with transaction.atomic():
            result = body()
            transaction.set_rollback(True)
        return result

    def insert_then_catch_up() -> tuple[float, float]:
        started = time.perf_counter()
        add(args.n)
        inserted = time.perf_counter() - started
        started = time.perf_counter()
        counted = rollup.catch_up(connection)
        caught = time.perf_counter() - started
        assert counted == args.n, counted
        return inserted, caught

    def delete(triggers: bool) -> float:
        if not triggers:
            rollup.uninstall(connection)  # transactional DDL: back at the rollback
        started = time.perf_counter()
        deleted, _ = Action.objects.filter(id__in=oldest).delete()
        elapsed = time.perf_counter() - started
        assert deleted == len(oldest)
        return elapsed

    results: dict[str, list[float]] = {
        "INSERT of the new actions (for scale)": [],
        "catch_up() of them": [],
        "DELETE, no triggers": [],
        "DELETE, with the triggers": [],
    }
    for round_ in range(args.rounds + 1):  # round 0 warms caches
        inserted, caught = rolled_back(insert_then_catch_up)
        without = rolled_back(lambda: delete(False))
        with_triggers = rolled_back(lambda: delete(True))
        if round_ == 0:
            continue
        results["INSERT of the new actions (for scale)"].append(inserted)
        results["catch_up() of them"].append(caught)
        results["DELETE, no triggers"].append(without)
        results["DELETE, with the triggers"].append(with_triggers)

    rows = []
    for name, values in results.items():
        ms = [v * 1000 for v in values]
        rows.append(
            [
                name,
                f"{common.median(ms):.1f}",
                f"{min(ms):.1f}–{max(ms):.1f}",
                f"{common.median(ms) * 1000 / args.n:.1f}",
            ]
        )
    ratio = common.median(results["DELETE, with the triggers"]) / common.median(
        results["DELETE, no triggers"]
    )
    print(
        f"bench.rollup: {args.n:,} actions per operation, {args.rounds} rounds, on {total:,} ({common.environment()})"
    )
    print(common.table(["operation", "median ms", "spread ms", "µs per action"], rows))
    print(f"DELETE with the triggers / without: {ratio:.2f}×")
    print(f"Reproduce: {reproduce}")


def add(count: int) -> None:
    """``count`` actions now, as a bulk would write them."""
    from django.utils import timezone

    from streams.models import Action

    now = timezone.now()
    Action.objects.bulk_create(
        Action(
            timestamp=now - datetime.timedelta(seconds=i),
            actor_name=f"reader{i % 97}",
            verb=("read", "commented", "logged in")[i % 3],
            public=i % 3 != 2,
            object_repr="a story",
            search_text=f"reader{i % 97} read a story",
        )
        for i in range(count)
    )


def make(count: int) -> None:
    from django.db import transaction

    with transaction.atomic():
        for start in range(0, count, 10_000):
            add(min(10_000, count - start))


if __name__ == "__main__":
    main()
