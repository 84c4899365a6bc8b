"""Who acted, from where: request context, CLI, trusted proxies."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from publishing.models import Story
from streams import acting_as, disable_recording, record
from streams.context import client_ip
from streams.models import Action
from tests import factories


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.9", None, [], "203.0.113.9"),
        # Not from a trusted proxy: the header is the client's word, ignored.
        ("203.0.113.9", "198.51.100.1", [], "203.0.113.9"),
        ("10.0.0.2", "198.51.100.1", ["10.0.0.2"], "198.51.100.1"),
        # A client prepending a forged hop does not get past the proxy's own entry.
        ("10.0.0.2", "1.2.3.4, 198.51.100.1", ["10.0.0.2"], "198.51.100.1"),
        ("10.0.0.2", "198.51.100.1, 10.0.0.3", ["10.0.0.2", "10.0.0.3"], "198.51.100.1"),
        ("10.0.0.2", "not-an-ip", ["10.0.0.2"], "10.0.0.2"),
        ("", None, [], None),
        ("::1", None, [], "::1"),
    ],
)
def test_client_ip_believes_forwarded_for_only_from_trusted_proxies(
    settings: Any, remote: str, forwarded: str | None, trusted: list[str], expected: str | None
) -> None:
    settings.TRUSTED_PROXIES = trusted
    assert client_ip(remote, forwarded) == expected


@pytest.mark.django_db
def test_request_records_user_ip_and_user_agent(alice: Any, rae: Any) -> None:
    story = factories.story(alice)
    client = Client(REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="Firefox/140")
    client.force_login(rae)

    response = client.post(f"/stories/{story.pk}/comments/", {"body": "Nice"})

    assert response.status_code == 302
    action = Action.objects.get(verb="commented")
    assert (action.actor_name, action.ip, action.user_agent) == ("rae", "198.51.100.7", "Firefox/140")


@pytest.mark.django_db
def test_outside_a_request_the_actor_is_cli(alice: Any) -> None:
    action = record(verb="imported", object=factories.story(alice))
    assert action is not None
    assert (action.actor, action.actor_name, action.ip) == (None, "CLI", None)


@pytest.mark.django_db
def test_command_records_cli_with_no_ip(capsys: Any) -> None:
    call_command("seed_demo", actions=5)
    published = Action.objects.filter(verb="published")
    assert published.count() == Story.objects.count()
    assert set(Action.objects.values_list("ip", flat=True)) == {None}


@pytest.mark.django_db
def test_acting_as_names_the_actor(alice: Any) -> None:
    with acting_as(alice, ip="192.0.2.1"):
        action = record(verb="exported")
    assert action is not None
    assert (action.actor, action.ip) == (alice, "192.0.2.1")


@pytest.mark.django_db
def test_disable_recording_records_nothing(alice: Any, rae: Any) -> None:
    with disable_recording():
        factories.story(alice)
    assert Action.objects.count() == 0
