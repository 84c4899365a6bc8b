"""Live tables: which tables a project has, who may open each, whose rows each viewer sees.

A project declares them once, at import of its own module (the demo's is
``dashboard/tables.py``), in the spirit of the admin's registration::

    from streams.tables import Table, site

    site.verbs(public=("published", "read"), staff_only=("logged in", "failed login"))
    site.register(
        Table(name="feed", title="Who did what", description="Everything, newest first."),
        Table(name="reads", title="Story reads", description="...", verbs=("read",),
              owner_param="author", owner_label="Author", audience=is_author, owners=authors),
    )

A table with ``verbs=None`` shows the verbs declared public to everyone who
may open it, and every verb to staff. ``owner_param`` makes it a table of
actions *for* someone: each viewer sees the rows whose owner they are, and
staff pick whose through that query parameter. The rows are built by
``ActionTable`` (django-tables2 columns, rendered by ``FastRow``).

Then the project routes them::

    urlpatterns += site.urls()                            # <name>/ and <name>/export.csv
    websocket_urlpatterns = site.websocket_urlpatterns()  # STREAMS["LIVE_PATH"], for Channels

The page is ``streams/table_page.html`` (``streams.views``): it extends the
project's ``base.html``, filling its ``title`` and ``content`` blocks, and
needs htmx with its websocket extension (django-htmx) and the engine's
``streams/live.js`` loaded there. Its filters are ``streams.filters``, its
CSV ``streams.export``, its socket ``streams.live.tables``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urlencode

import django_tables2 as tables
from django.core.exceptions import PermissionDenied
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify

from streams.models import Action
from streams.paging import Order
from streams.query import ActionQuery

# The page of a table (streams.views), whose partials the live socket renders too.
PAGE_TEMPLATE = "streams/table_page.html"
STAFF_ONLY_COLUMNS = ("changes", "ip", "user_agent", "request_id")
# The staff filter of one request's actions, which the "Request" column links to.
REQUEST_PARAM = "request"
# Every column a table may show, in the order shown; ``Table.columns`` picks some.
ALL_COLUMNS = (
    "timestamp",
    "actor_name",
    "verb",
    "object_type",
    "object_repr",
    "target_repr",
    "changes",
    "ip",
    "user_agent",
    "request_id",
)
# What a table shows unless it says otherwise: the object's kind only on request.
DEFAULT_COLUMNS = tuple(name for name in ALL_COLUMNS if name != "object_type")
TIMESTAMP_FORMAT = "Y-m-d H:i:s"
SORTABLE = ("timestamp", "actor_name", "verb", "object_repr", "target_repr")
ALL_FILTERS = ("actor", "verb", "object_type", "target_type", "since", "until", "q", "sort", "cursor")


def describe_changes(changes: Any) -> str:
    """A diff as one line: ``state: active → locked; groups: +reviewers``."""
    if not isinstance(changes, dict):
        return "" if changes is None else str(changes)
    parts = []
    for name, change in changes.items():
        if isinstance(change, list) and len(change) == 2:
            parts.append(f"{name}: {change[0]} → {change[1]}")
        elif isinstance(change, dict) and ("added" in change or "removed" in change):
            names = [f"+{n}" for n in change.get("added", [])] + [f"−{n}" for n in change.get("removed", [])]
            parts.append(f"{name}: {' '.join(names)}")
        elif isinstance(change, dict) and "set" in change:
            parts.append(f"{name}: → {change['set']}")
        else:
            parts.append(f"{name}: {change}")
    return "; ".join(parts)


def _order(column: str) -> tuple[str, ...]:
    """A column's order ends with the timestamp and the id, so no two rows tie (streams.paging)."""
    return Order.by(column).fields


def _text(value: Any) -> str:
    return "—" if value in (None, "") else str(value)


def _repr_or_dash(value: str) -> str:
    return value or "—"


def _changes(value: Any) -> str:
    return "—" if value in (None, {}, "") else describe_changes(value)


def kind_of(content_type_id: int | None) -> str:
    """What kind of object an action is about ("issue", "bug"): its model's verbose name.

    Content types come from Django's per-process cache, one query per type
    for the life of the process."""
    if content_type_id is None:
        return "—"
    from django.contrib.contenttypes.models import ContentType

    try:
        model = ContentType.objects.get_for_id(content_type_id).model_class()
    except ContentType.DoesNotExist:
        return "—"
    return "—" if model is None else str(model._meta.verbose_name)


def filter_link(name: str, value: str) -> SafeString:
    """A cell that filters its table by its value when clicked (live.js keeps the other filters)."""
    return format_html('<a class="filter-link" href="?{}">{}</a>', urlencode({name: value}), value)


def object_link(content_type_id: int | None, object_id: str, text: str) -> str:
    """The object's text, linked to its page when the project declared one (``site.link``)."""
    url = site.url_for(content_type_id, object_id) if content_type_id is not None and object_id else None
    return format_html('<a href="{}">{}</a>', url, text) if url else text


def time_cell(timestamp: Any) -> SafeString:
    """The time in the server's zone; live.js makes it relative ("3 min ago"), exact in the viewer's
    zone on hover. ``datetime`` is ISO 8601 UTC."""
    text = dateformat.format(timezone.localtime(timestamp), TIMESTAMP_FORMAT)
    iso = timestamp.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return format_html('<time datetime="{}" title="{}">{}</time>', iso, text, text)


def same_request_link(request_id: str | None) -> str:
    """The "Request" cell: a link to the table filtered to the actions of the same request."""
    if not request_id:
        return "—"
    query = urlencode({REQUEST_PARAM: request_id})
    return format_html('<a href="?{}" title="{}">same request</a>', query, f"Request {request_id}")


class FastRow:
    """One row of a table page or live frame: ``<tr id="action-<pk>">`` with a cell per column.

    Built in Python: django-tables2 resolves, inspects and renders each cell
    on its own and the template loop adds more, 1.5 ms a row together, most
    of a page's CPU time; this is about 30 µs.
    """

    __slots__ = ("cells", "record")

    def __init__(self, record: Any, cells: list[tuple[str, str, str]]) -> None:
        self.record = record
        self.cells = cells  # (column name, header, text)

    def html(self, *, live: bool = False) -> SafeString:
        # The standard library's escape, as Django's own escape() calls it,
        # without its lazy-string wrappers (a third of the cost here).
        cells = "".join(
            f'<td class="col-{name}" data-label="{escape(header)}">'
            f"{text if isinstance(text, SafeString) else escape(text)}</td>"
            for name, header, text in self.cells
        )
        new = " is-new" if live else ""
        return mark_safe(
            f'<tr id="action-{int(self.record.pk)}" class="verb-{slugify(self.record.verb)}{new}">{cells}</tr>'
        )


class ActionTable(tables.Table):
    timestamp = tables.DateTimeColumn(
        verbose_name="When", format=TIMESTAMP_FORMAT, order_by=_order("timestamp")
    )
    actor_name = tables.Column(verbose_name="Who", order_by=_order("actor_name"))
    verb = tables.Column(verbose_name="Did", order_by=_order("verb"))
    object_type = tables.Column(verbose_name="Kind", orderable=False, empty_values=())
    object_repr = tables.Column(verbose_name="What", empty_values=(), order_by=_order("object_repr"))
    target_repr = tables.Column(verbose_name="On", empty_values=(), order_by=_order("target_repr"))
    changes = tables.Column(verbose_name="Details", orderable=False, empty_values=(None, {}, ""))
    ip = tables.Column(verbose_name="IP", orderable=False)
    user_agent = tables.Column(verbose_name="User agent", orderable=False)
    request_id = tables.Column(verbose_name="Request", orderable=False, empty_values=())

    class Meta:
        model = Action
        fields = ALL_COLUMNS
        order_by = ("-timestamp",)
        row_attrs = {"id": lambda record: f"action-{record.pk}"}

    def __init__(self, *args: Any, kind: Table | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        offered = kind.filters if kind is not None else ()
        self.link_actor = "actor" in offered
        self.link_verb = "verb" in offered

    # Each column's cell, exactly as django-tables2 renders the column (the
    # render_* methods below call these): plain text, escaped when the row is
    # built, or safe HTML (links, <time>). ``fast_rows`` calls them directly.
    def cell_timestamp(self, action: Any) -> str:
        return time_cell(action.timestamp)

    def cell_actor_name(self, action: Any) -> str:
        if self.link_actor and action.actor_name:
            return filter_link("actor", action.actor_name)
        return _text(action.actor_name)

    def cell_verb(self, action: Any) -> str:
        if self.link_verb and action.verb:
            return filter_link("verb", action.verb)
        return _text(action.verb)

    def cell_object_type(self, action: Any) -> str:
        return kind_of(action.object_type_id)

    def cell_object_repr(self, action: Any) -> str:
        return object_link(action.object_type_id, action.object_id, _repr_or_dash(action.object_repr))

    def cell_target_repr(self, action: Any) -> str:
        return object_link(action.target_type_id, action.target_id, _repr_or_dash(action.target_repr))

    def cell_changes(self, action: Any) -> str:
        return _changes(action.changes)

    def cell_ip(self, action: Any) -> str:
        return _text(action.ip)

    def cell_user_agent(self, action: Any) -> str:
        return _text(action.user_agent)

    def cell_request_id(self, action: Any) -> str:
        return same_request_link(action.request_id)

    def fast_rows(self) -> list[FastRow]:
        """The rows of the table's data, in its order, each cell as its column renders it."""
        columns = [
            (column.name, str(column.header), getattr(self, f"cell_{column.name}")) for column in self.columns
        ]
        return [
            FastRow(record, [(name, header, cell(record)) for name, header, cell in columns])
            for record in self.data
        ]

    def render_timestamp(self, record: Any) -> str:
        return self.cell_timestamp(record)

    def render_actor_name(self, record: Any) -> str:
        return self.cell_actor_name(record)

    def render_verb(self, record: Any) -> str:
        return self.cell_verb(record)

    def render_object_type(self, record: Any) -> str:
        return self.cell_object_type(record)

    def render_object_repr(self, record: Any) -> str:
        return self.cell_object_repr(record)

    def render_target_repr(self, record: Any) -> str:
        return self.cell_target_repr(record)

    def render_request_id(self, record: Any) -> str:
        return self.cell_request_id(record)

    def render_changes(self, value: Any) -> str:
        return describe_changes(value)


@dataclass(frozen=True)
class Table:
    """One live table: its name (URL, HTML ids), its title and who sees what in it."""

    name: str
    title: str
    description: str = ""
    label: str = ""  # in the navigation; the title if empty
    verbs: tuple[str, ...] | None = None  # None: every verb the viewer may see
    # Staff pick whose actions they look at through this query parameter.
    owner_param: str | None = None
    owner_label: str = ""  # the picker's label; the parameter, capitalised, if empty
    # Who may open the table at all (besides staff, who see every table).
    audience: Callable[[Any], bool] = lambda user: True
    # Whom staff may pick through ``owner_param``: username -> primary key, in
    # order. None: every user some action was recorded for (streams.kinds.owners).
    owners: Callable[[], dict[str, Any]] | None = None
    # The filters the table offers (the owner picker comes on top, for staff).
    filters: tuple[str, ...] = ALL_FILTERS
    # The columns it shows, of ALL_COLUMNS; staff alone ever see STAFF_ONLY_COLUMNS.
    columns: tuple[str, ...] = DEFAULT_COLUMNS
    # Everyone's own: the public actions whose owner is the viewer, staff included.
    personal: bool = False
    # Keep a "seen up to" cursor per viewer, for an unseen badge (streams.seen; personal tables).
    seen: bool = False
    # The public actions of the people the viewer follows (streams.follows), staff included.
    following: bool = False

    def __post_init__(self) -> None:
        unknown = [name for name in self.columns if name not in ALL_COLUMNS]
        if unknown:
            raise ValueError(f"Table {self.name!r}: unknown columns {unknown}; choose from {ALL_COLUMNS}.")
        unknown = [name for name in self.filters if name not in ALL_FILTERS]
        if unknown:
            raise ValueError(f"Table {self.name!r}: unknown filters {unknown}; choose from {ALL_FILTERS}.")
        if self.seen and not self.personal:
            raise ValueError(f"Table {self.name!r}: seen=True needs personal=True (whose rows are unseen?).")
        if (self.personal or self.following) and self.owner_param:
            raise ValueError(f"Table {self.name!r}: a table of the viewer's own has no owner_param.")
        if self.personal and self.following:
            raise ValueError(f"Table {self.name!r}: personal or following, not both.")
        if not self.label:
            object.__setattr__(self, "label", self.title)
        if self.owner_param and not self.owner_label:
            object.__setattr__(self, "owner_label", self.owner_param.replace("_", " ").capitalize())

    def owner_choices(self) -> dict[str, Any]:
        """Whom staff may pick, username -> primary key."""
        if self.owners is not None:
            return self.owners()
        from streams import kinds

        return kinds.owners()

    def allowed(self, user: Any) -> bool:
        if not user.is_authenticated:
            return False
        return user.is_staff or self.audience(user)

    def as_staff(self, user: Any) -> bool:
        """Whether ``user`` sees this table as staff do (every verb, staff columns and filters):
        staff, except on a personal table, which is everyone's own public rows."""
        return bool(user.is_staff) and not (self.personal or self.following)

    def visible_verbs(self, user: Any) -> tuple[str, ...]:
        if self.verbs is not None:
            return self.verbs
        return site.all_verbs if self.as_staff(user) else site.public_verbs

    def scope(self, user: Any, owner_id: int | None = None) -> ActionQuery:
        """The viewer's slice of the table, before any filter the viewer chose."""
        if not self.allowed(user):
            raise PermissionDenied
        if self.personal:
            return ActionQuery(verbs=frozenset(self.visible_verbs(user)), public_only=True, owner_id=user.pk)
        if self.following:
            return ActionQuery(
                verbs=frozenset(self.visible_verbs(user)), public_only=True, followed_by=user.pk
            )
        # Staff see every verb, including ones recorded by routes added later.
        query_verbs = None if user.is_staff and self.verbs is None else frozenset(self.visible_verbs(user))
        if self.owner_param is None:
            return ActionQuery(verbs=query_verbs, public_only=not user.is_staff)
        if not user.is_staff:
            owner_id = user.pk  # staff look at whom they picked, if anyone
        return ActionQuery(verbs=query_verbs, public_only=not user.is_staff, owner_id=owner_id)

    def table(self, data: Any, *, staff: bool, **kwargs: Any) -> ActionTable:
        """The table as every view of it (page, partial, live row) builds it."""
        hidden = {name for name in ALL_COLUMNS if name not in self.columns}
        if not staff:
            hidden.update(STAFF_ONLY_COLUMNS)
        return ActionTable(
            data,
            kind=self,
            attrs={"id": f"{self.name}-table", "tbody": {"id": f"{self.name}-rows"}},
            exclude=tuple(name for name in ALL_COLUMNS if name in hidden),
            **kwargs,
        )


class AlreadyRegistered(Exception):
    pass


class TableSite(Mapping[str, Table]):
    """The project's tables by name, in the order they were registered, and its verbs."""

    def __init__(self) -> None:
        self._tables: dict[str, Table] = {}
        self._links: dict[str, str] = {}  # model label -> URL name of its objects' pages
        self.public_verbs: tuple[str, ...] = ()
        self.all_verbs: tuple[str, ...] = ()

    def verbs(
        self, *, public: tuple[str, ...] | list[str], staff_only: tuple[str, ...] | list[str] = ()
    ) -> None:
        """Which verbs everyone may see, and which only staff (the order is the filter's)."""
        self.public_verbs = tuple(public)
        self.all_verbs = (*self.public_verbs, *(verb for verb in staff_only if verb not in self.public_verbs))

    def link(self, model: Any, url_name: str) -> None:
        """Link the "What" and "On" cells of ``model``'s objects to ``reverse(url_name, args=[pk])``."""
        self._links[model._meta.label_lower] = url_name

    def url_for(self, content_type_id: int, object_id: str) -> str | None:
        """The page of an action's object, if its model is linked; no query (content types are cached)."""
        if not self._links:
            return None
        from django.contrib.contenttypes.models import ContentType
        from django.urls import NoReverseMatch, reverse

        try:
            content_type = ContentType.objects.get_for_id(content_type_id)
        except ContentType.DoesNotExist:
            return None
        url_name = self._links.get(f"{content_type.app_label}.{content_type.model}")
        if url_name is None:
            return None
        try:
            return reverse(url_name, args=[object_id])
        except NoReverseMatch:
            return None

    def register(self, *tables_: Table) -> None:
        for table in tables_:
            if table.name in self._tables:
                raise AlreadyRegistered(f"A table named {table.name!r} is already registered.")
            self._tables[table.name] = table

    def unregister(self, name: str) -> None:
        del self._tables[name]

    def urls(self) -> list[Any]:
        """URL patterns of every table: its page at ``<name>/`` (named ``<name>``), its CSV at
        ``<name>/export.csv`` (``<name>-export``), its feeds at ``<name>/feed.atom`` and
        ``<name>/feed.json`` (``<name>-atom``, ``<name>-json``); for a ``seen`` table
        ``<name>/seen/`` (``<name>-seen``); and ``feeds/``, the viewer's feed
        token (``streams-feeds``). Include them in the project's URLconf."""
        from django.urls import path

        from streams.views import (
            ActionChartView,
            ActionExportView,
            ActionFeedView,
            ActionTableView,
            FeedSettingsView,
            FollowView,
            SeenView,
        )

        # The viewer's feed token and feed addresses (streams.feeds).
        patterns = [path("feeds/", FeedSettingsView.as_view(), name="streams-feeds")]
        if self.following_table() is not None:
            # Where the "Follow" buttons post (streams.views.FollowView).
            patterns.append(path("follow/", FollowView.as_view(), name="streams-follow"))
        for name in self._tables:
            patterns += [
                path(f"{name}/", ActionTableView.as_view(), {"table": name}, name=name),
                path(
                    f"{name}/export.csv", ActionExportView.as_view(), {"table": name}, name=f"{name}-export"
                ),
                path(f"{name}/chart/", ActionChartView.as_view(), {"table": name}, name=f"{name}-chart"),
                path(
                    f"{name}/feed.atom",
                    ActionFeedView.as_view(format="atom"),
                    {"table": name},
                    name=f"{name}-atom",
                ),
                path(
                    f"{name}/feed.json",
                    ActionFeedView.as_view(format="json"),
                    {"table": name},
                    name=f"{name}-json",
                ),
            ]
            if self._tables[name].seen:
                # Where an open table says what the viewer has seen of its live rows.
                patterns.append(
                    path(f"{name}/seen/", SeenView.as_view(), {"table": name}, name=f"{name}-seen")
                )
        return patterns

    def websocket_urlpatterns(self) -> list[Any]:
        """The live socket of every table, at ``STREAMS["LIVE_PATH"]``, for the project's ASGI routing."""
        from django.urls import path

        from streams import conf
        from streams.live.tables import TableConsumer

        return [path(conf.get("LIVE_PATH"), TableConsumer.as_asgi())]

    def following_table(self) -> Table | None:
        """The table of whom the viewer follows, if the project declared one."""
        return next((table for table in self._tables.values() if table.following), None)

    def allowed(self, user: Any) -> list[Table]:
        """The tables ``user`` may open, in order."""
        return [table for table in self._tables.values() if table.allowed(user)]

    def __getitem__(self, name: str) -> Table:
        return self._tables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)


site = TableSite()
