"""Whatever a visitor types into a query string: a page, a form error or a 400, never a 5xx."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from django.core.exceptions import PermissionDenied
from django.http import QueryDict
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams import disable_recording
from streams.live import BadSubscription
from streams.live.tables import subscribe
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/admin/streams/action/?verb=%00",
        "/admin/streams/action/?q=a%00b",
        "/feed/?actor=%00",
        "/feed/?q%00=x",
    ],
)
def test_a_nul_in_the_query_string_is_a_400(admin: Any, client_for: Any, path: str) -> None:
    response = client_for(admin).get(path)
    assert response.status_code == 400
    assert b"NUL" in response.content


def test_the_admin_filters_still_work(admin: Any, client_for: Any, history: dict[str, Any]) -> None:
    response = client_for(admin).get("/admin/streams/action/", {"verb": "read", "q": "rae"})
    assert response.status_code == 200


# Hostile values: huge and negative numbers, NUL and other control bytes,
# invalid UTF-8 (a lone surrogate's bytes), unicode, SQL and HTML fragments.
HOSTILE_BYTES = [
    b"",
    b"9" * 40,
    b"-1",
    b"-99999999999999999999",
    b"0",
    b"1e309",
    b"NaN",
    b"\x00",
    b"\x1f\x7f",
    b"\xed\xa0\x80",  # a lone surrogate, UTF-8 encoded: not valid UTF-8
    b"\xff\xfe",
    "Straße ΣΊΣΥΦΟΣ ☕ 𝔘".encode(),
    b"' OR 1=1 --",
    b'"; DROP TABLE streams_action; --',
    b"<script>alert(1)</script>",
    b"%",
    b"_",
    b"\\",
    b"9999-12-31",
    b"0000-01-01",
    b"2026-02-30",
    b"-timestamp",
    b"last",
    b"W10",
    b"x" * 5000,
]
NAMES = [
    "actor", "verb", "object_type", "target_type", "since", "until", "q", "sort", "cursor", "page",
    "author", "reviewer", "table", "after", "floor", "mode", "unknown",
]  # fmt: skip

pairs = st.lists(
    st.tuples(
        st.sampled_from(NAMES).map(str.encode) | st.binary(max_size=8),
        st.sampled_from(HOSTILE_BYTES) | st.binary(max_size=20),
    ),
    max_size=6,
)


def query_string(chosen: list[tuple[bytes, bytes]]) -> str:
    return "&".join(f"{quote_from_bytes(key)}={quote_from_bytes(value)}" for key, value in chosen)


@pytest.fixture
def cast(db: Any) -> dict[str, Any]:
    alice = factories.user("alice", "author")
    rita = factories.user("rita", "reviewer")
    story = factories.story(alice, "Dawn")
    factories.review(story, rita)
    return {
        "admin": factories.user("admin", "staff"),
        "alice": alice,
        "rita": rita,
        "rae": factories.user("rae"),
    }


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    chosen=pairs,
    table=st.sampled_from(["feed", "reads", "replies", "audit"]),
    viewer=st.sampled_from(["admin", "alice", "rita", "rae"]),
)
def test_hostile_query_strings_never_answer_5xx(
    cast: dict[str, Any], chosen: list[tuple[bytes, bytes]], table: str, viewer: str
) -> None:
    client = Client(raise_request_exception=False)
    with disable_recording():
        client.force_login(cast[viewer])
    qs = query_string(chosen)
    for path, headers in (
        (f"/{table}/", {}),
        (f"/{table}/", {"HTTP_HX_REQUEST": "true"}),
        (f"/{table}/export.csv", {}),
    ):
        response = client.get(path, QUERY_STRING=qs, **headers)
        if response.streaming:
            b"".join(response.streaming_content)
        assert response.status_code < 500, (path, qs, response.status_code)

    # The socket reads the same query string: a subscription or a refusal
    # (closed 4400 or 4403), never an exception that would crash the consumer.
    params = QueryDict(f"table={table}&{qs}")
    with contextlib.suppress(BadSubscription, PermissionDenied):
        subscribe(cast[viewer], params)


@pytest.mark.parametrize(
    "query",
    [
        "timestamp__year=99999",
        "timestamp__year=-5",
        "timestamp__year=2026&timestamp__month=13",
        "timestamp__year=2026&timestamp__month=2&timestamp__day=30",
        "public__exact=maybe",
        "verb=%F0%9F%98%80",
        "o=99",
        "p=99999999999999999999",
        "p=-1",
        "q=" + "x" * 5000,
        "timestamp__gte=2026-99-99",
        "id__in=1,2,x",
    ],
)
def test_the_action_admins_filters_and_pages_never_answer_5xx(
    admin: Any, client_for: Any, query: str
) -> None:
    client = client_for(admin)
    client.raise_request_exception = False
    assert client.get(f"/admin/streams/action/?{query}").status_code < 500
