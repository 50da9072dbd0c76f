"""The dashboard's web application: read-only pages and their JSON, on one :class:`StoreSource`.

Routes (all GET; a search, set and prompt are named in the query string, so any name works in a URL):

* ``/``: the searches with status and progress; it polls ``/api/searches`` and updates itself;
* ``/search?name=N``: the trajectory, the candidates' scores, tokens, failures and tuning results; while the
  search runs it polls ``/api/search?name=N`` and redraws (and reloads when a step is added);
* ``/candidate?name=N&set=K``: one candidate set and its evaluations;
* ``/pair?name=N&set=K&prompt=P``: one (set, prompt) pair: rendered prompt, answer, reference, judge reply;
* ``/static/plotly.min.js`` (from Plotly's wheel) and ``/static/dashboard.js``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from db import SearchNotFoundError, StoreError
from demo_search.dashboard import plots
from demo_search.dashboard.queries import (
    PageNotFound,
    candidate_page,
    pair_page,
    search_listings,
    search_page,
)
from demo_search.dashboard.source import StoreSource
from demo_search.version import __version__

logger = logging.getLogger(__name__)

POLL_INTERVAL_MS = 2000
"""How often an open page asks for news while a search runs."""

_PACKAGE = resources.files("demo_search.dashboard")


class MissingParameter(LookupError):
    """A page was asked for without a query parameter it needs."""


def create_app(source: StoreSource) -> Starlette:
    """The dashboard on ``source``; the caller closes ``source`` when the app is done."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("demo_search.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["score"] = _format_score

    def html(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        page = environment.get_template(template).render(
            version=__version__, database=source.url, poll_ms=POLL_INTERVAL_MS, **context
        )
        return HTMLResponse(page, status_code=status_code)

    def page(render: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """``render`` with the errors a page can meet shown as pages: 404 for an unknown search, set or prompt,
        400 for a missing parameter, 503 when the database cannot be read."""

        def endpoint(request: Request) -> Response:
            try:
                return render(request)
            except (SearchNotFoundError, PageNotFound) as error:
                return html("error.html", 404, title="not found", message=str(error))
            except MissingParameter as error:
                return html("error.html", 400, title="bad request", message=str(error))
            except StoreError as error:
                logger.warning("dashboard: %s", error)
                return html("error.html", 503, title="database unavailable", message=str(error))

        return endpoint

    def index(request: Request) -> Response:
        return html("index.html", searches=search_listings(source.store()))

    def searches_json(request: Request) -> Response:
        return JSONResponse([listing.to_json() for listing in search_listings(source.store())])

    def search(request: Request) -> Response:
        data = search_page(source.store(), _param(request, "name"))
        return html("search.html", page=data, figures=plots.figures(data))

    def search_json(request: Request) -> Response:
        data = search_page(source.store(), _param(request, "name"))
        return JSONResponse({"listing": data.listing.to_json(), "figures": plots.figures(data)})

    def candidate(request: Request) -> Response:
        data = candidate_page(source.store(), _param(request, "name"), _param(request, "set"))
        return html("candidate.html", page=data)

    def pair(request: Request) -> Response:
        data = pair_page(source.store(), _param(request, "name"), _param(request, "set"), _param(request, "prompt"))
        return html("pair.html", page=data)

    def plotly_js(request: Request) -> Response:
        return Response(_plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    def dashboard_js(request: Request) -> Response:
        text = _PACKAGE.joinpath("static", "dashboard.js").read_text(encoding="utf-8")
        return Response(text, media_type="text/javascript")

    routes = [
        Route("/", page(index)),
        Route("/api/searches", page(searches_json)),
        Route("/search", page(search)),
        Route("/api/search", page(search_json)),
        Route("/candidate", page(candidate)),
        Route("/pair", page(pair)),
        Route("/static/plotly.min.js", plotly_js),
        Route("/static/dashboard.js", dashboard_js),
    ]
    return Starlette(routes=routes)


@cache
def _plotly_js() -> str:
    """plotly.min.js as Plotly's wheel ships it (no CDN: the dashboard works offline)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _param(request: Request, key: str) -> str:
    value = request.query_params.get(key)
    if not value:
        raise MissingParameter(f"this page needs the query parameter {key!r}")
    return value


def _format_score(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
