"""The demo's live tables, declared through the engine (``streams.tables``)."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from dashboard import verbs
from publishing.models import Story
from publishing.roles import REVIEWERS, is_author, is_reviewer
from streams.tables import ALL_FILTERS, Table, site

site.verbs(public=verbs.PUBLIC_VERBS, staff_only=verbs.ALL_VERBS)
# A story in a row ("What", "On") links to its page.
site.link(Story, "publishing:story_detail")


def _authors() -> dict[str, int]:
    users = get_user_model().objects.filter(stories__isnull=False).distinct().order_by("username")
    return dict(users.values_list("username", "pk"))


def _reviewers() -> dict[str, int]:
    users = get_user_model().objects.filter(groups__name=REVIEWERS).order_by("username")
    return dict(users.values_list("username", "pk"))


FEED = Table(
    name="feed",
    label="Feed",
    title="Who did what",
    description="Everything that happens on the site.",
)
INBOX = Table(
    name="inbox",
    label="For you",
    title="For you",
    description="What happens to your stories and reviews: reads, comments, bookmarks, reviews, "
    "replies and thumbs-up.",
    personal=True,
    seen=True,
)
FOLLOWING = Table(
    name="following",
    label="Following",
    title="Following",
    description="What the people you follow do, as it happens.",
    following=True,
)
READS = Table(
    name="reads",
    label="Reads",
    title="Story reads",
    description="Every opening of a story page, for its author.",
    verbs=(verbs.READ,),
    owner_param="author",
    owner_label="Author",
    audience=is_author,
    owners=_authors,
    filters=("actor", "since", "until", "q", "sort", "cursor"),
)


REPLIES = Table(
    name="replies",
    label="Replies",
    title="Replies to reviews",
    description="Replies and thumbs-up on reviews, for their reviewer.",
    verbs=(verbs.REPLIED, verbs.LIKED),
    owner_param="reviewer",
    owner_label="Reviewer",
    audience=is_reviewer,
    owners=_reviewers,
    filters=("actor", "verb", "since", "until", "q", "sort", "cursor"),
)
AUDIT = Table(
    name="audit",
    label="Audit",
    title="Audit",
    description="Member state changes, logins, logouts and failed logins, with IP and user agent.",
    verbs=verbs.AUDIT_VERBS,
    audience=lambda user: False,  # staff only
    filters=("actor", "verb", "since", "until", "q", "sort", "cursor"),
)

site.register(FEED, INBOX, FOLLOWING, READS, REPLIES, AUDIT)
# The demo's code and tests look tables up by name here.
KINDS = site
__all__ = ["ALL_FILTERS", "AUDIT", "FEED", "FOLLOWING", "INBOX", "KINDS", "READS", "REPLIES"]
