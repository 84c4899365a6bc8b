"""The route registry: "when this signal fires, record that".

Routes are plain functions registered against a signal (and optionally a
sender). The registry connects one guarded receiver per route, once, from
``StreamsConfig.ready()``; the guard gives every route the same answers to
the traps of Django signals:

- fixture loading (``raw=True``) records nothing;
- a route that is already running on this stack is not entered again, so a
  route that saves a model cannot loop back into itself;
- a route that raises is logged with its name and counted, what it
  recorded is undone, and the business write and the other routes go on.
  Its ``record()`` INSERTs need no savepoint (they cannot fail for what
  they carry); any other statement it sends inside a transaction opens one
  first (``RouteRun``), so a route costs one INSERT per action and nothing
  more unless it does other database work;
- ``when_created=True`` runs a post_save route only for a creation, and
  returns at once on an update, before any other work;
- ``when_changed=("field", ...)`` runs a post_save route only when one of
  those fields changed (the model must be tracked: ``streams.track``);
- ``background=True`` runs the route as a Django task after commit, off the
  request path (``manage.py db_worker`` executes it);
- routes listed in ``STREAMS["DISABLED_ROUTES"]``, switched off with
  ``streams.testing.disable_routes()`` or run inside ``disable_recording()``
  do nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import DatabaseError, connections, transaction
from django.dispatch import Signal

from streams import conf
from streams.context import _running, current, disabled_routes, running, trusted
from streams.health import health
from streams.tracking import changed

logger = logging.getLogger("streams.routes")

Handler = Callable[..., Any]


class AlreadyRegistered(Exception):
    pass


class NotRegistered(Exception):
    pass


@dataclass(frozen=True)
class Route:
    name: str
    signal: Signal
    sender: Any
    handler: Handler
    when_changed: tuple[str, ...] = ()
    when_created: bool = False
    background: bool = False

    @property
    def dispatch_uid(self) -> str:
        return f"streams.route:{self.name}"

    def skipped(self, kwargs: dict[str, Any]) -> bool:
        if self.when_changed and not (
            "instance" in kwargs
            and not kwargs.get("created")
            and changed(kwargs["instance"], self.when_changed)
        ):
            return True
        if (
            not current().recording
            or self.name in conf.get("DISABLED_ROUTES")
            or self.name in disabled_routes()
        ):
            return True
        run = running()
        while run is not None:  # already running on this stack: a save inside the route
            if run.name == self.name:
                return True
            run = run.parent
        return False

    def __call__(self, sender: Any, **kwargs: Any) -> None:
        """The receiver connected to the signal."""
        if kwargs.get("raw", False) or (self.when_created and not kwargs.get("created", False)):
            return  # fixture loading, or an update for a route of creations: not this route's event
        if self.skipped(kwargs):
            health.skipped(self.name)
            return
        if self.background:
            from streams.background import enqueue

            transaction.on_commit(partial(enqueue, self, sender, kwargs), robust=True)
            return
        self.run(sender, kwargs)

    def run(self, sender: Any, kwargs: dict[str, Any]) -> bool:
        """Run the handler, isolated; return whether it succeeded."""
        started = time.perf_counter()
        kwargs.pop("signal", None)
        run = RouteRun(self.name)
        try:
            with run:
                self.handler(sender=sender, **kwargs)
        except Exception:
            logger.exception("streams route %r failed; the business write goes on", self.name)
            failed = True
        else:
            failed = False
        health.called(self.name, (time.perf_counter() - started) * 1000, failed=failed)
        return not failed


class RouteRun:
    """One call of a route: its actions, and a savepoint only if it needs one.

    A route that only calls ``record()`` costs its INSERTs and nothing more:
    they cannot fail for what they carry (``streams.values``), so no
    savepoint is opened for them. Any other statement the handler sends on
    the actions' database (a SELECT, a save, an INSERT of its own) first
    opens one inside the caller's transaction, through an execute wrapper,
    so a database error there is rolled back to it and the caller's
    transaction goes on.

    If the handler fails, what it recorded is undone (rolled back with the
    savepoint, or deleted if recorded before it) and never announced; if it
    succeeds, its actions are announced after commit.
    """

    __slots__ = (
        "connection",
        "kept",
        "mark",
        "name",
        "needs_rollback",
        "parent",
        "recorded",
        "sid",
        "token",
        "using",
    )

    def __init__(self, name: str) -> None:
        from streams.recording import actions_db

        self.name = name
        self.parent = running()
        self.using = actions_db()
        self.connection = connections[self.using]
        # What the route recorded, as record() and record_many() returned it
        # (a bulk stays unmade into instances).
        self.recorded: list[Sequence[Any]] = []
        self.sid: str | None = None
        self.kept = 0

    def __enter__(self) -> RouteRun:
        self.token = _running.set(self)
        if self.connection.in_atomic_block:
            self.connection.execute_wrappers.append(self)
        return self

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        """The execute wrapper: a savepoint before the handler's first statement of its own."""
        if self.sid is None and not trusted():
            connection = self.connection
            self.needs_rollback = connection.needs_rollback
            self.mark = len(connection.run_on_commit)
            self.kept = len(self.recorded)  # recorded before it: deleted if the route fails
            self.sid = ""  # the SAVEPOINT statement comes through this wrapper too
            try:
                self.sid = connection.savepoint()
            except BaseException:
                self.sid = None
                raise
        return execute(sql, params, many, context)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        _running.reset(self.token)
        connection = self.connection
        if self in connection.execute_wrappers:
            connection.execute_wrappers.remove(self)
        if exc_type is not None and not isinstance(exc, Exception):
            return  # KeyboardInterrupt and the like: the caller's transaction ends anyway
        if exc_type is None:
            if self.sid and connection.needs_rollback and not self.needs_rollback:
                # The handler caught its own database error: its work is lost
                # and the transaction must go back to the savepoint, as
                # transaction.Atomic does. The route failed.
                self._undo()
                raise DatabaseError(
                    f"route {self.name!r} caught a database error of its own; its work is undone"
                )
            if self.sid:
                try:
                    connection.savepoint_commit(self.sid)
                except DatabaseError:
                    # PostgreSQL refuses the RELEASE of an aborted transaction
                    # (an error the handler caught from a raw cursor).
                    self._undo()
                    raise
            if self.recorded:
                from streams.recording import announce_after_commit

                for actions in self.recorded:
                    announce_after_commit(actions, self.using)
            return
        self._undo()

    def _undo(self) -> None:
        """Back to before the route: its statements rolled back, its actions gone, nothing announced."""
        connection = self.connection
        undo = self.recorded
        if self.sid:
            # As transaction.Atomic does: the transaction is usable again at the savepoint.
            connection.needs_rollback = self.needs_rollback
            connection.savepoint_rollback(self.sid)
            # Drop what was registered to run on commit since the savepoint
            # (Django's savepoint_rollback() only knows its atomic blocks').
            del connection.run_on_commit[self.mark :]
            undo = undo[: self.kept]
        if undo:
            from streams.models import Action
            from streams.recording import action_ids

            ids = [pk for actions in undo for pk in action_ids(actions)]
            Action.objects.using(self.using).filter(pk__in=ids).delete()


class RouteRegistry:
    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self._connected = False

    def register(
        self,
        signal: Signal,
        *,
        sender: Any = None,
        name: str | None = None,
        when_changed: tuple[str, ...] | list[str] = (),
        when_created: bool = False,
        background: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register a route; use as ``@registry.register(post_save, sender=Story)``."""

        def decorator(handler: Handler) -> Handler:
            route_name = name or f"{handler.__module__}.{handler.__qualname__}"
            if route_name in self._routes:
                raise AlreadyRegistered(f"A route named {route_name!r} is already registered.")
            route = Route(
                name=route_name,
                signal=signal,
                sender=sender,
                handler=handler,
                when_changed=tuple(when_changed),
                when_created=when_created,
                background=background,
            )
            self._routes[route_name] = route
            if self._connected:
                self._connect(route)
            return handler

        return decorator

    def unregister(self, name: str) -> None:
        try:
            route = self._routes.pop(name)
        except KeyError:
            raise NotRegistered(f"No route named {name!r}.") from None
        route.signal.disconnect(sender=route.sender, dispatch_uid=route.dispatch_uid)

    def contains(self, name: str) -> bool:
        return name in self._routes

    def get(self, name: str) -> Route:
        try:
            return self._routes[name]
        except KeyError:
            raise NotRegistered(f"No route named {name!r}.") from None

    def routes(self) -> list[Route]:
        return list(self._routes.values())

    def connect(self) -> None:
        """Connect every registered route once; called from ``AppConfig.ready()``."""
        for route in self._routes.values():
            self._connect(route)
        self._connected = True

    @staticmethod
    def _connect(route: Route) -> None:
        route.signal.connect(route, sender=route.sender, weak=False, dispatch_uid=route.dispatch_uid)


registry = RouteRegistry()
