"""What a route adds to a business write: ``story_read`` with routes on and off.

Calls are timed one by one, in rounds of up to 100 per mode, the modes
alternating so drift hits all alike:

- routes on: the StoryRead INSERT, the Action INSERT the ``story-read``
  route writes, and its after-commit announce (in-process, where nobody
  listens, unless ``--redis URL`` names a Redis to publish to);
- routes on, Redis hung: the announce aimed at a server that accepts
  connections and never answers (Redis stopped with SIGSTOP);
- ``streams.disable_recording()``: the StoryRead INSERT alone.

Calls run in autocommit, as a view calls the service.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from bench import common

ROUND = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="calls per mode (default 2000)")
    parser.add_argument("--redis", default="", help="publish 'routes on' to this Redis URL")
    args = parser.parse_args()
    if args.n < 1:
        parser.error("--n must be 1 or more")
    common.setup()

    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, override_settings

    from publishing import services
    from streams import disable_recording
    from tests import factories

    author = factories.user("author", "author")
    reader = factories.user("reader", "reader")
    story = factories.story(author, "A story to read")

    def read() -> object:
        return services.story_read(story=story, reader=reader)

    hung = socket.socket()  # accepts into its backlog, never answers
    hung.bind(("127.0.0.1", 0))
    hung.listen(1024)
    hung_url = f"redis://127.0.0.1:{hung.getsockname()[1]}/0"

    def broadcast_to(url: str | None) -> AbstractContextManager[object]:
        return override_settings(STREAMS={**settings.STREAMS, "BROADCAST_URL": url or None})

    modes: dict[str, Callable[[], AbstractContextManager[object]]] = {
        "routes on": lambda: broadcast_to(args.redis),
        "routes on, Redis hung": lambda: broadcast_to(hung_url),
        "disable_recording()": disable_recording,
    }
    samples: dict[str, list[float]] = {name: [] for name in modes}
    queries: dict[str, int] = {}
    for name, mode in modes.items():
        with mode():
            for _ in range(50):  # warm up: content-type cache, statements, publisher thread
                read()
            with CaptureQueriesContext(connection) as captured:
                read()
            queries[name] = len(captured)
    for done in range(0, args.n, ROUND):
        for name, mode in modes.items():
            with mode():  # entered once per round, outside the timed calls
                for _ in range(min(ROUND, args.n - done)):
                    start = time.perf_counter_ns()
                    read()
                    samples[name].append((time.perf_counter_ns() - start) / 1000)

    def figures(values: list[float]) -> tuple[float, float, float]:
        return statistics.fmean(values), common.percentile(values, 0.5), common.percentile(values, 0.99)

    rows: list[list[object]] = [
        [name, *(f"{value:.0f}" for value in figures(values)), queries[name]]
        for name, values in samples.items()
    ]
    on, off = figures(samples["routes on"]), figures(samples["disable_recording()"])
    difference = [f"{a - b:+.0f}" for a, b in zip(on, off, strict=True)]
    extra_queries = queries["routes on"] - queries["disable_recording()"]
    rows.append(["route cost (on - disabled)", *difference, f"{extra_queries:+d}"])

    print(f"services.story_read(): {args.n} calls per mode, autocommit; {common.environment()}")
    print()
    print(common.table(["mode", "mean µs", "p50 µs", "p99 µs", "queries/call"], rows))
    print()
    hung.close()
    options: dict[str, object] = {"n": args.n, **({"redis": args.redis} if args.redis else {})}
    print(f"Reproduce: {common.command('bench.route_cost', options)}")


if __name__ == "__main__":
    main()
