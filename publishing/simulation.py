"""Synthetic traffic for the demo: crowd members reading, commenting, publishing.

Goes through the same services as the site's views, so whatever listens to
the publishing app's signals sees ordinary business events.
"""

from __future__ import annotations

import random
from typing import Any

from django.contrib.auth import get_user_model

from publishing import services
from publishing.models import Story
from publishing.roles import AUTHORS, CROWD

PHRASES = (
    "Loved the ending.",
    "This made my morning.",
    "I disagree with the second part, but well argued.",
    "Sharing this with my team.",
    "Could you write a follow-up?",
    "Beautifully put.",
    "Café au lait and a good story — perfect.",
    "Naïve question: what happened next?",
)
TITLES = (
    "Notes from the night train",
    "The lighthouse keeper's ledger",
    "A field guide to small kindnesses",
    "What the river remembers",
    "Letters to a future gardener",
    "The cartographer's daughter",
)


def crowd() -> list[Any]:
    return list(get_user_model().objects.filter(groups__name=CROWD, is_active=True))


def step(rng: random.Random, members: list[Any] | None = None) -> str:
    """Do one random thing as a random crowd member; return what was done."""
    members = members if members is not None else crowd()
    if not members:
        return "no crowd members: run seed_demo first"
    member = rng.choice(members)
    recent = list(Story.objects.published().values_list("id", flat=True)[:50])
    roll = rng.random()
    writers = [m for m in members if m.groups.filter(name=AUTHORS).exists()] if roll > 0.95 else []
    if not recent or writers:
        author = rng.choice(writers or members)
        story = services.story_create(
            author=author,
            title=f"{rng.choice(TITLES)} #{rng.randint(100, 999)}",
            body="\n\n".join(rng.sample(PHRASES, 3)),
            publish=True,
        )
        return f"{author} published {story}"
    story = Story.objects.select_related("author").get(pk=rng.choice(recent))
    if roll < 0.7:
        services.story_read(story=story, reader=member)
        return f"{member} read {story}"
    comment = services.comment_create(story=story, author=member, body=rng.choice(PHRASES))
    return f"{member} commented on {story}: {comment}"
