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
    """Login throttling counts in the cache, the filters' kinds (streams.kinds), whom people follow
    (streams.follows): no test inherits them."""
    from django.core.cache import cache

    from streams import follows, kinds

    cache.clear()
    kinds.forget()
    follows.forget()
    yield
    cache.clear()
    kinds.forget()
    follows.forget()


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
