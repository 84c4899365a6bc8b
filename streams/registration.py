"""The route registry: "when this signal fires, record that".

Routes are plain functions registered against a signal (and optionally a
sender). The registry connects one guarded receiver per route, once, from
``StreamsConfig.ready()``; the guard gives every route the same answers to
the traps of Django signals:

- fixture loading (``raw=True``) records nothing;
- a route that is already running on this stack is not entered again, so a
  route that saves a model cannot loop back into itself;
- a route that raises is logged with its name and counted, inside a
  savepoint when a transaction is open, so the business write and the
  other routes go on;
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
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import connections, router, transaction
from django.dispatch import Signal

from streams import conf
from streams.context import current, disabled_routes, running_route
from streams.health import health
from streams.tracking import changed

logger = logging.getLogger("streams.routes")

Handler = Callable[..., Any]


def _actions_db() -> str:
    from streams.models import Action

    return router.db_for_write(Action)


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
    background: bool = False

    @property
    def dispatch_uid(self) -> str:
        return f"streams.route:{self.name}"

    def skipped(self, kwargs: dict[str, Any]) -> bool:
        if kwargs.get("raw", False):
            return True
        if self.when_changed and not (
            "instance" in kwargs
            and not kwargs.get("created")
            and changed(kwargs["instance"], self.when_changed)
        ):
            return True
        ctx = current()
        return (
            not ctx.recording
            or self.name in ctx.running_routes
            or self.name in conf.get("DISABLED_ROUTES")
            or self.name in disabled_routes()
        )

    def __call__(self, sender: Any, **kwargs: Any) -> None:
        """The receiver connected to the signal."""
        if self.skipped(kwargs):
            if not kwargs.get("raw", False):
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
        failed = False
        kwargs = {key: value for key, value in kwargs.items() if key != "signal"}
        try:
            with running_route(self.name):
                using = _actions_db()
                if connections[using].in_atomic_block:
                    # A failed INSERT must not poison the caller's transaction.
                    with transaction.atomic(using=using):
                        self.handler(sender=sender, **kwargs)
                else:
                    self.handler(sender=sender, **kwargs)
        except Exception:
            failed = True
            logger.exception("streams route %r failed; the business write goes on", self.name)
        finally:
            health.called(self.name, (time.perf_counter() - started) * 1000, failed=failed)
        return not failed


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
