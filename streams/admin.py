from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from streams.models import Action


@admin.register(Action)
class ActionAdmin(admin.ModelAdmin):
    """Read-only: the record of what happened is not edited by hand."""

    list_display = ["timestamp", "actor_name", "verb", "object_repr", "target_repr", "public", "ip"]
    list_filter = ["verb", "public"]
    search_fields = ["actor_name", "object_repr", "target_repr"]
    date_hierarchy = "timestamp"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
