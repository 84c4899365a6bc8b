"""Table pages, their htmx partials and CSV exports: one mixin, one scope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.vary import vary_on_headers
from django_filters.views import FilterMixin

from streams import charts, export, feeds, follows, seen
from streams import conf as streams_conf
from streams.filters import DEFAULT_SORT, ActionFilterSet
from streams.models import Action
from streams.paging import LAST, Order, Page, paginate
from streams.tables import PAGE_TEMPLATE, ActionTable, Table, site

PER_PAGE = 25
SORT_PARAM = "sort"
CURSOR_PARAM = "cursor"
# Links from before keyset paging carried page numbers; they open the first page.
PAGE_PARAM = "page"
# The table's own parameters, which the live socket does not need.
NOT_FILTERS = {SORT_PARAM, CURSOR_PARAM, PAGE_PARAM}


class ActionTableMixin(LoginRequiredMixin, FilterMixin):
    """Everything a table view needs: the kind, the viewer's filterset, the table."""

    kind: Table
    filterset_class = ActionFilterSet

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.kind = site[kwargs.pop("table")]
        if request.user.is_authenticated and not self.kind.allowed(request.user):
            raise PermissionDenied(f"You may not see the {self.kind.title.lower()} table.")
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        return Action.objects.all()

    def get_filterset_kwargs(self, filterset_class: Any) -> dict[str, Any]:
        kwargs = super().get_filterset_kwargs(filterset_class)
        # Always bound, so "no filters" is a valid form rather than an unbound one.
        kwargs["data"] = self.request.GET
        kwargs["kind"] = self.kind
        return kwargs

    def build_table(self, rows: Any, **kwargs: Any) -> ActionTable:
        return self.kind.table(
            rows,
            staff=self.kind.as_staff(self.request.user),
            order_by_field=SORT_PARAM,
            page_field=PAGE_PARAM,
            **kwargs,
        )

    def bad_filters(self) -> HttpResponse:
        """A 400 naming each bad filter, as plain text (CSV and feeds have no page to show it on)."""
        errors = "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in self.filterset.errors.items()
        )
        return HttpResponse(f"Bad filters: {errors}\n", status=400, content_type="text/plain; charset=utf-8")

    def get_filtered_rows(self) -> Any:
        self.filterset = self.get_filterset(self.get_filterset_class())
        if self.filterset.is_valid():
            return self.filterset.qs
        return self.filterset.queryset.none()


def partial_request(request: HttpRequest) -> bool:
    """An htmx request for the results alone (read from its headers: no middleware needed)."""
    headers = request.headers
    return headers.get("HX-Request") == "true" and headers.get("HX-Boosted") != "true"


@method_decorator(vary_on_headers("HX-Request"), name="dispatch")
class ActionTableView(ActionTableMixin, View):
    template_name = PAGE_TEMPLATE

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        rows = self.get_filtered_rows()
        valid = self.filterset.is_valid()
        data = self.filterset.form.cleaned_data if valid else {}
        order = data.get("order") or Order.by(DEFAULT_SORT)
        # New rows go on top only where they belong: the first page, newest first.
        prepend = valid and data.get("cursor") is None and order.name == DEFAULT_SORT
        if valid:
            if not prepend:
                # Counting what is new needs the newest id of all: read from
                # the primary key inside the page's own query.
                rows = rows.annotate(newest_id=Subquery(Action.objects.order_by("-pk").values("pk")[:1]))
            # One query, as deep as the cursor goes: no OFFSET, no COUNT.
            page = paginate(rows.defer("search_text"), order, data.get("cursor"), PER_PAGE)
        else:
            page = Page([], order, has_previous=False, has_next=False)
        table = self.build_table(page.rows, order_by=order.name)
        if self.kind.seen and prepend and page.rows and not self.filtered():
            # Opening the table shows the viewer what is new: now it is seen (badges drop).
            seen.mark_seen(self.kind, request.user, max(page.rows, key=lambda row: row.pk))
        template = self.template_name
        if partial_request(request):
            template += "#results"
        status = 200 if valid else 400
        context = self.get_context_data(table=table, page=page, prepend=prepend)
        response = render(request, template, context, status=status)
        if request.user.is_staff:
            # IPs and user agents: never kept by a browser or proxy cache.
            add_never_cache_headers(response)
        return response

    def filtered(self) -> bool:
        return any(value for name, value in self.request.GET.items() if name not in NOT_FILTERS)

    def get_context_data(self, *, table: ActionTable, page: Page, prepend: bool) -> dict[str, Any]:
        filtered = self.filtered()
        filters = self.request.GET.copy()
        for name in NOT_FILTERS:
            filters.pop(name, None)
        return {
            "kind": self.kind,
            "table": table,
            "rows": table.fast_rows(),
            "filter": self.filterset,
            "pager": Pager.of(page, newest_first=page.order.name == DEFAULT_SORT),
            "export_url": f"{reverse(f'{self.kind.name}-export')}?{self.export_query(filters)}",
            "feed_url": f"{reverse(f'{self.kind.name}-atom')}?{filters.urlencode()}".rstrip("?"),
            "chart_url": f"{reverse(f'{self.kind.name}-chart')}?{filters.urlencode()}".rstrip("?"),
            "reset_url": reverse(self.kind.name),
            "live_url": self.live_url(filters, page.rows, prepend),
            "live_mode": "prepend" if prepend else "count",
            "live_heartbeat": streams_conf.get("LIVE_HEARTBEAT_SECONDS"),
            "follow": self.follow_button(page.rows),
            "people": follows.followed_users(self.request.user) if self.kind.following else (),
            "filtered": filtered,
            # Rows arriving live on the viewer's unfiltered newest page count as seen.
            "seen_url": reverse(f"{self.kind.name}-seen")
            if self.kind.seen and prepend and not filtered
            else None,
        }

    def follow_button(self, rows: list[Any]) -> dict[str, Any] | None:
        """Follow or unfollow the person the table is filtered by, if the project has a table of
        whom one follows, that person is a user (their rows say so) and someone else. Whom the
        viewer follows is kept in memory (streams.follows): no query once loaded."""
        name = self.filterset.form.cleaned_data.get("actor") if self.filterset.is_valid() else None
        if not name or not rows or site.following_table() is None:
            return None
        if rows[0].actor_id is None or rows[0].actor_id == self.request.user.pk:
            return None
        following = name in follows.followed_names(self.request.user)
        return {"name": name, "following": following, "next": self.request.get_full_path()}

    def export_query(self, filters: Any) -> str:
        """The export takes the filters and the order, never the page."""
        query = filters.copy()
        if self.request.GET.get(SORT_PARAM):
            query[SORT_PARAM] = self.request.GET[SORT_PARAM]
        return query.urlencode()

    def live_url(self, filters: Any, rows: list[Any], prepend: bool) -> str | None:
        if not self.filterset.is_valid():
            return None
        if not rows:
            # Nothing matches yet: every matching row the socket finds is new.
            after = floor = 0
        elif prepend:
            ids = [row.pk for row in rows]
            after, floor = max(ids), min(ids)
        else:
            after = floor = rows[0].newest_id
        params = {"table": self.kind.name, **filters.dict(), "after": after, "floor": floor}
        if not prepend:
            params["mode"] = "count"
        return f"/{streams_conf.get('LIVE_PATH')}?{urlencode(params)}"


@dataclass(frozen=True)
class Pager:
    """The links beside a page: each one a cursor (``streams.paging``), so shared links keep their rows."""

    first: bool  # a link to the first page
    previous: str | None
    next: str | None
    last: bool
    newest_first: bool
    span: tuple[Any, Any] | None  # the first and last timestamps shown, in the default order

    @classmethod
    def of(cls, page: Page, *, newest_first: bool) -> Pager:
        span = None
        if newest_first and page.rows:
            span = (page.rows[0].timestamp, page.rows[-1].timestamp)
        return cls(
            first=page.has_previous,
            previous=page.previous_cursor(),
            next=page.next_cursor(),
            last=page.has_next,
            newest_first=newest_first,
            span=span,
        )

    @property
    def last_token(self) -> str:
        return LAST

    @property
    def shown(self) -> bool:
        return bool(self.first or self.next or self.last or self.previous)


class ActionExportView(ActionTableMixin, View):
    """The filtered rows of a table as CSV, streamed in the table's order."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        rows = self.get_filtered_rows()
        if not self.filterset.is_valid():
            return self.bad_filters()
        order = self.filterset.form.cleaned_data["order"]
        ordered = rows.order_by(*order.order_by())
        filename = f"{self.kind.name}-{timezone.now():%Y%m%d-%H%M%S}.csv"
        return export.csv_response(
            request, ordered, staff=self.kind.as_staff(request.user), filename=filename
        )


class FollowView(LoginRequiredMixin, View):
    """``POST actor=<username>[&follow=0]&next=<url>``: follow (or unfollow) someone, then back.

    A plain form with its CSRF token, so it works without JavaScript; the
    project's table of whom one follows (``Table(following=True)``) shows
    their next public action live.
    """

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        User = get_user_model()
        name = request.POST.get("actor", "")[:150]
        person = User._default_manager.filter(**{User.USERNAME_FIELD: name}).first() if name else None
        if person is None:
            return HttpResponseBadRequest("No one by that name to follow.\n", content_type="text/plain")
        if request.POST.get("follow") == "0":
            follows.unfollow(request.user, person)
        else:
            try:
                follows.follow(request.user, person)
            except follows.CannotFollow as error:
                return HttpResponseBadRequest(f"{error}\n", content_type="text/plain")
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, {request.get_host()}, require_https=request.is_secure()):
            table = site.following_table()
            back = reverse(table.name) if table is not None else "/"
        return HttpResponseRedirect(back, status=303)


class SeenView(ActionTableMixin, View):
    """``POST upto=<id>``: the viewer has seen their table up to that action (``streams.seen``).

    An open, unfiltered first page of a ``seen`` table posts it when live rows
    arrive while the tab is in view (``live.js``), so the unseen badge drops on
    every tab as it does when the page is opened. The action must be one of the
    viewer's own rows of the table; the cursor never moves back. 204 on success,
    400 with the reason otherwise.
    """

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Only seen=True tables have this URL (TableSite.urls).
        upto = request.POST.get("upto", "")
        if not (upto.isascii() and upto.isdigit() and 0 < len(upto) <= 18):
            return HttpResponseBadRequest("upto: the id of an action.\n", content_type="text/plain")
        # The table's scope for this viewer, without filters (the query string is empty).
        action = self.get_filtered_rows().filter(pk=int(upto)).only("pk", "timestamp").first()
        if action is None:
            return HttpResponseBadRequest(
                f"upto: no action {upto} in your {self.kind.title.lower()} table.\n",
                content_type="text/plain",
            )
        seen.mark_seen(self.kind, request.user, action)
        return HttpResponse(status=204)


class ActionFeedView(ActionTableMixin, View):
    """The table as Atom or JSON Activity Streams (``streams.feeds``): its newest rows, same scope.

    ``?token=`` names the viewer for feed readers, which hold no session."""

    format = "atom"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = request.GET.get(feeds.TOKEN_PARAM)
        if token is not None:
            request.user = feeds.user_for_token(token)  # 404 for a wrong or revoked one
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        rows = self.get_filtered_rows()
        if not self.filterset.is_valid():
            return self.bad_filters()
        newest = Order.by(DEFAULT_SORT).order_by()
        actions = list(rows.defer("search_text").order_by(*newest)[: feeds.FEED_ITEMS])
        filters = request.GET.copy()
        for name in (*NOT_FILTERS, feeds.TOKEN_PARAM):
            filters.pop(name, None)
        table_url = reverse(self.kind.name) + (f"?{filters.urlencode()}" if filters else "")
        write = feeds.atom if self.format == "atom" else feeds.activity_streams
        response = write(request, self.kind, actions, table_url)
        patch_cache_control(response, private=True, max_age=60)
        return response


class FeedSettingsView(LoginRequiredMixin, View):
    """``feeds/``: the viewer's feed token, the feed URLs of their tables, and a button to change it."""

    template_name = "streams/feeds.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = feeds.token_of(request.user)
        tables = []
        for table in site.allowed(request.user):
            query = f"?{urlencode({feeds.TOKEN_PARAM: token})}" if token else ""
            tables.append(
                {
                    "table": table,
                    "atom": request.build_absolute_uri(reverse(f"{table.name}-atom") + query),
                    "json": request.build_absolute_uri(reverse(f"{table.name}-json") + query),
                }
            )
        response = render(request, self.template_name, {"token": token, "feeds": tables})
        add_never_cache_headers(response)  # the page shows a secret
        return response

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.POST.get("action") == "revoke":
            feeds.revoke(request.user)
        else:
            feeds.regenerate(request.user)
        return HttpResponseRedirect(reverse("streams-feeds"), status=303)


class ActionChartView(ActionTableMixin, View):
    """The figure above a table (``streams.charts``): its filtered actions over time, as SVG.

    The page loads it after itself (htmx), so the page's own queries do not grow; one aggregate query."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.filterset = self.get_filterset(self.get_filterset_class())
        if not self.filterset.is_valid():
            return HttpResponse(
                '<figcaption class="muted">Fix the filters to see the chart.</figcaption>', status=400
            )
        return HttpResponse(charts.svg(self.kind.title, charts.chart(self.filterset.query())))
