from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from streams.health import RouteHealth, health
from streams.models import RouteStat
from streams.registration import registry


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value == float("inf"):
        return ">5000"
    return f"≤{value:g}"


class Command(BaseCommand):
    help = "Per route: calls, errors, skips, p50 and p99 duration (ms), summed over every process."

    def handle(self, *args: Any, **options: Any) -> None:
        health.flush()  # this process's own figures, if any
        rows: dict[str, RouteHealth] = {route.name: RouteHealth() for route in registry.routes()}
        for stat in RouteStat.objects.all():
            rows.setdefault(stat.name, RouteHealth()).add(RouteHealth.of(stat))
        header = f"{'route':<28} {'calls':>9} {'errors':>7} {'skipped':>8} {'p50 ms':>8} {'p99 ms':>8}"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for name in sorted(rows):
            figures = rows[name]
            self.stdout.write(
                f"{name:<28} {figures.calls:>9} {figures.errors:>7} {figures.skipped:>8} "
                f"{_ms(figures.percentile(0.5)):>8} {_ms(figures.percentile(0.99)):>8}"
            )
        if not any(figures.calls for figures in rows.values()):
            self.stdout.write("No route has run yet: use the site or `manage.py simulate`, then ask again.")
