from __future__ import annotations

from django.apps import AppConfig


class PublishingConfig(AppConfig):
    name = "publishing"
    verbose_name = "Publishing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in, user_login_failed
        from django.db.models.signals import post_save

        from publishing import receivers

        post_save.connect(
            receivers.member_for_new_user,
            sender=get_user_model(),
            dispatch_uid="publishing.member_for_new_user",
        )
        user_login_failed.connect(receivers.login_failed, dispatch_uid="publishing.login_failed")
        user_logged_in.connect(receivers.logged_in, dispatch_uid="publishing.logged_in")
