from __future__ import annotations

import asyncio
import random
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard import simulation
from streams.health import health


class Command(BaseCommand):
    help = (
        "Keep the demo busy: crowd members read, comment and publish through the "
        "publishing app's own services. As its own process, live tables see the "
        "events only through the Redis broadcast (REDIS_URL)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rate", type=float, default=1.0, help="events per second (default 1)")
        parser.add_argument(
            "--duration", type=float, default=None, help="seconds to run (default: until stopped)"
        )
        parser.add_argument("--seed", type=int, default=None, help="random seed, for repeatable runs")

    def handle(
        self, *args: Any, rate: float, duration: float | None, seed: int | None, **options: Any
    ) -> None:
        if rate <= 0:
            raise CommandError("--rate must be above 0.")
        if duration is not None and duration < 0:
            raise CommandError("--duration must be 0 or more.")
        try:
            done = asyncio.run(simulation.run(rate, duration, random.Random(seed)))
        finally:
            health.flush()  # so streams_stats sees this run's routes
        self.stdout.write(self.style.SUCCESS(f"Simulated {done} events."))
