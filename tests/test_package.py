"""The engine is a package of its own: its wheel holds ``streams`` alone, and it records with Django alone."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

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


def install(wheel: Path, tmp_path: Path) -> Path:
    """The wheel installed into a directory of its own, as pip would into a project."""
    site = tmp_path / "site"
    subprocess.run(
        [*PIP, "install", *PIP_OFFLINE, "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return site


def run_project(script: str, project: Path, site: Path) -> dict[str, Any]:
    """Run ``script`` in ``project`` (not the repository) with the installed engine; the JSON it prints last."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(project)])}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_wheel_holds_the_engine_and_not_the_demo(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    packages = {name.split("/")[0] for name in names if not name.startswith("signalboard-")}
    assert packages == {"streams"}
    assert "streams/migrations/0005_cheaper_inserts.py" in names
    assert "streams/management/commands/streams_stats.py" in names
    assert "streams/templates/streams/table_page.html" in names
    assert "streams/static/streams/live.js" in names
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
    site = install(wheel, tmp_path)
    found = run_project(SCRIPT, tmp_path, site)
    assert found["streams"].startswith(str(site))
    assert found["actions"] == [
        ["CLI", "created", "editors", None],
        ["CLI", "renamed", "writers", {"name": ["editors", "writers"]}],
    ]
    assert found["imported"] == []


def documented(path: str) -> str:
    """The code block of docs/ADOPTING.md that starts with ``# <path>``: the guide is what runs here."""
    text = (ROOT / "docs" / "ADOPTING.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    (block,) = [b for b in blocks if b.startswith(f"# {path}\n")]
    return block


PROJECT_SCRIPT = """
import json, sys

import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "tracker", "streams"],
    AUTH_USER_MODEL="tracker.User",
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "tracker.sqlite3"}},
    MIDDLEWARE=["streams.middleware.RequestContextMiddleware"],
    SECRET_KEY="package-test",
    USE_TZ=True,
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
)
django.setup()

from django.core.management import call_command
from streams import acting_as
from streams.models import Action
from tracker.models import Bug, Issue, Project, User

call_command("makemigrations", "tracker", verbosity=0)
call_command("migrate", verbosity=0)
call_command("check", fail_level="ERROR")

ada = User.objects.create(username="ada")
bo = User.objects.create(username="bo")
with acting_as(ada, ip="198.51.100.7", user_agent="tracker-test"):
    project = Project.objects.create(name="Engine")
    issue = Issue.objects.create(project=project, title="Slow saves", assignee=bo)
    issue.state = "fixed"
    issue.save()
    bug = Bug.objects.create(project=project, title="Crash on start", severity=1)

rows = [
    [a.actor_name, str(a.actor_id), a.verb, a.object_repr, a.object_id, a.target_repr,
     None if a.owner_id is None else str(a.owner_id), a.ip, a.changes, a.object_type.model]
    for a in Action.objects.order_by("id")
]
print(json.dumps({"rows": rows, "ids": {"ada": str(ada.pk), "bo": str(bo.pk), "issue": str(issue.pk),
                  "bug": str(bug.pk)}}))
"""


def test_the_adoption_guide_records_as_it_says_with_a_custom_user_and_uuid_keys(
    wheel: Path, tmp_path: Path
) -> None:
    site = install(wheel, tmp_path)
    app = tmp_path / "tracker"
    (app / "migrations").mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "migrations" / "__init__.py").write_text("")
    (app / "models.py").write_text(documented("tracker/models.py"))
    (app / "routes.py").write_text(documented("tracker/routes.py"))
    found = run_project(PROJECT_SCRIPT, tmp_path, site)
    ids = found["ids"]
    ada, bo, issue, bug = (ids[key] for key in ("ada", "bo", "issue", "bug"))
    assert found["rows"] == [
        ["ada", ada, "opened", "Slow saves", issue, "Engine", bo, "198.51.100.7", None, "issue"],
        [
            "ada",
            ada,
            "moved",
            "Slow saves",
            issue,
            "",
            bo,
            "198.51.100.7",
            {"state": ["open", "fixed"]},
            "issue",
        ],
        ["ada", ada, "filed", "Crash on start", bug, "Engine", None, "198.51.100.7", None, "bug"],
    ]


def test_the_engine_never_imports_the_demo() -> None:
    import ast

    offenders = {}
    for path in sorted((ROOT / "streams").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {
            alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        names |= {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
        }
        demo = sorted(
            name for name in names if name.split(".")[0] in {"dashboard", "publishing", "tests", "bench"}
        )
        if demo:
            offenders[str(path.relative_to(ROOT))] = demo
    assert offenders == {}
