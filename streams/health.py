"""Per-route health: calls, errors and a duration histogram.

Counted in memory on the hot path (no query), then added to one
``RouteStat`` row per route every few seconds, after commit, so
``manage.py streams_stats`` sees every process's figures.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from streams import conf

logger = logging.getLogger("streams.health")

# Upper bounds of the duration buckets, in milliseconds; the last is open.
BUCKETS_MS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


def bucket_of(duration_ms: float) -> int:
    return bisect.bisect_left(BUCKETS_MS, duration_ms)


def percentile(histogram: list[int], q: float) -> float | None:
    """Upper bound (ms) of the bucket holding the q-th duration; inf past the last."""
    total = sum(histogram)
    if not total:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(histogram):
        seen += count
        if seen >= rank and count:
            return BUCKETS_MS[index] if index < len(BUCKETS_MS) else float("inf")
    return float("inf")


@dataclass
class RouteHealth:
    calls: int = 0
    errors: int = 0
    skipped: int = 0
    histogram: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_MS) + 1))

    @classmethod
    def of(cls, stat: Any) -> RouteHealth:
        """The figures of a ``RouteStat`` row (or another RouteHealth), as a new object."""
        return cls(stat.calls, stat.errors, stat.skipped, list(stat.histogram or cls().histogram))

    def add(self, other: RouteHealth) -> None:
        self.calls += other.calls
        self.errors += other.errors
        self.skipped += other.skipped
        self.histogram = [a + b for a, b in zip(self.histogram, other.histogram, strict=True)]

    def percentile(self, q: float) -> float | None:
        return percentile(self.histogram, q)


class HealthBoard:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, RouteHealth] = {}
        self._pending: dict[str, RouteHealth] = {}
        self._last_flush = time.monotonic()

    def _both(self, name: str) -> tuple[RouteHealth, RouteHealth]:
        # Called on every route call: look up first, build only the first time.
        totals = self._totals.get(name)
        if totals is None:
            totals = self._totals[name] = RouteHealth()
        pending = self._pending.get(name)
        if pending is None:
            pending = self._pending[name] = RouteHealth()
        return totals, pending

    def called(self, name: str, duration_ms: float, *, failed: bool) -> None:
        bucket = bucket_of(duration_ms)
        with self._lock:
            for health in self._both(name):
                health.calls += 1
                health.errors += failed
                health.histogram[bucket] += 1
        self._maybe_flush()

    def skipped(self, name: str) -> None:
        with self._lock:
            for health in self._both(name):
                health.skipped += 1

    def snapshot(self) -> dict[str, RouteHealth]:
        """This process's figures since it started (or since ``reset()``)."""
        with self._lock:
            return {name: RouteHealth.of(h) for name, h in self._totals.items()}

    def reset(self) -> None:
        with self._lock:
            self._totals.clear()
            self._pending.clear()

    def _maybe_flush(self) -> None:
        every = conf.get("STATS_FLUSH_SECONDS")
        if every is None or time.monotonic() - self._last_flush < every:
            return
        self._last_flush = time.monotonic()
        # After commit: never a query inside the business transaction.
        transaction.on_commit(self.flush, robust=True)

    def flush(self) -> None:
        """Add the pending figures to the database rows (one UPSERT-like write per route)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._last_flush = time.monotonic()
        if not pending:
            return
        from streams.models import RouteStat

        try:
            with transaction.atomic():
                for name, health in pending.items():
                    stat, _ = RouteStat.objects.select_for_update().get_or_create(name=name)
                    merged = RouteHealth.of(stat)
                    merged.add(health)
                    stat.calls, stat.errors, stat.skipped, stat.histogram = (
                        merged.calls,
                        merged.errors,
                        merged.skipped,
                        merged.histogram,
                    )
                    stat.save()
        except Exception:
            logger.exception("could not save route health; figures kept for the next flush")
            with self._lock:
                for name, health in pending.items():
                    self._pending.setdefault(name, RouteHealth()).add(health)


health = HealthBoard()
