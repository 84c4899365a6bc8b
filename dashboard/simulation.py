"""Run the traffic simulator inside the ASGI server (``SIMULATE=1``).

The in-process broadcast (no Redis) lives in one process, so simulated events must
be committed in the server's own process to reach its open sockets.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from publishing.simulation import step

logger = logging.getLogger("dashboard.simulation")


def _step(rng: random.Random) -> str:
    close_old_connections()
    try:
        return step(rng)
    finally:
        close_old_connections()


async def run(rate: float, duration: float | None = None, rng: random.Random | None = None) -> int:
    """Create about ``rate`` events a second until ``duration`` seconds have passed."""
    rng = rng or random.Random()
    loop = asyncio.get_running_loop()
    deadline = None if duration is None else loop.time() + duration
    done = 0
    while deadline is None or loop.time() < deadline:
        await asyncio.sleep(rng.expovariate(rate) if rate > 0 else 1)
        try:
            logger.info("simulate: %s", await sync_to_async(_step)(rng))
            done += 1
        except Exception:
            logger.exception("simulated event failed")
    return done


class SimulatorOnStart:
    """ASGI wrapper that starts the simulator with the server's event loop.

    Daphne sends no lifespan events, so the simulator starts on the first
    connection of any kind (uvicorn's lifespan startup counts too).
    """

    def __init__(self, application: Any, *, rate: float) -> None:
        self.application = application
        self.rate = rate
        self.task: asyncio.Task[int] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(run(self.rate))
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.task.cancel()
                    await send({"type": "lifespan.shutdown.complete"})
                    return None
        return await self.application(scope, receive, send)
