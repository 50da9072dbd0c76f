"""``demo-search dashboard``: a read-only web view of the searches in a database (SQLite or PostgreSQL).

* ``source``: the store, opened read-only, reopened when a SQLite file changes under it;
* ``views`` (typed view models) and ``queries`` (the store's read APIs turned into them); ``prompts``: the
  rendered prompt of one (candidate set, held-out prompt) pair, rebuilt with the project's templates;
* ``plots``: Plotly figures as JSON; ``app``: the Starlette routes and Jinja pages; ``server``: uvicorn.

Needs the ``dashboard`` extra (Starlette, uvicorn, Plotly); the page's plotly.min.js is served from Plotly's
wheel, so the dashboard works offline. Nothing here writes to the database.
"""
