from __future__ import annotations

from django import forms

from publishing.models import Comment, Story


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
