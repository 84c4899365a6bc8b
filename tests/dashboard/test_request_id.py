"""Each request's correlation id: returned, stored on what the request recorded, filterable by staff."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.test import Client

from streams import context
from streams.models import Action
from streams.query import ActionQuery
from tests import factories

PROXY = "10.0.0.2"


def read(client: Client, story: Any, **headers: Any) -> tuple[str, Action]:
    response = client.get(f"/stories/{story.pk}/", **headers)
    assert response.status_code == 200
    return response["X-Request-ID"], Action.objects.filter(verb="read").latest("id")


@pytest.fixture
def dawn(alice: Any) -> Any:
    return factories.story(alice, "Dawn")


def test_every_request_gets_an_id_returned_and_stored_on_its_actions(
    client_for: Any, rae: Any, dawn: Any
) -> None:
    first, action = read(client_for(rae), dawn)
    second, _ = read(client_for(rae), dawn)
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second
    assert action.request_id == first
    assert Client().get("/accounts/login/")["X-Request-ID"]


@pytest.mark.parametrize(
    ("remote", "given", "believed"),
    [
        (PROXY, "edge-7f3a.42", True),
        ("203.0.113.9", "edge-7f3a.42", False),  # anyone may send the header; only the proxy is believed
        (PROXY, "<script>", False),
        (PROXY, "x" * 65, False),
        (PROXY, "", False),
    ],
)
def test_a_trusted_proxys_request_id_is_believed_and_nothing_else(
    client_for: Any, rae: Any, dawn: Any, settings: Any, remote: str, given: str, believed: bool
) -> None:
    settings.TRUSTED_PROXIES = [PROXY]
    returned, action = read(client_for(rae), dawn, REMOTE_ADDR=remote, HTTP_X_REQUEST_ID=given)
    assert (returned == given) is believed
    assert action.request_id == returned
    assert re.fullmatch(r"[A-Za-z0-9._:@+=/-]{1,64}", returned)


def test_background_work_keeps_the_request_id() -> None:
    with context.request_context(ip=None, user_agent="", request_id="req-1"):
        packed = context.pack()
    with context.unpacked(packed):
        assert context.current().request_id == "req-1"
    with context.unpacked({**packed, "rid": "bad id!"}):
        assert context.current().request_id == ""


def test_staff_filter_one_requests_actions_and_follow_a_row_to_them(
    client_for: Any, rae: Any, admin: Any, dawn: Any
) -> None:
    first, one = read(client_for(rae), dawn)
    read(client_for(rae), dawn)
    staff = client_for(admin)
    page = staff.get("/feed/").content.decode()
    assert f'<a href="?request={first}" title="Request {first}">same request</a>' in page
    filtered = staff.get(f"/feed/?request={first}").content.decode()
    assert re.findall(r'<tr id="action-(\d+)"', filtered) == [str(one.pk)]
    assert staff.get("/feed/?request=not%20an%20id").status_code == 400
    # Not a reader's: no column, no filter (the parameter is ignored).
    reader = client_for(rae).get(f"/feed/?request={first}").content.decode()
    assert "same request" not in reader and 'name="request"' not in reader
    assert len(re.findall(r"<tr id=\"action-", reader)) == Action.objects.filter(public=True).count() > 2


def test_the_staff_csv_names_each_rows_request_and_a_readers_does_not(
    client_for: Any, rae: Any, admin: Any, dawn: Any
) -> None:
    first, _ = read(client_for(rae), dawn)
    staff = list(
        csv.reader(
            io.StringIO(
                b"".join(
                    client_for(admin).get(f"/feed/export.csv?request={first}").streaming_content
                ).decode()
            )
        )
    )
    assert staff[0][-1] == "request" and [row[-1] for row in staff[1:]] == [first]
    reader = b"".join(client_for(rae).get("/feed/export.csv").streaming_content).decode()
    assert "request" not in reader.splitlines()[0] and first not in reader


def test_the_socket_matches_one_requests_actions() -> None:
    message = Action(pk=1, actor_name="rae", verb="read", request_id="req-1").broadcast_message()
    assert ActionQuery(request_id="req-1").matches(message)
    assert not ActionQuery(request_id="req-2").matches(message)
    assert ActionQuery().matches(message)


def test_the_actions_of_one_request_share_its_id(db: Any) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("newbie", password="a long enough password 1")
    response = Client().post(
        "/accounts/login/", {"username": "newbie", "password": "a long enough password 1"}
    )
    actions = Action.objects.filter(actor_name="newbie").order_by("id")
    # A first login: the member becomes active, and logs in, in one request.
    assert sorted(a.verb for a in actions) == ["changed state", "logged in"]
    assert {a.request_id for a in actions} == {response["X-Request-ID"]}
