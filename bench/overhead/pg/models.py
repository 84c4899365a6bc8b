from __future__ import annotations

import pghistory

from bench.overhead.models import Item


@pghistory.track()
class PghItem(Item):
    """Recorded by django-pghistory: an INSERT and an UPDATE trigger write the event rows."""
