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
    assert "streams/static/streams/tables.css" in names
    assert "streams/templatetags/streams.py" in names
    assert "streams/live/asgi.py" in names
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


EXAMPLE = ROOT / "examples" / "tracker"


def guide_blocks() -> list[tuple[str, list[str]]]:
    """docs/ADOPTING.md's code blocks that name a file of the example (``# <path>`` or
    ``{# <path> #}`` on their first line), each as that path and its lines."""
    text = (ROOT / "docs" / "ADOPTING.md").read_text()
    found = []
    for block in re.findall(r"```(?:python|html)\n(.*?)```", text, flags=re.DOTALL):
        first, _, rest = block.partition("\n")
        named = re.fullmatch(r"(?:# |\{# )(\S+\.(?:py|html))(?: #\})?", first)
        if named:
            found.append((named.group(1), rest.splitlines()))
    return found


def test_the_guide_shows_the_example_projects_own_lines() -> None:
    """Each block of the guide is lines of the example's file, in their order ("..." skips)."""
    blocks = guide_blocks()
    assert {path for path, _ in blocks} >= {
        "tracker/models.py",
        "tracker/routes.py",
        "tracker/tables.py",
        "tracker_site/settings.py",
        "tracker_site/urls.py",
        "tracker_site/asgi.py",
        "templates/base.html",
    }
    for path, lines in blocks:
        source = (EXAMPLE / path).read_text().splitlines()
        position = 0
        for line in lines:
            if line.strip() in {"...", "# ...", ""}:
                continue
            try:
                position = source.index(line, position) + 1
            except ValueError:
                pytest.fail(f"docs/ADOPTING.md shows {line!r} in {path}, which has no such line there")


def test_the_example_project_passes_its_tests_on_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    """examples/tracker, copied out of the repository, with the engine from the wheel: its own suite."""
    site = install(wheel, tmp_path)
    project = tmp_path / "tracker"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3*"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(project)])}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\b\d+ passed\b", result.stdout)
    where = subprocess.run(
        [sys.executable, "-c", "import streams; print(streams.__file__)"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(site))


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
