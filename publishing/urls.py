from __future__ import annotations

from django.urls import path

from publishing import views

app_name = "publishing"

urlpatterns = [
    path("", views.story_list, name="story_list"),
    path("new/", views.story_create, name="story_create"),
    path("<int:pk>/", views.story_detail, name="story_detail"),
    path("<int:pk>/comments/", views.comment_create, name="comment_create"),
    path("<int:pk>/bookmark/", views.bookmark_toggle, name="bookmark_toggle"),
    path("<int:pk>/reviews/", views.review_create, name="review_create"),
    path("<int:pk>/reviews/<int:review_pk>/replies/", views.reply_create, name="reply_create"),
    path("<int:pk>/reviews/<int:review_pk>/thumbs-up/", views.thumbs_up_toggle, name="thumbs_up_toggle"),
]
