"""Member states: the model's transitions, the services, the user signal."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.exceptions import ValidationError

from publishing import services
from publishing.backends import member_may_log_in
from publishing.models import Member
from tests import factories

pytestmark = pytest.mark.django_db

State = Member.State


def member_of(user: Any) -> Member:
    return Member.objects.select_related("user").get(user=user)


def test_member_is_created_invited_with_every_user(rae: Any) -> None:
    member = member_of(rae)
    assert (member.state, member.failed_logins) == (State.INVITED, 0)
    assert str(member) == "member rae"


def test_member_str_never_queries_for_the_user(rae: Any, django_assert_num_queries: Any) -> None:
    member = Member.objects.get(user=rae)
    with django_assert_num_queries(0):
        assert str(member) == f"member #{rae.pk}"


def test_member_not_created_for_fixture_loading(db: Any) -> None:
    data = '[{"model": "auth.user", "pk": 4242, "fields": {"username": "loaded", "password": "!"}}]'
    for obj in serializers.deserialize("json", data):
        obj.save()
    assert get_user_model().objects.filter(pk=4242).exists()
    assert not Member.objects.filter(user_id=4242).exists()
    # A user without a member row is not refused by the login backend.
    assert member_may_log_in(get_user_model().objects.get(pk=4242))


@pytest.mark.parametrize(
    ("start", "service", "end"),
    [
        (State.INVITED, services.member_activate, State.ACTIVE),
        (State.ACTIVE, services.member_lock, State.LOCKED),
        (State.LOCKED, services.member_unlock, State.ACTIVE),
        (State.INVITED, services.member_deactivate, State.DEACTIVATED),
        (State.ACTIVE, services.member_deactivate, State.DEACTIVATED),
        (State.LOCKED, services.member_deactivate, State.DEACTIVATED),
        (State.DEACTIVATED, services.member_reactivate, State.ACTIVE),
    ],
)
def test_member_transition_allowed_saves_new_state(rae: Any, start: str, service: Any, end: str) -> None:
    Member.objects.filter(user=rae).update(state=start, failed_logins=3)
    member = member_of(rae)

    service(member=member)

    assert member.state == end
    assert member_of(rae).state == end


@pytest.mark.parametrize(
    ("start", "service"),
    [
        (State.ACTIVE, services.member_activate),
        (State.INVITED, services.member_lock),
        (State.ACTIVE, services.member_unlock),
        (State.DEACTIVATED, services.member_deactivate),
        (State.LOCKED, services.member_reactivate),
    ],
)
def test_member_transition_refused_raises_and_keeps_state(rae: Any, start: str, service: Any) -> None:
    Member.objects.filter(user=rae).update(state=start)
    member = member_of(rae)

    with pytest.raises(ValidationError) as refused:
        service(member=member)

    assert refused.value.code == "transition_not_allowed"
    assert f"it is {start}" in refused.value.messages[0]
    assert "rae" in refused.value.messages[0]
    assert member_of(rae).state == start


def test_member_unlock_resets_failed_logins(rae: Any) -> None:
    Member.objects.filter(user=rae).update(state=State.LOCKED, failed_logins=5)
    services.member_unlock(member=member_of(rae))
    assert member_of(rae).failed_logins == 0


def test_member_available_transitions_follow_the_state(rae: Any) -> None:
    expected = {
        State.INVITED: ["activate", "deactivate"],
        State.ACTIVE: ["lock", "deactivate"],
        State.LOCKED: ["unlock", "deactivate"],
        State.DEACTIVATED: ["reactivate"],
    }
    for state, names in expected.items():
        Member.objects.filter(user=rae).update(state=state)
        assert member_of(rae).available_transitions() == names


def test_login_failed_for_unknown_username_does_nothing(rae: Any) -> None:
    assert services.login_failed(username="nobody") is None
    assert member_of(rae).failed_logins == 0


def test_login_failed_counts_in_the_database_not_on_a_stale_instance(rae: Any, active_member: Any) -> None:
    active_member(rae)
    stale = member_of(rae)
    for _ in range(services.LOCK_AFTER_FAILED_LOGINS - 1):
        services.login_failed(username="rae")
    assert stale.failed_logins == 0  # others' counts live in the row

    member = services.login_failed(username="rae")

    assert member is not None
    assert (member.state, member.failed_logins) == (State.LOCKED, services.LOCK_AFTER_FAILED_LOGINS)
    assert member_of(rae).state == State.LOCKED


def test_login_failed_never_locks_an_invited_member(rae: Any) -> None:
    for _ in range(services.LOCK_AFTER_FAILED_LOGINS + 1):
        services.login_failed(username="rae")
    member = member_of(rae)
    assert (member.state, member.failed_logins) == (State.INVITED, services.LOCK_AFTER_FAILED_LOGINS + 1)


def test_login_succeeded_activates_invited_and_resets_count(rae: Any) -> None:
    Member.objects.filter(user=rae).update(failed_logins=2)
    member = services.login_succeeded(user=rae)
    assert (member.state, member.failed_logins) == (State.ACTIVE, 0)
    assert member_of(rae).failed_logins == 0


def test_login_succeeded_makes_a_missing_member(db: Any) -> None:
    data = '[{"model": "auth.user", "pk": 4343, "fields": {"username": "loaded", "password": "!"}}]'
    for obj in serializers.deserialize("json", data):
        obj.save()
    member = services.login_succeeded(user=get_user_model().objects.get(pk=4343))
    assert member.state == State.ACTIVE


def test_member_state_forced_in_admin_bypasses_transitions(admin: Any, rae: Any, client_for: Any) -> None:
    member = member_of(rae)  # invited: no transition leads to locked from here
    client = client_for(admin)

    response = client.post(
        f"/admin/publishing/member/{member.pk}/change/", {"state": State.LOCKED, "failed_logins": 0}
    )

    assert response.status_code == 302
    assert member_of(rae).state == State.LOCKED


def test_member_admin_lists_username_state_and_failed_logins(admin: Any, rae: Any, client_for: Any) -> None:
    Member.objects.filter(user=rae).update(failed_logins=3)
    html = client_for(admin).get("/admin/publishing/member/").content.decode()
    assert "column-username" in html and "column-state" in html and "column-failed_logins" in html
    assert ">rae<" in html


def test_factories_user_has_a_member(db: Any) -> None:
    made = factories.user("newbie")
    assert member_of(made).state == State.INVITED
