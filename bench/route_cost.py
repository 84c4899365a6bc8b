"""What a route adds to a business write: ``story_read`` with routes on and off.

Each iteration times one call with the hub's routes active (the StoryRead
INSERT plus the Action INSERT the ``story-read`` route writes, and its
after-commit announce to the in-memory channel layer), then one call inside
``streams.disable_recording()`` (the StoryRead INSERT alone). Calls run in
autocommit, as a view calls the service, and the two modes alternate so
drift hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from bench import common


def timed(call: Callable[[], object]) -> float:
    """Microseconds one call takes."""
    start = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - start) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="calls per mode (default 2000)")
    args = parser.parse_args()
    if args.n < 1:
        parser.error("--n must be 1 or more")
    common.setup()

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from publishing import services
    from streams import disable_recording
    from tests import factories

    author = factories.user("author", "author")
    reader = factories.user("reader", "reader")
    story = factories.story(author, "A story to read")

    def read() -> object:
        return services.story_read(story=story, reader=reader)

    def read_unrecorded() -> object:
        with disable_recording():
            return services.story_read(story=story, reader=reader)

    # Warm up both paths (content-type cache, statement caches, channel layer).
    for _ in range(50):
        read()
        read_unrecorded()

    on: list[float] = []
    off: list[float] = []
    with disable_recording():
        pass  # nothing; the context below is entered outside the timed region
    for _ in range(args.n):
        on.append(timed(read))
        with disable_recording():
            off.append(timed(read))

    queries = {}
    for mode, call in (("on", read), ("off", read_unrecorded)):
        with CaptureQueriesContext(connection) as captured:
            call()
        queries[mode] = len(captured)

    mean_on, mean_off = statistics.fmean(on), statistics.fmean(off)
    rows = []
    for name, samples, count in (
        ("routes on", on, queries["on"]),
        ("disable_recording()", off, queries["off"]),
    ):
        rows.append(
            [
                name,
                f"{statistics.fmean(samples):.0f}",
                f"{common.percentile(samples, 0.5):.0f}",
                f"{common.percentile(samples, 0.99):.0f}",
                count,
            ]
        )
    rows.append(
        [
            "difference (route cost)",
            f"{mean_on - mean_off:+.0f}",
            f"{common.percentile(on, 0.5) - common.percentile(off, 0.5):+.0f}",
            f"{common.percentile(on, 0.99) - common.percentile(off, 0.99):+.0f}",
            f"{queries['on'] - queries['off']:+d}",
        ]
    )

    print(f"story_read(): {args.n} calls per mode, autocommit; {common.environment()}")
    print()
    print(common.table(["mode", "mean µs", "p50 µs", "p99 µs", "queries/call"], rows))
    print()
    print(f"Reproduce: {common.command('bench.route_cost', {'n': args.n})}")


if __name__ == "__main__":
    main()
