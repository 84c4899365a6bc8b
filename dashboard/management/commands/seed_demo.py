from __future__ import annotations

import gc
import os
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections, reset_queries, router, transaction
from django.utils import timezone

from publishing import services
from publishing.models import Member, Review, Story, StoryRead
from publishing.roles import AUTHORS, CROWD, REVIEWERS
from publishing.simulation import PHRASES, REPLIES, REVIEWS
from streams import disable_recording, rollup, search_index
from streams.health import health
from streams.models import Action

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
# Reads per bulk_create: one bulk signal, so one route run and one INSERT of
# actions (or a few: streams caps the rows per statement) per batch.
BULK_BATCH = 10000
# From this many bulk reads, and at least as many as the actions already
# there, the text search index is dropped for the history and rebuilt after
# it, where one build beats keeping it in step row by row: PostgreSQL's
# trigram GIN index (about 15% of a million-action seed). SQLite's FTS5
# table costs about as much to rebuild as to keep, so it is kept.
REINDEX_FROM = {"postgresql": 100_000}
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
        parser.add_argument(
            "--no-progress",
            action="store_false",
            dest="progress",
            help="no progress bar for the bulk part (it is only drawn on a terminal anyway)",
        )

    def handle(self, *args: Any, actions: int, seed: int, progress: bool = True, **options: Any) -> None:
        if actions < 0:
            raise CommandError("--actions must be 0 or more.")
        self.show_progress = progress
        password = os.environ.get("DEMO_PASSWORD") or "demo"
        rng = random.Random(seed)
        # Hashing the demo passwords is seconds of CPU (PBKDF2, which lets go
        # of the GIL): it runs in threads beside the seeding, and the hashes
        # are set at the end, in the same transaction.
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="seed-demo-password") as hashing:
            hashes = [hashing.submit(make_password, password) for _ in DEMO_USERS]
            with transaction.atomic():
                # Setting up the cast is not history: it would record actions at
                # "now", before the week of history, and again on every rerun.
                with disable_recording():
                    users = self.ensure_users()
                if Story.objects.filter(author=users["alice"]).exists():
                    self.stdout.write("Demo history already present; users and passwords refreshed.")
                else:
                    self.create_history(users, actions, rng)
                    self.member_history(users)
                with disable_recording():
                    self.set_passwords(users, [future.result() for future in hashes])
                # Last, at "now": after the history, so ids keep following timestamps.
                self.activate_logins(users)
        health.flush()  # so streams_stats counts the routes the history ran
        self.print_logins(password)

    def ensure_users(self) -> dict[str, Any]:
        """The demo logins and the crowd, in their groups; passwords come after (``set_passwords``)."""
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

    @staticmethod
    def set_passwords(users: dict[str, Any], hashes: list[str]) -> None:
        """Each demo login gets its own hash (its own salt) of the demo password."""
        for (username, _, _), encoded in zip(DEMO_USERS, hashes, strict=True):
            user = users[username]
            user.password = encoded
            user.save(update_fields=["password"])

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
        bulk = actions - detailed
        with self.bulk_load(bulk):
            if bulk:
                # A benchmark-sized history: the older part is reads, written in
                # batches through bulk_create, whose bulk signal the hub turns into
                # one bulk INSERT of actions per batch. The last day is detailed.
                end_of_bulk = end - timedelta(days=1)
                self.bulk_reads(bulk, begin, end_of_bulk, stories, readers, rng)
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
        # Ids, not instances: the route reads only story_id and reader_id.
        # The same draws as choosing among the instances.
        story_ids = [story.pk for story in stories]
        reader_ids = [reader.pk for reader in readers]
        bar = ProgressBar(self.stdout, count, "reads", enabled=self.show_progress)

        def reads(first: int, size: int) -> list[StoryRead]:
            return [
                StoryRead(
                    story_id=rng.choice(story_ids),
                    reader_id=rng.choice(reader_ids),
                    read_at=begin + timedelta(seconds=(first + n) * step),
                )
                for n in range(size)
            ]

        # The next batch is made in a thread while this one is written: the
        # database works without the GIL (SQLite in C, PostgreSQL in its own
        # process), so making instances overlaps with it. One worker, each
        # batch asked for once the previous one is taken: the same draws in
        # the same order as a plain loop, so a seed gives the same history.
        with gc_paused(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed-demo-reads") as maker:
            upcoming = maker.submit(reads, 0, min(BULK_BATCH, count))
            for first in range(0, count, BULK_BATCH):
                batch = upcoming.result()
                written = first + len(batch)
                if written < count:
                    upcoming = maker.submit(reads, written, min(BULK_BATCH, count - written))
                StoryRead.objects.bulk_create(batch)
                reset_queries()  # with DEBUG on, the query log would keep every batch's SQL
                bar.update(written)
        bar.finish()

    @contextmanager
    def bulk_load(self, count: int) -> Iterator[None]:
        """What a history with ``count`` bulk reads needs around it.

        Past ``REINDEX_FROM`` reads the search index is dropped for the block
        (the bulk part and the detailed events after it) and rebuilt at its
        end; then fresh planner statistics. Runs inside the command's
        transaction, so on PostgreSQL and SQLite a rollback also brings back a
        dropped index (DDL is transactional).
        """
        if not count:
            yield
            return
        connection = connections[router.db_for_write(Action)]
        threshold = REINDEX_FROM.get(connection.vendor)
        reindex = (
            threshold is not None
            and count >= threshold
            and Action.objects.using(connection.alias).count() <= count
        )
        if reindex:
            search_index.uninstall(connection)
            try:
                yield
            except BaseException:
                # Best effort, never hiding the error; the rollback restores it anyway.
                with suppress(Exception):
                    search_index.install(connection)
                raise
            self.reinstall_search_index(connection)
        else:
            yield
            # The detailed events after the bulk part, indexed now rather
            # than by the first search (streams.search_index).
            while search_index.catch_up(connection):
                pass
        # Counted into their days too, rather than by the first chart over months (streams.rollup).
        while rollup.catch_up(connection):
            pass
        self.analyze(connection, (Action, StoryRead))

    def reinstall_search_index(self, connection: Any) -> None:
        if connection.vendor == "postgresql":
            # CREATE INDEX refuses a table with pending (deferred) foreign-key
            # checks, and install() would only answer False: run them now, as
            # the commit would, and defer again.
            started = time.monotonic()
            connection.check_constraints()
            self.stdout.write(f"  foreign keys checked in {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        if not search_index.install(connection) or not search_index.installed(connection):
            raise CommandError("The text search index could not be rebuilt; nothing was saved.")
        self.stdout.write(f"  search index rebuilt in {time.monotonic() - started:.1f} s")

    @staticmethod
    def analyze(connection: Any, models: tuple[type[Any], ...]) -> None:
        """Fresh planner statistics for the tables the bulk part filled."""
        tables = [connection.ops.quote_name(model._meta.db_table) for model in models]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for table in tables:
                    cursor.execute(f"ANALYZE {table}")
        elif connection.vendor == "sqlite":
            # Sampled: a full ANALYZE would read every index of every row.
            with sqlite_pragmas(connection, analysis_limit=1000), connection.cursor() as cursor:
                for table in tables:
                    cursor.execute(f"ANALYZE {table}")

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


class ProgressBar:
    """A progress bar redrawn in place on a terminal; elsewhere only the final count."""

    WIDTH = 30

    def __init__(self, stdout: Any, total: int, unit: str, *, enabled: bool = True) -> None:
        self.stdout = stdout
        self.total = total
        self.unit = unit
        self.enabled = enabled
        self.live = enabled and _isatty(stdout)
        self.started = time.monotonic()
        self.done = 0

    def update(self, done: int) -> None:
        self.done = done
        if self.live:
            self.stdout.write(self.line(), ending="\r")
            self.stdout.flush()

    def finish(self) -> None:
        if self.enabled:
            self.stdout.write(self.line())

    def line(self) -> str:
        filled = self.WIDTH * self.done // self.total if self.total else self.WIDTH
        elapsed = time.monotonic() - self.started
        rate = f" {self.done / elapsed:>9,.0f}/s" if elapsed > 0 else ""
        return f"  [{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done:>9,} / {self.total:,} {self.unit}{rate}"


def _isatty(stdout: Any) -> bool:
    try:
        return bool(stdout.isatty())
    except (AttributeError, ValueError):
        return False


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection in the block.

    A bulk part allocates millions of short-lived objects (instances, rows)
    and makes no reference cycles, so the collector finds nothing; but the
    allocations keep triggering it, and each full collection walks every
    object of the process (about a tenth of the bulk part's CPU time).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def sqlite_pragmas(connection: Any, **values: Any) -> Iterator[None]:
    """Set SQLite pragmas on ``connection`` for a block and put the old values back; elsewhere nothing."""
    if connection.vendor != "sqlite":
        yield
        return
    previous = {}
    with connection.cursor() as cursor:
        for name, value in values.items():
            cursor.execute(f"PRAGMA {name}")
            previous[name] = cursor.fetchone()[0]
            cursor.execute(f"PRAGMA {name} = {int(value)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name, value in previous.items():
                cursor.execute(f"PRAGMA {name} = {int(value)}")


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
