from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from publishing import selectors, services
from publishing.forms import CommentForm, StoryForm
from publishing.models import Story
from publishing.roles import is_author


def story_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "publishing/story_list.html",
        {"stories": selectors.story_list()[:100], "can_write": is_author(request.user)},
    )


def _story_page(
    request: HttpRequest, story: Story, comment_form: CommentForm, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "publishing/story_detail.html",
        {
            "story": story,
            "comments": selectors.story_comments(story=story),
            "comment_form": comment_form,
        },
        status=status,
    )


def story_detail(request: HttpRequest, pk: int) -> HttpResponse:
    story = get_object_or_404(Story.objects.published().select_related("author"), pk=pk)
    if request.user.is_authenticated:
        # Every opening by a logged-in user is a read (the author's read counts).
        services.story_read(story=story, reader=request.user)
    return _story_page(request, story, CommentForm())


@login_required
@require_POST
def comment_create(request: HttpRequest, pk: int) -> HttpResponse:
    story = get_object_or_404(Story.objects.published().select_related("author"), pk=pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _story_page(request, story, form, status=400)
    services.comment_create(story=story, author=request.user, body=form.cleaned_data["body"])
    messages.success(request, "Your comment is posted.")
    return redirect(f"{story.get_absolute_url()}#comments")


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
