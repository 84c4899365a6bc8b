"""Background routes, route health, pruning, system checks, test helpers, async context."""

from __future__ import annotations

import datetime
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db.models.signals import post_save
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from django.utils import timezone

from publishing import services
from publishing.models import Comment, Story
from streams import acting_as, record, registry, track
from streams.checks import check_middleware, check_routes
from streams.context import current
from streams.health import health
from streams.middleware import RequestContextMiddleware
from streams.models import Action
from streams.testing import capture_actions, disable_routes
from streams.tracking import _tracked
from tests import factories


@pytest.fixture
def background_route() -> Any:
    @registry.register(post_save, sender=Comment, name="test-notify", background=True)
    def notify(*, instance: Comment, created: bool, **kwargs: Any) -> None:
        if created:
            record(verb="notified", object=instance, owner=instance.story.author_id, public=False)

    yield
    registry.unregister("test-notify")


@pytest.mark.django_db(transaction=True)
def test_background_route_runs_only_when_the_worker_does(alice: Any, rae: Any, background_route: Any) -> None:
    story = factories.story(alice)
    with acting_as(rae, ip="192.0.2.4"):
        comment = services.comment_create(story=story, author=rae, body="hi")

    assert not Action.objects.filter(verb="notified").exists()
    assert Action.objects.filter(verb="commented").exists()  # the inline route did not wait

    call_command("db_worker", "--batch", "--no-startup-delay", stdout=StringIO(), stderr=StringIO())

    notified = Action.objects.get(verb="notified")
    assert (notified.object_id, notified.owner_id) == (str(comment.pk), alice.pk)
    assert (notified.actor_name, notified.ip) == ("rae", "192.0.2.4")  # the request's context travelled


@pytest.mark.django_db(transaction=True)
def test_rolled_back_save_enqueues_no_background_route(alice: Any, rae: Any, background_route: Any) -> None:
    from django.db import transaction
    from django_tasks_db.models import DBTaskResult

    story = factories.story(alice)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.comment_create(story=story, author=rae, body="hi")
        raise RuntimeError
    assert DBTaskResult.objects.count() == 0


@pytest.mark.django_db
def test_streams_stats_prints_calls_errors_and_percentiles(alice: Any, rae: Any) -> None:
    story = factories.story(alice)

    @registry.register(post_save, sender=Comment, name="test-flaky")
    def flaky(*, instance: Comment, **kwargs: Any) -> None:
        if instance.body == "fail":
            raise ValueError("flaky")

    try:
        for body in ("ok", "fail", "ok"):
            services.comment_create(story=story, author=rae, body=body)
    finally:
        registry.unregister("test-flaky")
    health.flush()
    out = StringIO()
    call_command("streams_stats", stdout=out)

    lines = {line.split()[0]: line.split() for line in out.getvalue().splitlines()[2:] if line.strip()}
    assert lines["test-flaky"][1:3] == ["3", "1"]
    assert lines["comment-created"][1:3] == ["3", "0"]
    assert lines["comment-created"][4].startswith("≤")


@pytest.mark.django_db
def test_route_health_adds_up_across_flushes() -> None:
    from streams.models import RouteStat

    health.called("r", 0.3, failed=False)
    health.flush()
    health.called("r", 3, failed=True)
    health.flush()
    stat = RouteStat.objects.get(name="r")
    assert (stat.calls, stat.errors, sum(stat.histogram)) == (2, 1, 2)


@pytest.mark.django_db
def test_streams_prune_deletes_only_older_actions() -> None:
    old = record(verb="read", timestamp=timezone.now() - datetime.timedelta(days=40))
    new = record(verb="read")
    cutoff = (timezone.now() - datetime.timedelta(days=30)).date().isoformat()

    out = StringIO()
    call_command("streams_prune", before=cutoff, stdout=out)

    assert list(Action.objects.values_list("id", flat=True)) == [new.pk]
    assert old is not None and "Deleted 1 actions" in out.getvalue()
    with pytest.raises(CommandError, match="not a date"):
        call_command("streams_prune", before="last tuesday")


def test_check_reports_missing_middleware() -> None:
    with override_settings(MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware"]):
        assert [m.id for m in check_middleware()] == ["streams.E001"]
    assert check_middleware() == []


def test_check_reports_tracked_field_the_model_lacks() -> None:
    before = _tracked[Story]
    try:
        track(Story, fields=("headline",))
        errors = check_routes()
    finally:
        _tracked[Story] = before
    assert [e.id for e in errors] == ["streams.E003"]
    assert "headline" in errors[0].msg and "title" in errors[0].hint


def test_check_reports_route_on_untracked_field() -> None:
    registry.register(post_save, sender=Story, name="test-untracked", when_changed=("published_at",))(
        lambda **kwargs: None
    )
    try:
        errors = check_routes()
    finally:
        registry.unregister("test-untracked")
    assert [e.id for e in errors] == ["streams.E004"]
    assert check_routes() == []


@pytest.mark.django_db
def test_disable_routes_switches_named_routes_off(alice: Any, rae: Any) -> None:
    story = factories.story(alice)
    with capture_actions() as captured, disable_routes("story-read"):
        services.story_read(story=story, reader=rae)
        services.comment_create(story=story, author=rae, body="x")
    assert captured.verbs() == ["commented"]


@pytest.mark.django_db
@override_settings(STREAMS={"DISABLED_ROUTES": ["comment-created"], "STATS_FLUSH_SECONDS": None})
def test_disabled_routes_setting(alice: Any, rae: Any) -> None:
    story = factories.story(alice)
    with capture_actions() as captured:
        services.comment_create(story=story, author=rae, body="x")
    assert captured.verbs() == []


async def test_middleware_sets_context_for_async_views() -> None:
    seen = {}

    async def view(request: Any) -> HttpResponse:
        seen["ip"], seen["ua"], seen["cli"] = current().ip, current().user_agent, current().cli
        return HttpResponse()

    middleware = RequestContextMiddleware(view)
    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.2", HTTP_USER_AGENT="Curl/8")
    await middleware(request)
    assert seen == {"ip": "198.51.100.2", "ua": "Curl/8", "cli": False}
    assert current().cli is True  # and gone after the request


async def test_consumer_middleware_sets_context_for_the_connection() -> None:
    from streams.asgi import StreamsContextMiddleware

    seen = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["ip"], seen["ua"] = current().ip, current().user_agent

    scope = {"type": "websocket", "client": ("203.0.113.5", 5000), "headers": [(b"user-agent", b"Browser/1")]}
    await StreamsContextMiddleware(app)(scope, None, None)
    assert seen == {"ip": "203.0.113.5", "ua": "Browser/1"}
