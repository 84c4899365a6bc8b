"""``record()``: the one way an action is written."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache, partial
from itertools import chain
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connections, models, router, transaction
from django.utils import timezone

from streams import conf, search
from streams.broadcast import announce, announce_each, announce_range
from streams.context import actor_name, current
from streams.models import Action
from streams.tracking import jsonable


class _FromContext:
    def __repr__(self) -> str:
        return "FROM_CONTEXT"


FROM_CONTEXT: Any = _FromContext()


def _describe(
    instance: models.Model | None,
) -> tuple[ContentType | None, str, str]:
    if instance is None:
        return None, "", ""
    # get_for_model is cached per process: no query after the first call.
    content_type = ContentType.objects.get_for_model(instance, for_concrete_model=False)
    return content_type, str(instance.pk), str(instance)[:255]


def _build(
    *,
    verb: str,
    actor: Any = FROM_CONTEXT,
    object: models.Model | None = None,  # noqa: A002 - the activity-stream term
    target: models.Model | None = None,
    owner: Any = None,
    public: bool = True,
    changes: dict[str, Any] | None = None,
    timestamp: Any = None,
) -> Action:
    ctx = current()
    if actor is FROM_CONTEXT:
        actor = ctx.actor
    if isinstance(actor, str):
        actor_obj, name = None, actor[:150]
    else:
        actor_obj, name = actor, actor_name(actor)
    object_type, object_id, object_repr = _describe(object)
    target_type, target_id, target_repr = _describe(target)
    action = Action(
        timestamp=timestamp or timezone.now(),
        actor=actor_obj,
        actor_name=name,
        verb=verb,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        public=public,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        changes=jsonable(changes) if changes is not None else None,
    )
    if isinstance(owner, models.Model):
        action.owner = owner
    else:
        action.owner_id = owner
    return action


def record(**fields: Any) -> Action | None:
    """Write one action in the current transaction and announce it after commit.

    Fields: ``verb``; ``actor``, a user, a plain name (a failed login's
    attempted username) or left out to take the user of the current request
    (``CLI`` outside a request); ``object`` and ``target``, model instances;
    ``owner``, whom the action is for (a user or a user's primary key);
    ``public``; ``changes``, a JSON-able diff; ``timestamp``. Costs one
    INSERT; returns ``None`` when recording is disabled.
    """
    if not current().recording:
        return None
    action = _build(**fields)
    using = router.db_for_write(Action)
    action.save(using=using, force_insert=True)
    transaction.on_commit(partial(announce, action.broadcast_message()), using=using, robust=True)
    return action


def record_many(entries: Iterable[dict[str, Any]]) -> Sequence[Action]:
    """Write many actions with one bulk INSERT (per batch) and announce them after commit.

    Each entry holds the fields ``record()`` takes. For routes of bulk
    operations (``streams.tracking.bulk_created`` and friends). Returns the
    saved actions (with primary keys); on SQLite and PostgreSQL they are made
    into model instances only when read, so a route that ignores them pays
    nothing per row but the INSERT.
    """
    ctx = current()
    if not ctx.recording:
        return []
    using = router.db_for_write(Action)
    connection = connections[using]
    if not _fast_insert_supported(connection):
        return _record_many_instances(entries, using)
    rows = _bulk_rows(entries, ctx)
    if not rows:
        return []
    # Also within SQLite's variable limit, for the rare batch bound value by value.
    batch = min(BULK_INSERT_BATCH, connection.ops.bulk_batch_size(_bulk_fields(), rows) or len(rows))
    ids: list[int] = []
    for start in range(0, len(rows), batch):
        ids += _insert_rows(connection, rows[start : start + batch])
    actions = RecordedActions(rows, ids, using)
    _announce_after_commit(actions, ids, using)
    return actions


# Rows per INSERT statement at most.
BULK_INSERT_BATCH = 10000
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
)


@cache
def _bulk_fields() -> tuple[models.Field, ...] | None:
    """Action's fields by ``BULK_ATTNAMES``; None if the model has other columns now."""
    concrete = {f.attname: f for f in Action._meta.concrete_fields if not f.primary_key}
    if set(concrete) != set(BULK_ATTNAMES) or any(f.generated for f in concrete.values()):
        return None
    return tuple(concrete[name] for name in BULK_ATTNAMES)


def _fast_insert_supported(connection: Any) -> bool:
    return (
        connection.vendor in ("sqlite", "postgresql")
        and connection.features.can_return_rows_from_bulk_insert
        and _bulk_fields() is not None
    )


def _bulk_rows(entries: Iterable[dict[str, Any]], ctx: Any) -> list[tuple[Any, ...]]:
    """The column values ``_build()`` gives each entry, as tuples in ``BULK_ATTNAMES`` order.

    No model instance per row: what repeats in a batch (an actor's name, an
    object's content type and text, the folded search text) is worked out
    once per distinct value. Caches are keyed by identity and keep the
    instance, so an id is never reused while the batch is built.
    """
    described: dict[int, tuple[Any, tuple[int | None, str, str]]] = {}
    actors: dict[int, tuple[Any, tuple[Any, str]]] = {}
    documents: dict[tuple[str, str, str, str], str] = {}
    context_actor: list[Any] = []
    ip, user_agent = ctx.ip, ctx.user_agent

    def describe(instance: models.Model | None) -> tuple[int | None, str, str]:
        if instance is None:
            return None, "", ""
        found = described.get(id(instance))
        if found is None:
            content_type, object_id, text = _describe(instance)
            found = described[id(instance)] = (instance, (content_type.pk, object_id, text))
        return found[1]

    def row(
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
        if actor is FROM_CONTEXT:
            if not context_actor:
                context_actor.append(ctx.actor)
            actor = context_actor[0]
        if isinstance(actor, str):
            actor_id, name = None, actor[:150]
        else:
            found = actors.get(id(actor))
            if found is None:
                found = actors[id(actor)] = (actor, (_saved_pk(actor, "actor"), actor_name(actor)))
            actor_id, name = found[1]
        object_type, object_id, object_repr = describe(object)
        target_type, target_id, target_repr = describe(target)
        key = (name, verb, object_repr, target_repr)
        search_text = documents.get(key)
        if search_text is None:
            search_text = documents[key] = search.document(*key)
        return (
            timestamp or timezone.now(),
            actor_id,
            name,
            verb,
            object_type,
            object_id,
            object_repr,
            target_type,
            target_id,
            target_repr,
            _saved_pk(owner, "owner") if isinstance(owner, models.Model) else owner,
            public,
            ip,
            user_agent,
            jsonable(changes) if changes is not None else None,
            search_text,
        )

    return [row(**entry) for entry in entries]


def _saved_pk(instance: Any, name: str) -> Any:
    if instance is None:
        return None
    if instance.pk is None:
        # What the model path says of an unsaved related object.
        raise ValueError(
            f"record_many() prohibited to prevent data loss due to unsaved related object '{name}'."
        )
    return instance.pk


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
            self._actions = []
            for pk, values in zip(self.ids, self._rows, strict=True):
                action = Action(id=pk, **dict(zip(BULK_ATTNAMES, values, strict=True)))
                action._state.adding = False
                action._state.db = self._using
                self._actions.append(action)
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


def _announce_after_commit(actions: Sequence[Action], ids: list[int], using: str) -> None:
    # Keep only what the announcement needs until commit, not the actions.
    if len(actions) <= conf.get("BULK_ANNOUNCE_LIMIT"):
        messages = [action.broadcast_message() for action in actions]
        transaction.on_commit(partial(announce_each, messages), using=using, robust=True)
    elif ids:
        transaction.on_commit(partial(announce_range, min(ids), max(ids), len(ids)), using=using, robust=True)


def _record_many_instances(entries: Iterable[dict[str, Any]], using: str) -> list[Action]:
    """The model path, for databases without the bulk INSERT above."""
    actions = [_build(**entry) for entry in entries]
    if not actions:
        return []
    for action in actions:  # bulk_create does not call save(), which sets it
        action.search_text = action.document()
    Action.objects.using(using).bulk_create(actions, batch_size=2000)
    _announce_after_commit(actions, [action.pk for action in actions if action.pk is not None], using)
    return actions
