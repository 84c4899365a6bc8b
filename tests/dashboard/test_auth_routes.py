"""Logins, logouts and failed logins: audited with IP, never with a password."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from streams.models import Action
from streams.testing import capture_actions
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_login_and_logout_are_audited_with_ip(rae: Any) -> None:
    client = Client(REMOTE_ADDR="198.51.100.9", HTTP_USER_AGENT="Firefox/140")
    with capture_actions() as captured:
        client.post("/accounts/login/", {"username": "rae", "password": PASSWORD})
        client.post("/accounts/logout/")

    audit = [a for a in captured if a.verb in {"logged in", "logged out"}]
    assert [(a.actor_id, a.verb, a.ip, a.user_agent, a.public) for a in audit] == [
        (rae.pk, "logged in", "198.51.100.9", "Firefox/140", False),
        (rae.pk, "logged out", "198.51.100.9", "Firefox/140", False),
    ]


def test_failed_login_records_the_attempted_name_and_ip(rae: Any) -> None:
    client = Client(REMOTE_ADDR="203.0.113.77")
    with capture_actions() as captured:
        response = client.post("/accounts/login/", {"username": "rae", "password": "guess"})

    assert response.status_code == 200  # the form again, with its error
    failed = [a for a in captured if a.verb == "failed login"]
    assert [(a.actor_name, a.actor_id, a.ip, a.public) for a in failed] == [
        ("rae", None, "203.0.113.77", False)
    ]


def test_failed_login_for_an_unknown_name(db: Any) -> None:
    with capture_actions() as captured:
        Client().post("/accounts/login/", {"username": "mallory", "password": "x"})
    assert [(a.actor_name, a.verb) for a in captured] == [("mallory", "failed login")]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=st.text(min_size=6, max_size=40).filter(lambda p: p.strip() and "\x00" not in p))
# One example's password inside an earlier one's, as hypothesis sometimes draws them.
@example(password="quillpen-longer")
@example(password="quillpen")
def test_a_password_never_reaches_an_action(rae: Any, password: str) -> None:
    # Examples share the database: look only at this example's actions (an
    # earlier example's password, kept as a typed name, may contain this one).
    before = Action.objects.order_by("-id").values_list("id", flat=True).first() or 0
    client = Client()
    client.post("/accounts/login/", {"username": "rae", "password": password})  # fails
    client.post("/accounts/login/", {"username": password, "password": password})  # password as name too
    user = type(rae).objects.get(pk=rae.pk)
    user.set_password(password)
    user.save()
    client.post("/accounts/login/", {"username": "rae", "password": password})  # succeeds

    # The attempted *username* of a failed login is kept on purpose; here it
    # was the password typed into the username box (as the form strips it).
    typed_as_name = password.strip()
    for action in Action.objects.filter(id__gt=before):
        # The diff's values, not its field names ("password" itself may match).
        diff_values = [str(value) for value in (action.changes or {}).values()]
        fields = [action.object_repr, action.target_repr, action.user_agent, *diff_values]
        if action.actor_name != typed_as_name:
            fields.append(action.actor_name)
        assert not any(password in field for field in fields)
