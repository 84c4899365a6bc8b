"""The filter form every declared table shares; it turns query parameters into an ActionQuery."""

from __future__ import annotations

import datetime
from dataclasses import replace
from html import escape
from typing import Any

import django_filters
from django import forms
from django.contrib.contenttypes.models import ContentType
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.safestring import mark_safe

from streams import kinds, search, search_index
from streams.context import REQUEST_ID
from streams.models import Action
from streams.paging import Cursor, InvalidCursor, Order
from streams.query import ActionQuery
from streams.tables import REQUEST_PARAM, SORTABLE, Table

DEFAULT_SORT = "-timestamp"
MIN_SEARCH_LENGTH = search_index.MIN_INDEXED_LENGTH


class LongSelect(forms.Select):
    """A select of many plain options (the staff owner picker: hundreds of
    authors), written in one pass instead of one template render per option
    (0.05 ms each: 15 ms for 300). The HTML of ``forms.Select``, without the
    whitespace between options."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> str:
        context = self.get_context(name, value, attrs)["widget"]
        options = []
        for _group, group_options, _index in context["optgroups"]:
            for option in group_options:
                selected = " selected" if option["selected"] else ""
                options.append(
                    f'<option value="{escape(str(option["value"]))}"{selected}>{escape(str(option["label"]))}</option>'
                )
        attributes = flatatt(context["attrs"])
        # Every value above is escaped.
        return mark_safe(f'<select name="{escape(name)}"{attributes}>{"".join(options)}</select>')


class ActionFilterForm(forms.Form):
    # An unknown actor is not an error: answering "no one called X" would
    # tell a viewer that actions they may not see exist (or do not).

    def clean_q(self) -> str:
        text = self.cleaned_data.get("q") or ""
        needle = search.needle(text)
        if text and not needle:
            return ""
        if needle and len(needle) < MIN_SEARCH_LENGTH:
            # A trigram index cannot narrow two letters down: every search
            # would scan the table.
            raise forms.ValidationError(f"Type at least {MIN_SEARCH_LENGTH} characters to search.")
        return text

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "“Until” must be on or after “since”.")
        order = Order.by(cleaned.get("sort") or DEFAULT_SORT)
        cleaned["order"] = order
        token = cleaned.get("cursor")
        if token and "sort" not in self.errors:
            try:
                cleaned["cursor"] = Cursor.decode(token, order, Action)
            except InvalidCursor as error:
                self.add_error("cursor", str(error))
        else:
            cleaned["cursor"] = None
        return cleaned


def _content_type_id(natural_key: str | None) -> int | None:
    if not natural_key:
        return None
    app_label, model = natural_key.split(".", 1)
    return ContentType.objects.get_by_natural_key(app_label, model).pk


def _day_start(day: datetime.date | None) -> datetime.datetime | None:
    if day is None:
        return None
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class ActionFilterSet(django_filters.FilterSet):
    actor = django_filters.CharFilter(label="Who", max_length=150)
    verb = django_filters.ChoiceFilter(label="Did", empty_label="any verb")
    # Choices: the kinds recorded so far that the viewer may see (streams.kinds).
    object_type = django_filters.ChoiceFilter(label="What", empty_label="any kind")
    target_type = django_filters.ChoiceFilter(label="On", empty_label="any kind")
    since = django_filters.DateFilter(label="Since", widget=forms.DateInput(attrs={"type": "date"}))
    until = django_filters.DateFilter(label="Until", widget=forms.DateInput(attrs={"type": "date"}))
    q = django_filters.CharFilter(label="Search", max_length=100)
    # Ordering is the table's job; listed here so a bad column is a form error.
    sort = django_filters.ChoiceFilter(
        choices=[(f"{sign}{name}", name) for name in SORTABLE for sign in ("", "-")],
        method="keep_order",
        widget=forms.HiddenInput,
    )
    # Where the page starts (streams.paging); checked against the sort by the form.
    cursor = django_filters.CharFilter(method="keep_order", widget=forms.HiddenInput, max_length=2048)

    class Meta:
        model = Action
        fields: list[str] = []
        form = ActionFilterForm

    def __init__(
        self,
        data: Any = None,
        queryset: Any = None,
        *,
        kind: Table,
        request: Any = None,
        viewer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(data, queryset, request=request, **kwargs)
        self.kind = kind
        # The socket has no request, only the scope's user.
        self.viewer = viewer if viewer is not None else request.user
        for name in list(self.filters):
            if name not in kind.filters:
                del self.filters[name]
        visible = kind.visible_verbs(self.viewer)
        if "verb" in self.filters:
            self.filters["verb"].extra["choices"] = [(v, v) for v in visible]
        for field in kinds.FIELDS:
            if field in self.filters:
                recorded = kinds.recorded(field, public_only=not kind.as_staff(self.viewer))
                self.filters[field].extra["choices"] = [
                    (f"{content_type.app_label}.{content_type.model}", kinds.label(content_type))
                    for content_type in recorded
                ]
        # Whom staff may pick, read once: the choices, then the pick's id.
        self.owner_ids: dict[str, Any] = {}
        if kind.owner_param and kind.as_staff(self.viewer):
            self.owner_ids = kind.owner_choices()
            self.filters[kind.owner_param] = django_filters.ChoiceFilter(
                label=kind.owner_label,
                choices=[(name, name) for name in self.owner_ids],
                empty_label=f"every {kind.owner_label.lower()}",
                widget=LongSelect,
            )
            self.filters[kind.owner_param].model = Action
            self.filters[kind.owner_param].parent = self
        if kind.as_staff(self.viewer):
            # What one request did (streams.middleware's correlation id): staff's, like its column.
            self.filters[REQUEST_PARAM] = django_filters.CharFilter(
                label="Request",
                max_length=64,
                validators=[RegexValidator(rf"\A{REQUEST_ID.pattern}\Z", "Not a request id.")],
                method="keep_order",
            )
            self.filters[REQUEST_PARAM].model = Action
            self.filters[REQUEST_PARAM].parent = self

    def query(self) -> ActionQuery:
        """The viewer's scope narrowed by the valid filters of the form."""
        data = self.form.cleaned_data if self.form.is_valid() else {}
        owner_id = None
        if self.kind.owner_param and data.get(self.kind.owner_param):
            owner_id = self.owner_ids[data[self.kind.owner_param]]
        scope = self.kind.scope(self.viewer, owner_id)
        query_verbs = scope.verbs
        if data.get("verb"):
            query_verbs = frozenset({data["verb"]}) & (scope.verbs or frozenset({data["verb"]}))
        until = data.get("until")
        # The scope as the table made it, narrowed: no field of it can be left behind.
        return replace(
            scope,
            verbs=query_verbs,
            actor=data.get("actor") or None,
            object_type_id=_content_type_id(data.get("object_type")),
            target_type_id=_content_type_id(data.get("target_type")),
            since=_day_start(data.get("since")),
            # The last day there is has no day after it: no upper bound then.
            until=_day_start(until + datetime.timedelta(days=1))
            if until and until < datetime.date.max
            else None,
            text=(data.get("q") or "").strip(),
            request_id=data.get(REQUEST_PARAM) or None,
        )

    def keep_order(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        return self.query().apply(queryset)
