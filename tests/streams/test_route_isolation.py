"""A route costs one INSERT, and still never breaks the business write.

Statement counts are taken inside ``transaction.atomic()``, where a route
used to open a savepoint around itself; faults are tried inside and outside
a transaction, with Python errors and database errors, on whichever
database the suite runs on (SQLite by default, PostgreSQL under
``make test-services``, where a failed statement aborts the transaction).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import zoneinfo
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from publishing import services
from publishing.models import Comment, Story
from streams import acting_as, record, record_many, recording, registry, search_index
from streams.health import health
from streams.live.transport import Transport
from streams.models import Action
from tests import factories


def statements(captured: CaptureQueriesContext) -> list[str]:
    return [" ".join(query["sql"].split()[:3]) for query in captured.captured_queries]


def savepoints(captured: CaptureQueriesContext) -> list[str]:
    return [sql for sql in statements(captured) if "SAVEPOINT" in sql.upper()]


@pytest.fixture
def story(alice: Any) -> Story:
    story = Story.objects.select_related("author").get(pk=factories.story(alice).pk)
    Comment.objects.create(story=story, author=alice, body="warms the content-type cache")
    return story


@pytest.mark.django_db
def test_a_create_inside_atomic_costs_two_statements_and_no_savepoint(story: Story, rae: Any) -> None:
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        services.comment_create(story=story, author=rae, body="x")

    assert statements(captured) == ['INSERT INTO "publishing_comment"', 'INSERT INTO "streams_action"']


@pytest.mark.django_db
def test_an_update_with_a_diff_inside_atomic_costs_two_statements(story: Story) -> None:
    story.title = "A new title"
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        story.save()

    assert statements(captured) == ['UPDATE "publishing_story" SET', 'INSERT INTO "streams_action"']
    assert Action.objects.filter(verb="updated", object_id=str(story.pk)).exists()


@pytest.mark.django_db
def test_a_created_only_route_does_no_work_on_an_update(story: Story, rae: Any) -> None:
    calls: list[Any] = []

    @registry.register(post_save, sender=Comment, name="test-created-only", when_created=True)
    def created_only(*, instance: Comment, **kwargs: Any) -> None:
        calls.append(instance)

    try:
        comment = services.comment_create(story=story, author=rae, body="first")
        comment.body = "edited"
        with transaction.atomic(), CaptureQueriesContext(connection) as captured:
            comment.save()
    finally:
        registry.unregister("test-created-only")

    assert calls == [comment]  # the creation only
    assert statements(captured) == ['UPDATE "publishing_comment" SET']
    # Not even counted as skipped: an update is simply not its event.
    assert health.snapshot()["test-created-only"].skipped == 0
    assert health.snapshot()["comment-created"].calls == 2  # the fixture's comment and this one


def _python_error() -> None:
    raise RuntimeError("the route's own bug")


def _database_error() -> None:
    Group.objects.create(name="taken")  # unique: an IntegrityError inside the route


def _database_error_in_its_own_atomic() -> None:
    with transaction.atomic():
        Group.objects.create(name="taken")


def _database_error_in_atomic_without_savepoint() -> None:
    # Django marks the transaction as needing a rollback here; the route's
    # savepoint must give it back in a usable state.
    with transaction.atomic(savepoint=False):
        Group.objects.create(name="taken")


def _raw_database_error() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT no_such_column FROM streams_action")


FAULTS: dict[str, Callable[[], None]] = {
    "python": _python_error,
    "database": _database_error,
    "database in its own atomic": _database_error_in_its_own_atomic,
    "database in atomic(savepoint=False)": _database_error_in_atomic_without_savepoint,
    "raw SQL": _raw_database_error,
}


@pytest.fixture
def announced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    published: list[str] = []

    class Recorder(Transport):
        def publish(self, message: dict[str, Any]) -> None:
            published.append(message["verb"])

    monkeypatch.setattr("streams.broadcast.get_transport", Recorder)
    return published


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("inside", ["atomic", "autocommit"])
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("order", ["record, then fail", "query, record, then fail"])
def test_a_failing_route_leaves_the_write_and_the_other_routes_whole(
    alice: Any,
    rae: Any,
    inside: str,
    fault: str,
    order: str,
    announced: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    story = factories.story(alice)
    Group.objects.create(name="taken")
    Action.objects.all().delete()
    announced.clear()

    @registry.register(post_save, sender=Comment, name="test-failing", when_created=True)
    def failing(*, instance: Comment, **kwargs: Any) -> None:
        if order.startswith("query"):
            Group.objects.filter(name="taken").exists()  # work of its own first: a savepoint opens
        record(verb="half-done", object=instance)
        FAULTS[fault]()

    @registry.register(post_save, sender=Comment, name="test-after", when_created=True)
    def after(*, instance: Comment, **kwargs: Any) -> None:
        record(verb="after", object=instance)

    block: AbstractContextManager[Any] = transaction.atomic() if inside == "atomic" else nullcontext()
    try:
        with caplog.at_level(logging.ERROR, logger="streams.routes"), block:
            first = services.comment_create(story=story, author=rae, body="saved")
            # The same transaction goes on: more business writes and their routes.
            second = services.comment_create(story=story, author=rae, body="saved too")
            story.title = "Renamed in the same transaction"
            story.save()
    finally:
        registry.unregister("test-failing")
        registry.unregister("test-after")

    assert Comment.objects.filter(pk__in=[first.pk, second.pk]).count() == 2
    assert Story.objects.get(pk=story.pk).title == "Renamed in the same transaction"
    verbs = sorted(Action.objects.values_list("verb", flat=True))
    assert verbs == sorted(["commented", "after", "commented", "after", "updated"])  # no "half-done"
    assert sorted(announced) == verbs  # nothing of the failed route went out either
    assert health.snapshot()["test-failing"].errors == 2
    assert health.snapshot()["test-after"].errors == 0
    assert caplog.text.count("'test-failing' failed") == 2


@pytest.mark.django_db(transaction=True)
def test_a_route_whose_nested_route_ran_undoes_both_when_it_fails(alice: Any, rae: Any) -> None:
    story = factories.story(alice)
    Action.objects.all().delete()

    @registry.register(post_save, sender=Comment, name="test-outer", when_created=True)
    def outer(*, instance: Comment, **kwargs: Any) -> None:
        record(verb="outer", object=instance)
        Group.objects.create(name="made by a route")  # its own save: fires the route below
        raise RuntimeError("after the nested route succeeded")

    @registry.register(post_save, sender=Group, name="test-inner")
    def inner(*, instance: Group, **kwargs: Any) -> None:
        record(verb="inner", object=instance)

    try:
        with transaction.atomic():
            comment = services.comment_create(story=story, author=rae, body="saved")
    finally:
        registry.unregister("test-outer")
        registry.unregister("test-inner")

    assert Comment.objects.filter(pk=comment.pk).exists()
    assert not Group.objects.filter(name="made by a route").exists()
    assert list(Action.objects.values_list("verb", flat=True)) == ["commented"]


@pytest.mark.django_db
def test_a_route_that_only_records_opens_no_savepoint_even_for_several_actions(
    story: Story, rae: Any
) -> None:
    @registry.register(post_save, sender=Comment, name="test-three", when_created=True)
    def three(*, instance: Comment, **kwargs: Any) -> None:
        record(verb="one", object=instance)
        record(verb="two", object=instance)
        record_many([{"verb": "three", "object": instance}])

    try:
        with transaction.atomic(), CaptureQueriesContext(connection) as captured:
            services.comment_create(story=story, author=rae, body="x")
    finally:
        registry.unregister("test-three")

    assert savepoints(captured) == []
    assert len(captured) == 1 + 1 + 3  # the comment, "commented", and the route's three


@pytest.mark.django_db
def test_a_route_with_work_of_its_own_is_isolated_by_one_savepoint(story: Story, rae: Any) -> None:
    @registry.register(post_save, sender=Comment, name="test-reads", when_created=True)
    def reads(*, instance: Comment, **kwargs: Any) -> None:
        Group.objects.filter(name="x").exists()
        Group.objects.filter(name="y").exists()
        record(verb="read-something", object=instance)

    try:
        with transaction.atomic(), CaptureQueriesContext(connection) as captured:
            services.comment_create(story=story, author=rae, body="x")
    finally:
        registry.unregister("test-reads")

    assert [sql.split()[0] for sql in savepoints(captured)] == ["SAVEPOINT", "RELEASE"]


HOSTILE_VALUES: dict[str, dict[str, Any]] = {
    "NUL in a name": {"actor": "eve\x00il"},
    "a name too long": {"actor": "x" * 1000},
    "a lone surrogate": {"actor": "bad\udcffname"},
    "NaN and infinity in a diff": {"changes": {"score": [float("nan"), float("inf")]}},
    "NUL in a diff": {"changes": {"body": ["a\x00b", "c"], "k\x00ey": 1}},
    "an owner as text": {"owner": "12"},
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(HOSTILE_VALUES))
def test_odd_values_are_made_storable_before_the_insert(alice: Any, case: str) -> None:
    fields = {"verb": "tried", "object": alice, **HOSTILE_VALUES[case]}
    ContentType.objects.get_for_model(alice)  # cached from here on
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        action = record(**fields)
        Action.objects.filter(pk=action.pk).exists()  # the transaction is still usable

    assert len(captured) == 2
    stored = Action.objects.get(pk=action.pk)
    assert "\x00" not in stored.actor_name and len(stored.actor_name) <= 150
    assert "\x00" not in str(stored.changes)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"verb": "v" * 33}, "A verb is a text of 1 to 32 characters"),
        ({"verb": ""}, "A verb is a text of 1 to 32 characters"),
        ({"verb": "read", "owner": "someone"}, "An owner is a user or a user's primary key"),
    ],
)
def test_values_that_cannot_be_stored_fail_in_python_before_any_statement(
    fields: dict[str, Any], message: str, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0), pytest.raises(ValueError, match=message):
        record(**fields)


def test_an_address_that_is_not_one_is_refused_when_the_context_is_set() -> None:
    with pytest.raises(ValueError, match="Not an IP address"), acting_as(None, ip="300.1.1.1"):
        pass


@pytest.mark.django_db
def test_a_kind_that_actions_name_cannot_be_deleted_yet_no_insert_waits_on_a_key_check(alice: Any) -> None:
    from django.db.models import ProtectedError

    story = factories.story(alice)
    record(verb="read", object=story, target=story)
    with pytest.raises(ProtectedError):
        ContentType.objects.get_for_model(Story).delete()
    if connection.vendor == "postgresql":  # SQLite keeps it in the table's definition (migration 0011)
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, Action._meta.db_table)
        assert not [name for name, info in constraints.items() if info["foreign_key"]]


@pytest.mark.django_db
def test_record_many_of_ten_thousand_is_one_statement(alice: Any) -> None:
    entries = [
        {"verb": "imported", "actor": alice, "object": alice, "changes": {"n": n}} for n in range(10_000)
    ]
    with CaptureQueriesContext(connection) as captured:
        actions = record_many(entries)

    # (On SQLite the search index then takes the bulk in one batch.)
    inserts = [sql for sql in statements(captured) if sql == 'INSERT INTO "streams_action"']
    assert inserts == ['INSERT INTO "streams_action"']
    assert len(actions.ids) == 10_000 == len(set(actions.ids))
    assert Action.objects.filter(verb="imported").count() == 10_000


@pytest.mark.django_db
def test_a_bulk_on_sqlite_gets_a_roomy_page_cache_for_itself_only(alice: Any) -> None:
    def cache_size() -> int:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size")
            return cursor.fetchone()[0]

    if connection.vendor != "sqlite":
        pytest.skip("a PRAGMA of SQLite's (make test runs this)")
    seen: list[int] = []
    original = recording._insert_rows

    def spying(conn: Any, rows: Any) -> list[int]:
        seen.append(cache_size())
        return original(conn, rows)

    before = cache_size()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recording, "_insert_rows", spying)
        record_many([{"verb": "imported", "object": alice} for _ in range(search_index.BULK_CATCH_UP)])
        record_many([{"verb": "imported", "object": alice}])
    assert seen == [-recording.BULK_CACHE_KIB, before]  # a bulk, then a single row
    assert cache_size() == before


@given(
    at=st.datetimes(
        min_value=datetime.datetime(1900, 1, 1),
        max_value=datetime.datetime(2200, 1, 1),
        timezones=st.sampled_from(
            [datetime.UTC, zoneinfo.ZoneInfo("Europe/Paris"), zoneinfo.ZoneInfo("America/St_Johns")]
        ),
        allow_imaginary=False,
    )
)
def test_a_bulks_times_are_written_as_django_writes_them(at: datetime.datetime) -> None:
    """SQLite: the bulk's own conversion of an aware time is Django's, text for text."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's conversion (make test runs this)")
    field = Action._meta.get_field("timestamp")
    expected = field.get_db_prep_save(at, connection=connection)
    assert recording._json_converter(field, connection)(at) == expected


@pytest.mark.django_db(transaction=True)
def test_a_raw_error_the_handler_catches_leaves_the_write_whole(alice: Any, rae: Any) -> None:
    # On PostgreSQL the transaction is aborted though nothing was raised: the
    # route's savepoint cannot be released, so it is rolled back instead. On
    # SQLite the transaction is still good and the route stands as it chose.
    story = factories.story(alice)

    @registry.register(post_save, sender=Comment, name="test-catching", when_created=True)
    def catching(*, instance: Comment, **kwargs: Any) -> None:
        record(verb="half-done", object=instance)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT no_such_column FROM streams_action")
        except Exception:
            pass

    try:
        with transaction.atomic():
            comment = services.comment_create(story=story, author=rae, body="saved")
            services.comment_create(story=story, author=rae, body="saved too")
    finally:
        registry.unregister("test-catching")

    assert Comment.objects.filter(story=story).count() == 2
    assert Action.objects.filter(verb="commented", object_id=str(comment.pk)).exists()
    half = Action.objects.filter(verb="half-done").count()
    assert half == (0 if connection.vendor == "postgresql" else 2)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("inside", ["atomic", "autocommit"])
def test_a_database_error_the_handler_catches(alice: Any, rae: Any, inside: str) -> None:
    # Inside a transaction Django marks it for rollback: the route's work is
    # rolled back to its savepoint and the route counts as failed, as
    # transaction.atomic() would have it. In autocommit nothing is broken:
    # the route goes on as it chose.
    story = factories.story(alice)
    Group.objects.create(name="taken")

    @registry.register(post_save, sender=Comment, name="test-swallowing", when_created=True)
    def swallowing(*, instance: Comment, **kwargs: Any) -> None:
        record(verb="half-done", object=instance)
        with contextlib.suppress(IntegrityError):
            Group.objects.create(name="taken")

    block: AbstractContextManager[Any] = transaction.atomic() if inside == "atomic" else nullcontext()
    try:
        with block:
            services.comment_create(story=story, author=rae, body="saved")
            services.comment_create(story=story, author=rae, body="saved too")
    finally:
        registry.unregister("test-swallowing")

    assert Comment.objects.filter(story=story).count() == 2
    assert Action.objects.filter(verb="commented").count() == 2
    failed = inside == "atomic"
    assert Action.objects.filter(verb="half-done").count() == (0 if failed else 2)
    assert health.snapshot()["test-swallowing"].errors == (2 if failed else 0)


@pytest.mark.django_db(transaction=True)
def test_a_bulk_recorded_inside_a_route_is_never_made_into_instances(
    alice: Any, rae: Any, announced: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from streams import recording

    story = factories.story(alice)
    made: list[int] = []
    real = recording._saved_action
    monkeypatch.setattr(recording, "_saved_action", lambda pk, *rest: made.append(pk) or real(pk, *rest))
    published: list[tuple[int, int, int]] = []
    monkeypatch.setattr(
        "streams.recording.announce_range", lambda first, last, count: published.append((first, last, count))
    )

    @registry.register(post_save, sender=Comment, name="test-bulk", when_created=True)
    def bulk(*, instance: Comment, **kwargs: Any) -> None:
        record_many([{"verb": "imported", "object": instance} for _ in range(150)])

    try:
        services.comment_create(story=story, author=rae, body="saved")
    finally:
        registry.unregister("test-bulk")

    assert len(made) == 1  # the "commented" action of record(); none of the bulk's 150
    ids = list(Action.objects.filter(verb="imported").values_list("id", flat=True))
    assert published == [(min(ids), max(ids), 150)]
