"""Table pages at scale: every filter, sort and deep page of the live tables, and the CSV export.

Data (``--actions`` rows, default 1,000,000; made once, reused with ``--keep``):

- Users, made with recording off: ``admin`` (staff) and 2,000 actors, 300 of
  them in the ``authors`` group, 60 in ``reviewers``, the rest readers, each
  with its ``Member`` row (active). Usernames are mostly ASCII, a few not
  (``zoë.k``, ``józef12``). The 300 authors own ``actions / 800`` stories
  (320 to 1,200: 1,200 at a million actions; each author one or more, the
  extra ones on a Zipf curve); 30 % of the stories were published before
  the year the history covers, 70 % during it, and 2 "new" authors only have
  drafts. Titles come from a vocabulary, about 5 % of them non-ASCII
  ("Café …", "Straße …", "東京 …"). Only users, members and stories are
  real rows; comments, reviews and replies exist only in the history (their
  ids are counters).
- Actions go straight into ``streams_action`` (no route runs): PostgreSQL
  with ``COPY``, SQLite with ``executemany`` in one transaction; the table's
  indexes (and on SQLite the FTS5 search table and its triggers, through
  ``streams.search_index``) are dropped first and made again after, as a bulk
  load would. ``search_text`` is ``streams.search.document()`` of each row.
- Timestamps: one year up to a minute before the run, the rate growing
  threefold over the year, busier in the afternoon than at night, with one
  whole day (91 days back, UTC) without any row (an outage). Ids follow the
  timestamps. Each story has one ``published`` row at its publication (the
  ones published in the year).
- Every other row: ``read`` 62 %, ``liked`` 4.5 %, ``commented`` 9 %,
  ``bookmarked`` 5 %, ``replied`` 2.5 %, ``reviewed`` 2 % (public); and
  15 % staff-only (``public=False``): ``logged in`` 6 %, ``logged out`` 5 %,
  ``updated`` 2 % (a story, by its author), ``changed state`` 1 % (a member,
  by ``system`` or ``admin``), ``failed login`` 1 % (a fifth of them under
  names nobody has, like ``root``).
- Objects, targets and owners as the hub's routes record them: a read,
  bookmark or publication is of a story; a comment (its text) is on a story;
  a review ("4★ review: …") is of a story; a reply is on a review; a like is
  of a review; ``owner`` is the story's author for reads, comments,
  bookmarks and reviews, the review's reviewer for replies and likes, and
  none otherwise. Stories are read on a Zipf curve of popularity (never
  before their publication); replies and likes go half to the 50 newest
  reviews, half to any. The 2 "new" reviewers have reviewed nothing, so
  nobody replied to them. Three rare words ("quincunx", "zugzwang",
  "smörgåsbord") each appear in exactly 10 comments; "nowhere-zzqx" in none.
- Actors: for the rows a user chooses to do (reads, comments, bookmarks,
  replies, likes, logins, logouts, failed logins under a real name), the
  busiest actor (a reader) has 44 % of all rows, the 1,999 others a Zipf
  curve (exponent 1.63) with at least one row each: at 1,000,000 actions
  about 840 of them have 1 to 5 actions (at fewer actions, more: every
  actor has at least one). Reviews are by reviewers, publications and
  updates by the story's author, on top of that. The first line of the
  output gives the figures of the data at hand.
- On PostgreSQL ``VACUUM (ANALYZE)`` of the table and ``ANALYZE`` of the
  rest follow, as autovacuum would do within a minute (it also vacuums
  insert-only tables, which is what lets the planner use index-only scans).
  On SQLite nothing: keeping statistics (``ANALYZE``, ``PRAGMA optimize``) is
  the application's job, so the benchmark sees what the application does.
  That is why, after generating, the measurement runs in a new process (the
  same command with ``--keep``): like a server started on the full table,
  and unlike the process that made it, whose connection opened on an empty
  one (``streams.statistics`` looks when a connection opens, at most every
  10 minutes per process).

Cases, on /feed/ unless named: the first page; each filter alone with a rare
and a common value (actor: the rarest actor whose rows are all public, and
the busiest; verb: published, read; object_type: publishing.reply,
publishing.story; target_type: publishing.review, publishing.story); one
day six months back (since = until); two and three filters (busiest actor,
replied, since six months back); ``q`` matching 10 rows and none; every
sort, both directions, first page and 100 pages deep; the oldest page; an
object_type nobody but staff sees anything of (publishing.member); the
outage day; /reads/ and /replies/: the first page, an owner with few rows
and one with none. The CSV export of /feed/, everything and the rare actor,
as staff.

Measurement: requests go through ``django.test.Client`` in this process,
logged in with ``force_login``, as staff (``?author=`` / ``?reviewer=`` for
an owner) and as a non-staff viewer: a reader on /feed/, the author with
most reads on /reads/, the reviewer with most replies and likes on
/replies/, the owner itself for the owner cases. Each case is timed as the
full page and as the htmx partial (``HX-Request: true``): 3 warm-ups each,
then ``--runs`` rounds over all cases (so drift on a shared machine hits
every case alike); p50 and p95 (nearest rank) of the wall time of the whole
request; "cpu p50" is this process's CPU time for it (wall minus CPU is
waiting: for a core on a busy machine, or for the PostgreSQL server).
"queries" are the SQL statements of one more request
(``CaptureQueriesContext``); for the cases over target, the plan of its
slowest statement follows (PostgreSQL ``EXPLAIN (ANALYZE, BUFFERS)``, SQLite
``EXPLAIN QUERY PLAN``); a statement's time there is its execution, not the
fetching of its rows, at 1 ms resolution. Deep pages are reached as a user
would, never by building a URL: following the pager's ``rel="next"`` link
100 times from the first page, and ``rel="last"`` for the oldest page (a
case without such a link is reported as "no pager link"). The CSV export is
read to the end from ``streaming_content``, never joined: rows/s (median of
the runs), and the growth of the process's RSS (``VmRSS``) from before the
request to its peak while streaming (the largest of the warm-up and runs).

Targets: a page p50 <= 30 ms, p95 <= 100 ms, <= 5 queries; a CSV export
>= 150,000 rows/s (or done within a page's 30 ms: a rate means nothing for a
few rows) with <= 50 MB of RSS growth.

With ``--keep`` and a database of your own (``DATABASE_URL``, SQLite
``sqlite:////tmp/…`` or PostgreSQL), data generated before with the same
``--actions`` (noted in the table ``bench_table_pages``) is reused; without
it, the database is flushed and filled again.
"""

from __future__ import annotations

import argparse
import bisect
import datetime
import gc
import html.parser
import itertools
import json
import math
import os
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin

from bench import common

# What the data is; bump VERSION whenever a change makes old data unlike new.
VERSION = 3
SEED = 20261202
ACTORS = 2000
AUTHORS = 300
REVIEWERS = 60
NEW_AUTHORS = 2  # only drafts: nobody read them
NEW_REVIEWERS = 2  # no review yet: nobody replied to them
BUSIEST_SHARE = 0.44
ZIPF_ACTORS = 1.63
ZIPF_STORIES = 1.1
ZIPF_AUTHORS = 1.2
DAYS = 365
OUTAGE_DAYS_BACK = 91
HALF_YEAR_DAYS_BACK = 182
STORIES_PER_ACTION = 1 / 800
MIN_STORIES = 320
MAX_STORIES = 1200
PUBLISHED_BEFORE = 0.3
RECENT_REVIEWS = 50
RARE_WORDS = ("quincunx", "zugzwang", "smörgåsbord")
RARE_ROWS = 10
NO_MATCH = "nowhere-zzqx"
# Below this the 2,000 actors cannot all act and still leave the busiest its 44 %.
MIN_ACTIONS = 15_000
MARKER_TABLE = "bench_table_pages"
# From the process that made the data to the one that measures on it.
ORIGIN_ENV = "BENCH_TABLE_PAGES_ORIGIN"
COMMAND_ENV = "BENCH_TABLE_PAGES_COMMAND"

# The rows a kind of event makes, and how often (percent of the rows that
# are not publications). "failed login?" is a failed login under a name
# nobody has.
MIX = (
    ("read", 62.0),
    ("commented", 9.0),
    ("bookmarked", 5.0),
    ("reviewed", 2.0),
    ("replied", 2.5),
    ("liked", 4.5),
    ("updated", 2.0),
    ("changed state", 1.0),
    ("logged in", 6.0),
    ("logged out", 5.0),
    ("failed login", 0.8),
    ("failed login?", 0.2),
)
# The events whose actor is whoever chooses to do them: the Zipf pool.
POOL_EVENTS = frozenset(
    {"read", "commented", "bookmarked", "replied", "liked", "logged in", "logged out", "failed login"}
)


def table_columns() -> tuple[str, ...]:
    """Every column of the table: the id and those the engine's bulk INSERT writes."""
    from streams.recording import BULK_ATTNAMES  # after django.setup()

    return ("id", *BULK_ATTNAMES)


# Measurement.
WARMUPS = 3
CSV_RUNS = 3
DEEP_PAGES = 100
RSS_EVERY = 5000  # CSV lines between two looks at VmRSS
TARGET_P50_MS = 30.0
TARGET_P95_MS = 100.0
TARGET_QUERIES = 5
TARGET_CSV_ROWS_S = 150_000
TARGET_CSV_RSS_MB = 50.0

# Vocabulary.
FIRST_NAMES = (
    "ada", "amir", "ana", "anton", "aoife", "ben", "bea", "carla", "chen", "chidi", "cleo", "dara",
    "david", "elif", "ella", "emil", "eva", "farah", "felix", "gita", "hana", "hugo", "ida", "igor",
    "ines", "ivan", "jack", "jana", "joao", "kai", "kara", "kofi", "lars", "lea", "leo", "lina",
    "luca", "maja", "marco", "maria", "mei", "mila", "nadia", "nils", "noah", "nora", "olga", "omar",
    "oskar", "paula", "pedro", "priya", "rae", "ravi", "rita", "rosa", "ruth", "sam", "sara", "sean",
    "sofia", "tariq", "tess", "theo", "tom", "uma", "vera", "wen", "yara", "yusuf", "zane", "zoe",
    "zoë", "józef", "björn", "søren", "chloé", "renée", "łucja", "jürgen",
)  # fmt: skip
INITIALS = "abcdefghijklmnoprstvwz"
ADJECTIVES = (
    "Quiet", "Silver", "Last", "Hidden", "Broken", "Golden", "Distant", "Little", "Northern",
    "Burning", "Empty", "Crooked", "Wandering", "Sleeping", "Bitter", "Paper", "Winter", "Salt",
    "Glass", "Second", "Lonely", "Painted", "Restless", "Velvet",
)  # fmt: skip
NOUNS = (
    "Harbour", "Garden", "River", "Lighthouse", "Orchard", "Letter", "Bridge", "Station", "Kitchen",
    "Mountain", "Island", "Summer", "Promise", "Engine", "Window", "Library", "Forest", "Market",
    "Ferry", "Clockmaker", "Violin", "Archive", "Festival", "Tide",
)  # fmt: skip
PLACES = ("Lisbon", "Oslo", "Galway", "Trieste", "Kyoto", "Tallinn", "Porto", "Bergen", "Naples")
NON_ASCII_TITLES = (
    "Café {noun}",
    "Straße der {noun}",
    "Ærøskøbing {noun}",
    "Zürich, {adj} {noun}",
    "Łódź {noun}",
    "São Paulo {noun}",
    "東京の{noun}",
    "Москва {noun}",
    "Naïve {noun}",
    "Ελλάδα {noun}",
)
COMMENTS = (
    "Loved the ending of “{title}”, did not see it coming.",
    "The middle part dragged a little for me.",
    "Reading it again tonight.",
    "That {noun} scene! Beautiful writing.",
    "Not sure about the narrator, but the {noun} is wonderful.",
    "Thanks for writing this, it made my week.",
    "Is there a sequel to “{title}” planned?",
    "My book club is going to argue about this one for hours, I just know it.",
)
REVIEW_BODIES = (
    "A {adj} story that stays with you.",
    "Well told, though the ending felt rushed.",
    "The {noun} chapters are the best thing I read this year.",
    "Solid prose; the plot wanders in places.",
    "Not for me, but I see the craft.",
)
REPLIES = (
    "Thank you for reading so closely!",
    "Fair point about the ending, I am revising it.",
    "Which part of the {noun} did you mean?",
    "Glad it worked for you.",
    "I disagree, but thanks for taking the time to write this review.",
)
USER_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
)
UNKNOWN_NAMES = ("root", "admin1", "test", "guest", "administrator", "support", "user", "oracle")
STATE_CHANGES = (
    ("active", "locked"),
    ("locked", "active"),
    ("active", "deactivated"),
    ("deactivated", "active"),
)


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _short(text: str, limit: int) -> str:
    """As ``publishing.models`` shortens a text for its ``__str__``."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def zipf_weights(count: int, exponent: float) -> list[float]:
    return [1 / rank**exponent for rank in range(1, count + 1)]


# Data: the cast, the history, and what the cases need to know about them.


@dataclass
class Picks:
    """What the cases need to know about the data, saved with it for ``--keep``."""

    actions: int
    end: str  # ISO timestamps of the history's window
    start: str
    busiest_actor: str
    busiest_share: float
    rare_actor: str
    rare_actor_rows: int
    actors_1_to_5: int
    staff_only_share: float
    feed_viewer: str
    reads_viewer: str
    reads_few: str
    reads_few_rows: int
    reads_none: str
    replies_viewer: str
    replies_few: str
    replies_few_rows: int
    replies_none: str
    half_year_day: str
    empty_day: str
    verbs: dict[str, int] = field(default_factory=dict)


@dataclass
class Story:
    id: int
    author: int  # index into Cast.names
    title: str
    published: float  # epoch seconds; inf for a draft


@dataclass
class Review:
    id: int
    reviewer: int
    text: str


@dataclass
class Cast:
    names: list[str]  # the 2,000 actors, busiest first
    ids: list[int]
    members: list[int]
    roles: list[str]  # "reader", "author", "reviewer"
    new_authors: list[int]
    new_reviewers: list[int]
    stories: list[Story]
    content_types: dict[str, int]
    staff_id: int


def usernames(rng: random.Random) -> list[str]:
    names: list[str] = []
    seen: set[str] = {"admin", "system"}
    while len(names) < ACTORS:
        first = rng.choice(FIRST_NAMES)
        form = rng.random()
        if form < 0.3:
            name = f"{first}.{rng.choice(INITIALS)}"
        elif form < 0.7:
            name = f"{first}{rng.randint(1, 99)}"
        else:
            name = f"{first}_{rng.choice(INITIALS)}{rng.randint(1, 9)}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def story_titles(count: int, rng: random.Random) -> list[str]:
    titles: list[str] = []
    seen: set[str] = set()
    while len(titles) < count:
        adj, noun = rng.choice(ADJECTIVES), rng.choice(NOUNS)
        form = rng.random()
        if form < 0.05:
            title = rng.choice(NON_ASCII_TITLES).format(adj=adj, noun=noun)
        elif form < 0.45:
            title = f"The {adj} {noun}"
        elif form < 0.7:
            title = f"{adj} {noun} of {rng.choice(PLACES)}"
        elif form < 0.85:
            title = f"A {noun} in {rng.choice(PLACES)}"
        else:
            title = f"{noun}s, {rng.choice(ADJECTIVES).lower()} and {adj.lower()}"
        if title in seen:
            title = f"{title}, part {sum(1 for made in titles if made.startswith(title)) + 1}"  # a sequel
        seen.add(title)
        titles.append(title)
    return titles


def make_cast(actions: int, start: float, end: float, outage: float, rng: random.Random) -> Cast:
    """The users, their groups, members and stories, made with recording off."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction

    from publishing import models as publishing
    from publishing.roles import AUTHORS as AUTHORS_GROUP
    from publishing.roles import REVIEWERS as REVIEWERS_GROUP
    from streams import disable_recording
    from tests import factories

    names = usernames(rng)
    # The busiest actor is a reader; the other roles fall anywhere on the curve.
    others = ["author"] * AUTHORS + ["reviewer"] * REVIEWERS
    others += ["reader"] * (ACTORS - 1 - len(others))
    rng.shuffle(others)
    roles = ["reader", *others]
    User = get_user_model()
    joined = datetime.datetime.fromtimestamp(start - 30 * 86400, datetime.UTC)
    with disable_recording(), transaction.atomic():
        staff = factories.user("admin", "staff")
        password = make_password(None)
        User.objects.bulk_create(
            [User(username=name, password=password, date_joined=joined) for name in names], batch_size=500
        )
        by_name = dict(User.objects.values_list("username", "id"))
        ids = [by_name[name] for name in names]
        publishing.Member.objects.bulk_create(
            [publishing.Member(user_id=pk, state="active", created_at=joined) for pk in ids], batch_size=500
        )
        members = dict(publishing.Member.objects.values_list("user_id", "id"))
        authors_group, created = Group.objects.get_or_create(name=AUTHORS_GROUP)
        if created:  # as tests.factories makes it
            authors_group.permissions.add(
                Permission.objects.get(codename="add_story", content_type__app_label="publishing")
            )
        reviewers_group = Group.objects.get_or_create(name=REVIEWERS_GROUP)[0]
        group_of = {"author": authors_group.pk, "reviewer": reviewers_group.pk}
        Membership = User.groups.through
        Membership.objects.bulk_create(
            [
                Membership(user_id=ids[index], group_id=group_of[role])
                for index, role in enumerate(roles)
                if role in group_of
            ],
            batch_size=500,
        )

        authors = [index for index, role in enumerate(roles) if role == "author"]
        reviewers = [index for index, role in enumerate(roles) if role == "reviewer"]
        new_authors, writing = authors[:NEW_AUTHORS], authors[NEW_AUTHORS:]
        new_reviewers = reviewers[:NEW_REVIEWERS]
        total = min(MAX_STORIES, max(MIN_STORIES, int(actions * STORIES_PER_ACTION)))
        extra = total - len(authors)
        productivity = zipf_weights(len(writing), ZIPF_AUTHORS)
        rng.shuffle(productivity)
        owners = new_authors + writing + rng.choices(writing, productivity, k=extra)
        titles = story_titles(total, rng)
        plans: list[tuple[int, str, float]] = []
        for number, (author, title) in enumerate(zip(owners, titles, strict=True)):
            if number < NEW_AUTHORS:
                published = math.inf
            elif rng.random() < PUBLISHED_BEFORE:
                published = start - rng.uniform(0, DAYS * 86400)
            else:
                published = rng.uniform(start, end - 86400)
                if outage <= published < outage + 86400:
                    published += 86400  # the site was down that day
            plans.append((author, title, published))
        made = publishing.Story.objects.bulk_create(
            [
                publishing.Story(
                    author_id=ids[author],
                    title=title,
                    body="Once upon a time.",
                    created_at=datetime.datetime.fromtimestamp(min(published, end) - 86400, datetime.UTC),
                    published_at=None
                    if published == math.inf
                    else datetime.datetime.fromtimestamp(published, datetime.UTC),
                )
                for author, title, published in plans
            ],
            batch_size=500,
        )
    stories = [
        Story(story.pk, author, title, published)
        for story, (author, title, published) in zip(made, plans, strict=True)
    ]
    ContentType.objects.clear_cache()
    content_types = {
        model._meta.model_name: ContentType.objects.get_for_model(model).pk
        for model in (
            publishing.Story,
            publishing.Comment,
            publishing.Review,
            publishing.Reply,
            publishing.Member,
        )
    }
    return Cast(
        names=names,
        ids=ids,
        members=[members[pk] for pk in ids],
        roles=roles,
        new_authors=new_authors,
        new_reviewers=new_reviewers,
        stories=stories,
        content_types=content_types,
        staff_id=staff.pk,
    )


def timestamps(count: int, start: float, outage: float, rng: random.Random) -> list[float]:
    """``count`` sorted instants in [start, start + DAYS days), none on the outage day.

    The rate grows threefold over the year (density 1 + 2x) and is higher in
    the afternoon (peak 16:00 UTC) than at night.
    """
    span = (DAYS - 1) * 86400  # the year without the outage day
    values: list[float] = []
    while len(values) < count:
        x = (math.sqrt(1 + 8 * rng.random()) - 1) / 2  # inverse of the CDF (x + x²) / 2
        instant = start + x * span
        if instant >= outage:
            instant += 86400
        hour = (instant % 86400) / 3600
        if rng.random() * 1.7 < 1 + 0.7 * math.sin(2 * math.pi * (hour - 10) / 24):
            values.append(round(instant, 6))
    values.sort()
    return values


class History:
    """Generates the rows of ``streams_action`` in id order, counting what the picks need."""

    def __init__(
        self, actions: int, cast: Cast, start: float, end: float, outage: float, rng: random.Random
    ) -> None:
        self.actions = actions
        self.cast = cast
        self.start, self.end, self.outage = start, end, outage
        self.rng = rng
        self.actor_rows: Counter[str] = Counter()
        self.actor_public: Counter[str] = Counter()
        self.owner_reads: Counter[int] = Counter()
        self.owner_replies: Counter[int] = Counter()
        self.verbs: Counter[str] = Counter()
        self.published = sorted(
            (story.published, number)
            for number, story in enumerate(cast.stories)
            if start <= story.published < end
        )
        popularity = zipf_weights(len(cast.stories), ZIPF_STORIES)
        rng.shuffle(popularity)
        for number, story in enumerate(cast.stories):
            if story.published == math.inf:
                popularity[number] = 0.0
        self.story_cumulative = list(itertools.accumulate(popularity))
        self.first_story = min(range(len(cast.stories)), key=lambda number: cast.stories[number].published)
        reviewers = [
            index
            for index, role in enumerate(cast.roles)
            if role == "reviewer" and index not in cast.new_reviewers
        ]
        self.reviewers = reviewers
        # A reviewer reviews as often as their place on the actor curve says.
        self.reviewer_cumulative = list(
            itertools.accumulate(1 / (index + 1) ** ZIPF_ACTORS for index in reviewers)
        )
        self.reviews: list[Review] = []
        self.counters = {"comment": 0, "review": 0, "reply": 0}
        self.ips = [self._ip(index) for index in range(ACTORS)]

    def _ip(self, index: int) -> str:
        if index % 7 == 0:
            return f"2001:db8::{index:x}"
        return f"198.51.{100 + index // 250}.{index % 250 + 1}"

    def _pool(self, events: list[str]) -> list[int]:
        """Actor index of each pool event, shuffled: the busiest 44 %, the rest on a Zipf curve, >= 1 each."""
        size = sum(1 for event in events if event in POOL_EVENTS)
        busiest = min(round(BUSIEST_SHARE * self.actions), size - (ACTORS - 1))
        rest = size - busiest
        weights = zipf_weights(ACTORS, ZIPF_ACTORS)[1:]
        scale = rest / sum(weights)
        counts = [busiest] + [max(1, round(weight * scale)) for weight in weights]
        counts[1] += size - sum(counts)  # rounding: the second busiest absorbs it
        assert counts[1] >= 1, counts[:3]
        slots = [index for index, count in enumerate(counts) for _ in range(count)]
        self.rng.shuffle(slots)
        return slots

    def _story(self, instant: float) -> int:
        """A story published by ``instant``, popular ones more often."""
        stories = self.cast.stories
        for _ in range(30):
            number = bisect.bisect(self.story_cumulative, self.rng.random() * self.story_cumulative[-1])
            if stories[number].published <= instant:
                return number
        return self.first_story

    def _review(self) -> Review:
        if self.rng.random() < 0.5:
            return self.rng.choice(self.reviews[-RECENT_REVIEWS:])
        return self.rng.choice(self.reviews)

    def _next(self, kind: str) -> int:
        self.counters[kind] += 1
        return self.counters[kind]

    def rows(self) -> Iterator[dict[str, Any]]:
        """Each row as a dict of ``table_columns()`` (ids from 1, in timestamp order)."""
        from streams.search import document

        rng = self.rng
        general = self.actions - len(self.published)
        kinds, weights = zip(*MIX, strict=True)
        events = rng.choices(kinds, weights, k=general)
        slots = self._pool(events)
        commented = [number for number, event in enumerate(events) if event == "commented"]
        chosen = rng.sample(commented, RARE_ROWS * len(RARE_WORDS))
        rare = {number: RARE_WORDS[position // RARE_ROWS] for position, number in enumerate(chosen)}
        instants = timestamps(general, self.start, self.outage, rng)
        publications = iter(self.published)
        upcoming = next(publications, None)
        slot = iter(slots)
        number = 0
        for row_id in range(1, self.actions + 1):
            if upcoming is not None and (number >= general or upcoming[0] <= instants[number]):
                instant, story_number = upcoming
                upcoming = next(publications, None)
                row = self._publication(story_number)
            else:
                instant, event = instants[number], events[number]
                actor = next(slot) if event in POOL_EVENTS else None
                row = self._event(event, instant, actor, rare.get(number))
                number += 1
            row["id"] = row_id
            row["timestamp"] = datetime.datetime.fromtimestamp(instant, datetime.UTC)
            row["search_text"] = document(
                row["actor_name"], row["verb"], row["object_repr"], row["target_repr"]
            )
            row["request_id"] = None  # the history was not made by requests
            self.verbs[row["verb"]] += 1
            self.actor_rows[row["actor_name"]] += 1
            if row["public"]:
                self.actor_public[row["actor_name"]] += 1
            yield row

    def _row(self, actor: int | None, verb: str, **fields: Any) -> dict[str, Any]:
        row: dict[str, Any] = {
            "actor_id": None if actor is None else self.cast.ids[actor],
            "actor_name": "" if actor is None else self.cast.names[actor],
            "verb": verb,
            "object_type_id": None,
            "object_id": "",
            "object_repr": "",
            "target_type_id": None,
            "target_id": "",
            "target_repr": "",
            "owner_id": None,
            "public": True,
            "ip": None if actor is None else self.ips[actor],
            "user_agent": "" if actor is None else USER_AGENTS[actor % len(USER_AGENTS)],
            "changes": None,
        }
        row.update(fields)
        return row

    def _story_fields(self, number: int, prefix: str = "object") -> dict[str, Any]:
        story = self.cast.stories[number]
        return {
            f"{prefix}_type_id": self.cast.content_types["story"],
            f"{prefix}_id": str(story.id),
            f"{prefix}_repr": story.title,
        }

    def _publication(self, number: int) -> dict[str, Any]:
        return self._row(self.cast.stories[number].author, "published", **self._story_fields(number))

    def _event(self, event: str, instant: float, actor: int | None, rare_word: str | None) -> dict[str, Any]:
        rng, cast, types = self.rng, self.cast, self.cast.content_types
        if event in ("replied", "liked") and not self.reviews:
            event = "read"  # nothing to reply to yet
        if event in ("read", "bookmarked"):
            number = self._story(instant)
            owner = cast.ids[cast.stories[number].author]
            if event == "read":
                self.owner_reads[owner] += 1
            return self._row(actor, event, owner_id=owner, **self._story_fields(number))
        if event == "commented":
            number = self._story(instant)
            story = cast.stories[number]
            text = rng.choice(COMMENTS).format(title=story.title, noun=rng.choice(NOUNS).lower())
            if rare_word:
                text = f"{rare_word.capitalize()}! {text}"
            return self._row(
                actor,
                event,
                object_type_id=types["comment"],
                object_id=str(self._next("comment")),
                object_repr=_short(text, 60),
                owner_id=cast.ids[story.author],
                **self._story_fields(number, "target"),
            )
        if event == "reviewed":
            number = self._story(instant)
            story = cast.stories[number]
            position = bisect.bisect(self.reviewer_cumulative, rng.random() * self.reviewer_cumulative[-1])
            reviewer = self.reviewers[position]
            body = rng.choice(REVIEW_BODIES).format(
                adj=rng.choice(ADJECTIVES).lower(), noun=rng.choice(NOUNS)
            )
            review = Review(
                self._next("review"), reviewer, f"{rng.randint(1, 5)}★ review: {_short(body, 40)}"
            )
            self.reviews.append(review)
            return self._row(
                reviewer,
                event,
                object_type_id=types["review"],
                object_id=str(review.id),
                object_repr=review.text,
                owner_id=cast.ids[story.author],
                **self._story_fields(number, "target"),
            )
        if event == "replied":
            review = self._review()
            self.owner_replies[cast.ids[review.reviewer]] += 1
            body = rng.choice(REPLIES).format(noun=rng.choice(NOUNS).lower())
            return self._row(
                actor,
                event,
                object_type_id=types["reply"],
                object_id=str(self._next("reply")),
                object_repr=_short(body, 60),
                target_type_id=types["review"],
                target_id=str(review.id),
                target_repr=review.text,
                owner_id=cast.ids[review.reviewer],
            )
        if event == "liked":
            review = self._review()
            self.owner_replies[cast.ids[review.reviewer]] += 1
            return self._row(
                actor,
                event,
                object_type_id=types["review"],
                object_id=str(review.id),
                object_repr=review.text,
                owner_id=cast.ids[review.reviewer],
            )
        if event == "updated":
            number = self._story(instant)
            changes = {"body": ["Once upon a time.", "Once upon a time, again."]}
            return self._row(
                cast.stories[number].author,
                event,
                public=False,
                changes=json.dumps(changes),
                **self._story_fields(number),
            )
        if event == "changed state":
            member = rng.randrange(ACTORS)
            old, new = rng.choice(STATE_CHANGES)
            by_staff = rng.random() < 0.3
            return self._row(
                None,
                event,
                actor_id=cast.staff_id if by_staff else None,
                actor_name="admin" if by_staff else "system",
                object_type_id=types["member"],
                object_id=str(cast.members[member]),
                object_repr=f"member {cast.names[member]}",
                public=False,
                changes=json.dumps({"state": [old, new]}),
                ip="192.0.2.10" if by_staff else None,
                user_agent=USER_AGENTS[0] if by_staff else "",
            )
        if event in ("logged in", "logged out"):
            return self._row(actor, event, public=False)
        if event == "failed login":  # under a real name: no actor row, as record() does for a string
            assert actor is not None
            return self._row(
                None,
                event,
                actor_name=cast.names[actor],
                public=False,
                ip=self.ips[actor],
                user_agent=USER_AGENTS[actor % len(USER_AGENTS)],
            )
        if event == "failed login?":
            return self._row(
                None,
                "failed login",
                actor_name=rng.choice(UNKNOWN_NAMES),
                public=False,
                ip=f"203.0.113.{rng.randint(1, 254)}",
                user_agent="python-requests/2.32.3",
            )
        raise ValueError(event)

    def picks(self) -> Picks:
        cast = self.cast
        pool = set(cast.names)
        counts = {name: self.actor_rows[name] for name in cast.names}
        # The rarest actor whose every row anyone may see (so both viewers find it).
        rare = min(
            (name for name in cast.names if counts[name] and self.actor_public[name] == counts[name]),
            key=lambda name: (counts[name], name),
        )
        authors = [cast.ids[i] for i, role in enumerate(cast.roles) if role == "author"]
        reviewers = [cast.ids[i] for i, role in enumerate(cast.roles) if role == "reviewer"]
        name_of = dict(zip(cast.ids, cast.names, strict=True))
        reads_few = min((pk for pk in authors if self.owner_reads[pk]), key=lambda pk: self.owner_reads[pk])
        replies_few = min(
            (pk for pk in reviewers if self.owner_replies[pk]), key=lambda pk: self.owner_replies[pk]
        )
        staff_only = sum(n for verb, n in self.verbs.items() if verb not in _public_verbs())
        end = datetime.datetime.fromtimestamp(self.end, datetime.UTC)
        return Picks(
            actions=self.actions,
            end=end.isoformat(),
            start=datetime.datetime.fromtimestamp(self.start, datetime.UTC).isoformat(),
            busiest_actor=cast.names[0],
            busiest_share=self.actor_rows[cast.names[0]] / self.actions,
            rare_actor=rare,
            rare_actor_rows=counts[rare],
            actors_1_to_5=sum(1 for name in pool if 1 <= counts[name] <= 5),
            staff_only_share=staff_only / self.actions,
            feed_viewer=next(
                name for name, role in zip(cast.names[1:], cast.roles[1:], strict=True) if role == "reader"
            ),
            reads_viewer=name_of[max(authors, key=lambda pk: self.owner_reads[pk])],
            reads_few=name_of[reads_few],
            reads_few_rows=self.owner_reads[reads_few],
            reads_none=cast.names[cast.new_authors[0]],
            replies_viewer=name_of[max(reviewers, key=lambda pk: self.owner_replies[pk])],
            replies_few=name_of[replies_few],
            replies_few_rows=self.owner_replies[replies_few],
            replies_none=cast.names[cast.new_reviewers[0]],
            half_year_day=(end - datetime.timedelta(days=HALF_YEAR_DAYS_BACK)).date().isoformat(),
            empty_day=datetime.datetime.fromtimestamp(self.outage, datetime.UTC).date().isoformat(),
            verbs=dict(self.verbs.most_common()),
        )


def _public_verbs() -> tuple[str, ...]:
    from dashboard import verbs

    return verbs.PUBLIC_VERBS


# Loading.


SEARCH_INDEX = "-- streams.search_index"


def _drop_indexes(connection: Any) -> list[str]:
    """Drop the table's secondary indexes (on SQLite, the search table too); what makes them again.

    The definitions are noted first in the marker table, so a run that dies
    before making them again leaves them to the next one.
    """
    from streams import rollup, search_index

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = 'streams_action'::regclass AND NOT i.indisprimary "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
            )
        else:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'streams_action' AND sql IS NOT NULL"
            )
        indexes = cursor.fetchall()
    definitions = [definition for _, definition in indexes]
    if connection.vendor == "sqlite" and search_index.installed(connection):
        definitions.append(SEARCH_INDEX)
    definitions = list(dict.fromkeys((_marker(connection, "indexes") or []) + definitions))
    _set_marker(connection, "indexes", definitions)
    with connection.cursor() as cursor:
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    if SEARCH_INDEX in definitions:
        search_index.uninstall(connection)
    rollup.uninstall(connection)  # its delete trigger, for the flush; put back and filled after
    return definitions


def _restore_indexes(connection: Any, definitions: list[str]) -> None:
    from streams import rollup, search_index

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET maintenance_work_mem = '256MB'")
        else:
            cursor.execute("PRAGMA cache_size = -262144")  # 256 MB while sorting, then back
        for definition in definitions:
            if definition != SEARCH_INDEX:
                cursor.execute(definition)
        if SEARCH_INDEX in definitions:
            search_index.install(connection)  # makes the FTS table and its triggers, and fills it
        if connection.vendor == "postgresql":
            cursor.execute("RESET maintenance_work_mem")
        else:
            cursor.execute("PRAGMA cache_size = -2000")
    # The per-day counts charts read (streams.rollup), of every action loaded.
    rollup.install(connection)
    while rollup.catch_up(connection):
        pass
    _set_marker(connection, "indexes", None)


def _copy_rows(connection: Any, rows: Iterator[dict[str, Any]]) -> None:
    from django.db import transaction

    names = table_columns()
    columns = ", ".join(names)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            last = 0
            with cursor.copy(f"COPY streams_action ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[name] for name in names])
                    last = row["id"]
            cursor.execute("SELECT setval(pg_get_serial_sequence('streams_action', 'id'), %s)", [last])
            return
        adapt = connection.ops.adapt_datetimefield_value
        sql = f"INSERT INTO streams_action ({columns}) VALUES ({', '.join(['%s'] * len(names))})"
        for batch in itertools.batched(rows, 10_000):
            values = []
            for row in batch:
                row["timestamp"] = adapt(row["timestamp"])
                values.append([row[name] for name in names])
            cursor.executemany(sql, values)


def _marker(connection: Any, name: str) -> Any:
    """What this benchmark noted in its own table of the database (JSON), or None."""
    if MARKER_TABLE not in connection.introspection.table_names():
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT value FROM {MARKER_TABLE} WHERE name = %s", [name])
        found = cursor.fetchone()
    return json.loads(found[0]) if found else None


def _set_marker(connection: Any, name: str, value: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (name varchar(50) PRIMARY KEY, value text)"
        )
        cursor.execute(f"DELETE FROM {MARKER_TABLE} WHERE name = %s", [name])
        if value is not None:
            cursor.execute(
                f"INSERT INTO {MARKER_TABLE} (name, value) VALUES (%s, %s)", [name, json.dumps(value)]
            )


def prepare(actions: int, keep: bool) -> tuple[Picks, str]:
    """The data the cases run on, generated or reused; and how it came to be."""
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command
    from django.db import connection

    from streams.models import Action

    marker = _marker(connection, "data")
    complete = marker and "picks" in marker
    reusable = keep and complete and marker["version"] == VERSION and marker["actions"] == actions
    if reusable and Action.objects.order_by("-id").values_list("id", flat=True).first() == actions:
        progress("reusing the data already generated (--keep)")
        return Picks(**marker["picks"]), "reused"
    if marker is None and (Action.objects.exists() or get_user_model().objects.exists()):
        raise SystemExit(
            "bench.table_pages: this database holds data the benchmark did not make, and would be "
            "flushed; give it a database of its own (createdb -h 127.0.0.1 -U postgres bench_pages, "
            "or DATABASE_URL=sqlite:////tmp/bench_pages/db.sqlite3)"
        )
    # Noted before anything is flushed: a run that dies leaves data known to be ours.
    _set_marker(connection, "data", {"version": VERSION, "actions": actions})
    # Before the flush: deleting rows through the search triggers is slow.
    definitions = _drop_indexes(connection)
    try:
        if Action.objects.exists() or get_user_model().objects.exists():
            progress("flushing the database")
            call_command("flush", interactive=False, verbosity=0)
            ContentType.objects.clear_cache()
        started = time.perf_counter()
        rng = random.Random(SEED)
        end = float(int(time.time()) // 60 * 60 - 60)
        start = end - DAYS * 86400
        outage = end - OUTAGE_DAYS_BACK * 86400
        outage -= outage % 86400  # midnight UTC
        cast = make_cast(actions, start, end, outage, rng)
        progress(
            f"made {ACTORS + 1:,} users and {len(cast.stories):,} stories; generating {actions:,} actions"
        )
        history = History(actions, cast, start, end, outage, rng)
        _copy_rows(connection, history.rows())
        progress(f"inserted in {time.perf_counter() - started:.0f} s; making the indexes again")
    finally:
        _restore_indexes(connection, definitions)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) streams_action")
            cursor.execute("ANALYZE")
    picks = history.picks()
    _set_marker(connection, "data", {"version": VERSION, "actions": actions, "picks": asdict(picks)})
    return picks, f"generated in {time.perf_counter() - started:.0f} s"


# Cases.


HIDDEN_KIND_CASE = "object_type hidden from non-staff: publishing.member"


@dataclass
class Case:
    """One URL, one viewer, one kind of request, and what was measured."""

    name: str
    viewer: str
    client: Any
    kind: str  # page, partial, csv
    url: str | None
    note: str = ""  # why it was not measured
    status: int = 200  # the answer expected (a filter the viewer may not use is the form's 400)
    samples: list[float] = field(default_factory=list)  # wall ms
    cpu: list[float] = field(default_factory=list)  # this process's CPU ms
    rows: int | None = None
    queries: int | None = None
    slowest: tuple[float, str] | None = None  # seconds, SQL
    counted_ms: float = 0.0  # the request whose queries were counted
    sql_ms: float = 0.0  # its SQL time (1 ms resolution per statement)
    error: str = ""
    rows_per_s: float | None = None
    rss_mb: float | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"HTTP_HX_REQUEST": "true"} if self.kind == "partial" else {}

    def failures(self) -> list[str]:
        """What is over target; empty if it passes."""
        if self.note or self.error:
            return [self.note or self.error]
        if self.kind == "csv":
            failed = []
            # An export short enough to fit a page's budget is fast whatever its rate.
            small = common.percentile(self.samples, 0.5) <= TARGET_P50_MS
            if self.rows_per_s is not None and self.rows_per_s < TARGET_CSV_ROWS_S and not small:
                failed.append("rows/s")
            if self.rss_mb is not None and self.rss_mb > TARGET_CSV_RSS_MB:
                failed.append("RSS")
            return failed
        failed = []
        if common.percentile(self.samples, 0.5) > TARGET_P50_MS:
            failed.append("p50")
        if common.percentile(self.samples, 0.95) > TARGET_P95_MS:
            failed.append("p95")
        if self.queries is not None and self.queries > TARGET_QUERIES:
            failed.append("queries")
        return failed


class _PagerLinks(html.parser.HTMLParser):
    """The ``rel`` links of ``<nav class="pager">`` (attribute values come unescaped)."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.links: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "nav" and "pager" in (attributes.get("class") or "").split():
            self.inside = True
        elif tag == "a" and self.inside and attributes.get("href"):
            for rel in (attributes.get("rel") or "").split():
                self.links.setdefault(rel, attributes["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav":
            self.inside = False


PAGER = re.compile(r"<nav\b[^>]*\bclass=\"[^\"]*\bpager\b.*?</nav>", re.DOTALL)


def pager_links(content: str) -> dict[str, str]:
    parser = _PagerLinks()
    for nav in PAGER.findall(content):
        parser.feed(nav)
    return parser.links


def follow(client: Any, url: str, rel: str, times: int) -> tuple[str | None, str]:
    """The URL reached by following the pager's ``rel`` link ``times`` times; or None and why."""
    for done in range(times):
        response = client.get(url)
        if response.status_code != 200:
            return None, f"HTTP {response.status_code} at {url}"
        href = pager_links(response.content.decode()).get(rel)
        if href is None:
            if done == 0:
                return None, "no pager link"
            return url, f"ends after {done} pages"
        url = urljoin(url, href)
    return url, ""


def page_cases(picks: Picks, clients: dict[str, Any], only: str) -> list[Case]:
    """Every page case, both viewers, both kinds; deep pages found by following the pager."""
    half = picks.half_year_day
    feed: list[tuple[str, dict[str, str]]] = [
        ("first page", {}),
        (f"actor rare: {picks.rare_actor}", {"actor": picks.rare_actor}),
        (f"actor common: {picks.busiest_actor}", {"actor": picks.busiest_actor}),
        ("verb rare: published", {"verb": "published"}),
        ("verb common: read", {"verb": "read"}),
        ("object_type rare: publishing.reply", {"object_type": "publishing.reply"}),
        ("object_type common: publishing.story", {"object_type": "publishing.story"}),
        ("target_type rare: publishing.review", {"target_type": "publishing.review"}),
        ("target_type common: publishing.story", {"target_type": "publishing.story"}),
        (f"one day 6 months back: {half}", {"since": half, "until": half}),
        ("2 filters: actor common + verb replied", {"actor": picks.busiest_actor, "verb": "replied"}),
        (
            "3 filters: actor common + verb replied + since 6 months",
            {"actor": picks.busiest_actor, "verb": "replied", "since": half},
        ),
        (f"q ~10 rows: {RARE_WORDS[0]}", {"q": RARE_WORDS[0]}),
        (f"q no match: {NO_MATCH}", {"q": NO_MATCH}),
        # Members appear only in staff-only actions: a reader's form does not offer the kind
        # and refuses it (400, the form's error, no rows); staff get their page.
        (HIDDEN_KIND_CASE, {"object_type": "publishing.member"}),
        (f"day with no rows: {picks.empty_day}", {"since": picks.empty_day, "until": picks.empty_day}),
    ]
    for column in ("timestamp", "actor_name", "verb", "object_repr", "target_repr"):
        for sign in ("", "-"):
            feed.append((f"sort={sign}{column} first page", {"sort": f"{sign}{column}"}))
            feed.append((f"sort={sign}{column} {DEEP_PAGES} pages deep", {"sort": f"{sign}{column}"}))
    feed.append(("oldest page", {}))

    # (case name, viewer, client, url)
    plain: list[tuple[str, str, Any, str]] = []
    for name, params in feed:
        url = "/feed/" + (f"?{urlencode(params)}" if params else "")
        plain.append((f"/feed/ {name}", "staff", clients["admin"], url))
        plain.append((f"/feed/ {name}", "reader", clients[picks.feed_viewer], url))
    owners = (
        ("reads", "author", picks.reads_viewer, "first page", ""),
        (
            "reads",
            "author",
            picks.reads_few,
            f"owner with few rows: {picks.reads_few} ({picks.reads_few_rows})",
            " (few)",
        ),
        ("reads", "author", picks.reads_none, f"owner with none: {picks.reads_none}", " (none)"),
        ("replies", "reviewer", picks.replies_viewer, "first page", ""),
        (
            "replies",
            "reviewer",
            picks.replies_few,
            f"owner with few rows: {picks.replies_few} ({picks.replies_few_rows})",
            " (few)",
        ),
        ("replies", "reviewer", picks.replies_none, f"owner with none: {picks.replies_none}", " (none)"),
    )
    for table, role, owner, name, suffix in owners:
        param = "author" if table == "reads" else "reviewer"
        staff_url = f"/{table}/" if not suffix else f"/{table}/?{urlencode({param: owner})}"
        plain.append((f"/{table}/ {name}", "staff", clients["admin"], staff_url))
        plain.append((f"/{table}/ {name}", f"{role}{suffix}", clients[owner], f"/{table}/"))

    cases: list[Case] = []
    for name, viewer, client, url in plain:
        if only not in name:
            continue
        note = ""
        if name.endswith("pages deep"):
            progress(f"following rel=next {DEEP_PAGES} times: {name} ({viewer})")
            found, note = follow(client, url, "next", DEEP_PAGES)
        elif name.endswith("oldest page"):
            found, note = follow(client, url, "last", 1)
        else:
            found = url
        status = 400 if name.endswith(HIDDEN_KIND_CASE) and viewer == "reader" else 200
        for kind in ("page", "partial"):
            if found is None:
                cases.append(Case(name, viewer, client, kind, None, note=note))
            else:
                cases.append(Case(name, viewer, client, kind, found, status=status))
                if note:  # reached, but not as deep as asked
                    cases[-1].name += f" ({note})"
    return cases


def csv_cases(picks: Picks, clients: dict[str, Any], only: str) -> list[Case]:
    cases = [
        Case("/feed/export.csv everything", "staff", clients["admin"], "csv", "/feed/export.csv"),
        Case(
            f"/feed/export.csv actor rare: {picks.rare_actor}",
            "staff",
            clients["admin"],
            "csv",
            f"/feed/export.csv?{urlencode({'actor': picks.rare_actor})}",
        ),
    ]
    return [case for case in cases if only in case.name]


# Measurement.


def _error(response: Any) -> str:
    exc_info = getattr(response, "exc_info", None)
    if exc_info:
        return f"HTTP {response.status_code}: {exc_info[0].__name__}: {str(exc_info[1])[:120]}"
    return f"HTTP {response.status_code}"


def _get(case: Case) -> tuple[float, float, Any]:
    """GET the case's URL: wall ms, this process's CPU ms, the response."""
    cpu, start = time.process_time(), time.perf_counter()
    response = case.client.get(case.url, **case.headers)
    return (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000, response


def measure_pages(cases: list[Case], runs: int) -> None:
    """Warm-ups per case, then ``runs`` rounds over all of them, then one counted request each."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    live = [case for case in cases if case.url is not None]
    for case in live:
        for _ in range(WARMUPS):
            _, _, response = _get(case)
            if response.status_code != case.status:
                case.error = _error(response)
                break
    live = [case for case in live if not case.error]
    for done in range(runs if live else 0):
        progress(f"round {done + 1} of {runs} over {len(live)} page cases")
        for case in live:
            elapsed, cpu, _ = _get(case)
            case.samples.append(elapsed)
            case.cpu.append(cpu)
    for case in live:
        with CaptureQueriesContext(connection) as captured:
            case.counted_ms, _, response = _get(case)
        case.rows = response.content.decode().count('<tr id="action-')
        count_queries(case, captured.captured_queries)


def count_queries(case: Case, captured: list[dict[str, Any]]) -> None:
    timed = [(float(query["time"]), query["sql"]) for query in captured]
    case.queries = len(timed)
    case.slowest = max(timed, default=None)
    case.sql_ms = sum(seconds for seconds, _ in timed) * 1000


def vm_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def stream(case: Case) -> tuple[int, float, float, float]:
    """Read the export to the end: its data rows, wall and CPU seconds, and RSS growth in MB."""
    gc.collect()
    before = peak = vm_rss_mb()
    cpu, start = time.process_time(), time.perf_counter()
    response = case.client.get(case.url)
    if response.status_code != 200 or not response.streaming:
        case.error = _error(response)
        return 0, 0.0, 0.0, 0.0
    lines, look = 0, RSS_EVERY
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
        if lines >= look:
            peak, look = max(peak, vm_rss_mb()), lines + RSS_EVERY
    response.close()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return lines - 1, elapsed, cpu, max(peak, vm_rss_mb()) - before


def measure_csv(case: Case, runs: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    progress(f"streaming {case.name}")
    with CaptureQueriesContext(connection) as captured:  # the warm-up
        _, elapsed, _, growth = stream(case)  # its growth counts: the first stream may grow the most
    if case.error:
        return
    case.counted_ms = elapsed * 1000
    count_queries(case, captured.captured_queries)
    speeds = []
    for _ in range(runs):
        rows, elapsed, cpu, grown = stream(case)
        case.samples.append(elapsed * 1000)
        case.cpu.append(cpu * 1000)
        speeds.append(rows / elapsed if elapsed else 0.0)
        growth = max(growth, grown)
        case.rows = rows
    case.rows_per_s = common.median(speeds)
    case.rss_mb = growth


DECLARE = re.compile(r'^DECLARE "[^"]+" .*? CURSOR (?:WITH(?:OUT)? HOLD )?FOR ', re.DOTALL)


def explain(sql: str) -> str:
    from django.db import connection

    sql = DECLARE.sub("", sql)  # a server-side cursor's query (the CSV on PostgreSQL)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        depth: dict[int, int] = {0: -1}
        lines = []
        for node, parent, _, detail in cursor.fetchall():
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + detail)
        return "\n".join(lines)


# Report.


def report_rows(cases: list[Case]) -> list[list[object]]:
    rows: list[list[object]] = []
    for case in cases:
        failed = case.failures()
        if not failed:
            result = "pass"
        elif case.note or case.error:
            result = failed[0]
        else:
            result = "over: " + ", ".join(failed)
        measured = bool(case.samples)
        rows.append(
            [
                case.name,
                case.viewer,
                case.kind,
                "" if case.rows is None else f"{case.rows:,}",
                f"{common.percentile(case.samples, 0.5):.1f}" if measured else "",
                f"{common.percentile(case.samples, 0.95):.1f}" if measured else "",
                f"{common.percentile(case.cpu, 0.5):.1f}" if measured else "",
                "" if case.queries is None else case.queries,
                "" if case.rows_per_s is None else f"{case.rows_per_s:,.0f}",
                "" if case.rss_mb is None else f"{case.rss_mb:.1f}",
                result,
            ]
        )
    return rows


def _statement_seconds(case: Case) -> float:
    return case.slowest[0] if case.slowest else 0.0


LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+\b")


def print_plans(cases: list[Case]) -> None:
    """The plan of each over-target case's slowest statement, once per statement (its literals aside)."""
    over: dict[str, list[Case]] = {}
    for case in cases:
        if case.slowest is not None and case.failures():
            over.setdefault(LITERALS.sub("?", case.slowest[1]), []).append(case)
    if not over:
        return
    print("Over target: the plan of each one's slowest statement (each statement once, slowest first)")
    for sharing in sorted(over.values(), key=lambda sharing: -max(map(_statement_seconds, sharing))):
        worst = max(sharing, key=_statement_seconds)
        sql = worst.slowest[1] if worst.slowest else ""
        print()
        print(
            f"-- {len(sharing)} case(s); in the counted request: this statement, all SQL, the whole request:"
        )
        for case in sorted(sharing, key=lambda case: (case.name, case.viewer, case.kind)):
            took = case.slowest[0] * 1000 if case.slowest else 0.0
            print(
                f"--   {case.name} [{case.viewer} {case.kind}]: {took:.0f} ms, {case.sql_ms:.0f} ms, "
                f"{case.counted_ms:.0f} ms"
            )
        print(sql)
        try:
            print(explain(sql))
        except Exception as error:  # a plan that cannot be had is reported, not fatal
            print(f"(no plan: {type(error).__name__}: {error})")
    print()


def measure_in_fresh_process(args: argparse.Namespace, origin: str, reproduce: str) -> int:
    """Run the measurement in a new process on the data just made, as a server started now would.

    The process that made the data opened its connection on an empty table,
    so anything the application does when a connection or process starts
    (``streams.statistics``) saw no rows; a new process sees the million.
    """
    import subprocess

    from django.db import connection

    connection.close()
    argv = [sys.executable, "-m", "bench.table_pages", *sys.argv[1:]]
    if not args.keep:
        argv.append("--keep")
    env = {**os.environ, ORIGIN_ENV: origin, COMMAND_ENV: reproduce}
    return subprocess.run(argv, env=env, check=False).returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--actions", type=int, default=1_000_000, help="actions to generate (default 1000000)"
    )
    parser.add_argument("--runs", type=int, default=10, help="timed requests per page case (default 10)")
    parser.add_argument("--only", default="", help="only the cases whose name contains this")
    parser.add_argument(
        "--keep", action="store_true", help="reuse data generated before with the same --actions"
    )
    args = parser.parse_args()
    if args.actions < MIN_ACTIONS:
        parser.error(f"--actions must be {MIN_ACTIONS} or more")
    if args.runs < 1:
        parser.error("--runs must be 1 or more")
    options: dict[str, object] = {"actions": args.actions, "runs": args.runs}
    if args.only:
        options["only"] = args.only
    reproduce = os.environ.get(COMMAND_ENV) or (
        common.command("bench.table_pages", options) + (" --keep" if args.keep else "")
    )
    common.setup()

    from django.contrib.auth import get_user_model
    from django.test import Client

    from streams import disable_recording

    picks, origin = prepare(args.actions, args.keep)
    if origin != "reused":
        sys.exit(measure_in_fresh_process(args, origin, reproduce))
    origin = os.environ.get(ORIGIN_ENV, origin)
    clients: dict[str, Any] = {}
    users = {
        "admin",
        picks.feed_viewer,
        picks.reads_viewer,
        picks.reads_few,
        picks.reads_none,
        picks.replies_viewer,
        picks.replies_few,
        picks.replies_none,
    }
    with disable_recording():  # logging in the viewers adds no action
        for user in get_user_model().objects.filter(username__in=users):
            clients[user.username] = Client(raise_request_exception=False)
            clients[user.username].force_login(user)

    load_before = os.getloadavg()[0]
    pages = page_cases(picks, clients, args.only)
    exports = csv_cases(picks, clients, args.only)
    measure_pages(pages, args.runs)
    for case in exports:
        measure_csv(case, min(CSV_RUNS, args.runs))
    cases = pages + exports
    load_after = os.getloadavg()[0]

    print(
        f"{picks.actions:,} actions ({origin}): busiest actor {picks.busiest_share:.1%} of rows, "
        f"{picks.actors_1_to_5} actors with 1-5 actions, staff-only {picks.staff_only_share:.1%}, "
        f"{picks.start[:10]} to {picks.end[:10]}"
    )
    print(
        f"pages: p50/p95 wall ms of {args.runs} after {WARMUPS} warm-ups, cpu p50 = this process's CPU ms; "
        f"CSV: {min(CSV_RUNS, args.runs)} runs after one warm-up; load average {load_before:.1f} before, "
        f"{load_after:.1f} after"
    )
    print(
        f"targets: page p50 <= {TARGET_P50_MS:.0f} ms, p95 <= {TARGET_P95_MS:.0f} ms, <= {TARGET_QUERIES} "
        f"queries; CSV >= {TARGET_CSV_ROWS_S:,} rows/s (or done within {TARGET_P50_MS:.0f} ms), "
        f"RSS growth <= {TARGET_CSV_RSS_MB:.0f} MB"
    )
    print()
    header = [
        "case",
        "viewer",
        "kind",
        "rows",
        "p50 ms",
        "p95 ms",
        "cpu p50",
        "queries",
        "rows/s",
        "RSS +MB",
        "result",
    ]
    print(common.table(header, report_rows(cases)))
    print()
    passed = sum(1 for case in cases if not case.failures())
    notes = Counter(case.note for case in cases if case.note)
    errors = sum(1 for case in cases if case.error)
    unmeasured = ", ".join(f"{count} {note}" for note, count in notes.items()) or "none"
    print(
        f"{passed} of {len(cases)} cases pass; {len(cases) - passed - notes.total() - errors} over target, "
        f"{errors} errors; not measured: {unmeasured}"
    )
    print()
    print_plans(cases)
    print(f"Reproduce: {reproduce}")
    print(common.environment())


if __name__ == "__main__":
    main()
