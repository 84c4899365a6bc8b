"""The story page: bookmarks, reviews, replies and thumbs-up."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from publishing import services
from publishing.models import Bookmark, Reply, Review, Story, StoryRead, ThumbsUp
from tests import factories

pytestmark = pytest.mark.django_db


def url(story: Story, tail: str = "") -> str:
    return f"/stories/{story.pk}/{tail}"


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_story_page_shows_reviews_replies_and_thumbs_up(
    story: Story, rita: Any, rae: Any, alice: Any, client_for: Any
) -> None:
    review = factories.review(story, rita, rating=4, body="Quietly <b>moving</b>.")
    services.reply_create(review=review, author=alice, body="Thank you!")
    services.thumbs_up_toggle(review=review, user=rae)

    html = client_for(rae).get(url(story)).content.decode()

    section = html[html.index('id="reviews"') :]
    assert f'id="review-{review.pk}"' in section
    assert "★★★★☆" in section and "rita" in section
    assert "Quietly &lt;b&gt;moving&lt;/b&gt;." in section
    assert "Thank you!" in section and "alice" in section
    assert 'aria-pressed="true"' in section and "Thumbs up · 1" in section
    assert f'action="/stories/{story.pk}/reviews/{review.pk}/replies/"' in section


def test_story_page_records_one_read_per_open(story: Story, rae: Any, client_for: Any) -> None:
    client = client_for(rae)
    client.get(url(story))
    client.get(url(story))
    assert StoryRead.objects.filter(story=story, reader=rae).count() == 2


def test_story_page_review_form_only_for_reviewers(
    story: Story, rita: Any, rae: Any, client_for: Any
) -> None:
    assert 'id="review-form"' in client_for(rita).get(url(story)).content.decode()
    assert 'id="review-form"' not in client_for(rae).get(url(story)).content.decode()
    assert 'id="review-form"' not in Client().get(url(story)).content.decode()


def test_bookmark_post_toggles_the_bookmark(story: Story, rae: Any, client_for: Any) -> None:
    client = client_for(rae)

    response = client.post(url(story, "bookmark/"))
    assert response.status_code == 302 and response["Location"] == url(story) + "#story"
    assert Bookmark.objects.filter(story=story, user=rae).count() == 1
    assert messages_of(response) == ["Bookmarked."]
    assert "Remove bookmark" in client.get(url(story)).content.decode()

    response = client.post(url(story, "bookmark/"))
    assert not Bookmark.objects.filter(story=story, user=rae).exists()
    assert messages_of(response) == ["Bookmark removed."]
    assert "Remove bookmark" not in client.get(url(story)).content.decode()


def test_review_post_by_reviewer_creates_review(story: Story, rita: Any, client_for: Any) -> None:
    response = client_for(rita).post(url(story, "reviews/"), {"rating": "5", "body": "A gem."})

    assert response.status_code == 302 and response["Location"] == url(story) + "#reviews"
    review = Review.objects.get()
    assert (review.story, review.reviewer, review.rating, review.body) == (story, rita, 5, "A gem.")
    assert messages_of(response) == ["Your review is posted."]


def test_review_post_by_reader_is_403(story: Story, rae: Any, client_for: Any) -> None:
    response = client_for(rae).post(url(story, "reviews/"), {"rating": "5", "body": "Sneaky."})
    assert response.status_code == 403
    assert not Review.objects.exists()


def test_review_post_with_rating_9_is_400_with_the_error(story: Story, rita: Any, client_for: Any) -> None:
    response = client_for(rita).post(url(story, "reviews/"), {"rating": "9", "body": "Off the scale."})

    assert response.status_code == 400
    html = response.content.decode()
    assert "Ensure this value is less than or equal to 5." in html
    assert "Off the scale." in html  # the form comes back as typed
    assert not Review.objects.exists()


@pytest.mark.parametrize("data", [{"rating": "abc", "body": "x"}, {"rating": "3", "body": ""}, {}])
def test_review_post_invalid_is_400_never_500(story: Story, rita: Any, client_for: Any, data: Any) -> None:
    response = client_for(rita).post(url(story, "reviews/"), data)
    assert response.status_code == 400
    assert 'class="errorlist' in response.content.decode()
    assert not Review.objects.exists()


def test_reply_post_creates_reply(story: Story, rita: Any, alice: Any, client_for: Any) -> None:
    review = factories.review(story, rita)

    response = client_for(alice).post(url(story, f"reviews/{review.pk}/replies/"), {"body": "Thanks!"})

    assert response.status_code == 302
    assert response["Location"] == url(story) + f"#review-{review.pk}"
    reply = Reply.objects.get()
    assert (reply.review, reply.author, reply.body) == (review, alice, "Thanks!")
    assert messages_of(response) == ["Your reply is posted."]


def test_reply_post_empty_is_400_with_the_error_on_that_review(
    story: Story, rita: Any, rae: Any, client_for: Any
) -> None:
    first, second = factories.review(story, rita), factories.review(story, rita)

    response = client_for(rae).post(url(story, f"reviews/{second.pk}/replies/"), {"body": "  "})

    assert response.status_code == 400
    html = response.content.decode()
    assert html.count("This field is required.") == 1
    assert html.index("This field is required.") > html.index(f'id="review-{second.pk}"')
    assert f'id="id_reply_{first.pk}_body"' in html and f'id="id_reply_{second.pk}_body"' in html
    assert not Reply.objects.exists()


def test_reply_post_to_a_review_of_another_story_is_404(
    story: Story, alice: Any, rita: Any, rae: Any, client_for: Any
) -> None:
    other = factories.review(factories.story(alice, "Dusk"), rita)
    response = client_for(rae).post(url(story, f"reviews/{other.pk}/replies/"), {"body": "Hi"})
    assert response.status_code == 404
    assert not Reply.objects.exists()


def test_thumbs_up_post_toggles(story: Story, rita: Any, rae: Any, client_for: Any) -> None:
    review = factories.review(story, rita)
    client = client_for(rae)

    response = client.post(url(story, f"reviews/{review.pk}/thumbs-up/"))
    assert list(ThumbsUp.objects.values_list("review", "user")) == [(review.pk, rae.pk)]
    assert messages_of(response) == ["You gave rita's review a thumbs-up."]
    response = client.post(url(story, f"reviews/{review.pk}/thumbs-up/"))
    assert response["Location"] == url(story) + f"#review-{review.pk}"
    assert not ThumbsUp.objects.exists()
    assert messages_of(response)[-1] == "Thumbs-up taken back."


@pytest.mark.parametrize(
    "tail", ["bookmark/", "reviews/", "reviews/{review}/replies/", "reviews/{review}/thumbs-up/"]
)
def test_story_post_anonymous_goes_to_login(story: Story, rita: Any, tail: str) -> None:
    review = factories.review(story, rita)
    response = Client().post(url(story, tail.format(review=review.pk)), {"rating": "4", "body": "Hi"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert (Bookmark.objects.count(), Review.objects.count(), Reply.objects.count()) == (0, 1, 0)
    assert not ThumbsUp.objects.exists()


def test_story_post_needs_post(story: Story, rae: Any, client_for: Any) -> None:
    assert client_for(rae).get(url(story, "bookmark/")).status_code == 405
    assert not Bookmark.objects.exists()


def test_story_page_queries_do_not_grow_with_reviews_and_replies(
    story: Story, rita: Any, alice: Any, rae: Any, client_for: Any, django_assert_max_num_queries: Any
) -> None:
    client = client_for(rita)
    factories.review(story, rita)
    with CaptureQueriesContext(connection) as one_review:
        client.get(url(story))

    commenters = [alice, rae, factories.user("rae2"), factories.user("rae3")]
    for index in range(9):
        review = factories.review(story, rita, body=f"R{index}")
        for who in commenters:
            services.reply_create(review=review, author=who, body=f"reply by {who.username}")
            services.thumbs_up_toggle(review=review, user=who)
        services.comment_create(story=story, author=rae, body="Nice")

    with django_assert_max_num_queries(len(one_review)):
        html = client.get(url(story)).content.decode()
    assert len(re.findall(r'<li class="review" id="review-', html)) == 10
    assert html.count('id="reply-') == 36


def test_a_story_page_that_fails_after_the_read_records_no_read(
    story: Story, rae: Any, client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database going away mid-request: an error, and nothing the reader was not told of."""
    from django.db import OperationalError

    from publishing import views
    from streams.models import Action

    def lost_connection(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(views, "_story_page", lost_connection)
    client = client_for(rae)
    client.raise_request_exception = False
    reads, actions = StoryRead.objects.count(), Action.objects.filter(verb="read").count()

    assert client.get(url(story)).status_code >= 500

    assert StoryRead.objects.count() == reads
    assert Action.objects.filter(verb="read").count() == actions
