"""The public API a project declares its live tables with (streams.tables), and what it relies on."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.template import Context, Template
from django.test import override_settings

from streams import kinds, record
from streams.checks import check_live_broadcast, check_live_tables
from streams.models import Action
from streams.query import ActionQuery
from streams.tables import ALL_COLUMNS, DEFAULT_COLUMNS, Table, TableSite


def test_a_table_needs_little_and_fills_in_the_rest() -> None:
    table = Table(name="assigned", title="Assigned to me", owner_param="assigned_to")
    assert (table.label, table.description, table.owner_label) == ("Assigned to me", "", "Assigned to")
    assert table.columns == DEFAULT_COLUMNS and "object_type" not in DEFAULT_COLUMNS
    assert set(DEFAULT_COLUMNS) < set(ALL_COLUMNS)


@pytest.mark.parametrize(
    ("field", "value"), [("columns", ("timestamp", "secret")), ("filters", ("actor", "whatever"))]
)
def test_an_unknown_column_or_filter_is_named_when_declared(field: str, value: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match=value[-1]):
        Table(name="t", title="T", **{field: value})


def test_staff_only_columns_stay_hidden_from_others_whatever_a_table_declares() -> None:
    table = Table(name="t", title="T", columns=ALL_COLUMNS)
    assert [c.name for c in table.table([], staff=True).columns] == list(ALL_COLUMNS)
    assert [c.name for c in table.table([], staff=False).columns] == [
        "timestamp",
        "actor_name",
        "verb",
        "object_type",
        "object_repr",
        "target_repr",
    ]


def test_an_owner_with_a_uuid_key_matches_after_the_broadcast_goes_through_json() -> None:
    owner = uuid.uuid4()
    message = Action(pk=1, actor_name="ada", verb="opened", owner_id=owner, public=True)
    message.timestamp = message.timestamp  # the model's default
    wire = json.loads(json.dumps(message.broadcast_message()))
    assert ActionQuery(owner_id=owner).matches(wire)
    assert not ActionQuery(owner_id=uuid.uuid4()).matches(wire)
    assert ActionQuery(owner_id=7).owner_id == 7


@pytest.mark.django_db
def test_staff_pick_among_the_recorded_owners_by_default(alice: Any, bob: Any, rae: Any) -> None:
    record(verb="read", actor=rae, owner=bob)
    record(verb="read", actor=rae, owner=alice)
    record(verb="read", actor=bob, owner=alice)
    kinds.forget()
    table = Table(name="t", title="T", owner_param="author")
    assert table.owner_choices() == {"alice": alice.pk, "bob": bob.pk}
    assert Table(name="t", title="T", owner_param="author", owners=lambda: {"x": 1}).owner_choices() == {
        "x": 1
    }


@pytest.mark.django_db
def test_a_kind_whose_content_type_is_gone_is_left_out_and_migrate_forgets_what_was_seen() -> None:
    gone = ContentType.objects.create(app_label="vanished", model="thing")
    Action.objects.create(actor_name="x", verb="read", object_type=gone, object_id="1")
    assert "vanished" in [ct.app_label for ct in kinds.recorded("object_type", public_only=False)]
    Action.objects.filter(object_type=gone).update(object_type=None)
    ContentType.objects.filter(pk=gone.pk).delete()
    ContentType.objects.clear_cache()
    # Still remembered for a minute, but never offered: it no longer exists.
    assert "vanished" not in [ct.app_label for ct in kinds.recorded("object_type", public_only=False)]
    assert kinds._cache
    call_command("migrate", verbosity=0)
    assert not kinds._cache


def test_streams_assets_writes_htmx_the_script_and_the_stylesheet_with_the_nonce() -> None:
    html = Template("{% load streams %}{% streams_assets %}").render(Context({"csp_nonce": "n0nce"}))
    assert '<meta name="htmx-config"' in html and "&quot;400&quot;" in html
    assert 'href="/static/streams/tables.css"' in html
    assert "django_htmx/htmx-2.min.js" in html and "ext/hx-ws-2.min.js" in html
    assert 'src="/static/streams/live.js" defer nonce="n0nce"' in html
    assert html.count('nonce="n0nce"') == 3  # htmx, its extension, live.js


def test_declared_tables_without_an_asgi_server_or_django_htmx_are_named() -> None:
    assert check_live_tables() == []  # the demo
    with override_settings(ASGI_APPLICATION=None):
        assert [m.id for m in check_live_tables()] == ["streams.W002"]
    from django.conf import settings

    apps_without_htmx = [app for app in settings.INSTALLED_APPS if app != "django_htmx"]
    with override_settings(INSTALLED_APPS=apps_without_htmx):
        assert [m.id for m in check_live_tables()] == ["streams.W003"]


def test_no_table_no_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    import streams.tables

    monkeypatch.setattr(streams.tables, "site", TableSite())
    with override_settings(ASGI_APPLICATION=None, STREAMS={}):
        assert check_live_tables() == [] and check_live_broadcast() == []


def test_production_without_a_shared_broadcast_is_named_by_check_deploy() -> None:
    with override_settings(STREAMS={"BROADCAST_URL": None}):
        assert [m.id for m in check_live_broadcast()] == ["streams.W004"]
    with override_settings(STREAMS={"BROADCAST_URL": "redis://127.0.0.1:6379/0"}):
        assert check_live_broadcast() == []
