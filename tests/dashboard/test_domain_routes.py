"""The hub, for the rest of the demo site: bookmarks, reviews, replies, thumbs-up, member states."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.test import Client

from publishing import services
from publishing.models import Member, Reply, Review, Story
from streams import disable_recording
from streams.models import Action
from streams.testing import capture_actions
from tests import factories
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def rita(db: Any) -> Any:
    return factories.user("rita", "reviewer")


def active_member(user: Any) -> Member:
    """Users start invited; these tests start from an active member."""
    member = Member.objects.get(user=user)
    with disable_recording():
        services.member_activate(member=member)
    return member


def fields(action: Action) -> tuple[Any, ...]:
    return (
        action.actor_name,
        action.verb,
        action.object_repr,
        action.target_repr,
        action.owner_id,
        action.public,
    )


def test_bookmark_records_user_bookmarked_story_for_its_author(alice: Any, rae: Any) -> None:
    story = factories.story(alice, "Dawn")
    with capture_actions() as captured:
        assert services.bookmark_toggle(story=story, user=rae) is True
    assert [fields(a) for a in captured] == [("rae", "bookmarked", "Dawn", "", alice.pk, True)]
    assert captured[0].object_type == ContentType.objects.get_for_model(Story)


def test_removing_a_bookmark_is_a_staff_only_delete(alice: Any, rae: Any) -> None:
    story = factories.story(alice, "Dawn")
    services.bookmark_toggle(story=story, user=rae)
    with capture_actions() as captured:
        assert services.bookmark_toggle(story=story, user=rae) is False
    assert [(a.verb, a.public) for a in captured] == [("deleted", False)]


def test_review_records_reviewer_reviewed_review_on_story(alice: Any, rita: Any) -> None:
    story = factories.story(alice, "Dawn")
    with capture_actions() as captured:
        review = services.review_create(story=story, reviewer=rita, rating=4, body="Well told.")
    assert [fields(a) for a in captured] == [("rita", "reviewed", str(review), "Dawn", alice.pk, True)]
    assert captured[0].object_type == ContentType.objects.get_for_model(Review)


def test_reply_is_for_the_reviewer(alice: Any, rae: Any, rita: Any) -> None:
    review = factories.review(factories.story(alice), rita)
    with capture_actions() as captured:
        reply = services.reply_create(review=review, author=alice, body="Thank you!")
    assert [fields(a) for a in captured] == [("alice", "replied", "Thank you!", str(review), rita.pk, True)]
    assert (captured[0].object_type, captured[0].object_id) == (
        ContentType.objects.get_for_model(Reply),
        str(reply.pk),
    )


def test_thumbs_up_records_liked_review_for_the_reviewer(alice: Any, rae: Any, rita: Any) -> None:
    review = factories.review(factories.story(alice), rita)
    with capture_actions() as captured:
        services.thumbs_up_toggle(review=review, user=rae)
    assert [fields(a) for a in captured] == [("rae", "liked", str(review), "", rita.pk, True)]


@pytest.mark.django_db(transaction=True)
def test_routes_cost_the_write_and_one_insert(
    alice: Any, rae: Any, rita: Any, django_assert_num_queries: Any
) -> None:
    story = Story.objects.select_related("author").get(pk=factories.story(alice).pk)
    review = factories.review(story, rita)
    Reply.objects.create(review=review, author=rae, body="warms the content-type cache")
    with django_assert_num_queries(2):
        Reply.objects.create(review=review, author=rae, body="x")


def test_five_failed_logins_lock_the_member_audited_with_ip(rae: Any) -> None:
    active_member(rae)
    client = Client(REMOTE_ADDR="203.0.113.50")
    with capture_actions() as captured:
        for _ in range(5):
            client.post("/accounts/login/", {"username": "rae", "password": "wrong"})
        # From another address (this one now waits): the lock refuses the right password.
        elsewhere = Client(REMOTE_ADDR="192.0.2.10")
        refused = elsewhere.post("/accounts/login/", {"username": "rae", "password": PASSWORD})

    assert Member.objects.get(user=rae).state == "locked"
    assert "_auth_user_id" not in elsewhere.session and refused.status_code == 200
    assert captured.verbs().count("failed login") == 6
    # The attempted name is kept, never what was typed as the password.
    assert not any(PASSWORD in repr(vars(action)) or "wrong" in repr(vars(action)) for action in captured)
    [lock] = [a for a in captured if a.verb == "changed state"]
    assert (lock.actor_name, lock.changes, lock.ip, lock.public) == (
        "system",
        {"state": ["active", "locked"]},
        "203.0.113.50",
        False,
    )
    assert lock.object_repr == "member rae"


def test_staff_unlock_button_is_audited_with_the_staff_member(rae: Any, admin: Any) -> None:
    member = active_member(rae)
    with disable_recording():
        services.member_lock(member=member)
    client = Client(REMOTE_ADDR="198.51.100.20")
    client.force_login(admin)
    with capture_actions() as captured:
        client.post(f"/members/{member.pk}/unlock/")
    [change] = [a for a in captured if a.verb == "changed state"]
    assert (change.actor_name, change.changes, change.ip) == (
        "admin",
        {"state": ["locked", "active"]},
        "198.51.100.20",
    )


def test_admin_form_forcing_a_state_is_audited_with_its_initiator(rae: Any, admin: Any) -> None:
    member = active_member(rae)
    client = Client()
    client.force_login(admin)
    with capture_actions() as captured:
        response = client.post(
            f"/admin/publishing/member/{member.pk}/change/", {"state": "deactivated", "failed_logins": "0"}
        )
    assert response.status_code == 302, response.content.decode()[:500]
    assert Member.objects.get(pk=member.pk).state == "deactivated"
    assert [(a.actor_name, a.verb, a.changes) for a in captured if a.verb == "changed state"] == [
        ("admin", "changed state", {"state": ["active", "deactivated"]})
    ]
    assert not Client().login(username="rae", password=PASSWORD)


def test_state_change_from_a_command_is_by_cli(rae: Any) -> None:
    member = active_member(rae)
    with capture_actions() as captured:
        call_command(
            "shell",
            "-c",
            f"from publishing import services; from publishing.models import Member; "
            f"services.member_deactivate(member=Member.objects.get(pk={member.pk}))",
            stdout=StringIO(),
        )
    assert [(a.actor_name, a.ip, a.changes) for a in captured] == [
        ("CLI", None, {"state": ["active", "deactivated"]})
    ]


def test_first_login_activates_the_member_as_themself(db: Any) -> None:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("newbie", password=PASSWORD)
    assert Member.objects.get(user=user).state == "invited"
    client = Client()
    with capture_actions() as captured:
        client.post("/accounts/login/", {"username": "newbie", "password": PASSWORD})
    assert "_auth_user_id" in client.session
    assert [(a.actor_name, a.changes) for a in captured if a.verb == "changed state"] == [
        ("newbie", {"state": ["invited", "active"]})
    ]


def scenario(alice: Any, rae: Any, rita: Any) -> list[tuple[Any, ...]]:
    with capture_actions() as captured:
        story = factories.story(alice, "Order")
        services.story_read(story=story, reader=rae)
        services.comment_create(story=story, author=rae, body="c")
        services.bookmark_toggle(story=story, user=rae)
        review = services.review_create(story=story, reviewer=rita, rating=5, body="r")
        services.reply_create(review=review, author=alice, body="thanks")
        services.thumbs_up_toggle(review=review, user=rae)
        story.title = "Order, again"
        story.save()
    return sorted(
        (a.verb, a.actor_name, a.object_repr, a.target_repr, a.owner_id, str(a.changes)) for a in captured
    )


def test_routes_do_not_depend_on_their_order(alice: Any, rae: Any, rita: Any) -> None:
    from streams import registry

    first = scenario(alice, rae, rita)
    routes = registry.routes()
    for route in routes:
        route.signal.disconnect(sender=route.sender, dispatch_uid=route.dispatch_uid)
    for route in reversed(routes):
        route.signal.connect(route, sender=route.sender, weak=False, dispatch_uid=route.dispatch_uid)
    try:
        second = scenario(alice, rae, rita)
    finally:
        for route in routes:
            route.signal.disconnect(sender=route.sender, dispatch_uid=route.dispatch_uid)
        registry.connect()
    assert second == first and len(first) == 8
