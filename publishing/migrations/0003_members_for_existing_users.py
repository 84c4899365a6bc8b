from django.conf import settings
from django.db import migrations


def members_for_existing_users(apps, schema_editor):
    # Users made before members existed could already log in: they start active.
    User = apps.get_model(settings.AUTH_USER_MODEL)
    Member = apps.get_model("publishing", "Member")
    missing = list(User.objects.filter(member__isnull=True).values_list("pk", flat=True))
    Member.objects.bulk_create([Member(user_id=pk, state="active") for pk in missing], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("publishing", "0002_reviews_bookmarks_members"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(members_for_existing_users, migrations.RunPython.noop, elidable=True),
    ]
