from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.views.decorators.debug import sensitive_variables

from publishing.models import Comment, Member, Reply, Review, Story


class StoryForm(forms.ModelForm):
    publish = forms.BooleanField(required=False, initial=True, help_text="Publish now.")

    class Meta:
        model = Story
        fields = ["title", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 8})}


class CommentForm(forms.ModelForm):
    class Meta:
        model = Comment
        fields = ["body"]
        labels = {"body": "Comment"}
        widgets = {"body": forms.Textarea(attrs={"rows": 3, "maxlength": 2000})}


class ReviewForm(forms.ModelForm):
    class Meta:
        model = Review
        fields = ["rating", "body"]
        labels = {"body": "Review"}
        widgets = {
            "rating": forms.Select(choices=[(n, f"{'★' * n}{'☆' * (5 - n)} {n}") for n in range(5, 0, -1)]),
            "body": forms.Textarea(attrs={"rows": 4, "maxlength": 2000}),
        }


class ReplyForm(forms.ModelForm):
    class Meta:
        model = Reply
        fields = ["body"]
        labels = {"body": "Reply"}
        widgets = {
            "body": forms.Textarea(attrs={"rows": 1, "maxlength": 2000, "placeholder": "Write a reply…"})
        }


class MemberAuthenticationForm(AuthenticationForm):
    """The login form, telling a locked or deactivated member why they cannot log in.

    Only when the password is right, so the message reveals nothing to
    someone guessing.
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        Member.State.LOCKED: (
            "This account is locked after too many failed logins. It unlocks by itself "
            "after a while; staff can unlock it sooner."
        ),
        Member.State.DEACTIVATED: "This account is deactivated.",
    }

    @sensitive_variables("password")
    def get_invalid_login_error(self) -> ValidationError:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        User = get_user_model()
        try:
            user = User._default_manager.select_related("member").get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist:
            return super().get_invalid_login_error()
        state = getattr(getattr(user, "member", None), "state", None)
        if state in Member.BLOCKED_STATES and user.check_password(password):
            return ValidationError(self.error_messages[state], code=state)
        return super().get_invalid_login_error()
