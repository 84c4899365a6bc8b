"""Staff page for member states: the list and one POST per transition."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from publishing import selectors, services
from publishing.models import Member

# Transition name (as in the URL) → service.
TRANSITIONS: dict[str, Callable[..., Member]] = {
    "activate": services.member_activate,
    "lock": services.member_lock,
    "unlock": services.member_unlock,
    "deactivate": services.member_deactivate,
    "reactivate": services.member_reactivate,
}
# What staff may not do to their own account (it would log them out for
# good); also the buttons shown as dangerous.
NOT_ON_SELF = frozenset({"lock", "deactivate"})


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous → login page; logged in but not staff → 403."""

    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("Staff only.")
        return view(request, *args, **kwargs)

    return wrapped


@staff_required
def member_list(request: HttpRequest) -> HttpResponse:
    members = list(selectors.member_list())
    for member in members:
        member.actions = [
            name
            for name in member.available_transitions()
            if not (member.user_id == request.user.pk and name in NOT_ON_SELF)
        ]
    counts = Counter(member.state for member in members)
    return render(
        request,
        "publishing/member_list.html",
        {
            "members": members,
            "state_counts": [(label, counts[value]) for value, label in Member.State.choices],
            "risky": NOT_ON_SELF,
        },
    )


@staff_required
@require_POST
def member_transition(request: HttpRequest, pk: int, transition: str) -> HttpResponse:
    service = TRANSITIONS.get(transition)
    if service is None:
        raise Http404("No such transition.")
    member = get_object_or_404(Member.objects.select_related("user"), pk=pk)
    name = member.user.get_username()
    if member.user_id == request.user.pk and transition in NOT_ON_SELF:
        messages.error(request, f"You cannot {transition} your own account.")
    else:
        try:
            service(member=member)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"{name} is now {member.get_state_display()}.")
    return redirect(f"{reverse('members:member_list')}#member-{member.pk}")
