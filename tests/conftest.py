from __future__ import annotations

from typing import Any

import pytest

from streams.health import health
from tests import factories


@pytest.fixture(autouse=True)
def _fresh_route_health() -> Any:
    health.reset()
    yield
    health.reset()


@pytest.fixture(autouse=True)
def _fresh_cache() -> Any:
    """Login throttling counts in the cache: no test inherits another's failures."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice(db: Any) -> Any:
    return factories.user("alice", "author")


@pytest.fixture
def bob(db: Any) -> Any:
    return factories.user("bob", "author")


@pytest.fixture
def rae(db: Any) -> Any:
    return factories.user("rae", "reader")


@pytest.fixture
def admin(db: Any) -> Any:
    return factories.user("admin", "staff")
