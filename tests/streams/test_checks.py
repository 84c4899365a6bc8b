"""System checks that help an adopter, and no false alarm."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import path

from streams import record
from streams.checks import check_middleware, check_routes
from streams.models import Action
from streams.registration import registry


def recording_view(request: HttpRequest) -> HttpResponse:
    record(verb="looked")  # the actor from the request's context
    return HttpResponse("ok")


urlpatterns = [path("look/", recording_view)]

AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
STREAMS = "streams.middleware.RequestContextMiddleware"


@pytest.mark.django_db
@pytest.mark.urls("tests.streams.test_checks")
def test_the_middleware_may_come_before_authentication(rae: Any) -> None:
    from django.conf import settings

    middleware = [m for m in settings.MIDDLEWARE if m != STREAMS]
    middleware.insert(0, STREAMS)  # before sessions and authentication
    assert middleware.index(STREAMS) < middleware.index(AUTH)
    with override_settings(MIDDLEWARE=middleware):
        assert check_middleware() == []
        client = Client()
        client.force_login(rae)
        assert client.get("/look/", REMOTE_ADDR="203.0.113.9").status_code == 200

    action = Action.objects.get(verb="looked")
    assert (action.actor_id, action.actor_name, action.ip) == (rae.pk, "rae", "203.0.113.9")


def test_no_route_registered_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "streams.W001" not in [m.id for m in check_routes()]  # the demo's hub has routes

    monkeypatch.setattr(registry, "_routes", {})
    warnings = [m for m in check_routes() if m.id == "streams.W001"]

    assert len(warnings) == 1 and not warnings[0].is_serious()
    assert "routes.py" in warnings[0].hint
