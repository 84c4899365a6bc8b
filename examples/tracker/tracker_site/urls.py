from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from streams.tables import site

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="activity")),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include(site.urls())),  # streams: each table's page and CSV
]
