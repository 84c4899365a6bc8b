from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from django.test import Client

from publishing import services
from streams import record
from tests import factories


def row_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="action-(\d+)"', html)]


def pager_link(html: str, rel: str) -> str | None:
    """The href of the pager's ``rel`` link (first, prev, next, last), or None."""
    found = re.search(rf'<a class="button" rel="{rel}" href="([^"]+)"', html)
    return unescape(found.group(1)) if found else None


@pytest.fixture
def history(alice: Any, bob: Any, rae: Any, admin: Any) -> dict[str, Any]:
    """Reads and comments on alice's and bob's stories, plus one staff-only action."""
    dawn = factories.story(alice, "Dawn")
    dusk = factories.story(bob, "Dusk")
    services.story_read(story=dawn, reader=rae)
    services.story_read(story=dusk, reader=rae)
    services.comment_create(story=dawn, author=rae, body='=HYPERLINK("http://x")')
    services.story_read(story=dawn, reader=bob)
    audit = record(verb="logged in", actor=rae, public=False)
    return {"dawn": dawn, "dusk": dusk, "audit": audit}


@pytest.fixture
def client_for() -> Any:
    def make(user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make
