from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from streams.models import Action


class Command(BaseCommand):
    help = "Delete actions recorded before a date, in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--before", required=True, help="ISO date (YYYY-MM-DD): delete actions older than it"
        )
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument("--dry-run", action="store_true", help="only count what would be deleted")

    def handle(self, *args: Any, before: str, batch_size: int, dry_run: bool, **options: Any) -> None:
        try:
            day = datetime.date.fromisoformat(before)
        except ValueError:
            raise CommandError(f"--before {before!r} is not a date (YYYY-MM-DD).") from None
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        cutoff = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
        old = Action.objects.filter(timestamp__lt=cutoff)
        if dry_run:
            self.stdout.write(f"{old.count()} actions recorded before {day} would be deleted.")
            return
        deleted = 0
        while True:
            ids = list(old.order_by("id").values_list("id", flat=True)[:batch_size])
            if not ids:
                break
            deleted += Action.objects.filter(id__in=ids).delete()[0]
        self.stdout.write(self.style.SUCCESS(f"Deleted {deleted} actions recorded before {day}."))
