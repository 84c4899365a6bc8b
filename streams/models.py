from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from streams import search
from streams.values import owner_key


class Action(models.Model):
    """One thing someone did: ``<actor> <verb> <object> [on <target>]``.

    Display texts are copied at record time so a table shows what was true
    then, and renders without touching the business tables.
    """

    timestamp = models.DateTimeField(default=timezone.now)
    # No index of its own: tables read by ``actor_name``; a deleted user's
    # SET NULL scans, which is rarer than an INSERT paying for the index.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    actor_name = models.CharField(max_length=150)
    verb = models.CharField(max_length=32)

    # The foreign keys below are indexed by Meta.indexes, led by them. No database
    # constraint (migration 0011): PostgreSQL checked it at every commit, locking the
    # kind's row; PROTECT still refuses, in Django, to delete a kind actions name.
    object_type = models.ForeignKey(
        ContentType,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=255, blank=True)

    target_type = models.ForeignKey(
        ContentType,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=255, blank=True)

    # Whom the action is "for": the story's author for a read, the
    # reviewer for a reply. Drives the per-owner tables.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    public = models.BooleanField(default=True)

    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    changes = models.JSONField(null=True, blank=True)
    # Who, did, what and on, folded for search (streams.search); set on save.
    search_text = models.TextField(blank=True, default="", editable=False)
    # The request it was recorded in (X-Request-ID), so staff see what one request did;
    # NULL outside a request. Nullable, so adding it is instant on a large table.
    request_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 - see above

    class Meta:
        ordering = ["-timestamp", "-id"]
        # Every table order is (column, timestamp, id), all one direction, so
        # one index serves a column's filter, its sort both ways and keyset
        # paging by row comparison. The text search index is made by the
        # migrations per database (streams.migrations.0003).
        indexes = [
            models.Index(fields=["timestamp", "id"], name="streams_action_newest"),
            models.Index(fields=["public", "timestamp", "id"], name="streams_action_public_newest"),
            models.Index(fields=["owner", "verb", "timestamp", "id"], name="streams_action_owner_verb"),
            models.Index(fields=["verb", "timestamp", "id"], name="streams_action_verb_newest"),
            models.Index(fields=["actor_name", "timestamp", "id"], name="streams_action_actor_newest"),
            models.Index(fields=["object_type", "timestamp", "id"], name="streams_action_object_type"),
            # Some kinds of object (members) only ever appear in staff-only
            # actions: for anyone else the index above holds nothing but rows
            # to skip (32 ms on SQLite at a million rows to find none).
            models.Index(
                fields=["object_type", "timestamp", "id"],
                condition=models.Q(public=True),
                name="streams_action_public_type",
            ),
            models.Index(fields=["target_type", "timestamp", "id"], name="streams_action_target_type"),
            models.Index(fields=["object_repr", "timestamp", "id"], name="streams_action_object_repr"),
            # Staff-only actions (logins) have no object: in the index above
            # they come first, and a non-staff "what, A to Z" skipped 120,000
            # of them at a million rows before its first visible row.
            models.Index(
                fields=["object_repr", "timestamp", "id"],
                condition=models.Q(public=True),
                name="streams_action_public_object",
            ),
            models.Index(
                fields=["request_id", "timestamp", "id"],
                name="streams_action_request",
                condition=models.Q(request_id__isnull=False),
            ),
            models.Index(fields=["target_repr", "timestamp", "id"], name="streams_action_target_repr"),
        ]

    def __str__(self) -> str:
        text = f"{self.actor_name} {self.verb}"
        if self.object_repr:
            text += f" {self.object_repr}"
        if self.target_repr:
            text += f" on {self.target_repr}"
        return text

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.search_text = self.document()
        super().save(*args, **kwargs)

    def document(self) -> str:
        """What a text search looks in (``bulk_create`` callers set ``search_text`` to it)."""
        return search.document(self.actor_name, self.verb, self.object_repr, self.target_repr)

    def broadcast_message(self) -> dict[str, Any]:
        """The small message announced after commit: the id and what filters match on."""
        return {
            "type": "action.created",
            "id": self.pk,
            "timestamp": self.timestamp.isoformat(),
            "actor": self.actor_name,
            "verb": self.verb,
            "object_type": self.object_type_id,
            "target_type": self.target_type_id,
            "object_repr": self.object_repr,
            "target_repr": self.target_repr,
            "actor_id": owner_key(self.actor_id),
            "owner": owner_key(self.owner_id),
            "request": self.request_id,
            "public": self.public,
        }


class RouteStat(models.Model):
    """Health of one route, summed over every process that ran it."""

    name = models.CharField(max_length=200, unique=True)
    calls = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    skipped = models.BigIntegerField(default=0)
    # Counts per duration bucket (streams.health.BUCKETS_MS).
    histogram = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Seen(models.Model):
    """How far one viewer has seen one table: an action id and its time, not a row per notification.

    Kept for tables declared with ``seen=True`` (streams.seen); the unseen
    count is the viewer's rows after it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    table = models.CharField(max_length=64)
    upto = models.BigIntegerField(default=0)
    upto_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "table"], name="streams_seen_one_per_table")]

    def __str__(self) -> str:
        return f"{self.user_id} saw {self.table} up to {self.upto}"


class Follow(models.Model):
    """One person following another: tables declared with ``following=True`` show the actions of
    the people their viewer follows (streams.follows)."""

    follower = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    followed = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "followed"], name="streams_follow_once"),
            models.CheckConstraint(
                condition=~models.Q(follower=models.F("followed")), name="streams_follow_not_oneself"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.follower_id} follows {self.followed_id}"


class FeedToken(models.Model):
    """A viewer's secret for their feeds (streams.feeds): feed readers hold no session.

    Regenerating replaces it, so every old feed URL stops at once (404)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"feed token of {self.user_id}"


class DailyCount(models.Model):
    """How many actions of one verb, visibility and kind a UTC day has: what a chart over months
    reads instead of the actions (``streams.rollup``, which fills and reads it)."""

    day = models.DateField()
    verb = models.CharField(max_length=32)
    public = models.BooleanField()
    # Content type ids, 0 for none (so that one row holds each key: NULLs are never equal).
    object_kind = models.IntegerField()
    target_kind = models.IntegerField()
    count = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "verb", "public", "object_kind", "target_kind"], name="streams_dailycount_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.count} {self.verb}"


class DailyCountMark(models.Model):
    """One row: the highest action id ``DailyCount`` holds (every one below it too)."""

    upto = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"counted up to action {self.upto}"
