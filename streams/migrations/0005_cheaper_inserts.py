"""Cheaper action INSERTs: no index on the actor's key, SQLite's search index filled in batches.

The actor's foreign key had an index of its own that no table reads by
(they filter on ``actor_name``): it served only the ``SET NULL`` of a
deleted user, a rare scan. It is dropped with a plain ``DROP INDEX``
rather than an ``AlterField``, which on SQLite would copy the whole table
(and lose the search triggers).

On SQLite the FTS index stops being fed by an insert trigger
(``streams.search_index``: one FTS segment per transaction cost each save
more than the action's row and every other index); it is caught up in
batches and searches test the unindexed tail themselves.
"""

from django.conf import settings
from django.db import migrations, models

from streams import search_index


def _actor_index(schema_editor):
    connection = schema_editor.connection
    table = "streams_action"
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, info in constraints.items()
        if info["index"]
        and not info["primary_key"]
        and not info["unique"]
        and info["columns"] == ["actor_id"]
    ]


def drop_actor_index(apps, schema_editor):
    for name in _actor_index(schema_editor):
        schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def create_actor_index(apps, schema_editor):
    if not _actor_index(schema_editor):
        schema_editor.execute(
            'CREATE INDEX "streams_action_actor_id_ee4cc071" ON "streams_action" ("actor_id")'
        )


def batch_search_index(apps, schema_editor):
    search_index.batch(schema_editor.connection)


def unbatch_search_index(apps, schema_editor):
    search_index.unbatch(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("streams", "0004_public_partial_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="action",
                    name="actor",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_actor_index, create_actor_index)],
        ),
        migrations.RunPython(batch_search_index, unbatch_search_index),
    ]
