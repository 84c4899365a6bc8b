"""One concrete copy of the same item per variant, so each tool writes to its own table.

django-pghistory's copy lives in ``bench.overhead.pg``: that app is installed
only on PostgreSQL, where its triggers exist.
"""

from __future__ import annotations

from django.db import models
from simple_history.models import HistoricalRecords


class Item(models.Model):
    """The business row every variant saves: a few short fields and a text."""

    title = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=20)
    count = models.IntegerField(default=0)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.title


class BareItem(Item):
    """The baseline: nothing attached."""


class FloorItem(Item):
    """The floor: the save and one raw INSERT into FloorLog (done by the benchmark itself)."""


class FloorLog(models.Model):
    """The narrowest log row there is: no foreign key, no JSON, no text copied."""

    item_id = models.IntegerField()
    verb = models.CharField(max_length=32)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.verb} {self.item_id}"


class ActionFloorItem(Item):
    """The floor on Signalboard's own table: the save and one raw INSERT of a whole action row.

    ``streams_action`` is wider than FloorLog and carries the indexes its
    tables read by (and, on SQLite, its search index's trigger): this is what
    one action costs before any engine code runs.
    """


class SbItem(Item):
    """Recorded by Signalboard's engine (``bench.overhead.routes``)."""


class ASItem(Item):
    """Recorded by django-activity-stream (``bench.overhead.competitors``)."""


class ALItem(Item):
    """Recorded by django-auditlog (``bench.overhead.competitors``)."""


class SHItem(Item):
    """Recorded by django-simple-history."""

    history = HistoricalRecords()
