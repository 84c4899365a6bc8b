"""A fault-drill writer that calls the publishing services directly (no HTTP), one JSON line per write.

Started by ``bench.fault_drill`` with the servers' environment
(``DJANGO_SETTINGS_MODULE=tests.settings``, ``DATABASE_URL``, ``REDIS_URL``):

- ``loop``: story reads, each in its own ``transaction.atomic()``; a share of
  them (by ``--rollback-actor``) raise inside the block and roll back. Runs
  until SIGTERM or stdin closes.
- ``bulk``: ``StoryRead.objects.bulk_create`` of ``--count`` reads in one
  transaction (the hub's bulk route records them with one INSERT).

Each line: ``{"kind", "actor", "start", "end", "outcome", "action", "count", "detail"}``;
``start``/``end`` are ``time.monotonic()`` (one clock for every process of the
machine); ``outcome`` is ``committed``, ``rolled back``, ``failed`` (certainly
not committed) or ``unknown`` (the commit itself failed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import sys
import threading
import time
import warnings
from typing import Any

stop = threading.Event()


class Rollback(Exception):
    """Raised on purpose inside the transaction."""


def emit(**line: Any) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    import django

    django.setup()


def _watch_stdin() -> None:
    sys.stdin.read()  # returns when the drill closes our stdin (or dies)
    stop.set()


def loop(args: argparse.Namespace) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.db.models.signals import post_save

    from publishing import services
    from publishing.models import Story
    from streams.models import Action

    users = get_user_model().objects.in_bulk([args.commit_actor, args.rollback_actor], field_name="username")
    stories = list(Story.objects.published().select_related("author"))
    rng = random.Random(args.seed)
    recorded: list[int] = []

    def collect(sender: Any, instance: Action, created: bool, **kwargs: Any) -> None:
        if created:
            recorded.append(instance.pk)

    post_save.connect(collect, sender=Action, weak=False, dispatch_uid="bench.drill_writer")
    while not stop.is_set():
        rollback = rng.random() < args.rollback_share
        actor = args.rollback_actor if rollback else args.commit_actor
        story = rng.choice(stories)
        recorded.clear()
        outcome, detail, inserted = "committed", "", False
        start = time.monotonic()
        try:
            try:
                with transaction.atomic():
                    services.story_read(story=story, reader=users[actor])
                    inserted = True
                    if rollback:
                        raise Rollback
            except Rollback:
                outcome = "rolled back"
        except Exception as error:
            # An error at COMMIT leaves the outcome unknown; any earlier one rolled back.
            outcome = "unknown" if inserted and not rollback else "failed"
            detail = f"{type(error).__name__}: {error}".splitlines()[0][:160]
            with contextlib.suppress(Exception):
                connection.close()
        end = time.monotonic()
        emit(
            kind="rollback" if rollback else "read",
            actor=actor,
            start=start,
            end=end,
            outcome=outcome,
            action=recorded[0] if recorded else None,
            count=1,
            detail=detail,
        )
        stop.wait(args.interval * rng.uniform(0.5, 1.5))


def bulk(args: argparse.Namespace) -> None:
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from publishing.models import Story, StoryRead

    reader = get_user_model().objects.get(username=args.actor)
    stories = list(Story.objects.published())
    rng = random.Random(args.seed)
    now = timezone.now()
    reads = [StoryRead(story=rng.choice(stories), reader=reader, read_at=now) for _ in range(args.count)]
    start = time.monotonic()
    outcome, detail = "committed", ""
    try:
        with transaction.atomic():
            StoryRead.objects.bulk_create(reads)
    except Exception as error:
        outcome = "unknown"
        detail = f"{type(error).__name__}: {error}".splitlines()[0][:160]
    emit(
        kind="bulk",
        actor=args.actor,
        start=start,
        end=time.monotonic(),
        outcome=outcome,
        action=None,
        count=args.count,
        detail=detail,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["loop", "bulk"])
    parser.add_argument("--interval", type=float, default=0.25, help="mean seconds between writes (loop)")
    parser.add_argument("--rollback-share", type=float, default=0.5, help="share of writes rolled back")
    parser.add_argument("--commit-actor", default="colm")
    parser.add_argument("--rollback-actor", default="cato")
    parser.add_argument("--actor", default="cyrus", help="reader of the bulk reads")
    parser.add_argument("--count", type=int, default=5000, help="reads in the bulk transaction")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    setup()
    if args.mode == "loop":
        threading.Thread(target=_watch_stdin, daemon=True).start()
        loop(args)
    else:
        bulk(args)


if __name__ == "__main__":
    main()
