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
from publishing.models import Story
from publishing.roles import AUTHORS, CROWD, REVIEWERS
from publishing.simulation import PHRASES

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
# Simulated members the traffic simulator acts as; two of them write.
CROWD_USERS = ("chloe", "chidi", "carmen", "colm", "cyrus", "cleo", "cato", "cora")
CROWD_AUTHORS = ("chloe", "chidi")

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
            help="how many reads and comments of history to create (default 300)",
        )
        parser.add_argument("--seed", type=int, default=4, help="random seed (default 4)")

    def handle(self, *args: Any, actions: int, seed: int, **options: Any) -> None:
        if actions < 0:
            raise CommandError("--actions must be 0 or more.")
        password = os.environ.get("DEMO_PASSWORD") or "demo"
        rng = random.Random(seed)
        with transaction.atomic():
            users = self.ensure_users(password)
            if Story.objects.filter(author=users["alice"]).exists():
                self.stdout.write("Demo history already present; users and passwords refreshed.")
            else:
                self.create_history(users, actions, rng)
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
        span = (now - timedelta(minutes=1) - moments[-1]).total_seconds()
        times = sorted(moments[-1] + timedelta(seconds=rng.uniform(0, span)) for _ in range(actions))
        for index, at in enumerate(times, start=1):
            self.one_event(rng, stories, readers, at)
            if actions >= 1000 and index % (actions // 20) == 0:
                self.stdout.write(f"  {index:>9,} / {actions:,} history events", ending="\r")
        if actions >= 1000:
            self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Created {len(stories)} stories and {actions} history events."))

    @staticmethod
    def one_event(rng: random.Random, stories: list[Story], readers: list[Any], at: datetime) -> None:
        story = rng.choice(stories)
        reader = rng.choice(readers)
        if rng.random() < 0.8:
            services.story_read(story=story, reader=reader, at=at)
        else:
            services.comment_create(story=story, author=reader, body=rng.choice(PHRASES), at=at)

    def print_logins(self, password: str) -> None:
        self.stdout.write("")
        self.stdout.write(
            "Demo logins (password: %s):"
            % ("$DEMO_PASSWORD" if os.environ.get("DEMO_PASSWORD") else password)
        )
        for username, role, _ in DEMO_USERS:
            self.stdout.write(f"  {username:<6} {role}")
