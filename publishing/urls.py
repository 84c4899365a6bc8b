from __future__ import annotations

from django.urls import path

from publishing import views

app_name = "publishing"

urlpatterns = [
    path("", views.story_list, name="story_list"),
    path("new/", views.story_create, name="story_create"),
    path("<int:pk>/", views.story_detail, name="story_detail"),
    path("<int:pk>/comments/", views.comment_create, name="comment_create"),
]
