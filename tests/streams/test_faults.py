"""Bad input and faults: the business write always succeeds, nothing half-written, failures counted."""

from __future__ import annotations

import datetime
import json
import logging
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models.signals import post_save
from django.dispatch import Signal
from django.test import Client

from publishing.models import Comment, Story, StoryRead
from streams import changes, record, registry, track
from streams.health import health
from streams.models import Action
from streams.testing import capture_actions
from streams.tracking import _tracked, jsonable
from tests import factories


@pytest.mark.django_db
def test_loaddata_records_nothing(alice: Any, rae: Any, tmp_path: Path) -> None:
    story = factories.story(alice)
    fixture = tmp_path / "reads.json"
    fixture.write_text(
        json.dumps(
            [
                {
                    "model": "publishing.storyread",
                    "pk": 500 + n,
                    "fields": {"story": story.pk, "reader": rae.pk, "read_at": "2026-01-01T00:00:00Z"},
                }
                for n in range(3)
            ]
        )
    )
    with capture_actions() as captured:
        call_command("loaddata", str(fixture), stdout=StringIO())
    assert StoryRead.objects.filter(pk__gte=500).count() == 3
    assert captured.verbs() == []


@pytest.mark.django_db(transaction=True)
def test_failing_background_route_is_logged_and_counted(
    alice: Any, rae: Any, caplog: pytest.LogCaptureFixture
) -> None:
    @registry.register(post_save, sender=Comment, name="test-bg-broken", background=True)
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("background boom")

    try:
        comment = Comment.objects.create(story=factories.story(alice), author=rae, body="hi")
        with caplog.at_level(logging.ERROR, logger="streams.routes"):
            call_command("db_worker", "--batch", "--no-startup-delay", stdout=StringIO(), stderr=StringIO())
    finally:
        registry.unregister("test-bg-broken")
    assert Comment.objects.filter(pk=comment.pk).exists()
    assert "test-bg-broken" in caplog.text and "background boom" in caplog.text
    assert health.snapshot()["test-bg-broken"].errors == 1


@pytest.mark.django_db(transaction=True)
def test_background_route_for_a_row_deleted_meanwhile_is_skipped(alice: Any, rae: Any) -> None:
    @registry.register(post_save, sender=Comment, name="test-bg-gone", background=True)
    def notify(*, instance: Comment, **kwargs: Any) -> None:
        record(verb="notified", object=instance)

    try:
        comment = Comment.objects.create(story=factories.story(alice), author=rae, body="hi")
        Comment.objects.filter(pk=comment.pk).delete()
        call_command("db_worker", "--batch", "--no-startup-delay", stdout=StringIO(), stderr=StringIO())
    finally:
        registry.unregister("test-bg-gone")
    assert not Action.objects.filter(verb="notified").exists()
    assert health.snapshot()["test-bg-gone"].skipped == 1


@pytest.mark.django_db
def test_signal_sent_with_unexpected_arguments_is_isolated(caplog: pytest.LogCaptureFixture) -> None:
    odd = Signal()

    @registry.register(odd, name="test-odd")
    def expects_instance(*, instance: Any, **kwargs: Any) -> None:
        record(verb="odd", object=instance)

    try:
        with caplog.at_level(logging.ERROR, logger="streams.routes"):
            odd.send(sender=None, something_else=1)  # no ``instance``
    finally:
        registry.unregister("test-odd")
    assert Action.objects.count() == 0
    assert "test-odd" in caplog.text
    assert health.snapshot()["test-odd"].errors == 1


class Opaque:
    def __str__(self) -> str:
        raise ValueError("cannot be shown")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime.date(2026, 1, 2), "2026-01-02"),
        ((1, 2), [1, 2]),
        (Opaque(), "<Opaque>"),
        (b"bytes", "b'bytes'"),
    ],
)
def test_jsonable_never_raises(value: Any, expected: Any) -> None:
    assert jsonable(value) == expected


@pytest.mark.django_db
def test_diff_of_a_field_that_cannot_be_serialised_is_stored_as_text(alice: Any) -> None:
    before = _tracked[Story]
    try:
        track(Story, fields=("published_at",))
        story = Story.objects.get(pk=factories.story(alice).pk)
        story.published_at = story.published_at + datetime.timedelta(days=1)
        story.save()
        diff = changes(story)
    finally:
        _tracked[Story] = before
    old, new = diff["published_at"]
    assert isinstance(old, str) and isinstance(new, str) and old < new
    assert record(verb="updated", object=story, changes={"when": Opaque()}).changes == {"when": "<Opaque>"}


@pytest.mark.django_db
def test_action_admin_is_read_only(admin: Any) -> None:
    action = record(verb="read", actor=admin)
    client = Client()
    client.force_login(admin)
    assert client.get("/admin/streams/action/").status_code == 200
    assert client.get("/admin/streams/action/add/").status_code == 403
    change = client.post(f"/admin/streams/action/{action.pk}/change/", {"verb": "forged"})
    assert change.status_code in {200, 403}
    assert client.post(f"/admin/streams/action/{action.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Action.objects.get(pk=action.pk).verb == "read"
