"""Domain events the publishing app announces; who listens is not its concern."""

from __future__ import annotations

from django.dispatch import Signal

# Sent once when a story goes public: sender=Story, story=, user=.
story_published = Signal()
