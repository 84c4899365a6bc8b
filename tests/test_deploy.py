"""The documented production environment passes Django's own deployment checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = ROOT / "docs" / "production.env"


def production_environment() -> dict[str, str]:
    env = {}
    for line in PRODUCTION_ENV.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    return env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Only what the operator sets: nothing from the test run leaks in.
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_environment() -> None:
    result = check_deploy(production_environment())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_names_each_missing_protection() -> None:
    env = production_environment()
    for name in ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
        env.pop(name)
    result = check_deploy(env)
    assert result.returncode != 0
    for code in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert code in result.stderr, result.stderr


def test_commands_in_a_checkout_need_no_environment_but_the_server_does() -> None:
    bare = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    command = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=bare,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert command.returncode == 0, command.stderr
    server = subprocess.run(
        [sys.executable, "-c", "import dashboard.asgi"],
        cwd=ROOT,
        env={**bare, "DJANGO_SETTINGS_MODULE": "dashboard.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert server.returncode != 0 and "SECRET_KEY must be set" in server.stderr


def test_every_template_the_settings_name_exists() -> None:
    from django.conf import settings
    from django.template.loader import get_template

    named = [getattr(settings, name) for name in dir(settings) if name.endswith("_TEMPLATE")]
    for template in named:
        if isinstance(template, str) and template.endswith(".html"):
            get_template(template)  # raises TemplateDoesNotExist
