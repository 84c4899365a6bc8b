"""Authentication that also asks the member's state."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from publishing.models import Member
from publishing.roles import with_roles


def member_may_log_in(user: Any) -> bool:
    """False for a locked or deactivated member; a user without a member row may log in."""
    try:
        member = user.member
    except Member.DoesNotExist:
        return True
    return member.can_log_in


class MemberBackend(ModelBackend):
    """``ModelBackend`` that refuses locked and deactivated members.

    Also checked on every request through ``get_user``, so locking a member
    ends their open sessions too.
    """

    def user_can_authenticate(self, user: Any) -> bool:
        return super().user_can_authenticate(user) and member_may_log_in(user)

    def get_user(self, user_id: Any) -> Any:
        User = get_user_model()
        try:
            # The member and the roles come in the same query: no extra SELECT per request.
            user = with_roles(User._default_manager.select_related("member")).get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    async def aget_user(self, user_id: Any) -> Any:
        User = get_user_model()
        try:
            user = await with_roles(User._default_manager.select_related("member")).aget(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    async def aauthenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        # The member is read lazily, which only the sync path may do.
        return await sync_to_async(self.authenticate)(request, username=username, password=password, **kwargs)
