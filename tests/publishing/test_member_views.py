"""The staff page /members/ and its transition buttons."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from publishing.models import Member
from tests import factories

pytestmark = pytest.mark.django_db

State = Member.State


def member_of(user: Any) -> Member:
    return Member.objects.get(user=user)


def buttons(html: str, member: Member) -> list[str]:
    row = re.search(rf'<tr id="member-{member.pk}">(.*?)</tr>', html, re.S)
    assert row is not None
    return re.findall(rf'action="/members/{member.pk}/([a-z]+)/"', row.group(1))


def test_members_page_lists_members_with_their_buttons(
    admin: Any, alice: Any, rae: Any, client_for: Any, active_member: Any
) -> None:
    Member.objects.filter(user=rae).update(state=State.LOCKED, failed_logins=5)
    active_member(alice)
    html = client_for(admin).get("/members/").content.decode()

    assert buttons(html, member_of(rae)) == ["unlock", "deactivate"]
    assert buttons(html, member_of(alice)) == ["lock", "deactivate"]
    assert buttons(html, member_of(admin)) == []  # staff cannot lock themselves out
    row = re.search(rf'<tr id="member-{member_of(rae).pk}">(.*?)</tr>', html, re.S)
    assert row is not None
    assert "rae" in row.group(1) and "state-locked" in row.group(1) and ">5<" in row.group(1)
    assert 'href="/members/"' in html  # the nav link, for staff


@pytest.mark.parametrize(
    ("start", "transition", "end"),
    [
        (State.INVITED, "activate", State.ACTIVE),
        (State.ACTIVE, "lock", State.LOCKED),
        (State.LOCKED, "unlock", State.ACTIVE),
        (State.ACTIVE, "deactivate", State.DEACTIVATED),
        (State.DEACTIVATED, "reactivate", State.ACTIVE),
    ],
)
def test_member_button_changes_state(
    admin: Any, rae: Any, client_for: Any, start: str, transition: str, end: str
) -> None:
    Member.objects.filter(user=rae).update(state=start)
    member = member_of(rae)

    response = client_for(admin).post(f"/members/{member.pk}/{transition}/")

    assert response.status_code == 302
    assert response["Location"] == f"/members/#member-{member.pk}"
    assert member_of(rae).state == end
    assert [str(m) for m in get_messages(response.wsgi_request)] == [f"rae is now {end}."]


def test_member_button_not_allowed_gives_an_error_message(admin: Any, rae: Any, client_for: Any) -> None:
    member = member_of(rae)  # invited: cannot be unlocked

    response = client_for(admin).post(f"/members/{member.pk}/unlock/", follow=True)

    assert response.status_code == 200
    assert member_of(rae).state == State.INVITED
    html = response.content.decode()
    assert 'class="message error"' in html
    assert "Cannot unlock member rae: it is invited." in html


def test_member_button_unknown_transition_is_404(admin: Any, rae: Any, client_for: Any) -> None:
    response = client_for(admin).post(f"/members/{member_of(rae).pk}/promote/")
    assert response.status_code == 404
    assert member_of(rae).state == State.INVITED


def test_member_button_unknown_member_is_404(admin: Any, client_for: Any) -> None:
    assert client_for(admin).post("/members/999999/lock/").status_code == 404


def test_member_button_needs_post(admin: Any, rae: Any, client_for: Any) -> None:
    assert client_for(admin).get(f"/members/{member_of(rae).pk}/activate/").status_code == 405
    assert member_of(rae).state == State.INVITED


def test_staff_cannot_lock_themselves_out(admin: Any, client_for: Any) -> None:
    client = client_for(admin)
    response = client.post(f"/members/{member_of(admin).pk}/deactivate/", follow=True)
    assert member_of(admin).state == State.ACTIVE
    assert "You cannot deactivate your own account." in response.content.decode()


def test_members_page_is_403_for_a_reader(rae: Any, client_for: Any) -> None:
    client = client_for(rae)
    assert client.get("/members/").status_code == 403
    response = client.post(f"/members/{member_of(rae).pk}/deactivate/")
    assert response.status_code == 403
    assert member_of(rae).state == State.ACTIVE
    assert 'href="/members/"' not in client.get("/stories/").content.decode()


def test_members_page_sends_anonymous_to_login(rae: Any) -> None:
    client = Client()
    response = client.get("/members/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/members/")
    response = client.post(f"/members/{member_of(rae).pk}/lock/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert member_of(rae).state == State.INVITED


def test_members_page_queries_do_not_grow_with_members(
    admin: Any, client_for: Any, django_assert_max_num_queries: Any
) -> None:
    client = client_for(admin)
    with CaptureQueriesContext(connection) as few:
        client.get("/members/")
    for index in range(10):
        factories.user(f"reader{index}")
    with django_assert_max_num_queries(len(few)):
        html = client.get("/members/").content.decode()
    assert html.count('<tr id="member-') == 11
    assert html.count('action="/members/') == 20  # activate and deactivate for each reader
