"""pyro_httpgateway: Pyro objects over HTTP and JSON, for browsers and any language.

A WSGI application (:data:`pyro_app`, or :func:`app` / :class:`Gateway` for one
with your settings) that turns ``GET/POST /pyro/<name>/<method>?args`` into a
Pyro call on the object registered in the name server as ``name`` and answers
with the result as JSON; ``/pyro/`` is a page listing the exposed objects.
``pyro-httpgateway`` (or ``python -m pyro_httpgateway``) serves it. The names
of Pyro4 4.82's ``Pyro4.utils.httpgateway`` module are here with its behaviour.
"""

# Set before the imports below: the page module reads it.
__version__ = "0.1.0"

from .gateway import (  # noqa: E402
    DEFAULT_EXPOSE,
    Gateway,
    app,
    get_nameserver,
    invalid_request,
    not_found,
    process_pyro_request,
    pyro_app,
    redirect,
    return_homepage,
)
from .request import MAX_BODY_SIZE, singlyfy_parameters  # noqa: E402
from .server import ThreadingWSGIServer, main, make_server  # noqa: E402

__all__ = [
    "__version__",
    "Gateway",
    "app",
    "pyro_app",
    "main",
    "make_server",
    "ThreadingWSGIServer",
    "DEFAULT_EXPOSE",
    "MAX_BODY_SIZE",
    # the rest of Pyro4 4.82's module-level names
    "get_nameserver",
    "process_pyro_request",
    "return_homepage",
    "singlyfy_parameters",
    "invalid_request",
    "not_found",
    "redirect",
]
