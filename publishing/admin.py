from __future__ import annotations

from django.contrib import admin

from publishing.models import Comment, Story, StoryRead


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
