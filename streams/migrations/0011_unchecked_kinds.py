"""The object's and the target's kinds without a database constraint.

On PostgreSQL each action INSERT queued two deferred foreign-key checks
that ran at COMMIT (a ``SELECT ... FOR KEY SHARE`` of the kind's row in
``django_content_type``): about 37 µs a save measured with pgbench, and a
row lock every writer takes on the same few rows. Kinds are not deleted
while actions name them: ``on_delete=PROTECT`` still refuses it in Django,
as the actor's and the owner's keys already rely on Django alone.

On SQLite the constraint is left in the table's definition: dropping it
means copying the whole table (and losing its triggers), and its check
is one lookup by rowid.
"""

from django.db import migrations, models

COLUMNS = ("object_type_id", "target_type_id")


def drop_constraints(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "sqlite":
        return
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "streams_action")
    for name, info in constraints.items():
        if info["foreign_key"] and info["columns"] and info["columns"][0] in COLUMNS:
            schema_editor.execute(
                f"ALTER TABLE {schema_editor.quote_name('streams_action')} "
                f"DROP CONSTRAINT {schema_editor.quote_name(name)}"
            )


def add_constraints(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "sqlite":
        return
    qn = schema_editor.quote_name
    for column in COLUMNS:
        schema_editor.execute(
            f"ALTER TABLE {qn('streams_action')} ADD CONSTRAINT {qn(f'streams_action_{column}_fk')} "
            f"FOREIGN KEY ({qn(column)}) REFERENCES {qn('django_content_type')} ({qn('id')}) "
            "DEFERRABLE INITIALLY DEFERRED"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("streams", "0010_daily_counts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="action",
                    name=name,
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.PROTECT,
                        related_name="+",
                        to="contenttypes.contenttype",
                    ),
                )
                for name in ("object_type", "target_type")
            ],
            database_operations=[migrations.RunPython(drop_constraints, add_constraints)],
        ),
    ]
