"""The page at ``/pyro/``: the exposed objects with their methods, a form to call them,
and the ``fetch()`` calls a page script would make.

Plain HTML with a little JavaScript and CSS, all served in the page itself: no
build step and nothing fetched from elsewhere, so it works on a closed network.
The list is rendered here (it shows without JavaScript; its links are plain
GET calls); the script turns the links and the form into ``fetch()`` calls.
"""

from __future__ import annotations

import html
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pyro_client import PyroError, TimeoutError
from pyro_protocol import constants

from . import __version__

if TYPE_CHECKING:
    from .gateway import Gateway
    from .links import Links

__all__ = ["render", "index_page_template", "PAGE_LIMIT"]

#: At most this many objects are listed: each costs a connection for its metadata.
PAGE_LIMIT = 50


def _resource(name: str) -> str:
    return resources.files(__package__).joinpath("page", name).read_text(encoding="utf-8")


#: The page, a ``str.format`` template with Pyro4's placeholders (``ns_regex``,
#: ``name_server_contents_list``, ``pyro_version``, ``hostname``) and ``style``,
#: ``script``, ``note``. A Pyro4-style template assigned here is used as well.
index_page_template = _resource("index.html")
_STYLE = _resource("gateway.css")
_SCRIPT = _resource("gateway.js")


def _member_link(name: str, member: str, kind: str, text: str = "") -> str:
    """A link that calls ``member`` of ``name`` (a plain GET; the page's script makes it a fetch)."""
    href = f"{quote(name, safe='')}/{quote(member, safe='$')}"
    return (
        f'<a class="{kind}" href="{html.escape(href)}" data-object="{html.escape(name)}" '
        f'data-member="{html.escape(member)}">{html.escape(text or member)}</a>'
    )


def _links_or_dash(links: list[str]) -> str:
    return " ".join(links) or "-"


def _row(name: str, uri: str, links: Links) -> str:
    try:
        with links.proxy(uri, raw=True) as proxy:
            methods = sorted(proxy._pyroMethods)
            oneway = set(proxy._pyroOneway)
            attributes = sorted(proxy._pyroAttrs)
    except PyroError as exc:
        problem = html.escape(f"cannot get its metadata: {type(exc).__name__}: {exc}")
        cells = f'<td colspan="2" class="error">{problem}</td>'
    else:
        method_links = [_member_link(name, m, "method oneway" if m in oneway else "method") for m in methods]
        attribute_links = [_member_link(name, a, "attribute") for a in attributes]
        cells = f"<td>{_links_or_dash(method_links)}</td><td>{_links_or_dash(attribute_links)}</td>"
    return f'<tr data-object="{html.escape(name)}"><td>{_member_link(name, "$meta", "object", name)}</td>{cells}</tr>'


def _contents(gateway: Gateway, links: Links) -> tuple[str, str, str]:
    """(the table of exposed objects, the name server's location, a note)."""
    registered: dict[str, Any] = links.call_nameserver("list", regex=gateway.ns_regex or None)
    names = sorted(registered)
    note = f"(showing {PAGE_LIMIT} of {len(names)})" if len(names) > PAGE_LIMIT else ""
    rows = [_row(name, str(registered[name]), links) for name in names[:PAGE_LIMIT]]
    if not rows:
        rows = ['<tr><td colspan="3">none: no registered name matches the exposed names pattern</td></tr>']
    table = (
        '<table id="objects"><thead><tr><th>name</th><th>methods</th><th>attributes</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return table, str(links.nameserver_uri().location), note


def render(gateway: Gateway, links: Links) -> tuple[str, bytes]:
    """(status, the page as UTF-8); 502/504 with the reason in the page when the name server fails."""
    status = "200 OK"
    try:
        table, location, note = _contents(gateway, links)
    except PyroError as exc:
        status = "504 Gateway Timeout" if isinstance(exc, TimeoutError) else "502 Bad Gateway"
        table = f'<p class="error" id="ns-error">Cannot use the name server: {html.escape(str(exc))}</p>'
        location, note = "?", ""
    text = index_page_template.format(
        ns_regex=html.escape(gateway.ns_regex) if gateway.ns_regex else "(none set: all names)",
        name_server_contents_list=table,
        pyro_version=f"pyro-httpgateway {__version__} (Pyro4 {constants.PYRO4_VERSION} protocol)",
        hostname=html.escape(location),
        style=_STYLE,
        script=_SCRIPT,
        note=note,
    )
    return status, text.encode("utf-8")
