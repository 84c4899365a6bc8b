from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django_fsm import FSMField, transition


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


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Bookmark(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bookmarks")
    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="bookmarks")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "story"], name="publishing_bookmark_once")]

    def __str__(self) -> str:
        return f"bookmark of {self.story_id} by {self.user_id}"


class Review(models.Model):
    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews")
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    body = models.TextField(max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__gte=1, rating__lte=5), name="publishing_review_rating_1_to_5"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rating}★ review: {_short(self.body, 40)}"

    @property
    def stars(self) -> str:
        return "★" * self.rating + "☆" * (5 - self.rating)


class Reply(models.Model):
    """A reply to a review, by anyone logged in (often the story's author)."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_replies"
    )
    body = models.TextField(max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "replies"
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return _short(self.body)


class ThumbsUp(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="thumbs_up")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="thumbs_up")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "thumbs-up"
        verbose_name_plural = "thumbs-up"
        constraints = [models.UniqueConstraint(fields=["review", "user"], name="publishing_thumbs_up_once")]

    def __str__(self) -> str:
        return f"thumbs-up on review {self.review_id} by {self.user_id}"


class Member(models.Model):
    """A user's standing on the site; one per user, created with the user.

    Transitions go through the methods below (and ``publishing.services``);
    the field is not protected so staff can force a state in the admin.
    """

    class State(models.TextChoices):
        INVITED = "invited", "invited"
        ACTIVE = "active", "active"
        LOCKED = "locked", "locked"
        DEACTIVATED = "deactivated", "deactivated"

    # States in which the member may not log in.
    BLOCKED_STATES = frozenset({State.LOCKED, State.DEACTIVATED})
    # The transition methods below, in the order buttons show them.
    TRANSITIONS = ("activate", "lock", "unlock", "deactivate", "reactivate")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="member")
    state = FSMField(default=State.INVITED, choices=State.choices, protected=False)
    failed_logins = models.PositiveIntegerField(default=0)
    # Set when failed logins lock the member: the lock ends by itself then
    # (services.expire_lock). A lock staff chose has none and lasts.
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["state"], name="publishing_member_state")]

    def __str__(self) -> str:
        # The username only when the user is already loaded: never a query.
        if type(self).user.is_cached(self):
            return f"member {self.user.get_username()}"
        return f"member #{self.user_id}"

    @property
    def can_log_in(self) -> bool:
        return self.state not in self.BLOCKED_STATES

    def available_transitions(self) -> list[str]:
        """Names of the transitions allowed from the current state, in ``TRANSITIONS`` order."""
        allowed = {found.name for found in self.get_available_state_transitions()}  # type: ignore[attr-defined]
        return [name for name in self.TRANSITIONS if name in allowed]

    @transition(field=state, source=State.INVITED, target=State.ACTIVE)
    def activate(self) -> None:
        self.failed_logins = 0

    @transition(field=state, source=State.ACTIVE, target=State.LOCKED)
    def lock(self) -> None:
        pass

    @transition(field=state, source=State.LOCKED, target=State.ACTIVE)
    def unlock(self) -> None:
        self.failed_logins = 0
        self.locked_until = None

    @transition(field=state, source=[State.INVITED, State.ACTIVE, State.LOCKED], target=State.DEACTIVATED)
    def deactivate(self) -> None:
        self.locked_until = None

    @transition(field=state, source=State.DEACTIVATED, target=State.ACTIVE)
    def reactivate(self) -> None:
        self.failed_logins = 0
        self.locked_until = None
