"""The login page: the member-aware form, throttled per client (dashboard.throttle)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpResponse

from dashboard import throttle
from publishing import services
from publishing.forms import MemberAuthenticationForm
from streams.context import current


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class ThrottledLoginForm(MemberAuthenticationForm):
    error_messages = {
        **MemberAuthenticationForm.error_messages,
        "throttled": "Too many failed logins from here. Try again in %(wait)s.",
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        # The client's address as the request context worked it out
        # (X-Forwarded-For believed only from TRUSTED_PROXIES).
        ip = current().ip or "unknown"
        self.wait = throttle.wait_seconds(username, ip)
        if self.wait:
            raise ValidationError(
                self.error_messages["throttled"], code="throttled", params={"wait": _duration(self.wait)}
            )
        if username:
            services.expire_lock(username=username)
        try:
            cleaned = super().clean()
        except ValidationError as error:
            if error.code == "invalid_login":
                throttle.failed(username, ip)
            raise
        throttle.succeeded(username, ip)
        return cleaned


class LoginView(auth_views.LoginView):
    form_class = ThrottledLoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "throttled"):
            response.status_code = 429
            response["Retry-After"] = str(form.wait)
        return response
