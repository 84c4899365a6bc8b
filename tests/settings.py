"""Test settings: the project's settings, with what tests need set by default."""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-secret")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

from dashboard.settings import *  # noqa: F403
from dashboard.settings import STORAGES, STREAMS

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STREAMS = {**STREAMS, "STATS_FLUSH_SECONDS": None}  # flushes would add queries to measured blocks
# Each test process keeps its own cache, so clearing it between tests (login
# throttling counts in it) never touches a Redis that servers share.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A test database in a file, in WAL mode as the site runs: an in-memory
    # one is shared-cache, where a reader in one thread (the live hub
    # rendering rows) fails at once with "database table is locked" while
    # another thread writes, which the site itself never meets.
    import tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"signalboard-tests-{os.getpid()}.sqlite3")
    }
