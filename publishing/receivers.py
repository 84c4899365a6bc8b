"""Receivers the publishing app connects to Django's own signals (in ``apps.py``).

Thin on purpose: each hands over to a service.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from publishing import services
from publishing.models import Member


def member_for_new_user(*, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """Every user has a Member row, made with the user (fixture loading excepted)."""
    if created and not raw:
        Member.objects.create(user=instance)


def login_failed(*, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any) -> None:
    username = credentials.get("username")
    if username:
        services.login_failed(username=str(username))


def logged_in(*, user: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    services.login_succeeded(user=user)
