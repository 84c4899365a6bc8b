"""``{% streams_assets %}``: what a project's ``base.html`` puts in ``<head>`` for the live tables.

::

    {% load streams %}
    <head> ... {% streams_assets %} </head>

It writes htmx 2 and its websocket extension (vendored by django-htmx,
which must be in ``INSTALLED_APPS`` for its static files), htmx's
configuration that swaps 400 responses too (they carry the filter form's
errors), the engine's ``live.js`` and ``tables.css``. Load the project's
own stylesheet after it to restyle anything: the engine's rules add no
specificity. A ``csp_nonce`` in the context goes on each script.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django import template
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

HTMX_CONFIG = {
    "includeIndicatorStyles": False,
    "responseHandling": [
        {"code": "204", "swap": False},
        {"code": "[23]..", "swap": True},
        {"code": "400", "swap": True},
        {"code": "[45]..", "swap": False, "error": True},
    ],
}


@register.simple_tag(takes_context=True)
def streams_badge(context: template.Context, name: str) -> SafeString:
    """``{% streams_badge "inbox" %}``: the viewer's unseen count of a ``seen=True`` table, kept live.

    ``<span id="<name>-count">`` (hidden at 0 by tables.css) inside the socket
    that keeps it; nothing for a viewer who may not open the table. The page
    costs no query for it: the socket's first frame brings the count of what
    came after the viewer's cursor (``streams.live.tables``), then each new
    row adds one, and opening the table takes it to 0 on every tab."""
    from streams import conf, seen
    from streams.tables import site

    request = context.get("request")
    user = getattr(request, "user", None)
    table = site.get(name)
    if table is None or not table.seen:
        raise template.TemplateSyntaxError(f"streams_badge: {name!r} is not a table declared with seen=True")
    if user is None or not table.allowed(user):
        return mark_safe("")
    url = f"/{conf.get('LIVE_PATH')}?{urlencode({'table': name, 'badge': 1})}"
    return format_html(
        '<span id="{}-badge" class="streams-badge" hx-ext="ws" ws-connect="{}">{}</span>',
        name,
        url,
        seen.unseen_count_html(table, 0),
    )


@register.simple_tag(takes_context=True)
def streams_assets(context: template.Context) -> SafeString:
    from django_htmx.jinja import htmx_script

    nonce = context.get("csp_nonce")
    nonce_attr = format_html(' nonce="{}"', nonce) if nonce else ""
    return mark_safe(
        "\n".join(
            [
                format_html('<meta name="htmx-config" content="{}">', json.dumps(HTMX_CONFIG)),
                format_html('<link rel="stylesheet" href="{}">', static("streams/tables.css")),
                str(htmx_script(extensions="hx-ws", nonce=nonce)),
                format_html('<script src="{}" defer{}></script>', static("streams/live.js"), nonce_attr),
            ]
        )
    )
