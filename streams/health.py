"""Per-route health in this process: calls, errors and durations."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field


@dataclass
class RouteHealth:
    calls: int = 0
    errors: int = 0
    skipped: int = 0
    durations_ms: deque[float] = field(default_factory=lambda: deque(maxlen=2048))

    def percentile(self, q: float) -> float | None:
        if not self.durations_ms:
            return None
        ordered = sorted(self.durations_ms)
        index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
        return ordered[index]


class HealthBoard:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, RouteHealth] = {}

    def _get(self, name: str) -> RouteHealth:
        return self._routes.setdefault(name, RouteHealth())

    def called(self, name: str, duration_ms: float, *, failed: bool) -> None:
        with self._lock:
            health = self._get(name)
            health.calls += 1
            health.errors += int(failed)
            health.durations_ms.append(duration_ms)

    def skipped(self, name: str) -> None:
        with self._lock:
            self._get(name).skipped += 1

    def snapshot(self) -> dict[str, RouteHealth]:
        with self._lock:
            return {
                name: RouteHealth(h.calls, h.errors, h.skipped, deque(h.durations_ms))
                for name, h in self._routes.items()
            }

    def reset(self) -> None:
        with self._lock:
            self._routes.clear()


health = HealthBoard()
