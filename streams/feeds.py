"""Each table as a feed: Atom (``<table>/feed.atom``) and JSON Activity Streams 2.0 (``<table>/feed.json``).

A feed shows what its table shows, with the same filters and the same
scope (``streams.views.ActionTableMixin``): its newest ``FEED_ITEMS`` rows.
Feed readers hold no session, so a feed URL may carry the viewer's secret
token (``?token=``, ``FeedToken``), shown and regenerated on ``feeds/``; a
wrong or revoked token is a 404, never anyone's rows. Without a token the
session's user is the viewer, as on the page. What only staff see in a
table (IP, user agent, diffs, request ids) is never in a feed.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import feedgenerator

from streams.models import FeedToken
from streams.tables import Table, site

FEED_ITEMS = 50
TOKEN_PARAM = "token"
ATOM = "application/atom+xml; charset=utf-8"
ACTIVITY_JSON = "application/activity+json; charset=utf-8"
# An action's verb as an Activity Streams type, where one fits; else plain "Activity".
ACTIVITY_TYPES = {
    "published": "Create",
    "created": "Create",
    "opened": "Create",
    "commented": "Create",
    "reviewed": "Create",
    "replied": "Create",
    "filed": "Create",
    "read": "View",
    "liked": "Like",
    "bookmarked": "Add",
    "updated": "Update",
    "moved": "Update",
    "changed state": "Update",
    "deleted": "Delete",
    "logged in": "Join",
    "logged out": "Leave",
    "followed": "Follow",
}


def new_token() -> str:
    return secrets.token_urlsafe(32)


def regenerate(user: Any) -> str:
    """A new token for ``user``; the old one stops working at once."""
    token = new_token()
    FeedToken.objects.update_or_create(user_id=user.pk, defaults={"token": token})
    return token


def revoke(user: Any) -> None:
    FeedToken.objects.filter(user_id=user.pk).delete()


def token_of(user: Any) -> str | None:
    return FeedToken.objects.filter(user_id=user.pk).values_list("token", flat=True).first()


def user_for_token(token: str) -> Any:
    """The active user whose token this is; 404 for a wrong or revoked token (one query)."""
    if not token or len(token) > 64:
        raise Http404("No such feed.")
    found = FeedToken.objects.select_related("user").filter(token=token).first()
    if found is None or not found.user.is_active:
        raise Http404("No such feed.")
    return found.user


def _title(action: Any) -> str:
    return str(action)


def _link(request: HttpRequest, table_url: str, action: Any) -> str:
    """The object's page, else the target's (a comment: its story), else the row in its table."""
    url = None
    if action.object_type_id and action.object_id:
        url = site.url_for(action.object_type_id, action.object_id)
    if url is None and action.target_type_id and action.target_id:
        url = site.url_for(action.target_type_id, action.target_id)
    return request.build_absolute_uri(url or f"{table_url}#action-{action.pk}")


def _id(request: HttpRequest, action: Any) -> str:
    """A stable id for the action: a tag URI (RFC 4151) of the site and the action."""
    return f"tag:{request.get_host().split(':')[0]},2026:action-{action.pk}"


def atom(request: HttpRequest, kind: Table, actions: Sequence[Any], table_url: str) -> HttpResponse:
    feed = feedgenerator.Atom1Feed(
        title=kind.title,
        link=request.build_absolute_uri(table_url),
        description=kind.description,
        feed_url=request.build_absolute_uri(),
        id=request.build_absolute_uri(table_url),
    )
    for action in actions:
        feed.add_item(
            title=_title(action),
            link=_link(request, table_url, action),
            description=_title(action),
            unique_id=_id(request, action),
            unique_id_is_permalink=False,
            pubdate=action.timestamp,
            updateddate=action.timestamp,
            author_name=action.actor_name,
            categories=[action.verb],
        )
    response = HttpResponse(content_type=ATOM)
    feed.write(response, "utf-8")
    return response


def activity_streams(
    request: HttpRequest, kind: Table, actions: Sequence[Any], table_url: str
) -> HttpResponse:
    """The rows as an Activity Streams 2.0 ``OrderedCollection``, newest first."""

    def thing(text: str, type_id: int | None, object_id: str) -> dict[str, Any] | None:
        if not text:
            return None
        found: dict[str, Any] = {"type": "Object", "name": text}
        url = site.url_for(type_id, object_id) if type_id and object_id else None
        if url:
            found["url"] = request.build_absolute_uri(url)
        return found

    items = []
    for action in actions:
        item: dict[str, Any] = {
            "type": ACTIVITY_TYPES.get(action.verb, "Activity"),
            "id": request.build_absolute_uri(f"{table_url}#action-{action.pk}"),
            "summary": _title(action),
            "actor": {"type": "Person" if action.actor_id else "Object", "name": action.actor_name},
            "published": action.timestamp.isoformat(),
            "signalboard:verb": action.verb,
        }
        for key, value in (
            ("object", thing(action.object_repr, action.object_type_id, action.object_id)),
            ("target", thing(action.target_repr, action.target_type_id, action.target_id)),
        ):
            if value is not None:
                item[key] = value
        items.append(item)
    body = {
        "@context": ["https://www.w3.org/ns/activitystreams", {"signalboard": "urn:signalboard:"}],
        "type": "OrderedCollection",
        "id": request.build_absolute_uri(),
        "name": kind.title,
        "summary": kind.description,
        "url": request.build_absolute_uri(table_url),
        "orderedItems": items,
    }
    return HttpResponse(json.dumps(body, ensure_ascii=False), content_type=ACTIVITY_JSON)
