from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from streams import rollup, search_index


class Command(BaseCommand):
    help = (
        "Put back what the engine keeps beside the action table, made again from the actions: "
        "the text search index and the charts' per-day counts (streams.W005, streams.W006)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database", default=DEFAULT_DB_ALIAS, help="the database's alias (default: default)"
        )

    def handle(self, *args: Any, database: str, **options: Any) -> None:
        connection = connections[database]
        if connection.vendor not in rollup.VENDORS:
            raise CommandError(f"The engine keeps no search index or counts on {connection.vendor}.")
        started = time.monotonic()
        if not search_index.install(connection) or not search_index.installed(connection):
            raise CommandError(
                "The text search index could not be made: on PostgreSQL the pg_trgm extension is needed "
                "(CREATE EXTENSION pg_trgm, by a user allowed to)."
            )
        self.stdout.write(f"Search index made again in {time.monotonic() - started:.1f} s.")
        started = time.monotonic()
        counted = rollup.rebuild(connection)
        self.stdout.write(
            self.style.SUCCESS(
                f"Per-day counts made again from {counted} actions in {time.monotonic() - started:.1f} s."
            )
        )
