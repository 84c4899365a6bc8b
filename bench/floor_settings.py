"""Settings of the floor app (bench.floor_asgi): the project's channel layer, nothing else."""

from __future__ import annotations

import os

from dashboard.settings import CHANNEL_LAYERS  # noqa: F401  (same layer and capacity as the site)

SECRET_KEY = os.environ.get("SECRET_KEY") or "bench-floor-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS: list[str] = []
USE_TZ = True
