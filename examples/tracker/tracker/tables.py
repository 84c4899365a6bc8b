from streams.tables import DEFAULT_COLUMNS, Table, site

site.verbs(public=["opened", "moved", "filed"], staff_only=["deleted"])
site.register(
    Table(name="activity", title="Activity", columns=("object_type", *DEFAULT_COLUMNS)),
    Table(name="assigned", title="Assigned to me", owner_param="assignee"),
)
