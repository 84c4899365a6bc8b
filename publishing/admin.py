from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from publishing.models import Bookmark, Comment, Member, Reply, Review, Story, StoryRead, ThumbsUp


@admin.register(Story)
class StoryAdmin(admin.ModelAdmin):
    list_display = ["title", "author", "published_at"]
    list_select_related = ["author"]
    search_fields = ["title"]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "author", "story", "created_at"]
    list_select_related = ["author", "story"]


@admin.register(StoryRead)
class StoryReadAdmin(admin.ModelAdmin):
    list_display = ["story", "reader", "read_at"]
    list_select_related = ["story", "reader"]
    show_full_result_count = False


@admin.register(Bookmark)
class BookmarkAdmin(admin.ModelAdmin):
    list_display = ["story", "user", "created_at"]
    list_select_related = ["story", "user"]
    raw_id_fields = ["story", "user"]


class ReplyInline(admin.TabularInline):
    model = Reply
    extra = 0
    raw_id_fields = ["author"]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["__str__", "reviewer", "story", "rating", "created_at"]
    list_select_related = ["reviewer", "story"]
    list_filter = ["rating"]
    raw_id_fields = ["story", "reviewer"]
    inlines = [ReplyInline]


@admin.register(Reply)
class ReplyAdmin(admin.ModelAdmin):
    list_display = ["__str__", "author", "review", "created_at"]
    list_select_related = ["author", "review"]
    raw_id_fields = ["review", "author"]


@admin.register(ThumbsUp)
class ThumbsUpAdmin(admin.ModelAdmin):
    list_display = ["review", "user", "created_at"]
    list_select_related = ["review", "user"]
    raw_id_fields = ["review", "user"]


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    """Staff may force any state here, bypassing the transitions (the field is not protected)."""

    list_display = ["username", "state", "failed_logins"]
    list_select_related = ["user"]
    list_filter = ["state"]
    search_fields = ["user__username"]
    fields = ["user", "state", "failed_logins", "created_at"]
    readonly_fields = ["user", "created_at"]

    @admin.display(ordering="user__username")
    def username(self, member: Member) -> str:
        return member.user.get_username()

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Every user gets a member when created.
        return False
