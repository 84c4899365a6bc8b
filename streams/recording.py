"""``record()``: the one way an action is written."""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache, partial
from itertools import chain
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connections, models, router, transaction
from django.db.models.base import ModelState

from streams import conf, search, search_index, values
from streams.broadcast import announce_actions, announce_range
from streams.context import _trusted, actor_name, current, running
from streams.models import Action
from streams.values import jsonable

logger = logging.getLogger(__name__)


class _FromContext:
    def __repr__(self) -> str:
        return "FROM_CONTEXT"


FROM_CONTEXT: Any = _FromContext()


def _now() -> datetime.datetime:
    # django.utils.timezone.now(), without reading settings.USE_TZ through
    # the lazy settings object on every action.
    return datetime.datetime.now(datetime.UTC) if conf.use_tz() else datetime.datetime.now()


def actions_db() -> str:
    """The database actions are written to."""
    return router.db_for_write(Action)


def record(**fields: Any) -> Action | None:
    """Write one action in the current transaction and announce it after commit.

    Fields: ``verb``; ``actor``, a user, a plain name (a failed login's
    attempted username) or left out to take the user of the current request
    (``CLI`` outside a request); ``object`` and ``target``, model instances;
    ``owner``, whom the action is for (a user or a user's primary key);
    ``public``; ``changes``, a JSON-able diff; ``timestamp``.

    Costs one INSERT, sent as it is (no model ``save()``, so no model
    signals for Action). Every value is checked and bounded first
    (``streams.values``): a value that cannot be stored raises
    ``ValueError`` before anything is sent, so the INSERT itself does not
    fail for what it carries. Returns ``None`` when recording is disabled.
    """
    ctx = current()
    if not ctx.recording:
        return None
    run, using = _destination()
    connection = connections[using]
    row = _Rows(ctx)(**fields)
    # Inside a route, this INSERT needs no savepoint (RouteRun): its values are checked.
    token = _trusted.set(True)
    try:
        if _fast_insert_supported(connection):
            action = _saved_action(_insert_one(connection, row), row, using)
        else:
            action = Action(**dict(zip(BULK_ATTNAMES, row, strict=True)))
            action.save(using=using, force_insert=True)
    finally:
        _trusted.reset(token)
    _settle((action,), run, using)
    return action


def record_many(entries: Iterable[dict[str, Any]]) -> Sequence[Action]:
    """Write many actions with one bulk INSERT (per batch) and announce them after commit.

    Each entry holds the fields ``record()`` takes, checked alike. For
    routes of bulk operations (``streams.tracking.bulk_created`` and
    friends). Returns the saved actions (with primary keys); on SQLite and
    PostgreSQL they are made into model instances only when read, so a
    route that ignores them pays nothing per row but the INSERT.
    """
    ctx = current()
    if not ctx.recording:
        return []
    run, using = _destination()
    connection = connections[using]
    build = _Rows(ctx)
    rows = [build(**entry) for entry in entries]
    if not rows:
        return []
    token = _trusted.set(True)  # checked values: no savepoint inside a route
    try:
        if not _fast_insert_supported(connection):
            actions: Sequence[Action] = _insert_instances(rows, using)
        else:
            # Also within SQLite's variable limit, for the rare batch bound value by value.
            batch = min(BULK_INSERT_BATCH, connection.ops.bulk_batch_size(_bulk_fields(), rows) or len(rows))
            ids: list[int] = []
            with _roomy_cache(connection, len(rows)):
                for start in range(0, len(rows), batch):
                    ids += _insert_rows(connection, rows[start : start + batch])
                if len(rows) >= search_index.BULK_CATCH_UP:
                    _index_bulk(connection, len(rows))
            actions = RecordedActions(rows, ids, using)
    finally:
        _trusted.reset(token)
    _settle(actions, run, using)
    return actions


@contextmanager
def _roomy_cache(connection: Any, count: int) -> Iterator[None]:
    """SQLite: a page cache large enough for a bulk's index pages, for the bulk only."""
    if connection.vendor != "sqlite" or count < search_index.BULK_CATCH_UP:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (before,) = cursor.fetchone()
        if before >= 0 or -before >= BULK_CACHE_KIB:  # pages, or already as large: leave it
            yield
            return
        cursor.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
        try:
            yield
        finally:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


def _destination() -> tuple[Any, str]:
    """The route running now, if any, and the database actions go to (the route's, once per call)."""
    run = running()
    return run, run.using if run is not None else actions_db()


def _settle(actions: Sequence[Action], run: Any, using: str) -> None:
    """Announce after commit; inside a route, once the route has succeeded (RouteRun)."""
    if run is None:
        announce_after_commit(actions, using)
    else:
        run.recorded.append(actions)


def action_ids(actions: Sequence[Action]) -> list[int]:
    """The primary keys of ``actions``, without making a bulk's instances."""
    return actions.ids if isinstance(actions, RecordedActions) else [action.pk for action in actions]


def _index_bulk(connection: Any, count: int) -> None:
    """A bulk is indexed at once, in one batch (streams.search_index); a search would otherwise."""
    try:
        # Not while the index is dropped for a bulk load (seed_demo): it is rebuilt whole after.
        if connection.vendor == "sqlite" and search_index.installed(connection):
            search_index.catch_up(connection, limit=count + search_index.TAIL)
    except DatabaseError:  # its own savepoint is rolled back: the actions stand, a search scans the tail
        logger.warning("could not index a bulk of %s actions now; searches will", count, exc_info=True)


def announce_after_commit(actions: Sequence[Action], using: str) -> None:
    """Announce ``actions`` once their transaction commits (at once in autocommit)."""
    if len(actions) <= conf.get("BULK_ANNOUNCE_LIMIT"):
        transaction.on_commit(partial(announce_actions, actions), using=using, robust=True)
    else:
        # One message for the lot: each process loads the range once.
        ids = action_ids(actions)
        transaction.on_commit(partial(announce_range, min(ids), max(ids), len(ids)), using=using, robust=True)


# The lengths the columns take; longer text is cut, a longer key refused.
VERB_LENGTH = Action._meta.get_field("verb").max_length
NAME_LENGTH = Action._meta.get_field("actor_name").max_length
KEY_LENGTH = Action._meta.get_field("object_id").max_length
REPR_LENGTH = Action._meta.get_field("object_repr").max_length


class _Rows:
    """Builds the column values of actions, tuples in ``BULK_ATTNAMES`` order.

    No model instance per row: what repeats in a batch (an actor's name, an
    object's content type and text, the folded search text) is worked out
    once per distinct value. Caches are keyed by identity and keep the
    instance, so an id is never reused while a batch is built.
    """

    __slots__ = ("actors", "ctx", "described", "documents")

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.described: dict[int, tuple[Any, tuple[int | None, str, str]]] = {}
        self.actors: dict[int, tuple[Any, tuple[Any, str]]] = {}
        self.documents: dict[tuple[str, str, str, str], str] = {}

    def __call__(
        self,
        *,
        verb: str,
        actor: Any = FROM_CONTEXT,
        object: models.Model | None = None,  # noqa: A002 - the activity-stream term
        target: models.Model | None = None,
        owner: Any = None,
        public: bool = True,
        changes: dict[str, Any] | None = None,
        timestamp: Any = None,
    ) -> tuple[Any, ...]:
        if not isinstance(verb, str) or not 0 < len(verb) <= VERB_LENGTH:
            raise ValueError(f"A verb is a text of 1 to {VERB_LENGTH} characters, not {verb!r}.")
        verb = values.text(verb, VERB_LENGTH)
        if actor is FROM_CONTEXT:
            actor = self.ctx.actor
        if isinstance(actor, str):
            actor_id, name = None, values.text(actor, NAME_LENGTH)
        else:
            found = self.actors.get(id(actor))
            if found is None:
                described_actor = (_saved_pk(actor, "actor"), values.text(actor_name(actor), NAME_LENGTH))
                found = self.actors[id(actor)] = (actor, described_actor)
            actor_id, name = found[1]
        object_type, object_id, object_repr = self.describe(object)
        target_type, target_id, target_repr = self.describe(target)
        key = (name, verb, object_repr, target_repr)
        search_text = self.documents.get(key)
        if search_text is None:
            search_text = self.documents[key] = search.document(*key)
        ctx = self.ctx
        return (
            timestamp or _now(),
            actor_id,
            name,
            verb,
            object_type,
            object_id,
            object_repr,
            target_type,
            target_id,
            target_repr,
            _owner_pk(owner),
            bool(public),
            ctx.ip,
            ctx.user_agent,
            jsonable(changes) if changes is not None else None,
            search_text,
            ctx.request_id or None,
        )

    def describe(self, instance: models.Model | None) -> tuple[int | None, str, str]:
        """An object's content type, key and text."""
        if instance is None:
            return None, "", ""
        found = self.described.get(id(instance))
        if found is None:
            # get_for_model is cached per process: no query after the first call.
            content_type = ContentType.objects.get_for_model(instance, for_concrete_model=False)
            key = str(instance.pk)
            if len(key) > KEY_LENGTH:
                raise ValueError(f"{instance!r}: a primary key longer than {KEY_LENGTH} characters.")
            text = values.text(str(instance), REPR_LENGTH)
            found = self.described[id(instance)] = (instance, (content_type.pk, key, text))
        return found[1]


def _saved_pk(instance: Any, name: str) -> Any:
    if instance is None:
        return None
    if instance.pk is None:
        # What the model path says of an unsaved related object.
        raise ValueError(f"record() prohibited to prevent data loss due to unsaved related object '{name}'.")
    return instance.pk


def _owner_pk(owner: Any) -> Any:
    if owner is None or (type(owner) is int):
        return owner
    if isinstance(owner, models.Model):
        return _saved_pk(owner, "owner")
    try:
        return Action._meta.get_field("owner").target_field.to_python(owner)
    except ValidationError:
        raise ValueError(f"An owner is a user or a user's primary key, not {owner!r}.") from None


def _saved_action(pk: int, row: tuple[Any, ...], using: str) -> Action:
    """The instance of a row just inserted.

    What ``Model.__init__`` leaves behind for these values (every field of
    Action is a plain attribute under its ``attname``), without its
    per-field work: a third of the cost of ``Action(pk, *row)``.
    """
    action = Action.__new__(Action)
    action.__dict__.update(zip(_INSTANCE_ATTNAMES, (pk, *row), strict=True))
    action._state = state = ModelState()
    state.adding = False
    state.db = using
    return action


# Rows per INSERT statement at most.
BULK_INSERT_BATCH = 10000
# SQLite's page cache for a bulk's INSERT (KiB, as PRAGMA cache_size takes a
# negative size): the default 2 MB spills the eleven indexes' dirty pages to
# the WAL mid-statement, and a 64 MB one keeps them to the commit (bench.record_many).
BULK_CACHE_KIB = 65536
# The columns of a bulk INSERT, in the order ``_bulk_rows()`` builds them: every
# concrete field of Action but the primary key.
BULK_ATTNAMES = (
    "timestamp",
    "actor_id",
    "actor_name",
    "verb",
    "object_type_id",
    "object_id",
    "object_repr",
    "target_type_id",
    "target_id",
    "target_repr",
    "owner_id",
    "public",
    "ip",
    "user_agent",
    "changes",
    "search_text",
    "request_id",
)


_INSTANCE_ATTNAMES = ("id", *BULK_ATTNAMES)


@cache
def _bulk_fields() -> tuple[models.Field, ...] | None:
    """Action's fields by ``BULK_ATTNAMES``; None if the model has other columns now.

    The names are the model's concrete fields after the primary key, in
    order, so a row and its key make an instance positionally.
    """
    pk, *fields = Action._meta.concrete_fields
    if (
        not pk.primary_key
        or tuple(f.attname for f in fields) != BULK_ATTNAMES
        or any(f.generated for f in fields)
    ):
        return None
    return tuple(fields)


def _fast_insert_supported(connection: Any) -> bool:
    return (
        connection.vendor in ("sqlite", "postgresql")
        and connection.features.can_return_rows_from_bulk_insert
        and _bulk_fields() is not None
    )


@cache
def _one_row_sql(alias: str) -> tuple[str, tuple[tuple[int, models.Field, bool], ...]]:
    """The one-row INSERT, and which columns' values Django must adapt first.

    Text, booleans and integer keys go to the driver as they are; a
    timestamp, an IP address and the JSON diff are adapted the way the
    model's own save would (``get_db_prep_save``).
    """
    fields = _bulk_fields()
    assert fields is not None
    connection = connections[alias]
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(Action._meta.db_table)} ({', '.join(qn(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    if connection.vendor != "sqlite":
        # SQLite gives the new rowid for free (cursor.lastrowid); RETURNING
        # costs it a measurable share of the INSERT.
        sql += f" RETURNING {qn(Action._meta.pk.column)}"
    adapted = tuple(
        (index, field, isinstance(field, models.DateTimeField))
        for index, field in enumerate(fields)
        if not _passes_as_is(field)
    )
    return sql, adapted


def _passes_as_is(field: models.Field) -> bool:
    if isinstance(field, models.ForeignKey):
        field = field.target_field
    return isinstance(field, models.CharField | models.TextField | models.BooleanField | models.IntegerField)


def _insert_one(connection: Any, row: tuple[Any, ...]) -> int:
    sql, adapted = _one_row_sql(connection.alias)
    params = list(row)
    for index, field, is_datetime in adapted:
        value = params[index]
        if value is None:
            continue  # NULL, whatever the field (a JSON diff's None is SQL NULL too)
        if is_datetime and type(value) is datetime.datetime and value.tzinfo is not None:
            # What DateTimeField.get_db_prep_save comes to for an aware
            # datetime, without its checks for naive ones and strings.
            params[index] = connection.ops.adapt_datetimefield_value(value)
        else:
            params[index] = field.get_db_prep_save(value, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.lastrowid if connection.vendor == "sqlite" else cursor.fetchone()[0]


def _column_values(convert: Callable[[Any], Any], values: tuple[Any, ...]) -> list[Any]:
    """``convert`` of each value, computed once per distinct value.

    Equal values of one type convert alike; a column mixing types (``1``
    and ``True`` are equal but not the same JSON) or holding unhashable
    values (a JSON dict) is converted value by value.
    """
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if len(kinds) <= 1:
        try:
            converted = {value: convert(value) for value in set(values)}
        except TypeError:
            pass
        else:
            return list(map(converted.__getitem__, values))
    return [convert(value) for value in values]


def _json_converter(field: models.Field, connection: Any) -> Callable[[Any], Any]:
    """A value of ``field`` as it travels in the JSON parameter: what Django would bind, as JSON."""
    prepare = partial(field.get_db_prep_save, connection=connection)
    if connection.vendor != "postgresql":
        if isinstance(field, models.DateTimeField) and conf.use_tz():
            return partial(_sqlite_datetime, prepare, connection.timezone)
        return prepare  # SQLite binds text, numbers and None
    # psycopg adapts these three itself; the JSON carries their text, cast back in SQL.
    if isinstance(field, models.DateTimeField):
        return lambda value: None if (value := prepare(value)) is None else value.isoformat()
    if isinstance(field, models.JSONField):
        return lambda value: (
            None if value is None else json.dumps(field.get_prep_value(value), cls=field.encoder)
        )
    if isinstance(field, models.GenericIPAddressField):
        return lambda value: field.get_prep_value(value) or None
    return prepare


def _sqlite_datetime(prepare: Callable[[Any], Any], tz: Any, value: Any) -> Any:
    """What ``DateTimeField.get_db_prep_save`` gives SQLite for an aware datetime, at a tenth of its cost."""
    if type(value) is datetime.datetime and value.tzinfo is not None:
        return str(value.astimezone(tz).replace(tzinfo=None))  # make_naive(), then str(), as Django does
    return prepare(value)


def _insert_rows(connection: Any, rows: list[tuple[Any, ...]]) -> list[int]:
    """One INSERT of ``rows``; their primary keys, in order.

    The rows travel as one JSON parameter, not one parameter per value: the
    statement stays short whatever the batch size, the driver adapts one
    string instead of tens of thousands of values, and with the query log on
    (DEBUG) Django formats one parameter into the logged SQL, not all of
    them (on SQLite each through ``SELECT QUOTE(?)``).
    """
    fields = _bulk_fields()
    assert fields is not None
    columns = [
        _column_values(_json_converter(field, connection), values)
        for field, values in zip(fields, zip(*rows, strict=True), strict=True)
    ]
    values = list(zip(*columns, strict=True))
    payload = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    qn = connection.ops.quote_name
    sql = f"INSERT INTO {qn(Action._meta.db_table)} ({', '.join(qn(field.column) for field in fields)}) "
    params: list[Any]
    if connection.vendor == "postgresql":
        # Text out of the JSON, cast to each column's type (without its
        # length: a too long value fails as in any INSERT, never truncated).
        casts = [field.db_type(connection).split("(")[0] for field in fields]
        selected = ", ".join(f"(item.value ->> {i})::{cast}" for i, cast in enumerate(casts))
        sql += f"SELECT {selected} FROM jsonb_array_elements(%s::jsonb) AS item"
        params = [payload]
    elif "\\u0000" not in payload:
        selected = ", ".join(f"item.value ->> {i}" for i in range(len(fields)))
        sql += f"SELECT {selected} FROM json_each(%s) AS item"
        params = [payload]
    else:
        # SQLite's JSON functions cut a text at a NUL character; bind each value.
        placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
        sql += "VALUES " + ", ".join([placeholders] * len(rows))
        params = list(chain.from_iterable(values))
    sql += f" RETURNING {qn(Action._meta.pk.column)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [pk for (pk,) in cursor.fetchall()]
    if len(ids) != len(rows):
        raise DatabaseError(f"record_many: {len(rows)} actions inserted, {len(ids)} ids returned")
    return ids


class RecordedActions(Sequence[Action]):
    """The actions one ``record_many()`` wrote, made into instances when first read."""

    def __init__(self, rows: list[tuple[Any, ...]], ids: list[int], using: str) -> None:
        self._rows = rows
        self.ids = ids
        self._using = using
        self._actions: list[Action] | None = None

    def _materialize(self) -> list[Action]:
        if self._actions is None:
            self._actions = [
                _saved_action(pk, row, self._using) for pk, row in zip(self.ids, self._rows, strict=True)
            ]
            self._rows = []
        return self._actions

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: Any) -> Any:
        return self._materialize()[index]

    def __iter__(self) -> Iterator[Action]:
        return iter(self._materialize())

    def __repr__(self) -> str:
        return f"<RecordedActions: {len(self)} actions>"


def _insert_instances(rows: list[tuple[Any, ...]], using: str) -> list[Action]:
    """The model path, for databases without the INSERTs above."""
    actions = [Action(**dict(zip(BULK_ATTNAMES, row, strict=True))) for row in rows]
    Action.objects.using(using).bulk_create(actions, batch_size=2000)
    return actions
