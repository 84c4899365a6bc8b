"""The "What" and "On" filters offer the kinds that were recorded, and only those a viewer may see."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType

from publishing.models import Story
from streams import kinds, record
from tests import factories

pytestmark = pytest.mark.django_db


def natural(types: list[ContentType]) -> list[str]:
    return [f"{t.app_label}.{t.model}" for t in types]


def test_only_recorded_kinds_are_offered_and_staff_only_ones_only_to_staff(alice: Any) -> None:
    story = factories.story(alice, "Dawn")  # records "published", about a story
    group = Group.objects.create(name="editors")
    record(verb="updated", object=group, target=story, public=False)

    assert natural(kinds.recorded("object_type", public_only=False)) == ["auth.group", "publishing.story"]
    assert natural(kinds.recorded("object_type", public_only=True)) == ["publishing.story"]
    assert natural(kinds.recorded("target_type", public_only=False)) == ["publishing.story"]
    assert natural(kinds.recorded("target_type", public_only=True)) == []
    assert kinds.label(ContentType.objects.get_for_model(Story)) == "Story"


def test_a_new_kind_appears_once_the_kept_answer_is_old(alice: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    factories.story(alice, "Dawn")
    assert natural(kinds.recorded("object_type", public_only=True)) == ["publishing.story"]
    record(verb="created", object=Group.objects.create(name="editors"))

    assert natural(kinds.recorded("object_type", public_only=True)) == ["publishing.story"]  # kept
    monkeypatch.setattr(kinds, "CACHE_SECONDS", 0.0)
    assert natural(kinds.recorded("object_type", public_only=True)) == ["auth.group", "publishing.story"]


def test_the_filter_offers_what_the_viewer_may_see(alice: Any, rae: Any, admin: Any, client_for: Any) -> None:
    factories.story(alice, "Dawn")
    record(verb="updated", object=Group.objects.create(name="editors"), public=False)

    reader_page = client_for(rae).get("/feed/").content.decode()
    staff_page = client_for(admin).get("/feed/").content.decode()

    assert '<option value="publishing.story">Story</option>' in reader_page
    assert "auth.group" not in reader_page  # its only action is staff-only
    assert '<option value="auth.group">Group</option>' in staff_page
    # Asking for it anyway is a bad filter, as for a kind that does not exist.
    assert client_for(rae).get("/feed/", {"object_type": "auth.group"}).status_code == 400
    assert client_for(admin).get("/feed/", {"object_type": "auth.group"}).status_code == 200


def test_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValueError, match="field must be one of"):
        kinds.recorded("verb", public_only=True)
