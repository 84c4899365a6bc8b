from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from publishing import services
from publishing.models import Member, Story
from tests import factories


@pytest.fixture
def rita(db: Any) -> Any:
    return factories.user("rita", "reviewer")


@pytest.fixture
def story(alice: Any) -> Story:
    return factories.story(alice, "Dawn")


@pytest.fixture
def client_for() -> Any:
    def make(user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def active_member() -> Any:
    """The member of a user, made active (users start invited)."""

    def make(user: Any) -> Member:
        member = Member.objects.select_related("user").get(user=user)
        if member.state == Member.State.INVITED:
            services.member_activate(member=member)
        return member

    return make
