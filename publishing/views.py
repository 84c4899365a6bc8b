from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from publishing import selectors, services
from publishing.forms import CommentForm, ReplyForm, ReviewForm, StoryForm
from publishing.models import Review, Story
from publishing.roles import is_author, is_reviewer


def story_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "publishing/story_list.html",
        {"stories": selectors.story_list()[:100], "can_write": is_author(request.user)},
    )


def _published_story(pk: int) -> Story:
    return get_object_or_404(Story.objects.published().select_related("author"), pk=pk)


def _reply_form(review_pk: int, data: Any = None) -> ReplyForm:
    # One form per review on the page: ids must differ, field names need not.
    return ReplyForm(data, auto_id=f"id_reply_{review_pk}_%s")


def _story_page(
    request: HttpRequest,
    story: Story,
    *,
    comment_form: CommentForm | None = None,
    review_form: ReviewForm | None = None,
    reply_form: tuple[int, ReplyForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The story page; a form given here is shown bound, with its errors."""
    user = request.user
    reviews = list(selectors.story_reviews(story=story, viewer=user))
    if user.is_authenticated:
        for review in reviews:
            if reply_form is not None and reply_form[0] == review.pk:
                review.reply_form = reply_form[1]
            else:
                review.reply_form = _reply_form(review.pk)
    can_review = is_reviewer(user)
    return render(
        request,
        "publishing/story_detail.html",
        {
            "story": story,
            "comments": selectors.story_comments(story=story),
            "comment_form": comment_form or CommentForm(),
            "reviews": reviews,
            "average_rating": sum(r.rating for r in reviews) / len(reviews) if reviews else None,
            "can_review": can_review,
            "review_form": (review_form or ReviewForm()) if can_review else None,
            "bookmarked": selectors.is_bookmarked(story=story, user=user),
        },
        status=status,
    )


# One transaction: a page that fails after the read was written (the database
# restarting mid-request) answers with an error and records no read.
@transaction.atomic
def story_detail(request: HttpRequest, pk: int) -> HttpResponse:
    story = _published_story(pk)
    if request.user.is_authenticated:
        # Every opening by a logged-in user is a read (the author's read counts).
        services.story_read(story=story, reader=request.user)
    return _story_page(request, story)


@login_required
@require_POST
def comment_create(request: HttpRequest, pk: int) -> HttpResponse:
    story = _published_story(pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _story_page(request, story, comment_form=form, status=400)
    services.comment_create(story=story, author=request.user, body=form.cleaned_data["body"])
    messages.success(request, "Your comment is posted.")
    return redirect(f"{story.get_absolute_url()}#comments")


@login_required
@require_POST
def bookmark_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    story = _published_story(pk)
    if services.bookmark_toggle(story=story, user=request.user):
        messages.success(request, "Bookmarked.")
    else:
        messages.success(request, "Bookmark removed.")
    return redirect(f"{story.get_absolute_url()}#story")


@login_required
@require_POST
def review_create(request: HttpRequest, pk: int) -> HttpResponse:
    story = _published_story(pk)
    if not is_reviewer(request.user):
        raise PermissionDenied("Only reviewers write reviews.")
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return _story_page(request, story, review_form=form, status=400)
    services.review_create(
        story=story,
        reviewer=request.user,
        rating=form.cleaned_data["rating"],
        body=form.cleaned_data["body"],
    )
    messages.success(request, "Your review is posted.")
    return redirect(f"{story.get_absolute_url()}#reviews")


def _review_of(story: Story, review_pk: int) -> Review:
    return get_object_or_404(Review.objects.select_related("reviewer"), pk=review_pk, story=story)


@login_required
@require_POST
def reply_create(request: HttpRequest, pk: int, review_pk: int) -> HttpResponse:
    story = _published_story(pk)
    review = _review_of(story, review_pk)
    form = _reply_form(review.pk, request.POST)
    if not form.is_valid():
        return _story_page(request, story, reply_form=(review.pk, form), status=400)
    services.reply_create(review=review, author=request.user, body=form.cleaned_data["body"])
    messages.success(request, "Your reply is posted.")
    return redirect(f"{story.get_absolute_url()}#review-{review.pk}")


@login_required
@require_POST
def thumbs_up_toggle(request: HttpRequest, pk: int, review_pk: int) -> HttpResponse:
    story = _published_story(pk)
    review = _review_of(story, review_pk)
    if services.thumbs_up_toggle(review=review, user=request.user):
        messages.success(request, f"You gave {review.reviewer.get_username()}'s review a thumbs-up.")
    else:
        messages.success(request, "Thumbs-up taken back.")
    return redirect(f"{story.get_absolute_url()}#review-{review.pk}")


@permission_required("publishing.add_story")
def story_create(request: HttpRequest) -> HttpResponse:
    form = StoryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        story = services.story_create(
            author=request.user,
            title=form.cleaned_data["title"],
            body=form.cleaned_data["body"],
            publish=form.cleaned_data["publish"],
        )
        if story.is_published:
            messages.success(request, "Your story is published.")
            return redirect(story)
        messages.success(request, "Your draft is saved.")
        return redirect("publishing:story_list")
    return render(request, "publishing/story_form.html", {"form": form}, status=400 if form.errors else 200)
