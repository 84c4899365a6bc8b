from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from publishing import services
from publishing.models import Member


class Command(BaseCommand):
    help = (
        "Unlock a member locked by failed logins (or by staff), so they can log in again; "
        "audited like any unlock, as done from the command line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        member = Member.objects.select_related("user").filter(user__username=username).first()
        if member is None:
            raise CommandError(f"No member called “{username}”.")
        if member.state != Member.State.LOCKED:
            self.stdout.write(f"{username} is {member.state}, not locked: nothing to do.")
            return
        services.member_unlock(member=member)
        self.stdout.write(self.style.SUCCESS(f"Unlocked {username}: they can log in again."))
