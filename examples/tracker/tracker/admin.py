from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from tracker.models import Bug, Issue, Project, User

admin.site.register(User, UserAdmin)
admin.site.register(Project)
admin.site.register(Issue, list_display=["title", "project", "state", "assignee"])
admin.site.register(Bug, list_display=["title", "project", "state", "severity"])
