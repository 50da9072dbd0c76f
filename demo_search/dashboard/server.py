"""Serving the dashboard with uvicorn until interrupted."""

from __future__ import annotations

import logging

import uvicorn

from demo_search.dashboard.app import create_app
from demo_search.dashboard.source import StoreSource

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def serve(url: str, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve the dashboard of the database on ``url`` at ``http://host:port/`` until Ctrl-C.

    The store is opened once before the server starts, so a database that cannot be read fails here, with the
    store's error, instead of on every page.
    """
    source = StoreSource(url)
    try:
        source.store()
        logger.info("dashboard of %s at http://%s:%d/ (Ctrl-C stops it)", source.url, host, port)
        uvicorn.run(create_app(source), host=host, port=port, log_level="warning", access_log=False)
    finally:
        source.close()
