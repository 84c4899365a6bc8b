from __future__ import annotations

import os
import random
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from publishing import services
from publishing.models import Member, Review, Story, StoryRead
from publishing.roles import AUTHORS, CROWD, REVIEWERS
from publishing.simulation import PHRASES, REPLIES, REVIEWS
from streams import disable_recording
from streams.health import health

# (username, role, full name); the printed demo logins.
DEMO_USERS = (
    ("admin", "staff", "Ada Admin"),
    ("alice", AUTHORS, "Alice Author"),
    ("bob", AUTHORS, "Bob Author"),
    ("rita", REVIEWERS, "Rita Reviewer"),
    ("raj", REVIEWERS, "Raj Reviewer"),
    ("rae", "reader", "Rae Reader"),
    ("ravi", "reader", "Ravi Reader"),
)
# Simulated members the traffic simulator acts as; two of them write, two review.
CROWD_USERS = ("chloe", "chidi", "carmen", "colm", "cyrus", "cleo", "cato", "cora")
CROWD_AUTHORS = ("chloe", "chidi")
CROWD_REVIEWERS = ("carmen", "cyrus")
ROLE_NAMES = {AUTHORS: "author", REVIEWERS: "reviewer"}
# History events made one by one through the services; past this, the rest
# are bulk-created reads (--actions 1000000 for benchmarks).
DETAILED_EVENTS = 2000
BULK_BATCH = 5000
# The crowd member whose history shows a lock and an unlock; the one still invited.
CROWD_LOCKED_ONCE = "cato"
CROWD_INVITED = "cora"

# Kinds of history event after the stories, with their weights. The first
# events take one of each kind so even a short history fills every table.
HISTORY_KINDS = ("read", "comment", "review", "reply", "thumbs_up", "bookmark")
HISTORY_WEIGHTS = (60, 12, 6, 9, 7, 6)

STORIES = {
    "alice": ("The quiet hour", "On building things slowly", "A map of my street"),
    "bob": ("Signals and noise", "Why I keep a logbook", "Winter harbour"),
    "chloe": ("Tea with strangers",),
    "chidi": ("The ethics of small talk",),
}


class Command(BaseCommand):
    help = "Create the demo logins, stories and a week of history (safe to run twice)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--actions",
            type=int,
            default=300,
            help=(
                "how many history events to create: reads, comments, bookmarks, reviews, "
                "replies and thumbs-up (default 300)"
            ),
        )
        parser.add_argument("--seed", type=int, default=4, help="random seed (default 4)")

    def handle(self, *args: Any, actions: int, seed: int, **options: Any) -> None:
        if actions < 0:
            raise CommandError("--actions must be 0 or more.")
        password = os.environ.get("DEMO_PASSWORD") or "demo"
        rng = random.Random(seed)
        with transaction.atomic():
            # Setting up the cast is not history: it would record actions at
            # "now", before the week of history, and again on every rerun.
            with disable_recording():
                users = self.ensure_users(password)
            if Story.objects.filter(author=users["alice"]).exists():
                self.stdout.write("Demo history already present; users and passwords refreshed.")
            else:
                self.create_history(users, actions, rng)
                self.member_history(users)
            # Last, at "now": after the history, so ids keep following timestamps.
            self.activate_logins(users)
        health.flush()  # so streams_stats counts the routes the history ran
        self.print_logins(password)

    def ensure_users(self, password: str) -> dict[str, Any]:
        User = get_user_model()
        authors, _ = Group.objects.get_or_create(name=AUTHORS)
        authors.permissions.add(
            Permission.objects.get(content_type__app_label="publishing", codename="add_story")
        )
        groups = {
            AUTHORS: authors,
            REVIEWERS: Group.objects.get_or_create(name=REVIEWERS)[0],
            CROWD: Group.objects.get_or_create(name=CROWD)[0],
        }
        users: dict[str, Any] = {}
        for username, role, full_name in DEMO_USERS:
            first, last = full_name.split()
            user, _ = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com"},
            )
            user.is_staff = user.is_superuser = role == "staff"
            user.set_password(password)
            user.save()
            if role in groups:
                user.groups.add(groups[role])
            users[username] = user
        for username in CROWD_USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"first_name": username.title()}
            )
            if created:
                user.set_unusable_password()
                user.save()
            user.groups.add(groups[CROWD])
            if username in CROWD_AUTHORS:
                user.groups.add(groups[AUTHORS])
            if username in CROWD_REVIEWERS:
                user.groups.add(groups[REVIEWERS])
            users[username] = user
        return users

    def create_history(self, users: dict[str, Any], actions: int, rng: random.Random) -> None:
        now = timezone.now()
        start = now - timedelta(days=7)
        # Stories first, spread over the first day, then reads and comments
        # over the week, every event in timestamp order so ids agree.
        stories = []
        moments = sorted(start + timedelta(seconds=rng.uniform(0, 86400)) for _ in range(8))
        pairs = [(author, title) for author, titles in STORIES.items() for title in titles]
        for (author, title), at in zip(pairs, moments, strict=True):
            stories.append(
                services.story_create(
                    author=users[author],
                    title=title,
                    body="\n\n".join(rng.sample(PHRASES, 4)),
                    publish=True,
                    at=at,
                )
            )
        readers = [users[name] for name in ("rae", "ravi", "rita", "raj", *CROWD_USERS)]
        history = History(
            rng=rng,
            stories=[s for s in stories if s.author.get_username() in ("alice", "bob")],
            all_stories=stories,
            readers=readers,
            reviewers=[users["rita"], users["raj"]],
        )
        begin, end = moments[-1], now - timedelta(minutes=1)
        detailed = min(actions, DETAILED_EVENTS)
        if actions > detailed:
            # A benchmark-sized history: the older part is reads, written in
            # batches through bulk_create, whose bulk signal the hub turns into
            # one bulk INSERT of actions per batch. The last day is detailed.
            end_of_bulk = end - timedelta(days=1)
            self.bulk_reads(actions - detailed, begin, end_of_bulk, stories, readers, rng)
            begin = end_of_bulk
        span = (end - begin).total_seconds()
        times = sorted(begin + timedelta(seconds=rng.uniform(0, span)) for _ in range(detailed))
        for index, at in enumerate(times, start=1):
            history.event(index, at)
        self.stdout.write(self.style.SUCCESS(f"Created {len(stories)} stories and {actions} history events."))

    def bulk_reads(
        self,
        count: int,
        begin: datetime,
        end: datetime,
        stories: list[Story],
        readers: list[Any],
        rng: random.Random,
    ) -> None:
        span = (end - begin).total_seconds()
        step = span / count
        written = 0
        while written < count:
            size = min(BULK_BATCH, count - written)
            StoryRead.objects.bulk_create(
                StoryRead(
                    story=rng.choice(stories),
                    reader=rng.choice(readers),
                    read_at=begin + timedelta(seconds=(written + n) * step),
                )
                for n in range(size)
            )
            written += size
            self.progress(written, count)
        self.stdout.write("")

    def progress(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // total
        self.stdout.write(
            f"  [{'#' * filled}{'.' * (width - filled)}] {done:>9,} / {total:,} reads", ending="\r"
        )
        self.stdout.flush()

    @staticmethod
    def member_history(users: dict[str, Any]) -> None:
        """Crowd members join; one is locked, then unlocked by staff."""
        for username in CROWD_USERS:
            member = Member.objects.select_related("user").get(user=users[username])
            if username != CROWD_INVITED and member.state == Member.State.INVITED:
                services.member_activate(member=member)
        locked = Member.objects.select_related("user").get(user=users[CROWD_LOCKED_ONCE])
        services.member_lock(member=locked)
        services.member_unlock(member=locked)

    @staticmethod
    def activate_logins(users: dict[str, Any]) -> None:
        """Every printed demo login works: invited members are activated, blocked ones restored."""
        restore = {
            Member.State.INVITED: services.member_activate,
            Member.State.LOCKED: services.member_unlock,
            Member.State.DEACTIVATED: services.member_reactivate,
        }
        for username, _, _ in DEMO_USERS:
            member, _ = Member.objects.select_related("user").get_or_create(user=users[username])
            if member.state in restore:
                restore[member.state](member=member)

    def print_logins(self, password: str) -> None:
        self.stdout.write("")
        self.stdout.write(
            "Demo logins (password: %s):"
            % ("$DEMO_PASSWORD" if os.environ.get("DEMO_PASSWORD") else password)
        )
        for username, role, _ in DEMO_USERS:
            self.stdout.write(f"  {username:<6} {ROLE_NAMES.get(role, role)}")


class History:
    """One week of demo history, one event at a time, through the services.

    Remembers what it made so each event is a new fact: no bookmark or
    thumbs-up is given twice (a toggle would take it back).
    """

    def __init__(
        self,
        *,
        rng: random.Random,
        stories: list[Story],
        all_stories: list[Story],
        readers: list[Any],
        reviewers: list[Any],
    ) -> None:
        self.rng = rng
        self.stories = stories  # reviewed: alice's and bob's
        self.all_stories = all_stories
        self.readers = readers
        self.reviewers = reviewers
        self.reviews: list[Review] = []
        self.given_bookmarks: set[tuple[int, int]] = set()
        self.given_thumbs_up: set[tuple[int, int]] = set()

    def event(self, index: int, at: datetime) -> None:
        if index <= len(HISTORY_KINDS):
            kind = HISTORY_KINDS[index - 1]
        else:
            kind = self.rng.choices(HISTORY_KINDS, weights=HISTORY_WEIGHTS)[0]
        if not getattr(self, kind)(at):
            self.read(at)

    def read(self, at: datetime) -> bool:
        story = self.rng.choice(self.all_stories)
        services.story_read(story=story, reader=self.rng.choice(self.readers), at=at)
        return True

    def comment(self, at: datetime) -> bool:
        story = self.rng.choice(self.all_stories)
        reader = self.rng.choice(self.readers)
        services.comment_create(story=story, author=reader, body=self.rng.choice(PHRASES), at=at)
        return True

    def review(self, at: datetime) -> bool:
        self.reviews.append(
            services.review_create(
                story=self.rng.choice(self.stories),
                reviewer=self.rng.choice(self.reviewers),
                rating=self.rng.randint(2, 5),
                body=self.rng.choice(REVIEWS),
                at=at,
            )
        )
        return True

    def reply(self, at: datetime) -> bool:
        if not self.reviews:
            return self.review(at)
        review = self.rng.choice(self.reviews[-20:])
        # Half the replies come from the story's author, the rest from readers.
        if self.rng.random() < 0.5:
            author = review.story.author
        else:
            author = self.rng.choice([r for r in self.readers if r.pk != review.reviewer_id])
        services.reply_create(review=review, author=author, body=self.rng.choice(REPLIES), at=at)
        return True

    def thumbs_up(self, at: datetime) -> bool:
        if not self.reviews:
            return False
        review = self.rng.choice(self.reviews[-20:])
        givers = [
            u
            for u in self.readers
            if u.pk != review.reviewer_id and (review.pk, u.pk) not in self.given_thumbs_up
        ]
        if not givers:
            return False
        user = self.rng.choice(givers)
        services.thumbs_up_toggle(review=review, user=user, at=at)
        self.given_thumbs_up.add((review.pk, user.pk))
        return True

    def bookmark(self, at: datetime) -> bool:
        user = self.rng.choice(self.readers)
        unmarked = [s for s in self.all_stories if (s.pk, user.pk) not in self.given_bookmarks]
        if not unmarked:
            return False
        story = self.rng.choice(unmarked)
        services.bookmark_toggle(story=story, user=user, at=at)
        self.given_bookmarks.add((story.pk, user.pk))
        return True
