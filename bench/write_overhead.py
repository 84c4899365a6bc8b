"""What recording one audit or activity row costs a business save: Signalboard beside its competitors.

Runs in its own virtualenv and project (``make bench-overhead`` builds
``.venv-bench`` from bench/requirements.txt; the project is
``bench.overhead``). Every variant saves its own copy of one item (title,
body, status, count), on a table of the same shape:

- bare: the save alone, nothing attached (the baseline);
- floor: the save and one raw INSERT (``connection.cursor().execute``)
  into a narrow log table (id, item id, verb, time), in the same
  transaction: about the least a log row can cost;
- floor, action table: the save and one raw INSERT of a whole action row
  into Signalboard's own table, ``streams_action``, with its indexes (and
  SQLite's search-index trigger), values computed beforehand: what the
  engine's row costs the database, before any engine code runs;
- signalboard: two routes through the engine's public API
  (``bench.overhead.routes``): ``created`` (``when_created=True``) and
  ``updated`` (``when_changed`` on the four tracked fields, recording the
  diff from ``streams.track``);
- django-activity-stream: a post_save receiver calling
  ``actstream.action.send(user, verb=..., action_object=item)``;
- django-auditlog: ``auditlog.register(ALItem)`` (an update also reads the
  old row back to diff it);
- django-simple-history: ``HistoricalRecords()`` on its copy;
- django-pghistory (PostgreSQL only; skipped on SQLite): ``@pghistory.track()``,
  whose triggers write the event row inside the item's own INSERT or UPDATE.

Who acts: one user, ``bench``, set once for the whole run the way each
tool takes an actor outside a request: ``streams.acting_as(user)``,
auditlog's ``set_actor(user)``, simple-history's ``_history_user`` on the
instance, activity-stream's explicit actor. pghistory records no actor:
its way, ``pghistory.context()``, would add a context row to each write.

Operations: **create** builds the item and saves it with
``force_insert=True`` (what ``objects.create()`` does); **update** changes
title and status of one instance per variant, loaded once, between two
values, so every save is a real change each tool sees as a diff, and saves
it. Modes: **atomic**, each operation in its own ``transaction.atomic()``
(its BEGIN and COMMIT are timed with it), and **autocommit**, none (each
statement commits alone, as in a view without ``ATOMIC_REQUESTS``; a
tool's row is then a transaction of its own).

Method: 200 warm-up operations of each variant and operation (content-type
caches, prepared plans); then ``--rounds`` rounds, in each of which the
variants take turns in chunks of 50 operations (the order rotating each
chunk, creates and updates alike) until each has done ``--n`` of each
operation, so drift on a shared machine hits every variant alike. Each
operation is timed alone (``time.perf_counter_ns``). Per round, variant and
operation the median time is taken; its ratio to the bare variant's median
in the same round is the variant's ratio for that round. Reported: the
median of the per-round ratios, with their spread (lowest-highest round),
and the median time in µs of all the timed operations. "Signalboard vs
floor" divides Signalboard's ratio by the floor's.

Statements: one more operation of each, under ``CaptureQueriesContext``
(opened inside the atomic block in atomic mode, so the block's own BEGIN
and COMMIT are left out, as Django leaves them out of its log anyway).
"2 (+2 savepoint)" is 2 statements plus 2 SAVEPOINT/RELEASE SAVEPOINT. A
trigger's INSERT is no statement of the client's.

Tables: the benchmark's tables (items and every tool's log) are emptied at
the start of a run, so a PostgreSQL database kept between runs (e.g.
``signalboard_overhead``, made when missing) starts each run alike, and
never between rounds: at the default size each variant adds some 5,200
items and 10,400 log rows per mode, too few for an index insert to cost
measurably more at the end than at the start. At the end,
each tool's log must hold exactly one row per save, or the run fails (a
failing route is logged and skipped by the engine, and would look cheap).

The database: ``DATABASE_URL``, a database of the benchmark's own (it is
emptied: the site's ``signalboard``, its tests' ``test_signalboard*``, the
repository's db.sqlite3 and any database holding tables of other apps are
refused), else a throwaway SQLite file with the site's options (WAL,
IMMEDIATE transactions).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import common

MODES = ("atomic", "autocommit")
OPERATIONS = ("create", "update")
WARMUP = 200
CHUNK = 50
TARGET = 1.10  # Signalboard's ratio over the floor's, at most
SETTINGS = "bench.overhead.settings"
# The site's databases: its own (Makefile, scripts/services.sh), its tests' (pytest-django), its SQLite file.
SITE_DATABASE = "signalboard"
SITE_SQLITE = Path(__file__).resolve().parent.parent / "db.sqlite3"
PACKAGES = (
    "django",
    "django-activity-stream",
    "django-auditlog",
    "django-simple-history",
    "django-pghistory",
    "django-pgtrigger",
)

BODY = (
    "A paragraph of body text, long enough to be a real field: the quarterly figures, who signed "
    "them off, what changed since the last report and what the next one should look at first. "
) * 2
TITLES = ("Quarterly report", "Quarterly report (revised)")
STATUSES = ("draft", "published")

Op = Callable[[], None]


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Variant:
    name: str
    model: Any
    logged: Callable[[], int]  # rows its log holds; one per save is expected
    ops: dict[str, Op] = field(default_factory=dict)
    saves: int = 0  # operations run, all modes
    log: Any = None  # the model its rows go to (several variants may share one)
    history: int = 0  # rows of ``--history`` its counter counts, not saves of this run


def refuse_site_database(url: str) -> None:
    """Exit unless ``url`` names a database other than the site's or its tests' (even an empty one)."""
    import dj_database_url

    config = dj_database_url.parse(url)
    name = str(config["NAME"])
    if config["ENGINE"] == "django.db.backends.sqlite3":
        site = Path(name).resolve() == SITE_SQLITE
    else:
        site = name == SITE_DATABASE or name.startswith(f"test_{SITE_DATABASE}")
    if site:
        sys.exit(
            f"{name} is the site's database (or its tests'): give the benchmark one of its own, e.g. "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/signalboard_overhead"
        )


def refuse_foreign_tables() -> None:
    """Exit if the database holds tables of apps the benchmark does not install (the site's, say)."""
    from django.apps import apps
    from django.db import connection

    labels = tuple(f"{config.label}_" for config in apps.get_app_configs())
    own = {model._meta.db_table for model in apps.get_models(include_auto_created=True)}
    foreign = [
        name
        for name in connection.introspection.table_names()
        if name not in own and name != "django_migrations" and not name.startswith(labels)
    ]
    if foreign:
        sys.exit(
            f"{connection.settings_dict['NAME']} holds tables the benchmark does not make "
            f"({', '.join(sorted(foreign)[:3])}, ...): give it a database of its own, e.g. "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/signalboard_overhead"
        )


def setup() -> None:
    """The benchmark's own settings and database, migrated; never the site's database."""
    import atexit

    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS  # never tests.settings: a project of its own
    url = os.environ.get("DATABASE_URL")
    if url:
        refuse_site_database(url)  # before anything connects to it
        common.ensure_postgresql_database(url)
    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    refuse_foreign_tables()
    call_command("migrate", verbosity=0)
    atexit.register(connection.close)  # registered after the settings' cleanup: runs before it


def empty_tables(models: list[Any]) -> None:
    from django.db import connection

    tables = [model._meta.db_table for model in models]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(map(connection.ops.quote_name, tables))} RESTART IDENTITY")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")


def variants(user: Any) -> list[Variant]:
    """Each variant with its log counter; the logs emptied."""
    from actstream.models import Action as ActstreamAction
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from bench.overhead import models
    from streams.models import Action

    def of_type(model: Any, queryset: Any, field: str) -> Callable[[], int]:
        return lambda: queryset.filter(**{field: ContentType.objects.get_for_model(model)}).count()

    found = [
        Variant("bare", models.BareItem, lambda: 0),
        Variant("floor", models.FloorItem, models.FloorLog.objects.count, log=models.FloorLog),
        Variant(
            "floor, action table",
            models.ActionFloorItem,
            of_type(models.ActionFloorItem, Action.objects, "object_type"),
            log=Action,
        ),
        Variant(
            "signalboard", models.SbItem, of_type(models.SbItem, Action.objects, "object_type"), log=Action
        ),
        Variant(
            "django-activity-stream",
            models.ASItem,
            of_type(models.ASItem, ActstreamAction.objects, "action_object_content_type"),
            log=ActstreamAction,
        ),
        Variant(
            "django-auditlog",
            models.ALItem,
            of_type(models.ALItem, LogEntry.objects, "content_type"),
            log=LogEntry,
        ),
        Variant(
            "django-simple-history",
            models.SHItem,
            models.SHItem.history.count,
            log=models.SHItem.history.model,
        ),
    ]
    logs = [models.FloorLog, Action, ActstreamAction, LogEntry, models.SHItem.history.model]
    if connection.vendor == "postgresql":
        from django.apps import apps
        from pghistory.models import Context

        from bench.overhead.pg.models import PghItem

        event = apps.get_model("overhead_pg", "PghItemEvent")  # made by @pghistory.track()
        found.append(Variant("django-pghistory", PghItem, event.objects.count, log=event))
        logs += [event, Context]
    empty_tables([variant.model for variant in found] + logs)
    for variant in found:
        variant.ops = operations(variant, user)
    return found


def deepen(found: list[Variant], rows: int) -> None:
    """Give every log table ``rows`` rows of history before anything is timed.

    An INSERT into an index a million entries deep costs more than into an
    empty one, and each tool has its own indexes: the comparison should be
    made where a site lives. The rows are copies of the log's own rows
    (each variant has written at least one), doubled by INSERT ... SELECT,
    with every free text column given a varying suffix so that indexes led
    by text (names, reprs) spread out as real ones do; columns with choices,
    keys, times and JSON are copied as they are.
    """
    from django.db import connection, models, transaction

    qn = connection.ops.quote_name
    suffix = (
        "CAST(floor(random() * 9973) AS int)"
        if connection.vendor == "postgresql"
        else "(abs(random()) % 9973)"
    )
    for log in dict.fromkeys(variant.log for variant in found if variant.log is not None):
        fields = [f for f in log._meta.concrete_fields if not f.primary_key]
        selected = []
        for f in fields:
            column = qn(f.column)
            varies = (
                isinstance(f, models.CharField | models.TextField) and not f.choices and not f.is_relation
            )
            if varies and (f.max_length is None or f.max_length >= 20):
                text = f"{column} || {suffix}"
                selected.append(f"substr({text}, 1, {f.max_length})" if f.max_length else text)
            else:
                selected.append(column)
        insert = (
            f"INSERT INTO {qn(log._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
            f"SELECT {', '.join(selected)} FROM {qn(log._meta.db_table)} LIMIT %s"
        )
        count = log._default_manager.count()
        started = time.monotonic()
        while 0 < count < rows:
            take = min(count, rows - count)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(insert, [take])
            count += take
        progress(f"{log._meta.label}: {count:,} rows of history in {time.monotonic() - started:.0f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    for variant in found:
        variant.history = variant.logged() - variant.saves


def operations(variant: Variant, user: Any) -> dict[str, Op]:
    """The variant's create and update, as closures with nothing left to decide when timed."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from django.utils import timezone

    from bench.overhead.models import ActionFloorItem, FloorItem, FloorLog, SHItem
    from streams.models import Action
    from streams.search import document

    model = variant.model
    numbers = itertools.count()
    flips = itertools.count()
    floor_insert = (
        f"INSERT INTO {connection.ops.quote_name(FloorLog._meta.db_table)} (item_id, verb, at) "
        "VALUES (%s, %s, %s)"
    )

    # A whole action row, as the engine would write it for this user and item.
    qn = connection.ops.quote_name
    columns = [f for f in Action._meta.concrete_fields if not f.primary_key]
    action_insert = (
        f"INSERT INTO {qn(Action._meta.db_table)} ({', '.join(qn(f.column) for f in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    item_type = ContentType.objects.get_for_model(model).pk

    def action_row(pk: int, verb: str, text: str, changes: Any) -> list[Any]:
        values = {
            "timestamp": timezone.now(),
            "actor_id": user.pk,
            "actor_name": user.get_username(),
            "verb": verb,
            "object_type_id": item_type,
            "object_id": str(pk),
            "object_repr": text,
            "target_type_id": None,
            "target_id": "",
            "target_repr": "",
            "owner_id": None,
            "public": True,
            "ip": None,
            "user_agent": "",
            "changes": changes,
            "search_text": document(user.get_username(), verb, text, ""),
            "request_id": None,  # as record() writes it outside a request
        }
        return [f.get_db_prep_save(values[f.attname], connection) for f in columns]

    instance: Any = None  # the update target, loaded once below

    def create() -> None:
        number = next(numbers)
        model(title=f"Item {number}", body=BODY, status="draft", count=number).save(force_insert=True)

    def create_as_user() -> None:  # simple-history: the actor rides on the instance
        number = next(numbers)
        item = model(title=f"Item {number}", body=BODY, status="draft", count=number)
        item._history_user = user
        item.save(force_insert=True)

    def create_floor() -> None:
        number = next(numbers)
        item = model(title=f"Item {number}", body=BODY, status="draft", count=number)
        item.save(force_insert=True)
        with connection.cursor() as cursor:
            cursor.execute(floor_insert, [item.pk, "created", timezone.now()])

    def create_action_floor() -> None:
        number = next(numbers)
        item = model(title=f"Item {number}", body=BODY, status="draft", count=number)
        item.save(force_insert=True)
        with connection.cursor() as cursor:
            cursor.execute(action_insert, action_row(item.pk, "created", item.title, None))

    def update() -> None:
        flip = next(flips) % 2
        instance.title, instance.status = TITLES[flip], STATUSES[flip]
        instance.save()

    def update_floor() -> None:
        flip = next(flips) % 2
        instance.title, instance.status = TITLES[flip], STATUSES[flip]
        instance.save()
        with connection.cursor() as cursor:
            cursor.execute(floor_insert, [instance.pk, "updated", timezone.now()])

    def update_action_floor() -> None:
        flip = next(flips) % 2
        before = (instance.title, instance.status)
        instance.title, instance.status = TITLES[flip], STATUSES[flip]
        instance.save()
        changes = {"title": [before[0], instance.title], "status": [before[1], instance.status]}
        with connection.cursor() as cursor:
            cursor.execute(action_insert, action_row(instance.pk, "updated", instance.title, changes))

    if model is FloorItem:
        ops = {"create": create_floor, "update": update_floor}
    elif model is ActionFloorItem:
        ops = {"create": create_action_floor, "update": update_action_floor}
    elif model is SHItem:
        ops = {"create": create_as_user, "update": update}
    else:
        ops = {"create": create, "update": update}
    # The update target: made by the variant's own create (so it is logged), then loaded once.
    ops["create"]()
    variant.saves += 1
    instance = model.objects.order_by("-pk")[0]
    if model is SHItem:
        instance._history_user = user
    return ops


@contextmanager
def acting_as(user: Any) -> Iterator[None]:
    """The same user as the actor of every tool that records one, set once for the run."""
    from auditlog.context import set_actor

    from bench.overhead.competitors import acting_user
    from streams import acting_as as streams_acting_as

    token = acting_user.set(user)
    try:
        with streams_acting_as(user), set_actor(user):
            yield
    finally:
        acting_user.reset(token)


def run(op: Op, mode: str, count: int, into: list[int] | None = None) -> None:
    from django.db import transaction

    clock = time.perf_counter_ns
    if mode == "atomic":
        for _ in range(count):
            start = clock()
            with transaction.atomic():
                op()
            if into is not None:
                into.append(clock() - start)
    else:
        for _ in range(count):
            start = clock()
            op()
            if into is not None:
                into.append(clock() - start)


def count_statements(op: Op, mode: str) -> tuple[int, int]:
    """Statements of one operation, and how many of them are savepoints."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    with ExitStack() as stack:
        if mode == "atomic":
            stack.enter_context(transaction.atomic())
        captured = stack.enter_context(CaptureQueriesContext(connection))
        op()
    savepoints = sum(
        1
        for query in captured.captured_queries
        if query["sql"]
        .lstrip()
        .upper()
        .startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT"))
    )
    return len(captured.captured_queries) - savepoints, savepoints


def statements_text(counted: tuple[int, int]) -> str:
    plain, savepoints = counted
    return f"{plain} (+{savepoints} savepoint)" if savepoints else str(plain)


def microseconds(nanoseconds: float) -> str:
    value = nanoseconds / 1000
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def report(
    found: list[Variant],
    mode: str,
    samples: dict[tuple[str, str], list[list[int]]],
    statements: dict[tuple[str, str], tuple[int, int]],
) -> tuple[str, dict[tuple[str, str], float]]:
    """The mode's table, and each variant's median ratio per operation."""
    rounds = len(samples[("bare", "create")])
    ratios: dict[tuple[str, str], float] = {}
    rows: list[list[object]] = []
    for variant in found:
        cells: list[object] = [variant.name]
        times: list[str] = []
        for operation in OPERATIONS:
            per_round = [
                statistics.median(samples[(variant.name, operation)][r])
                / statistics.median(samples[("bare", operation)][r])
                for r in range(rounds)
            ]
            ratios[(variant.name, operation)] = ratio = statistics.median(per_round)
            cells.append(f"{ratio:.2f}× ({min(per_round):.2f}–{max(per_round):.2f})")
            every = [value for batch in samples[(variant.name, operation)] for value in batch]
            times.append(microseconds(statistics.median(every)))
        cells += times
        cells.append(
            " / ".join(statements_text(statements[(variant.name, operation)]) for operation in OPERATIONS)
        )
        rows.append(cells)
    header = [
        "variant",
        "create ratio (spread)",
        "update ratio (spread)",
        "create µs",
        "update µs",
        "statements create / update",
    ]
    return common.table(header, rows), ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=(*MODES, "both"), default="both", help="default both")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--n", type=int, default=1000, help="operations per variant and round (default 1000)")
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        help="rows each log table holds before timing starts (default 0: empty tables)",
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.n < 1 or args.history < 0:
        parser.error("--rounds and --n must be 1 or more, --history 0 or more")
    modes = MODES if args.mode == "both" else (args.mode,)
    reproduce = common.command(
        "bench.write_overhead",
        {
            "mode": args.mode,
            "rounds": args.rounds,
            "n": args.n,
            **({"history": args.history} if args.history else {}),
        },
    )
    setup()

    from django.contrib.auth import get_user_model
    from django.db import connection

    user, _ = get_user_model().objects.get_or_create(username="bench")
    load_before = os.getloadavg()[0]
    with acting_as(user):
        found = variants(user)
        if args.history:
            deepen(found, args.history)
        progress(f"warming up: {WARMUP} of each operation, variant and mode")
        statements: dict[tuple[str, str, str], tuple[int, int]] = {}
        for mode in modes:
            for variant in found:
                for operation in OPERATIONS:
                    run(variant.ops[operation], mode, WARMUP)
                    statements[(mode, variant.name, operation)] = count_statements(
                        variant.ops[operation], mode
                    )
                    variant.saves += WARMUP + 1
        samples: dict[str, dict[tuple[str, str], list[list[int]]]] = {
            mode: {(v.name, op): [] for v in found for op in OPERATIONS} for mode in modes
        }
        turns = [(variant, operation) for operation in OPERATIONS for variant in found]
        for r in range(args.rounds):
            progress(f"round {r + 1} of {args.rounds}")
            gc.collect()
            for mode in modes:
                for batch in samples[mode].values():
                    batch.append([])
                for start, chunk in enumerate(range(0, args.n, CHUNK)):
                    count = min(CHUNK, args.n - chunk)
                    shift = start % len(turns)
                    for variant, operation in turns[shift:] + turns[:shift]:
                        run(variant.ops[operation], mode, count, samples[mode][(variant.name, operation)][-1])
                        variant.saves += count
    load_after = os.getloadavg()[0]

    print(
        f"write overhead: {args.n} of each operation per variant and round, {args.rounds} rounds, "
        f"in turns of {CHUNK}, after {WARMUP} warm-ups; "
        + (f"each log {args.history:,} rows deep; " if args.history else "empty logs; ")
        + common.environment()
    )
    print("packages: " + ", ".join(f"{name} {metadata.version(name)}" for name in PACKAGES))
    print(f"load average {load_before:.1f} before, {load_after:.1f} after")
    for mode in modes:
        table, ratios = report(
            found,
            mode,
            samples[mode],
            {(name, op): counted for (m, name, op), counted in statements.items() if m == mode},
        )
        what = (
            "each operation in its own transaction.atomic(), BEGIN and COMMIT timed"
            if mode == "atomic"
            else "no atomic block, each statement commits alone"
        )
        print()
        print(f"{connection.vendor}, {mode}: {what}; ratio = median time / bare's, same round")
        print()
        print(table)
        print()
        versus = [ratios[("signalboard", op)] / ratios[("floor", op)] for op in OPERATIONS]
        print(
            f"Signalboard vs floor: create {versus[0]:.2f}×, update {versus[1]:.2f}× (target ≤ {TARGET:.2f}×)"
        )
        own = [ratios[("signalboard", op)] / ratios[("floor, action table", op)] for op in OPERATIONS]
        print(
            f"Signalboard vs floor on its own table (the engine's code alone): "
            f"create {own[0]:.2f}×, update {own[1]:.2f}×"
        )
        anchors = [
            name for name, _ in ratios if name not in ("bare", "floor", "floor, action table", "signalboard")
        ]
        signal_based = [name for name in dict.fromkeys(anchors) if name != "django-pghistory"]
        beaten = [
            name
            for name in signal_based
            if all(ratios[("signalboard", op)] < ratios[(name, op)] for op in OPERATIONS)
        ]
        print(
            f"Signalboard below, create and update: {', '.join(beaten) or 'none'} (of {', '.join(signal_based)})"
        )
    if connection.vendor != "postgresql":
        print()
        print(
            "django-pghistory: skipped (its history is written by PostgreSQL triggers; run with DATABASE_URL)"
        )
    print()
    wrong = [
        f"{variant.name}: {logged} rows for {variant.saves} saves"
        for variant in found[1:]
        if (logged := variant.logged() - variant.history) != variant.saves
    ]
    if wrong:
        print("FAILED: a log does not hold one row per save: " + "; ".join(wrong))
    else:
        print(f"Checked: every tool's log holds one row per save ({found[1].saves} each)")
    print()
    print(f"Reproduce: {reproduce.replace('python -m', '.venv-bench/bin/python -m', 1)}")
    if wrong:
        sys.exit(1)


if __name__ == "__main__":
    main()
