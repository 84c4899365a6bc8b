from __future__ import annotations

from django.urls import path

from publishing import views_members

app_name = "members"

urlpatterns = [
    path("", views_members.member_list, name="member_list"),
    path("<int:pk>/<slug:transition>/", views_members.member_transition, name="member_transition"),
]
