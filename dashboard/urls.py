from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from dashboard.login import LoginView
from dashboard.tables import KINDS

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="feed", permanent=False)),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("stories/", include("publishing.urls")),
    path("members/", include("publishing.urls_members")),
    path("admin/", admin.site.urls),
]
# The demo's tables (dashboard.tables), their pages and exports.
urlpatterns += KINDS.urls()
handler500 = "dashboard.errors.server_error"
