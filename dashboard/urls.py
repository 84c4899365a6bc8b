from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from dashboard import views
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
for name in KINDS:
    urlpatterns += [
        path(f"{name}/", views.ActionTableView.as_view(), {"table": name}, name=name),
        path(f"{name}/export.csv", views.ActionExportView.as_view(), {"table": name}, name=f"{name}-export"),
    ]
handler500 = "dashboard.errors.server_error"
