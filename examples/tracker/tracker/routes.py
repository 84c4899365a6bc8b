from django.db.models.signals import post_delete, post_save
from streams import changes, record, registry, track

from tracker.models import Bug, Issue

track(Issue, fields=["title", "state"])
track(Bug, fields=["title", "state", "severity"])


@registry.register(post_save, sender=Issue, name="issue-opened", when_created=True)
def opened(*, instance, **kwargs):
    record(verb="opened", object=instance, target=instance.project, owner=instance.assignee_id)


@registry.register(post_save, sender=Issue, name="issue-moved", when_changed=["state"])
def moved(*, instance, **kwargs):
    record(verb="moved", object=instance, changes=changes(instance), owner=instance.assignee)


@registry.register(post_save, sender=Bug, name="bug-filed", when_created=True)
def filed(*, instance, **kwargs):
    record(verb="filed", object=instance, target=instance.project)


@registry.register(post_delete, sender=Issue, name="issue-deleted")
def deleted(*, instance, **kwargs):
    record(verb="deleted", object=instance, target=instance.project, public=False)
