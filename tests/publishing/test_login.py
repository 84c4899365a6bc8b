"""Logging in: failed logins lock a member; locked and deactivated members are refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from publishing import services
from publishing.models import Member
from publishing.services import LOCK_AFTER_FAILED_LOGINS
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

State = Member.State
LOCKED_MESSAGE = "This account is locked after too many failed logins. It unlocks by itself"
DEACTIVATED_MESSAGE = "This account is deactivated."


def member_of(user: Any) -> Member:
    return Member.objects.get(user=user)


def fail(username: str, times: int) -> None:
    for _ in range(times):
        assert Client().login(username=username, password="wrong") is False


def test_failed_logins_in_a_row_lock_the_member(rae: Any, active_member: Any) -> None:
    active_member(rae)

    fail("rae", LOCK_AFTER_FAILED_LOGINS - 1)
    assert member_of(rae).state == State.ACTIVE
    fail("rae", 1)

    member = member_of(rae)
    assert (member.state, member.failed_logins) == (State.LOCKED, LOCK_AFTER_FAILED_LOGINS)
    assert Client().login(username="rae", password=PASSWORD) is False


def test_successful_login_in_between_resets_the_count(rae: Any, active_member: Any) -> None:
    active_member(rae)

    fail("rae", LOCK_AFTER_FAILED_LOGINS - 1)
    assert Client().login(username="rae", password=PASSWORD) is True
    assert member_of(rae).failed_logins == 0
    fail("rae", LOCK_AFTER_FAILED_LOGINS - 1)

    member = member_of(rae)
    assert (member.state, member.failed_logins) == (State.ACTIVE, LOCK_AFTER_FAILED_LOGINS - 1)
    assert Client().login(username="rae", password=PASSWORD) is True


def test_unlocked_member_can_log_in_again(rae: Any, active_member: Any) -> None:
    active_member(rae)
    fail("rae", LOCK_AFTER_FAILED_LOGINS)

    services.member_unlock(member=member_of(rae))

    assert Client().login(username="rae", password=PASSWORD) is True


def test_deactivated_member_cannot_log_in(rae: Any) -> None:
    services.member_deactivate(member=member_of(rae))
    assert Client().login(username="rae", password=PASSWORD) is False
    assert member_of(rae).state == State.DEACTIVATED


def test_invited_member_becomes_active_on_first_login(rae: Any) -> None:
    assert member_of(rae).state == State.INVITED
    assert Client().login(username="rae", password=PASSWORD) is True
    assert member_of(rae).state == State.ACTIVE


def test_locking_a_member_ends_their_open_session(rae: Any, client_for: Any) -> None:
    client = client_for(rae)
    assert client.get("/stories/").context["user"].is_authenticated

    services.member_lock(member=member_of(rae))

    assert not client.get("/stories/").context["user"].is_authenticated


def login_page(username: str, password: str) -> Any:
    return Client().post("/accounts/login/", {"username": username, "password": password})


def test_login_form_tells_a_locked_member_why(rae: Any, active_member: Any) -> None:
    active_member(rae)
    fail("rae", LOCK_AFTER_FAILED_LOGINS)

    response = login_page("rae", PASSWORD)

    assert response.status_code == 200
    assert LOCKED_MESSAGE in response.content.decode()
    assert "_auth_user_id" not in response.client.session


def test_login_form_tells_a_deactivated_member_why(rae: Any) -> None:
    services.member_deactivate(member=member_of(rae))
    assert DEACTIVATED_MESSAGE in login_page("rae", PASSWORD).content.decode()


def test_login_form_keeps_the_state_secret_without_the_right_password(rae: Any) -> None:
    services.member_deactivate(member=member_of(rae))
    html = login_page("rae", "wrong").content.decode()
    assert DEACTIVATED_MESSAGE not in html
    assert "Please enter a correct username and password" in html


def test_login_form_logs_an_active_member_in(rae: Any) -> None:
    response = login_page("rae", PASSWORD)
    assert response.status_code == 302
    assert response.client.session["_auth_user_id"] == str(rae.pk)


def test_login_form_for_unknown_name_shows_the_usual_error(db: Any) -> None:
    html = login_page("nobody", "whatever").content.decode()
    assert "Please enter a correct username and password" in html
