"""The engine is a package of its own: its wheel holds ``streams`` alone, and it records with Django alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Offline and alone: nothing is fetched, no dependency installed.
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
PIP_OFFLINE = ["--no-deps", "--no-index"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip install .`` would install, built offline from a copy of the sources."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "streams", source / "streams", ignore=shutil.ignore_patterns("__pycache__"))
    # The demo sits beside the engine in the repository: it must stay out.
    for name in ("dashboard", "publishing"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [*PIP, "wheel", *PIP_OFFLINE, "--no-build-isolation", "--wheel-dir", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("signalboard-*.whl")
    return built


def test_the_wheel_holds_the_engine_and_not_the_demo(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    packages = {name.split("/")[0] for name in names if not name.startswith("signalboard-")}
    assert packages == {"streams"}
    assert "streams/migrations/0005_cheaper_inserts.py" in names
    assert "streams/management/commands/streams_stats.py" in names
    assert not [name for name in names if name.endswith(".pyc")]
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("/METADATA"))).decode()
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert [line for line in requires if "extra ==" not in line] == ["Requires-Dist: Django<7,>=6.1"]
    assert "Provides-Extra: live" in metadata


SCRIPT = """
import importlib.abc, json, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    # Only Django is installed: the live tables' dependencies are not.
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {"channels", "channels_redis", "daphne", "redis"}:
            raise ImportError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, NotInstalled())

import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "streams"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    MIDDLEWARE=["streams.middleware.RequestContextMiddleware"],
    SECRET_KEY="package-test",
    USE_TZ=True,
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
)
django.setup()

import streams
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db.models.signals import post_save
from streams import changes, record, registry, track
from streams.models import Action

call_command("migrate", verbosity=0)
track(Group, fields=["name"])

@registry.register(post_save, sender=Group, name="group-created", when_created=True)
def created(*, instance, **kwargs):
    record(verb="created", object=instance)

@registry.register(post_save, sender=Group, name="group-renamed", when_changed=["name"])
def renamed(*, instance, **kwargs):
    record(verb="renamed", object=instance, changes=changes(instance))

group = Group.objects.create(name="editors")
group.name = "writers"
group.save()
call_command("check", fail_level="ERROR")
print(json.dumps({
    "streams": streams.__file__,
    "actions": list(Action.objects.order_by("id").values_list("actor_name", "verb", "object_repr", "changes")),
    "imported": sorted({m.split(".")[0] for m in sys.modules} & {"channels", "redis", "daphne"}),
}))
"""


def test_the_installed_engine_records_with_django_alone(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [*PIP, "install", *PIP_OFFLINE, "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT)],
        cwd=tmp_path,  # not the repository: the engine comes from the wheel
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["streams"].startswith(str(site))
    assert found["actions"] == [
        ["CLI", "created", "editors", None],
        ["CLI", "renamed", "writers", {"name": ["editors", "writers"]}],
    ]
    assert found["imported"] == []
