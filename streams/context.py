"""Who is acting, from where: one ContextVar, set per request or per command.

Signals carry no request, so routes read the acting user, IP and user agent
from here. ``asgiref`` copies context variables into the threads that run
sync code, so the value follows a request through sync and async code alike.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

from streams import conf


@dataclass(frozen=True)
class ActingContext:
    """The actor of whatever is being recorded now.

    ``user`` may be a lazy object (``request.user``); it is only evaluated
    when a route records an action without naming its actor.
    """

    user: Any = None
    # In a request, the user is read from it when needed, so a login or
    # logout during the request is seen by what is recorded after it.
    request: Any = None
    ip: str | None = None
    user_agent: str = ""
    # Set when there is no request: a management command, the shell, a task.
    cli: bool = True
    recording: bool = True
    running_routes: frozenset[str] = field(default_factory=frozenset)

    @property
    def actor(self) -> Any:
        user = getattr(self.request, "user", None) if self.request is not None else self.user
        if user is None or not getattr(user, "is_authenticated", False):
            return None
        return user


_current: ContextVar[ActingContext] = ContextVar("streams_context", default=ActingContext())  # noqa: B039 - frozen


def current() -> ActingContext:
    return _current.get()


@contextmanager
def _using(ctx: ActingContext) -> Iterator[ActingContext]:
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def request_context(*, ip: str | None, user_agent: str, user: Any = None, request: Any = None) -> Any:
    """Context manager used by the middlewares for one request or connection."""
    return _using(ActingContext(user=user, request=request, ip=ip, user_agent=user_agent[:255], cli=False))


@contextmanager
def acting_as(user: Any, *, ip: str | None = None, user_agent: str = "") -> Iterator[ActingContext]:
    """Record what happens inside the block as done by ``user``.

    For management commands and tasks that act on someone's behalf.
    """
    with _using(ActingContext(user=user, ip=ip, user_agent=user_agent, cli=False)) as ctx:
        yield ctx


@contextmanager
def disable_recording() -> Iterator[None]:
    """Record nothing inside the block (data migrations, imports, tests)."""
    with _using(replace(current(), recording=False)):
        yield


@contextmanager
def running_route(name: str) -> Iterator[None]:
    ctx = current()
    with _using(replace(ctx, running_routes=ctx.running_routes | {name})):
        yield


def actor_name(user: Any) -> str:
    if user is None:
        return conf.get("CLI_ACTOR")
    return user.get_username()


def client_ip(remote_addr: str | None, forwarded_for: str | None) -> str | None:
    """The client's address, believing X-Forwarded-For only from trusted proxies.

    Walks the forwarded chain from the right, skipping trusted proxies, and
    returns the first address not among them: the one a client cannot forge.
    """
    trusted = conf.trusted_proxies()
    address = _valid_ip(remote_addr)
    if address is None or address not in trusted or not forwarded_for:
        return address
    for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
        hop_ip = _valid_ip(hop)
        if hop_ip is None:
            return address
        if hop_ip not in trusted:
            return hop_ip
        address = hop_ip
    return address


def _valid_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


_disabled: ContextVar[frozenset[str]] = ContextVar("streams_disabled_routes", default=frozenset())


def disabled_routes() -> frozenset[str]:
    return _disabled.get()


@contextmanager
def routes_disabled(*names: str) -> Iterator[None]:
    token = _disabled.set(_disabled.get() | set(names))
    try:
        yield
    finally:
        _disabled.reset(token)


def pack() -> dict[str, Any]:
    """The current context as JSON, for work that runs later in a task."""
    ctx = current()
    actor = ctx.actor
    return {
        "user": actor.pk if actor is not None else None,
        "ip": ctx.ip,
        "ua": ctx.user_agent,
        "cli": ctx.cli,
    }


@contextmanager
def unpacked(data: dict[str, Any]) -> Iterator[ActingContext]:
    from django.contrib.auth import get_user_model

    user = None
    if data.get("user") is not None:
        user = get_user_model()._default_manager.filter(pk=data["user"]).first()
    with _using(
        ActingContext(user=user, ip=data.get("ip"), user_agent=data.get("ua", ""), cli=data.get("cli", True))
    ) as ctx:
        yield ctx
