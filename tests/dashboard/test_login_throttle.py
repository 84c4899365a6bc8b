"""Failed logins slow the client down; they never lock staff, and a member's lock ends by itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from dashboard import throttle
from publishing.models import Member
from streams.models import Action
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def attempt(username: str, password: str, ip: str = "203.0.113.9") -> Any:
    return Client(REMOTE_ADDR=ip).post("/accounts/login/", {"username": username, "password": password})


def logged_in(response: Any) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.client.session


def test_anonymous_failures_never_lock_a_staff_account(admin: Any) -> None:
    Member.objects.filter(user=admin).update(state=Member.State.ACTIVE)
    for _ in range(12):
        attempt("admin", "guess", ip="198.51.100.7")
    assert Member.objects.get(user=admin).state == Member.State.ACTIVE
    # The real admin, from their own address, gets in.
    assert logged_in(attempt("admin", PASSWORD, ip="192.0.2.1"))


def test_failures_from_one_client_make_it_wait_before_any_password_is_checked(rae: Any) -> None:
    Member.objects.filter(user=rae).update(state=Member.State.ACTIVE)
    for _ in range(4):
        assert attempt("rae", "guess").status_code == 200  # wrong password, no wait yet
    # Fifth failure locks rae (the member's lock); the client now waits too.
    attempt("rae", "guess")
    refused = attempt("ravi-or-rae", "anything")
    assert refused.status_code == 200
    throttled = attempt("rae", PASSWORD)
    assert throttled.status_code == 429
    assert "Too many failed logins from here. Try again in 1 second." in throttled.content.decode()
    assert int(throttled["Retry-After"]) >= 1
    # A name that does not exist is throttled in the same words (no oracle).
    for _ in range(5):
        attempt("nobody", "guess")
    ghost = attempt("nobody", "guess")
    assert ghost.status_code == 429
    assert "Too many failed logins from here. Try again in" in ghost.content.decode()


def test_the_wait_grows_and_then_lets_the_client_try_again(
    monkeypatch: pytest.MonkeyPatch, admin: Any
) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr(throttle.time, "time", lambda: clock[0])
    for _ in range(5):
        attempt("admin", "guess")
    assert throttle.wait_seconds("admin", "203.0.113.9") == 1  # 2 ** (5 - 5)
    assert attempt("admin", PASSWORD).status_code == 429  # even the right password waits
    clock[0] += 1
    attempt("admin", "guess")  # allowed again, and wrong: the wait doubles
    assert throttle.wait_seconds("admin", "203.0.113.9") == 2
    clock[0] += 2
    assert logged_in(attempt("admin", PASSWORD))
    assert throttle.wait_seconds("admin", "203.0.113.9") == 0  # success clears the pair


def test_one_address_trying_many_names_is_throttled_as_a_whole(db: Any) -> None:
    for number in range(20):
        attempt(f"user{number}", "guess", ip="198.51.100.50")
    assert attempt("someone-new", "guess", ip="198.51.100.50").status_code == 429
    assert attempt("someone-new", "guess", ip="198.51.100.51").status_code == 200


def test_a_lock_from_failed_logins_ends_by_itself_and_is_audited(rae: Any) -> None:
    Member.objects.filter(user=rae).update(state=Member.State.ACTIVE)
    for number in range(5):
        attempt("rae", "guess", ip=f"198.51.100.{number}")
    member = Member.objects.get(user=rae)
    assert member.state == Member.State.LOCKED and member.locked_until is not None
    assert not logged_in(attempt("rae", PASSWORD, ip="192.0.2.1"))  # still locked

    Member.objects.filter(pk=member.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert logged_in(attempt("rae", PASSWORD, ip="192.0.2.1"))
    unlock = Action.objects.filter(verb="changed state").latest("id")
    assert unlock.actor_name == "system"
    assert unlock.changes == {"state": ["locked", "active"]}


def test_a_lock_staff_chose_does_not_end_by_itself(rae: Any) -> None:
    from publishing import services

    member = Member.objects.get(user=rae)
    services.member_activate(member=member)
    services.member_lock(member=member)
    assert Member.objects.get(user=rae).locked_until is None
    assert not logged_in(attempt("rae", PASSWORD))


def test_member_unlock_frees_anyone_and_is_audited_as_the_command_line(rae: Any, capsys: Any) -> None:
    Member.objects.filter(user=rae).update(state=Member.State.ACTIVE)
    for number in range(5):
        attempt("rae", "guess", ip=f"198.51.100.{number}")
    assert Member.objects.get(user=rae).state == Member.State.LOCKED

    call_command("member_unlock", "rae")

    assert Member.objects.get(user=rae).state == Member.State.ACTIVE
    assert "Unlocked rae" in capsys.readouterr().out
    unlock = Action.objects.filter(verb="changed state").latest("id")
    assert (unlock.actor_name, unlock.changes) == ("CLI", {"state": ["locked", "active"]})
    assert logged_in(attempt("rae", PASSWORD, ip="192.0.2.1"))


def test_member_unlock_explains_what_it_cannot_do(rae: Any) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No member called"):
        call_command("member_unlock", "nobody")


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(1, "1 second"), (2, "2 seconds"), (59, "59 seconds"), (60, "1 minute"), (900, "15 minutes")],
)
def test_the_wait_reads_as_words(seconds: int, words: str) -> None:
    from dashboard.login import _duration

    assert _duration(seconds) == words
