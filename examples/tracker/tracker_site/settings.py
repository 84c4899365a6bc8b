"""A small issue tracker that adopts Signalboard's engine (docs/ADOPTING.md).

Everything here is a plain Django project; the lines marked "# streams"
are all that adopting the engine and its live tables takes.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("SECRET_KEY", "tracker-example-not-secret")
DEBUG = os.environ.get("DEBUG", "1") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]

INSTALLED_APPS = [
    "daphne",  # streams: runserver serves ASGI, so the live socket too
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",  # streams: htmx and its websocket extension
    "streams",  # streams
    "tracker",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "streams.middleware.RequestContextMiddleware",  # streams
]

ROOT_URLCONF = "tracker_site.urls"
ASGI_APPLICATION = "tracker_site.asgi.application"  # streams

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "streams.context_processors.live_tables",  # streams: the tables in the navigation
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("TRACKER_DB", BASE_DIR / "tracker.sqlite3"),
        # A file, not shared memory: the live socket reads from its own threads.
        "TEST": {"NAME": os.environ.get("TRACKER_TEST_DB", BASE_DIR / "test-tracker.sqlite3")},
    }
}

AUTH_USER_MODEL = "tracker.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "activity"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
