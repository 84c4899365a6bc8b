"""Small factories for the suite: users by role, stories."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from publishing import services
from publishing.models import Story
from publishing.roles import AUTHORS, REVIEWERS
from streams import disable_recording

PASSWORD = "pw-for-tests"


def user(username: str, role: str = "reader") -> Any:
    """Create a user: role is reader, author, reviewer or staff.

    Made with recording off: setting up a test's cast is not what it checks.
    """
    with disable_recording():
        return _user(username, role)


def _user(username: str, role: str) -> Any:
    made = get_user_model().objects.create_user(username=username, password=PASSWORD)
    if role == "staff":
        made.is_staff = made.is_superuser = True
        made.save()
    elif role == "author":
        group, created = Group.objects.get_or_create(name=AUTHORS)
        if created:
            group.permissions.add(
                Permission.objects.get(codename="add_story", content_type__app_label="publishing")
            )
        made.groups.add(group)
    elif role == "reviewer":
        made.groups.add(Group.objects.get_or_create(name=REVIEWERS)[0])
    return get_user_model().objects.get(pk=made.pk)  # fresh: no cached permissions


def story(author: Any, title: str = "A story", publish: bool = True) -> Story:
    return services.story_create(author=author, title=title, body="Once upon a time.", publish=publish)


def review(story: Any, reviewer: Any, rating: int = 4, body: str = "Well told.") -> Any:
    return services.review_create(story=story, reviewer=reviewer, rating=rating, body=body)
