"""The channel layer is a convenience, never a dependency of the business write."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from publishing import services
from streams.models import Action
from tests import factories


@pytest.mark.django_db(transaction=True)
def test_channel_layer_outage_loses_no_action(
    alice: Any, rae: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from channels.layers import channel_layers

    story = factories.story(alice)
    # Redis that is not there: nothing listens on port 1.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    channel_layers.backends.clear()
    try:
        with caplog.at_level(logging.ERROR, logger="streams.broadcast"):
            read = services.story_read(story=story, reader=rae)
    finally:
        channel_layers.backends.clear()

    assert Action.objects.filter(verb="read", object_id=str(story.pk)).count() == 1
    assert read.pk is not None
    assert "could not announce action" in caplog.text
