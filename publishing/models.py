from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class StoryQuerySet(models.QuerySet["Story"]):
    def published(self) -> StoryQuerySet:
        return self.filter(published_at__isnull=False)


class Story(models.Model):
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stories")
    title = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    objects = StoryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "stories"
        ordering = ["-published_at", "-id"]
        indexes = [models.Index(fields=["-published_at", "-id"], name="publishing_story_newest")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("publishing:story_detail", args=[self.pk])

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class StoryRead(models.Model):
    """One opening of a story page by a logged-in reader."""

    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="reads")
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="story_reads")
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["story", "-read_at"], name="publishing_read_story")]

    def __str__(self) -> str:
        return f"read of {self.story_id} by {self.reader_id}"


class Comment(models.Model):
    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments")
    body = models.TextField(max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        text = " ".join(self.body.split())
        return text if len(text) <= 60 else text[:59] + "…"
