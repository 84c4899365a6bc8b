"""What the action row itself costs PostgreSQL, with no Python in the way: pgbench, side by side.

Each pgbench transaction is what one business save and its log row send:
BEGIN, an INSERT of an item (title, body, status, count), then the log
row's INSERT, COMMIT; sent as plain SQL (``-M simple``), as Django's
psycopg backend sends it. Variants, in a schema of their own
(``row_floor``), dropped and made again each run:

- bare: the item alone;
- floor: the item and a narrow log row (id, item id, verb, time): the
  floor of ``bench.write_overhead``;
- action row, key only: the item and a whole action row into a copy of
  ``streams_action`` with its primary key and no other index: what the
  row's width costs, were every index deferred off the write path;
- action row, B-trees: the same into a copy with the table's B-tree
  indexes (issue 9's filters and sorts), without the trigram index;
- action row, as shipped: the same into a copy with every index of
  ``streams_action`` (``LIKE ... INCLUDING ALL``).

Rows vary as a bulk of reads does (300 actors, 200,000 objects, 30
owners), not one repeated key. Variants alternate, ``--rounds`` rounds of
``--transactions`` each; reported: median latency and its spread, and the
ratio to the floor per round (median, spread). Then the cost of deferring:
moving rows from the key-only copy into the shipped one in batches of
1,000 (``DELETE ... RETURNING`` into ``INSERT``), per row.

Needs ``DATABASE_URL`` naming a PostgreSQL database of the benchmark's
own, and ``pgbench`` (PATH, or the server's ``pg_config --bindir``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import common

SCHEMA = "row_floor"
VARIABLES = "\\set n random(1, 200000)\n\\set a random(1, 300)\n\\set o random(1, 30)\n"
ITEM = (
    f"INSERT INTO {SCHEMA}.item (title, body, status, count) "
    "VALUES ('Item :n', 'A body of some length for the item, as the bench has.', 'draft', :n) RETURNING id;"
)
COLUMNS = (
    "timestamp, actor_id, actor_name, verb, object_type_id, object_id, object_repr, target_type_id, "
    "target_id, target_repr, owner_id, public, ip, user_agent, changes, search_text, request_id"
)
ACTION = (
    "now(), :a, 'reader:a', 'read', 7, ':n', 'Story number :n', NULL, '', '', :o, true, NULL, '', NULL, "
    "'reader:a read story number :n', NULL"
)
VARIANTS = {
    "bare": "",
    "floor": f"INSERT INTO {SCHEMA}.narrow (item_id, verb, at) VALUES (:n, 'read', now());",
    "action row, key only": f"INSERT INTO {SCHEMA}.keyed ({COLUMNS}) VALUES ({ACTION}) RETURNING id;",
    "action row, B-trees": f"INSERT INTO {SCHEMA}.btrees ({COLUMNS}) VALUES ({ACTION}) RETURNING id;",
    "action row, as shipped": f"INSERT INTO {SCHEMA}.shipped ({COLUMNS}) VALUES ({ACTION}) RETURNING id;",
}


def pgbench() -> str:
    found = shutil.which("pgbench")
    if found:
        return found
    try:
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        bindir = ""
    candidates = [Path(bindir.strip()) / "pgbench"] if bindir.strip() else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True)
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    sys.exit("pgbench not found: install PostgreSQL's client tools, or put pgbench on PATH")


def make_tables(cursor: Any) -> None:
    run = cursor.execute
    run(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    run(f"CREATE SCHEMA {SCHEMA}")
    run(
        f"CREATE TABLE {SCHEMA}.item (id bigserial PRIMARY KEY, title text, body text, status text, count int)"
    )
    run(f"CREATE TABLE {SCHEMA}.narrow (id bigserial PRIMARY KEY, item_id bigint, verb text, at timestamptz)")
    run(f"CREATE TABLE {SCHEMA}.shipped (LIKE public.streams_action INCLUDING ALL)")
    run(f"CREATE TABLE {SCHEMA}.btrees (LIKE public.streams_action INCLUDING ALL)")
    run(
        "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = 'btrees' "
        "AND indexdef LIKE '%%USING gin%%'",
        [SCHEMA],
    )
    for (name,) in cursor.fetchall():
        run(f"DROP INDEX {SCHEMA}.{name}")
    run(f"CREATE TABLE {SCHEMA}.keyed (LIKE public.streams_action INCLUDING DEFAULTS INCLUDING IDENTITY)")
    run(f"ALTER TABLE {SCHEMA}.keyed ADD PRIMARY KEY (id)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds (default 7)")
    parser.add_argument("--transactions", type=int, default=2000, help="per variant and round (default 2000)")
    args = parser.parse_args()
    if args.rounds < 1 or args.transactions < 1:
        parser.error("--rounds and --transactions must be 1 or more")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit(
            "bench.row_floor measures PostgreSQL: give it a database of its own, e.g. "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/signalboard_row_floor"
        )
    binary = pgbench()
    common.ensure_postgresql_database(os.environ["DATABASE_URL"])
    common.setup()
    from django.db import connection

    with connection.cursor() as cursor:
        make_tables(cursor)
    settings = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": settings.get("PASSWORD") or ""}
    target = ["-h", settings.get("HOST") or "localhost", "-p", str(settings.get("PORT") or 5432)]
    target += ["-U", settings.get("USER") or "postgres", settings["NAME"]]

    latencies: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="row-floor-") as scripts:
        files = {}
        for index, (name, statement) in enumerate(VARIANTS.items()):
            path = Path(scripts) / f"{index}.sql"
            path.write_text(f"{VARIABLES}BEGIN;\n{ITEM}\n{statement}\nCOMMIT;\n")
            files[name] = path
        for round_ in range(args.rounds):
            print(f"round {round_ + 1} of {args.rounds}", file=sys.stderr, flush=True)
            names = list(VARIANTS)
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                out = subprocess.run(
                    [
                        binary,
                        "-n",
                        "-M",
                        "simple",
                        "-t",
                        str(args.transactions),
                        "-f",
                        str(files[name]),
                        *target,
                    ],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=True,
                ).stdout
                line = next(line for line in out.splitlines() if line.startswith("latency average"))
                latencies[name].append(float(line.split()[3]) * 1000)  # ms to µs

    # Deferring the indexes moves their cost, it does not remove it: move rows in batches.
    moved = 0
    started = time.perf_counter()
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"WITH moved AS (DELETE FROM {SCHEMA}.keyed WHERE id IN "
                f"(SELECT id FROM {SCHEMA}.keyed ORDER BY id LIMIT 1000) RETURNING *) "
                # Ids shifted past the shipped copy's own (both count from 1).
                f"INSERT INTO {SCHEMA}.shipped (id, {COLUMNS}) SELECT id + 1000000000, {COLUMNS} FROM moved"
            )
            if not cursor.rowcount:
                break
            moved += cursor.rowcount
    move_us = (time.perf_counter() - started) * 1e6 / max(moved, 1)

    floor = latencies["floor"]
    rows = []
    for name, values in latencies.items():
        ratios = [value / base for value, base in zip(values, floor, strict=True)]
        rows.append(
            [
                name,
                f"{statistics.median(values):.0f}",
                f"{min(values):.0f}–{max(values):.0f}",
                f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f})",
            ]
        )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
    print(
        f"row floor: pgbench -M simple, {args.transactions} transactions per variant and round, "
        f"{args.rounds} rounds alternated; {common.environment()}"
    )
    print()
    print(common.table(["variant", "latency µs (median)", "spread", "vs floor (per round)"], rows))
    print()
    print(
        f"Moving the key-only copy's {moved:,} rows into the shipped one, 1,000 a statement: "
        f"{move_us:.0f} µs a row (the indexes' work, deferred)"
    )
    print()
    print(f"Reproduce: {common.command('bench.row_floor', vars(args))}")


if __name__ == "__main__":
    main()
