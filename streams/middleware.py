"""Puts the request's user, IP and user agent in the streams context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from streams.context import client_ip, request_context


def _context_for(request: HttpRequest) -> Any:
    return request_context(
        request=request,
        ip=client_ip(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR")),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


class RequestContextMiddleware:
    """Sync and async capable, like django-htmx's middleware."""

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponse]
        | Callable[[HttpRequest], Awaitable[HttpResponse]],
    ) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(self.get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        with _context_for(request):
            return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        with _context_for(request):
            return await self.get_response(request)  # type: ignore[misc]
