"""Who is acting, from where: one ContextVar, set per request or per command.

Signals carry no request, so routes read the acting user, IP and user agent
from here. ``asgiref`` copies context variables into the threads that run
sync code, so the value follows a request through sync and async code alike.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

from streams import conf, values


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
    # The request's correlation id (streams.middleware), carried into background routes.
    request_id: str = ""
    # Set when there is no request: a management command, the shell, a task.
    cli: bool = True
    recording: bool = True

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


def request_context(
    *, ip: str | None, user_agent: str, user: Any = None, request: Any = None, request_id: str = ""
) -> Any:
    """Context manager used by the middlewares for one request or connection."""
    return _using(
        ActingContext(
            user=user,
            request=request,
            ip=_checked_ip(ip),
            user_agent=values.text(user_agent, 255),
            request_id=request_id,
            cli=False,
        )
    )


@contextmanager
def acting_as(user: Any, *, ip: str | None = None, user_agent: str = "") -> Iterator[ActingContext]:
    """Record what happens inside the block as done by ``user``.

    For management commands and tasks that act on someone's behalf.
    """
    context = ActingContext(user=user, ip=_checked_ip(ip), user_agent=values.text(user_agent, 255), cli=False)
    with _using(context) as ctx:
        yield ctx


def _checked_ip(ip: str | None) -> str | None:
    """``ip`` as the actions' column stores it; a ValueError now, not a failed INSERT later."""
    if ip is None:
        return None
    checked = _valid_ip(ip)
    if checked is None:
        raise ValueError(f"Not an IP address: {ip!r}")
    return checked


@contextmanager
def disable_recording() -> Iterator[None]:
    """Record nothing inside the block (data migrations, imports, tests)."""
    with _using(replace(current(), recording=False)):
        yield


def actor_name(user: Any) -> str:
    if user is None:
        return conf.get("CLI_ACTOR")
    return user.get_username()


REQUEST_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{1,64}")


def checked_request_id(value: Any) -> str | None:
    """A correlation id as stored: 1 to 64 printable characters of a safe set, else None."""
    if isinstance(value, str) and REQUEST_ID.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


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


# The route running now (streams.registration.RouteRun), innermost first.
_running: ContextVar[Any] = ContextVar("streams_running_route", default=None)
# Set while record() sends its own INSERT inside a route: a statement that
# needs no savepoint.
_trusted: ContextVar[bool] = ContextVar("streams_trusted_statement", default=False)


def running() -> Any:
    return _running.get()


def trusted() -> bool:
    return _trusted.get()


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
        "rid": ctx.request_id,
    }


@contextmanager
def unpacked(data: dict[str, Any]) -> Iterator[ActingContext]:
    from django.contrib.auth import get_user_model

    user = None
    if data.get("user") is not None:
        user = get_user_model()._default_manager.filter(pk=data["user"]).first()
    context = ActingContext(
        user=user,
        ip=_valid_ip(data.get("ip")),
        user_agent=values.text(data.get("ua") or "", 255),
        request_id=checked_request_id(data.get("rid")) or "",
        cli=data.get("cli", True),
    )
    with _using(context) as ctx:
        yield ctx
